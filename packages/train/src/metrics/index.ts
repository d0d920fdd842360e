/**
 * @file The public metrics API: token accuracy, span schemes, span F1 (strict and lenient) and the
 * majority-label baseline.
 */
export { type AccuracyResult, checkAligned, tokenAccuracy } from './accuracy.ts';
export { type BaselineResult, majorityBaseline } from './baseline.ts';
export {
  type LabelSource,
  SCHEMES,
  type Scheme,
  type SchemeChoice,
  type SchemeDecision,
  chooseScheme,
  parseTag,
} from './schemes.ts';
export {
  type Span,
  type SpanCounts,
  type SpanF1Result,
  type SpanMode,
  type SpanOptions,
  extractSpans,
  spanF1,
  toIob2,
} from './spans.ts';
