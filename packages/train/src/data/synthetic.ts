/**
 * @file A synthetic labeling task whose labels depend only on right context: each word is labeled with the
 * class of the word after it. A causal decoder (r = 0) cannot see that word, so it must stay at chance;
 * sequence repetition, unmasking and an encoder can. Words are real English words (so the BPE tokenizer
 * trained on Brown splits them like any text), drawn uniformly from a fixed list, each in one of K classes.
 */
import { Rng } from '@reprise/core';
import type { LabeledSentence } from './labeled.ts';

export interface SyntheticOptions {
  sentences: number;
  /** Words per sentence, drawn uniformly in [min, max], before the final ".". */
  minWords: number;
  maxWords: number;
  /** Number of classes (labels C0…C{K−1}); chance accuracy is 1/K. */
  classes: number;
  seed: number;
}

/** 48 common words; word i is in class i mod K (48 is a multiple of every K ≤ 4, so classes are balanced). */
export const SYNTHETIC_WORDS = [
  'time',
  'people',
  'year',
  'way',
  'day',
  'man',
  'thing',
  'woman',
  'life',
  'child',
  'world',
  'school',
  'state',
  'family',
  'group',
  'country',
  'problem',
  'hand',
  'part',
  'place',
  'case',
  'week',
  'company',
  'system',
  'program',
  'question',
  'work',
  'government',
  'number',
  'night',
  'point',
  'home',
  'water',
  'room',
  'mother',
  'area',
  'money',
  'story',
  'fact',
  'month',
  'lot',
  'right',
  'study',
  'book',
  'eye',
  'job',
  'word',
  'business',
] as const;

export const syntheticClass = (wordIndex: number, classes: number) => `C${wordIndex % classes}`;

/**
 * Sentences of random words; word i's label is the class of word i+1, and the last word's label is a random
 * class (it has no right neighbour). Every label is uniform and independent of the words before it, so a
 * causal decoder's best is chance (1/K); a model that sees the right context can reach (n − 1 + 1/K) / n.
 */
export function syntheticSentences(o: SyntheticOptions): LabeledSentence[] {
  if (!(o.classes >= 2 && o.classes <= SYNTHETIC_WORDS.length))
    throw new Error(`synthetic task: classes must be in 2..${SYNTHETIC_WORDS.length}, got ${o.classes}`);
  if (!(o.minWords >= 2 && o.maxWords >= o.minWords))
    throw new Error(`synthetic task: need 2 ≤ minWords ≤ maxWords, got ${o.minWords}..${o.maxWords}`);
  const rng = new Rng(o.seed);
  const out: LabeledSentence[] = [];
  for (let s = 0; s < o.sentences; s++) {
    const n = o.minWords + rng.int(o.maxWords - o.minWords + 1);
    const ids = Array.from({ length: n }, () => rng.int(SYNTHETIC_WORDS.length));
    const words = ids.map((i) => SYNTHETIC_WORDS[i]!);
    const labels = ids.map((_, k) => syntheticClass(k + 1 < n ? ids[k + 1]! : rng.int(o.classes), o.classes));
    out.push({ words, labels });
  }
  return out;
}
