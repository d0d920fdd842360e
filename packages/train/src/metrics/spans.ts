/**
 * @file Strict IOB2 span extraction and span micro-F1, matching seqeval's `mode='strict', scheme=IOB2`.
 */
import { checkAligned } from './accuracy.ts';

/** A labeled span of tokens `[start, end)` in one sentence. */
export type Span = { type: string; start: number; end: number };

export type SpanCounts = {
  tp: number;
  predicted: number;
  gold: number;
  precision: number;
  recall: number;
  f1: number;
};

export type SpanF1Result = SpanCounts & { byType: Record<string, SpanCounts> };

const LABEL = /^([BI])-(.+)$/;

/**
 * Spans of an IOB2 sequence read strictly: a span opens only at `B-X` and continues over the `I-X` that follow;
 * `O`, any `B-`, or an `I-` of another type ends it. An `I-X` that does not continue a span of type X opens
 * nothing and is dropped (seqeval's strict mode; its default lenient mode would start a span there). Labels
 * other than `O`, `B-…`, `I-…` throw.
 */
export function extractSpans(labels: readonly string[]): Span[] {
  const spans: Span[] = [];
  let open: Span | undefined;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    const match = LABEL.exec(label);
    if (!match && label !== 'O')
      throw new Error(`token ${i}: expected O, B-TYPE or I-TYPE, found '${label}'`);
    if (match?.[1] === 'I' && open?.type === match[2]) {
      open.end = i + 1;
      continue;
    }
    if (open) spans.push(open);
    open = match?.[1] === 'B' ? { type: match[2], start: i, end: i + 1 } : undefined;
  }
  if (open) spans.push(open);
  return spans;
}

/** Exact-match span micro-F1 over all sentences, with the same counts per span type. */
export function spanF1(
  gold: readonly (readonly string[])[],
  pred: readonly (readonly string[])[],
): SpanF1Result {
  checkAligned(gold, pred);
  const total = { tp: 0, predicted: 0, gold: 0 };
  const byType = new Map<string, { tp: number; predicted: number; gold: number }>();
  const countsOf = (type: string) => {
    let counts = byType.get(type);
    if (!counts) byType.set(type, (counts = { tp: 0, predicted: 0, gold: 0 }));
    return counts;
  };
  for (let s = 0; s < gold.length; s++) {
    const goldSpans = extractSpans(gold[s]);
    const goldKeys = new Set(goldSpans.map(key));
    for (const span of goldSpans) countsOf(span.type).gold++;
    for (const span of extractSpans(pred[s])) {
      const counts = countsOf(span.type);
      counts.predicted++;
      if (goldKeys.has(key(span))) counts.tp++;
    }
  }
  const result: Record<string, SpanCounts> = {};
  for (const type of [...byType.keys()].sort()) {
    const counts = byType.get(type)!;
    total.tp += counts.tp;
    total.predicted += counts.predicted;
    total.gold += counts.gold;
    result[type] = scores(counts);
  }
  return { ...scores(total), byType: result };
}

function key(span: Span): string {
  return `${span.start}:${span.end}:${span.type}`;
}

/** Precision, recall and F1 with 0 for an empty denominator, as seqeval reports them (zero_division=0). */
function scores({ tp, predicted, gold }: { tp: number; predicted: number; gold: number }): SpanCounts {
  return {
    tp,
    predicted,
    gold,
    precision: predicted === 0 ? 0 : tp / predicted,
    recall: gold === 0 ? 0 : tp / gold,
    f1: predicted + gold === 0 ? 0 : (2 * tp) / (predicted + gold),
  };
}
