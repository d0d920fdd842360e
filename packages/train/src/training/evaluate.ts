/**
 * @file Evaluation of a labeler: word-level predictions (each word's labeled subword), token accuracy, and
 * strict span micro-F1 when the labels are IOB2 spans or when a view turns the labels into spans (Brown tags →
 * proper-name spans).
 */
import type { SequenceLabeler } from '@reprise/model';
import type { LabeledSentence } from '../data/index.ts';
import { type SpanF1Result, spanF1, tokenAccuracy } from '../metrics/index.ts';
import { type EncodedSentence, type LabelVocab, makeBatches } from './labeled-batches.ts';

export interface Evaluation {
  accuracy: number;
  /** Span F1 on the labels (IOB2 tasks) or on the span view of them; null when neither applies. */
  spans: SpanF1Result | null;
  predictions: string[][];
  sentencesPerSecond: number;
}

const IOB = /^(O|[BI]-.+)$/;
export const isIobLabelSet = (labels: readonly string[]) => labels.every((l) => IOB.test(l));

export async function predictWords(
  labeler: SequenceLabeler,
  encoded: readonly EncodedSentence[],
  vocab: LabelVocab,
  batchSize: number,
): Promise<string[][]> {
  const predictions: string[][] = new Array(encoded.length);
  for (const batch of makeBatches(encoded, batchSize)) {
    const layout = labeler.layout(batch.map((i) => encoded[i]!.ids));
    const tokenLabels = await labeler.predict(layout);
    batch.forEach((i, b) => {
      // Words cut off by truncation get the most frequent label.
      predictions[i] = encoded[i]!.wordToken.map((t) => vocab.labels[t >= 0 ? tokenLabels[b]![t]! : 0]!);
    });
  }
  return predictions;
}

export async function evaluate(
  labeler: SequenceLabeler,
  sentences: readonly LabeledSentence[],
  encoded: readonly EncodedSentence[],
  vocab: LabelVocab,
  options: { batchSize: number; spanView?: (labels: readonly string[]) => string[] },
): Promise<Evaluation> {
  const start = performance.now();
  const predictions = await predictWords(labeler, encoded, vocab, options.batchSize);
  const seconds = (performance.now() - start) / 1000;
  const gold = sentences.map((s) => s.labels);
  const { accuracy } = tokenAccuracy(gold, predictions);
  let spans: SpanF1Result | null = null;
  if (isIobLabelSet(vocab.labels)) spans = spanF1(gold, predictions);
  else if (options.spanView) spans = spanF1(gold.map(options.spanView), predictions.map(options.spanView));
  return { accuracy, spans, predictions, sentencesPerSecond: sentences.length / seconds };
}
