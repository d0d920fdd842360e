/**
 * @file BPE training: count word types once, then merge the most frequent adjacent pair repeatedly, updating
 * pair counts only in the words that contain the merged pair (lazy max-queue, deterministic ties).
 */
import { MergeQueue } from './merge-queue.ts';
import { byteToken, metaspaceWord, splitWhitespace } from './pretokenize.ts';
import { SPECIAL_TOKENS } from './special.ts';
import { BpeTokenizer, specialIdsOf } from './tokenizer.ts';

export interface TrainBpeOptions {
  /** Total vocabulary, specials and the 256 byte-fallback tokens included. */
  vocabSize: number;
  /** Pairs seen fewer times are never merged; characters seen fewer times are left to byte fallback. */
  minFrequency?: number;
  /** Lowercase text before anything else (saved as a `Lowercase` normalizer). */
  lowercase?: boolean;
}

/** Ids below this are fixed: the specials, then `<0x00>`..`<0xFF>`. */
export const BASE_VOCAB_SIZE = SPECIAL_TOKENS.length + 256;

/**
 * Trains a BPE tokenizer on words (a flat iterable, or sentences of words). Each item is also split on
 * whitespace, as `encode` does; items that are exactly a special token (e.g. `[SEP]`) are not counted.
 */
export function trainBpe(words: Iterable<string> | string[][], options: TrainBpeOptions): BpeTokenizer {
  const { vocabSize, minFrequency = 2, lowercase = false } = options;
  if (!Number.isInteger(vocabSize) || vocabSize <= BASE_VOCAB_SIZE) {
    throw new Error(`trainBpe: vocabSize must be an integer above ${BASE_VOCAB_SIZE} (specials + bytes)`);
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new Error('trainBpe: minFrequency must be a positive integer');
  }
  if (typeof words === 'string') throw new Error('trainBpe: pass words (string[]), not one string');

  const typeCounts = countWords(words, lowercase);
  const tokens: string[] = [...SPECIAL_TOKENS];
  for (let b = 0; b < 256; b++) tokens.push(byteToken(b));
  // Merges must never produce a special or a byte token: decoding would read them as such.
  const reserved = new Set(tokens);
  for (const ch of chooseAlphabet(typeCounts, minFrequency, vocabSize - BASE_VOCAB_SIZE)) tokens.push(ch);
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => ids.set(t, id));

  // Word types as symbol-id arrays; -1 marks a character left to byte fallback (never merged).
  const syms: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of typeCounts) {
    syms.push(Array.from(word, (ch) => ids.get(ch) ?? -1));
    counts.push(count);
  }

  const K = vocabSize; // every id stays below vocabSize, so a * K + b is a unique pair key
  const pairCounts = new Map<number, number>();
  const where = new Map<number, number[]>(); // pair → words holding it (may repeat or be stale)
  const touched = new Set<number>();
  const addPair = (a: number, b: number, count: number, word: number): void => {
    if (a < 0 || b < 0) return;
    const key = a * K + b;
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
    const list = where.get(key);
    if (list === undefined) where.set(key, [word]);
    else if (list[list.length - 1] !== word) list.push(word);
    touched.add(key);
  };
  const removePair = (a: number, b: number, count: number): void => {
    if (a < 0 || b < 0) return;
    const key = a * K + b;
    const left = pairCounts.get(key)! - count;
    if (left > 0) pairCounts.set(key, left);
    else pairCounts.delete(key);
  };

  for (let w = 0; w < syms.length; w++) {
    const s = syms[w]!;
    for (let i = 0; i + 1 < s.length; i++) addPair(s[i]!, s[i + 1]!, counts[w]!, w);
  }
  const queue = new MergeQueue(tokens);
  for (const key of touched) queue.push(pairCounts.get(key)!, Math.floor(key / K), key % K);
  touched.clear();

  const merges: [string, string][] = [];
  const visited = new Int32Array(syms.length).fill(-1);
  const top = { count: 0, left: 0, right: 0 };
  while (tokens.length < vocabSize && queue.pop(top)) {
    const { left: A, right: B } = top;
    const key = A * K + B;
    const actual = pairCounts.get(key) ?? 0;
    // Stored counts only ever overstate (pairs that gained were re-pushed exactly): refresh and retry.
    if (top.count !== actual) {
      if (actual > 0 && top.count > actual) queue.push(actual, A, B);
      continue;
    }
    if (actual < minFrequency) break;
    const merged = tokens[A]! + tokens[B]!;
    if (reserved.has(merged)) continue; // popped again only if the pair gains occurrences
    let C = ids.get(merged);
    if (C === undefined) {
      // Two different pairs can spell the same string; the second merge reuses the id, as HF does.
      C = tokens.length;
      tokens.push(merged);
      ids.set(merged, C);
    }
    merges.push([tokens[A]!, tokens[B]!]);
    const step = merges.length;
    for (const w of where.get(key)!) {
      if (visited[w] === step) continue;
      visited[w] = step;
      syms[w] = mergeInWord(syms[w]!, A, B, C, counts[w]!, w, addPair, removePair);
    }
    where.delete(key);
    pairCounts.delete(key);
    for (const k of touched) {
      const c = pairCounts.get(k);
      if (c !== undefined) queue.push(c, Math.floor(k / K), k % K);
    }
    touched.clear();
  }
  return new BpeTokenizer({ tokens, merges, special: specialIdsOf(ids), lowercase });
}

/** Word-type counts after whitespace split, lowercasing and the Metaspace marker. */
function countWords(words: Iterable<string> | string[][], lowercase: boolean): Map<string, number> {
  const raw = new Map<string, number>();
  const add = (item: string): void => {
    for (const w of splitWhitespace(item)) raw.set(w, (raw.get(w) ?? 0) + 1);
  };
  for (const item of words as Iterable<string | string[]>) {
    if (typeof item === 'string') add(item);
    else for (const w of item) add(w);
  }
  const specials = new Set<string>(SPECIAL_TOKENS);
  const out = new Map<string, number>();
  for (const [w, c] of raw) {
    if (specials.has(w)) continue;
    const key = metaspaceWord(lowercase ? w.toLowerCase() : w);
    out.set(key, (out.get(key) ?? 0) + c);
  }
  return out;
}

/** Characters with count ≥ minFrequency, the most frequent if they do not all fit, in code-unit order. */
function chooseAlphabet(typeCounts: Map<string, number>, minFrequency: number, room: number): string[] {
  const chars = new Map<string, number>();
  for (const [word, count] of typeCounts) for (const ch of word) chars.set(ch, (chars.get(ch) ?? 0) + count);
  const kept = [...chars].filter(([, c]) => c >= minFrequency);
  kept.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  return kept
    .slice(0, room)
    .map(([ch]) => ch)
    .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * Replaces every non-overlapping (A, B), left to right, by C in one word and updates pair counts: pairs
 * touching a merged position are removed, pairs touching a new C are added.
 */
function mergeInWord(
  s: number[],
  A: number,
  B: number,
  C: number,
  count: number,
  word: number,
  addPair: (a: number, b: number, count: number, word: number) => void,
  removePair: (a: number, b: number, count: number) => void,
): number[] {
  const out: number[] = [];
  const fresh: number[] = [];
  let removedUpTo = -1; // pairs (k, k+1) with k ≤ this are already removed
  for (let i = 0; i < s.length; ) {
    if (i + 1 < s.length && s[i] === A && s[i + 1] === B) {
      const last = Math.min(i + 1, s.length - 2);
      for (let k = Math.max(i - 1, removedUpTo + 1); k <= last; k++) removePair(s[k]!, s[k + 1]!, count);
      removedUpTo = last;
      fresh.push(out.length);
      out.push(C);
      i += 2;
    } else out.push(s[i++]!);
  }
  let addedUpTo = -1;
  for (const p of fresh) {
    const last = Math.min(p, out.length - 2);
    for (let q = Math.max(p - 1, addedUpTo + 1); q <= last; q++) addPair(out[q]!, out[q + 1]!, count, word);
    addedUpTo = last;
  }
  return fresh.length > 0 ? out : s;
}
