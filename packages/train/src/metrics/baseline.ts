/**
 * @file The most-frequent-label baseline: the floor any trained tagger must beat on the same split.
 */
import type { LabeledSentence } from '../data/labeled.ts';

export type BaselineResult = {
  accuracy: number;
  /** Fraction of test tokens whose lower-cased word never occurs in training. */
  oovRate: number;
  correct: number;
  total: number;
  oov: number;
  /** The label given to unknown words. */
  unknownLabel: string;
};

/** Noun labels in the universal (`NOUN`) and Brown (`nn…`, `np…`, `nr…`) tag sets. */
const NOUN = /^(NOUN$|nn|np|nr)/;

/**
 * Tags each test word with its most frequent label in training (words lower-cased; ties go to the label seen first
 * for that word, which reproduces the floors in docs/data.md). Unknown
 * words get `unknownLabel`, by default the most frequent noun label in training (`NOUN`, `nn`), or the most
 * frequent label when none is a noun (span tasks: `O`).
 */
export function majorityBaseline(
  train: readonly LabeledSentence[],
  test: readonly LabeledSentence[],
  unknownLabel?: string,
): BaselineResult {
  const labelCounts = new Map<string, number>();
  const wordCounts = new Map<string, Map<string, number>>();
  for (const { words, labels } of train) {
    for (let i = 0; i < words.length; i++) {
      const word = words[i].toLowerCase();
      let counts = wordCounts.get(word);
      if (!counts) wordCounts.set(word, (counts = new Map()));
      counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
      labelCounts.set(labels[i], (labelCounts.get(labels[i]) ?? 0) + 1);
    }
  }
  // Maps iterate in insertion order, so ties go to the label seen first in training.
  const argmax = (counts: Map<string, number>, keep: (label: string) => boolean = () => true) => {
    let best: string | undefined;
    for (const [label, count] of counts) {
      if (keep(label) && (best === undefined || count > counts.get(best)!)) best = label;
    }
    return best;
  };
  const fallback = unknownLabel ?? argmax(labelCounts, (label) => NOUN.test(label)) ?? argmax(labelCounts);
  if (fallback === undefined) throw new Error('majorityBaseline: expected training sentences, found none');

  const predictions = new Map<string, string>();
  for (const [word, counts] of wordCounts) predictions.set(word, argmax(counts)!);
  let correct = 0;
  let total = 0;
  let oov = 0;
  for (const { words, labels } of test) {
    if (words.length !== labels.length) {
      throw new Error(
        `majorityBaseline: expected one label per word, found ${words.length} words, ${labels.length} labels`,
      );
    }
    for (let i = 0; i < words.length; i++) {
      let guess = predictions.get(words[i].toLowerCase());
      if (guess === undefined) {
        oov++;
        guess = fallback;
      }
      if (guess === labels[i]) correct++;
      total++;
    }
  }
  return {
    accuracy: total === 0 ? 0 : correct / total,
    oovRate: total === 0 ? 0 : oov / total,
    correct,
    total,
    oov,
    unknownLabel: fallback,
  };
}
