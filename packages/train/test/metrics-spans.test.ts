import { describe, expect, it } from 'vitest';
import { extractSpans, spanF1, toIob2 } from '../src/metrics/spans.ts';

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
    expect(() => extractSpans(['X-PER'], { mode: 'lenient' })).toThrow(
      "token 0: expected O, B-TYPE, I-TYPE, E-TYPE or S-TYPE, found 'X-PER'",
    );
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
    expect(result).toMatchObject({ tp: 2, predicted: 3, support: 3 });
    expect(result.precision).toBeCloseTo(2 / 3, 12);
    expect(result.recall).toBeCloseTo(2 / 3, 12);
    expect(result.f1).toBeCloseTo(2 / 3, 12);
    expect(result.byType.ORG).toEqual({ tp: 0, predicted: 1, support: 1, precision: 0, recall: 0, f1: 0 });
    expect(result.byType.PER).toEqual({ tp: 1, predicted: 1, support: 1, precision: 1, recall: 1, f1: 1 });
    expect(Object.keys(result.byType)).toEqual(['LOC', 'ORG', 'PER']);
  });

  it('counts I- without B- as no prediction, unlike lenient readers', () => {
    // seqeval default mode would read `I-PER I-PER` as a PER span and score f1 = 1; strict mode finds nothing.
    const result = spanF1([['B-PER', 'I-PER']], [['I-PER', 'I-PER']]);
    expect(result).toMatchObject({ tp: 0, predicted: 0, support: 1, precision: 0, recall: 0, f1: 0 });
  });

  it('splits on B- after B- and on a type change', () => {
    const result = spanF1([['B-PER', 'I-PER', 'I-PER']], [['B-PER', 'B-PER', 'I-LOC']]);
    expect(result).toMatchObject({ tp: 0, predicted: 2, support: 1 });
    expect(result.f1).toBe(0);
    const right = spanF1([['B-PER', 'B-PER', 'O']], [['B-PER', 'B-PER', 'I-LOC']]);
    expect(right).toMatchObject({ tp: 2, predicted: 2, support: 2, f1: 1 });
  });

  it('gives 0, not NaN, for empty predictions or no spans at all', () => {
    const empty = spanF1([['B-PER', 'O']], [['O', 'O']]);
    expect(empty).toMatchObject({ tp: 0, predicted: 0, support: 1, precision: 0, recall: 0, f1: 0 });
    const none = spanF1([['O']], [['O']]);
    expect(none).toEqual({ tp: 0, predicted: 0, support: 0, precision: 0, recall: 0, f1: 0, byType: {} });
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
    expect(result).toMatchObject({ tp: 2, predicted: 5, support: 4 });
    expect(result.precision).toBeCloseTo(0.4, 12);
    expect(result.recall).toBeCloseTo(0.5, 12);
    expect(result.f1).toBeCloseTo(4 / 9, 12);
    expect(result.byType.LOC).toMatchObject({ tp: 0, predicted: 2, support: 1 });
  });

  it('refuses misaligned input', () => {
    expect(() => spanF1([['O', 'O']], [['O']])).toThrow(/sentence 0/);
    expect(() => spanF1([['O']], [['S-X']])).toThrow(
      "predicted sentence 0, token 0: expected O, B-TYPE or I-TYPE, found 'S-X'",
    );
  });
});

describe('extractSpans in other schemes and modes', () => {
  it('reads IOB1: an I- after O or another type opens a span, B- splits two spans of one type', () => {
    const labels = ['I-PER', 'I-PER', 'O', 'I-LOC', 'B-LOC', 'I-ORG', 'B-PER'];
    const spans = [
      { type: 'PER', start: 0, end: 2 },
      { type: 'LOC', start: 3, end: 4 },
      { type: 'LOC', start: 4, end: 5 },
      { type: 'ORG', start: 5, end: 6 },
      { type: 'PER', start: 6, end: 7 },
    ];
    expect(extractSpans(labels, { scheme: 'iob1' })).toEqual(spans);
    expect(extractSpans(labels, { mode: 'lenient' })).toEqual(spans);
    expect(toIob2(labels, { scheme: 'iob1' })).toEqual([
      'B-PER',
      'I-PER',
      'O',
      'B-LOC',
      'B-LOC',
      'B-ORG',
      'B-PER',
    ]);
  });

  it('reads BIOES strictly: S-X or B-X I-X… E-X, anything else dropped (seqeval strict IOBES)', () => {
    const labels = ['B-PER', 'I-PER', 'E-PER', 'S-LOC', 'B-ORG', 'O', 'I-ORG', 'E-ORG', 'B-X', 'E-Y', 'E-X'];
    expect(extractSpans(labels, { scheme: 'bioes' })).toEqual([
      { type: 'PER', start: 0, end: 3 },
      { type: 'LOC', start: 3, end: 4 },
    ]);
    expect(toIob2(labels, { scheme: 'bioes' })).toEqual([
      'B-PER',
      'I-PER',
      'I-PER',
      'B-LOC',
      'O',
      'O',
      'O',
      'O',
      'O',
      'O',
      'O',
    ]);
    // Two adjacent valid spans of one type stay two.
    expect(extractSpans(['B-X', 'E-X', 'B-X', 'E-X', 'S-X'], { scheme: 'bioes' })).toHaveLength(3);
  });

  it("reads BIOES leniently as seqeval's default chunker does", () => {
    const labels = ['B-PER', 'I-PER', 'E-PER', 'S-LOC', 'B-ORG', 'O', 'I-ORG', 'E-ORG', 'B-X', 'E-Y', 'E-X'];
    // get_entities: PER 0-2, LOC 3, ORG 4 (B then O), ORG 6-7 (I after O), X 8, Y 9, X 10.
    expect(extractSpans(labels, { mode: 'lenient' })).toEqual([
      { type: 'PER', start: 0, end: 3 },
      { type: 'LOC', start: 3, end: 4 },
      { type: 'ORG', start: 4, end: 5 },
      { type: 'ORG', start: 6, end: 8 },
      { type: 'X', start: 8, end: 9 },
      { type: 'Y', start: 9, end: 10 },
      { type: 'X', start: 10, end: 11 },
    ]);
  });

  it('refuses prefixes the scheme lacks', () => {
    expect(() => extractSpans(['S-PER'], { scheme: 'iob1' })).toThrow(
      "token 0: expected O, B-TYPE or I-TYPE, found 'S-PER'",
    );
    expect(() => extractSpans(['B-PER', 'PER'], { scheme: 'bioes' })).toThrow(
      "token 1: expected O, B-TYPE, I-TYPE, E-TYPE or S-TYPE, found 'PER'",
    );
  });
});

describe('spanF1 strict and lenient, hand-computed', () => {
  it('IOB2: a prediction opening with I- counts only in lenient mode', () => {
    const gold = [['B-PER', 'I-PER', 'O', 'B-LOC']];
    const pred = [['I-PER', 'I-PER', 'O', 'B-LOC']];
    // strict: pred spans LOC → tp 1, predicted 1, support 2: P 1, R 1/2, F1 2/3.
    const strict = spanF1(gold, pred, { scheme: 'iob2', mode: 'strict' });
    expect(strict).toMatchObject({ tp: 1, predicted: 1, support: 2, precision: 1, recall: 0.5 });
    expect(strict.f1).toBeCloseTo(2 / 3, 12);
    expect(strict.byType.PER).toEqual({ tp: 0, predicted: 0, support: 1, precision: 0, recall: 0, f1: 0 });
    // lenient: pred spans PER 0-1 and LOC → both right.
    const lenient = spanF1(gold, pred, { mode: 'lenient' });
    expect(lenient).toMatchObject({ tp: 2, predicted: 2, support: 2, precision: 1, recall: 1, f1: 1 });
  });

  it('IOB1: gold I-PER I-PER O I-LOC B-LOC is 3 spans, not 0.00 as strict IOB2 scored it', () => {
    const gold = [['I-PER', 'I-PER', 'O', 'I-LOC', 'B-LOC']];
    const pred = [['I-PER', 'I-PER', 'O', 'I-LOC', 'I-LOC']];
    // gold PER 0-1, LOC 3, LOC 4; pred PER 0-1, LOC 3-4: tp 1, predicted 2, support 3 → P 1/2, R 1/3, F1 2/5.
    const strict = spanF1(gold, pred, { scheme: 'iob1' });
    expect(strict).toMatchObject({ tp: 1, predicted: 2, support: 3, precision: 0.5 });
    expect(strict.recall).toBeCloseTo(1 / 3, 12);
    expect(strict.f1).toBeCloseTo(0.4, 12);
    expect(spanF1(gold, pred, { mode: 'lenient' }).f1).toBeCloseTo(0.4, 12);
    expect(strict.byType.LOC).toEqual({ tp: 0, predicted: 1, support: 2, precision: 0, recall: 0, f1: 0 });
    // The defect: strict IOB2 keeps only the B-LOC gold span and no predicted one.
    expect(spanF1(gold, pred)).toMatchObject({ tp: 0, predicted: 0, support: 1, f1: 0 });
  });
});
