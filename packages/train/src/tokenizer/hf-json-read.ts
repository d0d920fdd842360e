/**
 * @file Parses and validates a Hugging Face tokenizer.json into a BPE tokenizer config, refusing anything this
 * implementation would encode differently from HF (other models, pre-tokenizers, post-processors, no byte
 * fallback) with an error naming the file and the offending field.
 */
import { z } from 'zod';
import { count, describeIssues, parseJsonText, quote, strictObject } from '../io/validate.ts';
import { METASPACE, byteToken } from './pretokenize.ts';
import { SPECIAL_CONTENT, type SpecialIds, type SpecialName } from './special.ts';
import type { BpeTokenizerConfig } from './tokenizer.ts';

/** A tokenizer.json that is malformed or outside what this tokenizer supports. */
export class TokenizerJsonError extends Error {
  override name = 'TokenizerJsonError';
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const show = (x: unknown): string => quote(x);

/** tokenizer.json nests about 5 deep; the bound is checked before parsing. */
const MAX_DEPTH = 32;
const unsupported = 'is not supported';

/**
 * The layout of the file, as HF writes it (fields may be omitted, unknown ones are refused). What this
 * tokenizer implements within it (ids, merges, pre-tokenizer...) is checked below, after the structure.
 */
const addedTokenSchema = strictObject({
  id: z.unknown(),
  content: z.string({ error: 'must have a string "content"' }),
  single_word: z.boolean().optional(),
  lstrip: z.boolean().optional(),
  rstrip: z.boolean().optional(),
  normalized: z.boolean().optional(),
  special: z.boolean().optional(),
});
const tokenizerDocSchema = strictObject({
  version: z.literal('1.0', { error: 'must be "1.0"' }),
  truncation: z.null({ error: unsupported }).optional(),
  padding: z.null({ error: unsupported }).optional(),
  added_tokens: z.array(addedTokenSchema),
  normalizer: z.unknown(),
  pre_tokenizer: z.unknown(),
  post_processor: z.null({ error: 'must be null' }).optional(),
  decoder: z.record(z.string(), z.unknown(), { error: 'must be an object or null' }).nullable().optional(),
  model: strictObject({
    type: z.literal('BPE', { error: 'must be "BPE"' }),
    dropout: z.union([z.null(), z.literal(0)], { error: unsupported }).optional(),
    unk_token: z.string().nullable().optional(),
    continuing_subword_prefix: z.union([z.null(), z.literal('')], { error: unsupported }).optional(),
    end_of_word_suffix: z.union([z.null(), z.literal('')], { error: unsupported }).optional(),
    fuse_unk: z.boolean().optional(),
    byte_fallback: z.literal(true, { error: 'must be true (unknown characters fall back to bytes)' }),
    ignore_merges: z.literal(false, { error: unsupported }).optional(),
    vocab: z.record(z.string(), z.unknown(), { error: 'must be an object of token → id' }),
    merges: z.array(z.unknown(), { error: 'must be an array' }),
  }),
});
/** The structure of a tokenizer.json this reader accepts. */
export type TokenizerJsonDoc = z.infer<typeof tokenizerDocSchema>;

export function parseTokenizerJson(text: string, source = '<string>'): BpeTokenizerConfig {
  const fail = (what: string): never => {
    throw new TokenizerJsonError(`tokenizer.json ${source}: ${what}`);
  };
  let parsed: unknown;
  try {
    parsed = parseJsonText(text, source, { maxDepth: MAX_DEPTH });
  } catch (err) {
    throw new TokenizerJsonError(`tokenizer.json ${(err as Error).message}`); // names source, line and column
  }
  if (!isObject(parsed)) return fail('top level must be a JSON object');
  const checked = tokenizerDocSchema.safeParse(parsed, { reportInput: true });
  if (!checked.success) return fail(describeIssues(checked.error));
  // The checked structure, but the parsed objects themselves: a token spelled "__proto__" stays a key.
  const doc = parsed as TokenizerJsonDoc;
  const model = doc.model;

  // id → token over model.vocab and added_tokens together; the two must agree where both name a token.
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
  doc.added_tokens.forEach((t, i) => {
    const where = `added_tokens[${i}]`;
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

  const seen = new Set<string>();
  const merges = model.merges.map((m, i): [string, string] => {
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
  // post_processor (null) and decoder (an object: it only shapes decode() output, which follows our own
  // layout) were checked with the structure.

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
