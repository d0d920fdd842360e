/**
 * @file Span extraction and span micro-F1 in seqeval's two modes. Strict (`mode='strict'` with a scheme) keeps
 * only spans whose transitions are valid in the scheme; lenient (seqeval's default, conlleval's reading) also
 * opens a span at an `I-X` after `O` or another type, and reads `B/I/E/S` alike whatever the scheme.
 */
import { checkAligned } from './accuracy.ts';
import {
  type Prefix,
  SCHEME_PREFIXES,
  type Scheme,
  type Tag,
  expectedLabels,
  parseTag,
  strictCoverage,
} from './schemes.ts';

/** A labeled span of tokens `[start, end)` in one sentence. */
export type Span = { type: string; start: number; end: number };

export type SpanMode = 'strict' | 'lenient';
export type SpanOptions = { scheme?: Scheme; mode?: SpanMode };

/** `support` is the number of gold spans (seqeval's name), `predicted` the number of predicted ones. */
export type SpanCounts = {
  tp: number;
  predicted: number;
  support: number;
  precision: number;
  recall: number;
  f1: number;
};

export type SpanF1Result = SpanCounts & { byType: Record<string, SpanCounts> };

const ALL_PREFIXES: readonly Prefix[] = ['B', 'I', 'E', 'S'];

function parseAll(labels: readonly string[], prefixes: readonly Prefix[]): Tag[] {
  return labels.map((label, i) => {
    const tag = parseTag(label);
    if (!tag || (tag.prefix !== 'O' && !prefixes.includes(tag.prefix)))
      throw new Error(`token ${i}: expected ${expectedLabels(prefixes)}, found '${label}'`);
    return tag;
  });
}

/**
 * The spans of one label sequence. Strict (the default, IOB2 unless `scheme` says otherwise): only spans valid
 * in the scheme (IOB2 `B-X I-X…`; IOB1 `I-X…` or `B-X I-X…`; BIOES `S-X` or `B-X I-X… E-X`), the rest is
 * dropped. Lenient: seqeval's default chunker, which needs no scheme. Labels the scheme (or, lenient, any
 * scheme) lacks throw, naming the token.
 */
export function extractSpans(labels: readonly string[], options: SpanOptions = {}): Span[] {
  const { scheme = 'iob2', mode = 'strict' } = options;
  if (mode === 'lenient') return lenientSpans(parseAll(labels, ALL_PREFIXES));
  const tags = parseAll(labels, SCHEME_PREFIXES[scheme]);
  const covered = strictCoverage(tags, scheme);
  const spans: Span[] = [];
  let open: Span | undefined;
  for (let i = 0; i < tags.length; i++) {
    const { prefix, type } = tags[i]!;
    // A covered I-/E- of the open span's type, right after it, continues it; anything else closes it, and a
    // covered token opens the next one (B-, S-, IOB1's I- after another type or O).
    if (covered[i] && open?.type === type && open.end === i && (prefix === 'I' || prefix === 'E')) {
      open.end = i + 1;
      continue;
    }
    if (open) spans.push(open);
    open = covered[i] && type !== null ? { type, start: i, end: i + 1 } : undefined;
  }
  if (open) spans.push(open);
  return spans;
}

/**
 * seqeval's default `get_entities` (conlleval-compatible): a span ends after E-/S-, before B-/S-/O when inside,
 * and at a type change; it starts at B-/S-, at an I-/E- after O, E- or S-, and at a type change.
 */
function lenientSpans(tags: readonly Tag[]): Span[] {
  const spans: Span[] = [];
  let prev: Tag = { prefix: 'O', type: null };
  let begin = 0;
  for (let i = 0; i <= tags.length; i++) {
    const tag: Tag = tags[i] ?? { prefix: 'O', type: null };
    const p = prev.prefix;
    const t = tag.prefix;
    const typeChange = prev.type !== tag.type;
    const ends =
      p === 'E' ||
      p === 'S' ||
      ((p === 'B' || p === 'I') && (t === 'B' || t === 'S' || t === 'O')) ||
      (p !== 'O' && typeChange);
    const starts =
      t === 'B' ||
      t === 'S' ||
      ((p === 'E' || p === 'S' || p === 'O') && (t === 'I' || t === 'E')) ||
      (t !== 'O' && typeChange);
    if (ends && prev.type !== null) spans.push({ type: prev.type, start: begin, end: i });
    if (starts) begin = i;
    prev = tag;
  }
  return spans;
}

/**
 * IOB2 labels for the spans `extractSpans` finds (strict by default): how IOB1 and BIOES are converted for
 * scoring; tokens outside every valid span become `O`.
 */
export function toIob2(labels: readonly string[], options: SpanOptions = {}): string[] {
  const out = labels.map(() => 'O');
  for (const { type, start, end } of extractSpans(labels, options)) {
    out[start] = `B-${type}`;
    for (let i = start + 1; i < end; i++) out[i] = `I-${type}`;
  }
  return out;
}

/** Exact-match span micro-F1 over all sentences, with the same counts per span type. */
export function spanF1(
  gold: readonly (readonly string[])[],
  pred: readonly (readonly string[])[],
  options: SpanOptions = {},
): SpanF1Result {
  checkAligned(gold, pred);
  const byType = new Map<string, { tp: number; predicted: number; support: number }>();
  const countsOf = (type: string) => {
    let counts = byType.get(type);
    if (!counts) byType.set(type, (counts = { tp: 0, predicted: 0, support: 0 }));
    return counts;
  };
  const spansOf = (labels: readonly string[], which: string, s: number) => {
    try {
      return extractSpans(labels, options);
    } catch (error) {
      throw new Error(`${which} sentence ${s}, ${(error as Error).message}`);
    }
  };
  for (let s = 0; s < gold.length; s++) {
    const goldSpans = spansOf(gold[s]!, 'gold', s);
    const goldKeys = new Set(goldSpans.map(key));
    for (const span of goldSpans) countsOf(span.type).support++;
    for (const span of spansOf(pred[s]!, 'predicted', s)) {
      const counts = countsOf(span.type);
      counts.predicted++;
      if (goldKeys.has(key(span))) counts.tp++;
    }
  }
  const total = { tp: 0, predicted: 0, support: 0 };
  const result: Record<string, SpanCounts> = {};
  for (const type of [...byType.keys()].sort()) {
    const counts = byType.get(type)!;
    total.tp += counts.tp;
    total.predicted += counts.predicted;
    total.support += counts.support;
    result[type] = scores(counts);
  }
  return { ...scores(total), byType: result };
}

function key(span: Span): string {
  return `${span.start}:${span.end}:${span.type}`;
}

/** Precision, recall and F1 with 0 for an empty denominator, as seqeval reports them (zero_division=0). */
function scores({ tp, predicted, support }: { tp: number; predicted: number; support: number }): SpanCounts {
  return {
    tp,
    predicted,
    support,
    precision: predicted === 0 ? 0 : tp / predicted,
    recall: support === 0 ? 0 : tp / support,
    f1: predicted + support === 0 ? 0 : (2 * tp) / (predicted + support),
  };
}
