/**
 * @file Loads the tokenizer of a model directory: the project's own tokenizer.json as a `BpeTokenizer` (exactly
 * as `BpeTokenizer.load` reads it), any other (a Hugging Face model's) as an `HfTokenizer`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFileBytes } from '../io/read-file.ts';
import { decodeUtf8Strict } from '../io/text.ts';
import { readJsonFile } from '../io/validate.ts';
import { parseTokenizerText } from './hf-foreign-check.ts';
import { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.ts';
import { SPECIAL_TOKENS } from './special.ts';
import { BpeTokenizer } from './tokenizer.ts';

/** The largest tokenizer.json read (Llama-3's and Qwen2's are under 12 MiB). */
const MAX_BYTES = 256 * 2 ** 20;

/**
 * The marker of the project's own files: the writer (hf-json-write.ts) always puts the six special tokens
 * first, `[PAD]` … `[MASK]` at ids 0..5. Pretrained tokenizers spell theirs otherwise (`<|endoftext|>`, `<s>`,
 * `<|begin_of_text|>`; BERT's have no `[BOS]`). Only the marker decides, so a damaged file of ours still
 * meets our strict reader and its exact message instead of being taken for a foreign one.
 */
export function isOwnTokenizerJson(doc: unknown): boolean {
  const added = (doc as { added_tokens?: unknown } | null)?.added_tokens;
  if (!Array.isArray(added) || added.length < SPECIAL_TOKENS.length) return false;
  return SPECIAL_TOKENS.every((content, id) => {
    const t = added[id] as { id?: unknown; content?: unknown } | null;
    return t?.id === id && t.content === content;
  });
}

/**
 * `dir`/tokenizer.json as the project's `BpeTokenizer` or, for a foreign file, an `HfTokenizer` (which also
 * reads `dir`/tokenizer_config.json, when present, for the eos/pad/unk tokens it names).
 */
export function loadTokenizer(dir: string): BpeTokenizer | HfTokenizer {
  const path = join(dir, 'tokenizer.json');
  let text: string;
  try {
    text = decodeUtf8Strict(readFileBytes(path, { maxBytes: MAX_BYTES }), path);
  } catch (err) {
    throw new Error(`tokenizer.json ${path}: cannot read (${(err as Error).message})`);
  }
  return tokenizerFromJson(text, path, () => {
    const configPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(configPath) ? readJsonFile(configPath, { maxBytes: MAX_BYTES }) : undefined;
    return { config, configSource: configPath };
  });
}

/**
 * tokenizer.json text (`source` names it in errors) as the project's `BpeTokenizer` or an `HfTokenizer`;
 * `foreignOptions` is asked only for a foreign file.
 */
export function tokenizerFromJson(
  text: string,
  source: string,
  foreignOptions: () => HfTokenizerOptions = () => ({}),
): BpeTokenizer | HfTokenizer {
  const doc = parseTokenizerText(text, source);
  if (isOwnTokenizerJson(doc)) return BpeTokenizer.fromJSON(text, source);
  return new HfTokenizer(doc, source, foreignOptions());
}
