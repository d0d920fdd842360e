/**
 * @file Evaluation of a labeler: word-level predictions (each word's labeled subword, sentences longer than the
 * subword cap read in overlapping windows), token accuracy, and strict and lenient span micro-F1 when the labels
 * are spans (IOB2, IOB1 or BIOES) or when a view turns the labels into spans (Brown tags → proper-name spans). Every word gets a real
 * prediction; the only words not scored are single words longer than the cap, and their count is reported.
 */
import { type SequenceLabeler, causalLayers } from '@reprise/model';
import type { LabeledSentence } from '../data/index.ts';
import { type Scheme, type SpanF1Result, chooseScheme, spanF1, tokenAccuracy } from '../metrics/index.ts';
import { type EncodedSentence, type LabelVocab, makeBatches } from './labeled-batches.ts';
import { yieldToEventLoop } from './loop.ts';
import { passesOf } from './passes.ts';
import { windowOfWords } from './windows.ts';

/** What the subword cap did to a set of sentences. */
export interface Coverage {
  /** Sentences longer than the cap, predicted in overlapping windows. */
  windowedSentences: number;
  /** Words longer than the cap on their own (predicted from part of the word, not scored), and their sentences. */
  unscored: { words: number; sentences: number };
}

export interface Evaluation extends Coverage {
  /** Over the scored words. */
  accuracy: number;
  /**
   * Strict span F1 (seqeval `mode='strict'` in `scheme`; the score best-epoch selection uses) on the labels, or
   * on the IOB2 span view of them; null when neither applies.
   */
  spans: SpanF1Result | null;
  /** Lenient span F1 (seqeval's default mode, conlleval's reading) on the same spans; null with `spans`. */
  lenientSpans: SpanF1Result | null;
  /** The scheme the spans were read in (`iob2` for a span view); null without spans. */
  scheme: Scheme | null;
  predictions: string[][];
  sentencesPerSecond: number;
}

export interface WordPredictions extends Coverage {
  predictions: string[][];
  /** Per sentence: false for a word predicted from part of itself (longer than the cap), true otherwise. */
  scored: boolean[][];
}

/** Whether a word's prediction depends on the words to its left only (causal up to the head's layer, r = 0). */
export function seesLeftOnly(labeler: SequenceLabeler): boolean {
  const o = labeler.options;
  return o.r === 0 && causalLayers(o.mask, labeler.backbone.config.layers).slice(0, o.layer).every(Boolean);
}

/** A prediction for every word: each window of every sentence is run once, batched by length. */
export async function predictWords(
  labeler: SequenceLabeler,
  encoded: readonly EncodedSentence[],
  vocab: LabelVocab,
  batchSize: number,
): Promise<WordPredictions> {
  const pieces = encoded.flatMap((s, i) =>
    s.windows.map((win, k) => ({ sentence: i, window: k, ids: s.whole.ids.slice(win.start, win.end) })),
  );
  const pieceLabels: number[][] = new Array(pieces.length);
  for (const batch of makeBatches(pieces, batchSize))
    for (const pass of passesOf(
      labeler,
      batch.map((p) => ({ p, ids: pieces[p]!.ids })),
    )) {
      const tokenLabels = await labeler.predict(labeler.layout(pass.map((x) => x.ids)));
      await yieldToEventLoop(); // the CPU backend never waits: let a Ctrl-C in
      pass.forEach((x, b) => {
        pieceLabels[x.p] = tokenLabels[b]!;
      });
    }
  const leftOnly = seesLeftOnly(labeler);
  const coverage: Coverage = { windowedSentences: 0, unscored: { words: 0, sentences: 0 } };
  const predictions: string[][] = [];
  const scored: boolean[][] = [];
  let piece = 0;
  for (const s of encoded) {
    const first = piece;
    piece += s.windows.length;
    const choice = windowOfWords(s.windows, s.whole.carrier, leftOnly);
    predictions.push(
      choice.map((k, w) => {
        const win = s.windows[k]!;
        return vocab.labels[pieceLabels[first + k]![s.whole.carrier[w]! - win.start]!]!;
      }),
    );
    const ok = choice.map((k) => !s.windows[k]!.clipped);
    scored.push(ok);
    const clipped = ok.filter((x) => !x).length;
    if (s.windows.length > 1) coverage.windowedSentences++;
    if (clipped > 0) {
      coverage.unscored.words += clipped;
      coverage.unscored.sentences++;
    }
  }
  return { predictions, scored, ...coverage };
}

/**
 * Accuracy and span F1 over the scored words only: the words left out are removed from gold and predicted
 * sequences alike (after the span view, which reads whole sentences), so both are compared on the same words.
 */
export function scoreWords(
  gold: readonly (readonly string[])[],
  predictions: readonly (readonly string[])[],
  scored: readonly (readonly boolean[])[],
  options: {
    spansOnLabels: boolean;
    /** The labels' span scheme when `spansOnLabels` (default IOB2). */
    scheme?: Scheme;
    spanView?: (labels: readonly string[]) => string[];
  },
): {
  accuracy: number;
  spans: SpanF1Result | null;
  lenientSpans: SpanF1Result | null;
  scheme: Scheme | null;
} {
  const keep = (seqs: readonly (readonly string[])[]) =>
    seqs.map((seq, i) => seq.filter((_, w) => scored[i]![w]!));
  const { accuracy } = tokenAccuracy(keep(gold), keep(predictions));
  const both = (g: (readonly string[])[], p: (readonly string[])[], scheme: Scheme) => ({
    spans: spanF1(g, p, { scheme }),
    lenientSpans: spanF1(g, p, { mode: 'lenient' }),
    scheme,
  });
  if (options.spansOnLabels)
    return { accuracy, ...both(keep(gold), keep(predictions), options.scheme ?? 'iob2') };
  if (options.spanView) {
    const view = options.spanView;
    return { accuracy, ...both(keep(gold.map(view)), keep(predictions.map(view)), 'iob2') };
  }
  return { accuracy, spans: null, lenientSpans: null, scheme: null };
}

export async function evaluate(
  labeler: SequenceLabeler,
  sentences: readonly LabeledSentence[],
  encoded: readonly EncodedSentence[],
  vocab: LabelVocab,
  options: {
    batchSize: number;
    spanView?: (labels: readonly string[]) => string[];
    /** The labels' span scheme (null: not spans); when left out, detected from the gold labels of `sentences`. */
    scheme?: Scheme | null;
  },
): Promise<Evaluation> {
  const start = performance.now();
  const { predictions, scored, ...coverage } = await predictWords(labeler, encoded, vocab, options.batchSize);
  const seconds = (performance.now() - start) / 1000;
  const gold = sentences.map((s) => s.labels);
  const scheme =
    options.scheme !== undefined
      ? options.scheme
      : chooseScheme('auto', [{ source: 'gold', sentences }]).scheme;
  const scores = scoreWords(gold, predictions, scored, {
    spansOnLabels: scheme !== null,
    scheme: scheme ?? undefined,
    spanView: options.spanView,
  });
  return { ...scores, predictions, sentencesPerSecond: sentences.length / seconds, ...coverage };
}

/** What the cap did, in words, for stderr or the event log; empty when every sentence fit. */
export function coverageNotes(c: Coverage, maxTokens: number, options: { scoring: boolean }): string[] {
  const notes: string[] = [];
  const n = c.windowedSentences;
  if (n > 0)
    notes.push(
      `${count(n, 'sentence')} longer than the ${maxTokens}-subword cap ${n === 1 ? 'was' : 'were'} read in overlapping windows (every word predicted)`,
    );
  const w = c.unscored.words;
  if (w > 0)
    notes.push(
      `${count(w, 'word')} (in ${count(c.unscored.sentences, 'sentence')}) ${w === 1 ? 'is' : 'are each'} longer than the ${maxTokens}-subword cap by ${w === 1 ? 'itself' : 'themselves'}: predicted from ${maxTokens} of ${w === 1 ? 'its' : 'their'} subwords${options.scoring ? ', not scored' : ''}`,
    );
  return notes;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
