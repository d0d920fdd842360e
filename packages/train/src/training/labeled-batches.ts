/**
 * @file Labeled sentences → subword ids with one label per word (on its first subword, or its last for the
 * ablation; other subwords are ignored), prediction windows over sentences longer than the cap, and
 * length-bucketed batches so that padding stays small.
 */
import { IGNORE_LABEL } from '@reprise/model';
import type { LabeledSentence } from '../data/index.ts';
import type { WordTokenizer } from '../tokenizer/index.ts';
import { mixSeed, shuffled } from './shuffle.ts';
import { type PredictionWindow, planWindows } from './windows.ts';

export interface LabelVocab {
  labels: string[];
  index: Map<string, number>;
}

/** Labels of the training data, most frequent first (ties by name): stable ids for a given training set. */
export function buildLabelVocab(sentences: readonly LabeledSentence[]): LabelVocab {
  const counts = new Map<string, number>();
  for (const s of sentences) for (const l of s.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const labels = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
  return labelVocab(labels);
}

export function labelVocab(labels: readonly string[]): LabelVocab {
  return { labels: [...labels], index: new Map(labels.map((l, i) => [l, i])) };
}

export interface EncodedSentence {
  /** Training's view: the first `maxTokens` subwords (the loss ignores the words cut off). */
  ids: number[];
  /** Per kept subword: the label id on each word's labeled subword, IGNORE_LABEL elsewhere. */
  labels: number[];
  /** Per word: the kept subword whose prediction is the word's (−1 when the cap cut the word off). */
  wordToken: number[];
  /** Prediction's view: every subword of the sentence, and each word's label-carrying subword in it. */
  whole: { ids: number[]; carrier: number[] };
  /** Windows of at most `maxTokens` subwords over `whole` (one when the sentence fits), see windows.ts. */
  windows: PredictionWindow[];
}

export interface EncodeOptions {
  /** Subwords per sentence (before repetition), the same for every r; the paper uses 256. */
  maxTokens: number;
  /** Which subword carries a word's label. */
  labelSubword?: 'first' | 'last';
}

/**
 * Encodes sentences; a gold label outside `vocab` (possible in dev/test) is kept out of the loss and scored as
 * an error by evaluation, which never predicts it. Training reads the first `maxTokens` subwords; prediction
 * reads the whole sentence in windows of `maxTokens`.
 */
export function encodeLabeled(
  sentences: readonly LabeledSentence[],
  tokenizer: WordTokenizer,
  vocab: LabelVocab,
  options: EncodeOptions,
): EncodedSentence[] {
  return sentences.map((s) => {
    const enc = tokenizer.encodeWords(s.words);
    const ids = enc.ids.length > options.maxTokens ? enc.ids.slice(0, options.maxTokens) : enc.ids;
    const labels = ids.map(() => IGNORE_LABEL);
    const carrier = options.labelSubword === 'last' ? enc.lastTokenOfWord : enc.firstTokenOfWord;
    const wordToken = carrier.map((t) => (t < ids.length ? t : -1));
    wordToken.forEach((t, w) => {
      if (t >= 0) labels[t] = vocab.index.get(s.labels[w]!) ?? IGNORE_LABEL;
    });
    const spans = { start: enc.firstTokenOfWord, end: enc.lastTokenOfWord.map((t) => t + 1), carrier };
    const windows = planWindows(spans, enc.ids.length, options.maxTokens);
    return { ids, labels, wordToken, whole: { ids: enc.ids, carrier }, windows };
  });
}

/** Words (and the sentences holding them) that the cap cut off training's view: the loss does not see them. */
export function countCut(encoded: readonly EncodedSentence[]): { words: number; sentences: number } {
  let words = 0;
  let sentences = 0;
  for (const s of encoded) {
    const cut = s.wordToken.filter((t) => t < 0).length;
    words += cut;
    if (cut > 0) sentences++;
  }
  return { words, sentences };
}

/**
 * Batches of sentence indices for one epoch: shuffled by (seed, epoch), sorted by length within pools of
 * 50 batches, then the batches shuffled. Without a seed: all sorted by length (evaluation).
 */
export function makeBatches(
  items: readonly { ids: readonly number[] }[],
  batchSize: number,
  shuffle?: { seed: number; epoch: number },
): number[][] {
  const indices = items.map((_, i) => i);
  const byLength = (a: number, b: number) => items[a]!.ids.length - items[b]!.ids.length || a - b;
  if (!shuffle) return chunk(indices.sort(byLength), batchSize);
  const order = shuffled(indices, mixSeed(shuffle.seed, shuffle.epoch, 1));
  const pool = batchSize * 50;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += pool) {
    batches.push(...chunk(order.slice(start, start + pool).sort(byLength), batchSize));
  }
  return shuffled(batches, mixSeed(shuffle.seed, shuffle.epoch, 2));
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The labels of a batch laid out as the labeler's [B·N] rows (N = longest sentence in the batch). */
export function batchLabels(items: readonly EncodedSentence[], baseSeq: number): Int32Array {
  const out = new Int32Array(items.length * baseSeq).fill(IGNORE_LABEL);
  items.forEach((s, b) => out.set(s.labels, b * baseSeq));
  return out;
}
