import { describe, expect, it } from 'vitest';
import { extractSpans, spanF1 } from '../src/metrics/spans.ts';

describe('extractSpans (strict IOB2)', () => {
  it('reads B- then I- of the same type, ending at O, B- or a type change', () => {
    expect(extractSpans(['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC', 'I-LOC', 'I-PER'])).toEqual([
      { type: 'PER', start: 0, end: 2 },
      { type: 'LOC', start: 3, end: 4 },
      { type: 'LOC', start: 4, end: 6 },
    ]);
  });

  it('drops I- without a preceding B- of its type', () => {
    expect(extractSpans(['I-PER', 'I-PER', 'O', 'B-LOC', 'I-PER', 'I-PER'])).toEqual([
      { type: 'LOC', start: 3, end: 4 },
    ]);
    expect(extractSpans(['O', 'I-ORG'])).toEqual([]);
  });

  it('closes a span at the end of the sentence', () => {
    expect(extractSpans(['O', 'B-ORG', 'I-ORG'])).toEqual([{ type: 'ORG', start: 1, end: 3 }]);
    expect(extractSpans(['B-X'])).toEqual([{ type: 'X', start: 0, end: 1 }]);
    expect(extractSpans([])).toEqual([]);
  });

  it('keeps types with dashes and refuses other labels', () => {
    expect(extractSpans(['B-B-X', 'I-B-X'])).toEqual([{ type: 'B-X', start: 0, end: 2 }]);
    expect(() => extractSpans(['O', 'PER'])).toThrow("token 1: expected O, B-TYPE or I-TYPE, found 'PER'");
    expect(() => extractSpans(['E-PER'])).toThrow(/'E-PER'/);
  });
});

describe('spanF1', () => {
  it('scores exact span matches, micro-averaged and per type', () => {
    const gold = [
      ['B-PER', 'I-PER', 'O', 'B-LOC'],
      ['B-ORG', 'I-ORG', 'I-ORG', 'O'],
    ];
    const pred = [
      // PER right; LOC right.
      ['B-PER', 'I-PER', 'O', 'B-LOC'],
      // ORG too short, plus an I-PER that strict mode drops.
      ['B-ORG', 'I-ORG', 'O', 'I-PER'],
    ];
    const result = spanF1(gold, pred);
    expect(result).toMatchObject({ tp: 2, predicted: 3, gold: 3 });
    expect(result.precision).toBeCloseTo(2 / 3, 12);
    expect(result.recall).toBeCloseTo(2 / 3, 12);
    expect(result.f1).toBeCloseTo(2 / 3, 12);
    expect(result.byType.ORG).toEqual({ tp: 0, predicted: 1, gold: 1, precision: 0, recall: 0, f1: 0 });
    expect(result.byType.PER).toEqual({ tp: 1, predicted: 1, gold: 1, precision: 1, recall: 1, f1: 1 });
    expect(Object.keys(result.byType)).toEqual(['LOC', 'ORG', 'PER']);
  });

  it('counts I- without B- as no prediction, unlike lenient readers', () => {
    // seqeval default mode would read `I-PER I-PER` as a PER span and score f1 = 1; strict mode finds nothing.
    const result = spanF1([['B-PER', 'I-PER']], [['I-PER', 'I-PER']]);
    expect(result).toMatchObject({ tp: 0, predicted: 0, gold: 1, precision: 0, recall: 0, f1: 0 });
  });

  it('splits on B- after B- and on a type change', () => {
    const result = spanF1([['B-PER', 'I-PER', 'I-PER']], [['B-PER', 'B-PER', 'I-LOC']]);
    expect(result).toMatchObject({ tp: 0, predicted: 2, gold: 1 });
    expect(result.f1).toBe(0);
    const right = spanF1([['B-PER', 'B-PER', 'O']], [['B-PER', 'B-PER', 'I-LOC']]);
    expect(right).toMatchObject({ tp: 2, predicted: 2, gold: 2, f1: 1 });
  });

  it('gives 0, not NaN, for empty predictions or no spans at all', () => {
    const empty = spanF1([['B-PER', 'O']], [['O', 'O']]);
    expect(empty).toMatchObject({ tp: 0, predicted: 0, gold: 1, precision: 0, recall: 0, f1: 0 });
    const none = spanF1([['O']], [['O']]);
    expect(none).toEqual({ tp: 0, predicted: 0, gold: 0, precision: 0, recall: 0, f1: 0, byType: {} });
    expect(spanF1([], []).f1).toBe(0);
  });

  it('matches a hand-computed mixed case', () => {
    // gold spans: PER[0,2) LOC[3,4) | MISC[0,1) ORG[2,4); pred: PER[0,2) LOC[3,5) | MISC[0,1) ORG[2,3) LOC[3,4)
    const gold = [
      ['B-PER', 'I-PER', 'O', 'B-LOC', 'O'],
      ['B-MISC', 'O', 'B-ORG', 'I-ORG'],
    ];
    const pred = [
      ['B-PER', 'I-PER', 'O', 'B-LOC', 'I-LOC'],
      ['B-MISC', 'O', 'B-ORG', 'B-LOC'],
    ];
    const result = spanF1(gold, pred);
    expect(result).toMatchObject({ tp: 2, predicted: 5, gold: 4 });
    expect(result.precision).toBeCloseTo(0.4, 12);
    expect(result.recall).toBeCloseTo(0.5, 12);
    expect(result.f1).toBeCloseTo(4 / 9, 12);
    expect(result.byType.LOC).toMatchObject({ tp: 0, predicted: 2, gold: 1 });
  });

  it('refuses misaligned input', () => {
    expect(() => spanF1([['O', 'O']], [['O']])).toThrow(/sentence 0/);
  });
});
