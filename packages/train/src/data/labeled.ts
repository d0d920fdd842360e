/**
 * @file The sentence-with-labels shape shared by the Brown tasks, CoNLL files and the metrics.
 */

/**
 * One label per word. `line` (the first token's) and `lines` (each token's) are 1-based line numbers in the
 * file a sentence was read from, for error messages; absent for sentences that did not come from a file.
 */
export type LabeledSentence = { words: string[]; labels: string[]; line?: number; lines?: number[] };
