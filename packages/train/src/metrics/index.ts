/**
 * @file The public metrics API: token accuracy, strict IOB2 span F1 and the majority-label baseline.
 */
export { type AccuracyResult, checkAligned, tokenAccuracy } from './accuracy.ts';
export { type BaselineResult, majorityBaseline } from './baseline.ts';
export { type Span, type SpanCounts, type SpanF1Result, extractSpans, spanF1 } from './spans.ts';
