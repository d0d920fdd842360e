/**
 * @file Parses and validates a Hugging Face tokenizer.json into a BPE tokenizer config, refusing anything this
 * implementation would encode differently from HF (other models, pre-tokenizers, post-processors, no byte
 * fallback) with an error naming the file and the offending field.
 */
import { METASPACE, byteToken } from './pretokenize.ts';
import { SPECIAL_CONTENT, type SpecialIds, type SpecialName } from './special.ts';
import type { BpeTokenizerConfig } from './tokenizer.ts';

/** A tokenizer.json that is malformed or outside what this tokenizer supports. */
export class TokenizerJsonError extends Error {
  override name = 'TokenizerJsonError';
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const show = (x: unknown): string => {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 160 ? `${s.slice(0, 160)}…` : s;
};

export function parseTokenizerJson(text: string, source = '<string>'): BpeTokenizerConfig {
  const fail = (what: string): never => {
    throw new TokenizerJsonError(`tokenizer.json ${source}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) return fail('top level must be a JSON object');
  if (doc.version !== '1.0') fail(`"version" must be "1.0", found ${show(doc.version)}`);

  const model = doc.model;
  if (model === undefined) fail('missing "model"');
  if (!isObject(model)) return fail('"model" must be an object');
  if (model.type !== 'BPE') fail(`model.type must be "BPE", found ${show(model.type)}`);
  if (model.byte_fallback !== true)
    fail('model.byte_fallback must be true (unknown characters fall back to bytes)');
  for (const field of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (model[field] != null && model[field] !== '')
      fail(`model.${field} is not supported (${show(model[field])})`);
  }
  if (model.dropout != null && model.dropout !== 0) fail('model.dropout is not supported');
  if (model.ignore_merges === true) fail('model.ignore_merges is not supported');

  // id → token over model.vocab and added_tokens together; the two must agree where both name a token.
  if (!isObject(model.vocab)) return fail('model.vocab must be an object of token → id');
  if (!Array.isArray(doc.added_tokens)) return fail('"added_tokens" must be an array');
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  // Dense ids can never exceed the number of entries; the bound also keeps a stray huge id from allocating.
  const idLimit = Object.keys(model.vocab).length + doc.added_tokens.length;
  const define = (token: string, id: number, where: string): void => {
    if (!Number.isInteger(id) || id < 0 || id >= idLimit) {
      fail(`${where}: id ${show(id)} is not an integer in 0..${idLimit - 1}`);
    }
    const prevId = ids.get(token);
    const prevToken = tokens[id];
    if (prevId !== undefined && prevId !== id) fail(`${where}: ${show(token)} has ids ${prevId} and ${id}`);
    if (prevToken !== undefined && prevToken !== token) {
      fail(`${where}: id ${id} is both ${show(prevToken)} and ${show(token)}`);
    }
    tokens[id] = token;
    ids.set(token, id);
  };
  for (const [token, id] of Object.entries(model.vocab))
    define(token, id as number, `model.vocab[${show(token)}]`);

  const specialIds: number[] = [];
  doc.added_tokens.forEach((t: unknown, i) => {
    const where = `added_tokens[${i}]`;
    if (!isObject(t) || typeof t.content !== 'string') return fail(`${where} must have a string "content"`);
    define(t.content, t.id as number, where);
    if (t.special !== true) fail(`${where} (${show(t.content)}): only special added tokens are supported`);
    for (const flag of ['single_word', 'lstrip', 'rstrip', 'normalized'] as const) {
      if (t[flag] === true) fail(`${where} (${show(t.content)}): "${flag}": true is not supported`);
    }
    specialIds.push(t.id as number);
  });
  for (let id = 0; id < tokens.length; id++) {
    if (tokens[id] === undefined)
      fail(`ids must run 0..${tokens.length - 1} without gaps; id ${id} is missing`);
  }
  for (let b = 0; b < 256; b++) {
    if (!ids.has(byteToken(b))) fail(`model.vocab lacks the byte-fallback token ${byteToken(b)}`);
  }
  if (typeof model.unk_token === 'string' && !ids.has(model.unk_token)) {
    fail(`model.unk_token ${show(model.unk_token)} is not in model.vocab`);
  }

  const special = {} as Record<SpecialName, number>;
  for (const [name, content] of Object.entries(SPECIAL_CONTENT) as [SpecialName, string][]) {
    const id = ids.get(content);
    if (id === undefined || !specialIds.includes(id)) fail(`added_tokens lacks the special token ${content}`);
    special[name] = id!;
  }

  if (!Array.isArray(model.merges)) return fail('model.merges must be an array');
  const seen = new Set<string>();
  const merges = model.merges.map((m: unknown, i): [string, string] => {
    const where = `model.merges[${i}]`;
    let pair: unknown[];
    if (typeof m === 'string') pair = m.split(' ');
    else if (Array.isArray(m)) pair = m;
    else return fail(`${where} must be ["a", "b"] or "a b", found ${show(m)}`);
    const [a, b] = pair;
    if (pair.length !== 2 || typeof a !== 'string' || typeof b !== 'string' || !a || !b) {
      return fail(`${where} must be a pair of two non-empty tokens, found ${show(m)}`);
    }
    for (const t of [a, b, a + b]) {
      if (!ids.has(t)) fail(`${where} ${show([a, b])} references ${show(t)}, which is not in model.vocab`);
    }
    const key = JSON.stringify([a, b]);
    if (seen.has(key)) fail(`${where} ${show([a, b])} repeats an earlier merge`);
    seen.add(key);
    return [a, b];
  });

  const lowercase = checkNormalizer(doc.normalizer, fail);
  checkPreTokenizer(doc.pre_tokenizer, fail);
  if (doc.post_processor != null) fail(`post_processor must be null, found ${show(doc.post_processor)}`);
  // The decoder only shapes decode() output, which follows our own layout; require just a sane value.
  if (doc.decoder != null && !isObject(doc.decoder)) fail('"decoder" must be an object or null');

  return { tokens, merges, special: special as SpecialIds, specialIds, lowercase };
}

function checkNormalizer(n: unknown, fail: (what: string) => never): boolean {
  if (n == null) return false;
  if (isObject(n) && n.type === 'Lowercase') return true;
  return fail(`normalizer must be null or {"type": "Lowercase"}, found ${show(n)}`);
}

/** Only WhitespaceSplit then Metaspace("▁", prepend always, no split) is implemented. */
function checkPreTokenizer(p: unknown, fail: (what: string) => never): void {
  const steps = isObject(p) && p.type === 'Sequence' && Array.isArray(p.pretokenizers) ? p.pretokenizers : [];
  const [ws, meta] = steps as unknown[];
  const ok =
    steps.length === 2 &&
    isObject(ws) &&
    ws.type === 'WhitespaceSplit' &&
    isObject(meta) &&
    meta.type === 'Metaspace' &&
    (meta.replacement ?? METASPACE) === METASPACE &&
    (meta.prepend_scheme ?? 'always') === 'always' &&
    meta.add_prefix_space !== false &&
    meta.split !== true;
  if (!ok) {
    fail(
      'pre_tokenizer must be Sequence[WhitespaceSplit, Metaspace(replacement "▁", prepend_scheme "always", ' +
        `split false)], found ${show(p)}`,
    );
  }
}
