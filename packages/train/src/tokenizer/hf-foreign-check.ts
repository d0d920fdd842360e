/**
 * @file Which foreign (Hugging Face) tokenizer.json pipelines `HfTokenizer` can split into words exactly: a
 * BPE model with a byte-level or metaspace pre-tokenizer, as GPT-2, Llama-3, Qwen2, Llama-2 and Mistral ship.
 * Anything else is refused with the list of what is supported, naming the file and the JSON path.
 */
import { parseJsonText, quote } from '../io/validate.ts';
import { TokenizerJsonError } from './hf-json-read.ts';

export type Json = Record<string, unknown>;
export const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** tokenizer.json text → its JSON value, nesting bounded (files nest about 5 deep); errors name file, line. */
export function parseTokenizerText(text: string, source: string): unknown {
  try {
    return parseJsonText(text, source, { maxDepth: 32 });
  } catch (err) {
    throw new TokenizerJsonError(`tokenizer.json ${(err as Error).message}`);
  }
}

/**
 * How a word is encoded so that it comes out as it would inside the space-joined sentence:
 * - `space`: the first word as it is, every later one after a space (" word"); the pre-tokenizer turns that
 *   space into "Ġ" (ByteLevel) or "▁" (Metaspace), or adds its own prefix where the file says so.
 * - `alone`: each word by itself, since the normalizer prepends "▁" to every text it sees (older Llama-2 and
 *   Mistral files: Prepend("▁") then Replace(" " → "▁"), no pre-tokenizer).
 */
export type WordContext = 'space' | 'alone';

export interface ForeignPipeline {
  /** Short name for messages and docs, e.g. "ByteLevel" or "Metaspace". */
  style: 'ByteLevel' | 'Metaspace' | 'Metaspace (normalizer)';
  context: WordContext;
}

export const SUPPORTED_FOREIGN =
  'supported: model "BPE" with pre_tokenizer ByteLevel (GPT-2), Sequence[Split | Digits | WhitespaceSplit | ' +
  'Punctuation …, ByteLevel] (Llama-3, Qwen2), Metaspace or Sequence[… , Metaspace] (Llama-2, Mistral), or no ' +
  'pre_tokenizer with normalizer Sequence[Prepend "▁", Replace " " → "▁"] (older Llama-2 and Mistral files); ' +
  'other normalizers: none, NFC, NFD, NFKC, NFKD, Lowercase or a Sequence of these';

/** Pre-tokenizers that only cut text (never change it) and may come before the final ByteLevel/Metaspace. */
const SPLITTERS = new Set(['Split', 'Digits', 'WhitespaceSplit', 'Punctuation']);
/** Normalizers that act the same on a word alone as on the word inside a sentence. */
const WORDWISE_NORMALIZERS = new Set(['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase']);

/** Checks the model, pre-tokenizer and normalizer of a parsed foreign tokenizer.json. */
export function checkForeignPipeline(doc: unknown, source: string): ForeignPipeline {
  const fail = (what: string): never => {
    throw new TokenizerJsonError(`tokenizer.json ${source}: ${what}; ${SUPPORTED_FOREIGN}`);
  };
  if (!isObject(doc)) return fail('the top level must be a JSON object');
  const model = doc.model;
  if (!isObject(model)) return fail(`"model" must be an object, found ${quote(model)}`);
  if (model.type !== 'BPE') return fail(`model.type ${quote(model.type)} is not supported`);
  if (!isObject(model.vocab))
    return fail(`model.vocab must be an object of token → id, found ${quote(model.vocab)}`);
  if (!Array.isArray(model.merges))
    return fail(`model.merges must be an array, found ${quote(model.merges)}`);
  if (doc.added_tokens !== undefined && !Array.isArray(doc.added_tokens))
    return fail(`added_tokens must be an array, found ${quote(doc.added_tokens)}`);

  const pre = doc.pre_tokenizer ?? null;
  const normalizers = normalizerSteps(doc.normalizer ?? null, fail);
  if (pre === null) {
    const [prepend, replace, ...rest] = normalizers;
    const legacyMetaspace =
      rest.length === 0 &&
      prepend?.type === 'Prepend' &&
      prepend.prepend === '▁' &&
      replace?.type === 'Replace' &&
      isObject(replace.pattern) &&
      replace.pattern.String === ' ' &&
      replace.content === '▁';
    if (!legacyMetaspace) return fail(`pre_tokenizer is null with normalizer ${quote(doc.normalizer)}`);
    return { style: 'Metaspace (normalizer)', context: 'alone' };
  }
  for (const [i, n] of normalizers.entries()) {
    if (!WORDWISE_NORMALIZERS.has(n.type as string))
      fail(`normalizer step ${i} ${quote(n)} is not supported with a pre_tokenizer`);
  }
  const steps = isObject(pre) && pre.type === 'Sequence' ? pre.pretokenizers : [pre];
  if (!Array.isArray(steps) || steps.length === 0)
    return fail(`pre_tokenizer ${quote(pre)} must be a pre-tokenizer or a non-empty Sequence of them`);
  const last = steps.at(-1);
  steps.slice(0, -1).forEach((s, i) => {
    if (!isObject(s) || !SPLITTERS.has(s.type as string))
      fail(`pre_tokenizer.pretokenizers[${i}] ${quote(s)} is not supported before the last step`);
  });
  if (isObject(last) && last.type === 'ByteLevel') return { style: 'ByteLevel', context: 'space' };
  if (isObject(last) && last.type === 'Metaspace') return { style: 'Metaspace', context: 'space' };
  return fail(`pre_tokenizer ${quote(pre)} must end with ByteLevel or Metaspace`);
}

/** The normalizer as a flat list of steps (null → none). */
function normalizerSteps(n: unknown, fail: (what: string) => never): Json[] {
  if (n === null) return [];
  if (!isObject(n)) return fail(`normalizer must be an object or null, found ${quote(n)}`);
  if (n.type !== 'Sequence') return [n];
  if (!Array.isArray(n.normalizers) || !n.normalizers.every(isObject))
    return fail(`normalizer.normalizers must be an array of objects, found ${quote(n.normalizers)}`);
  return n.normalizers;
}
