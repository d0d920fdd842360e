import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConll } from '../src/data/conll.ts';
import type { LabeledSentence } from '../src/data/labeled.ts';
import { chooseScheme } from '../src/metrics/schemes.ts';
import { spanF1, toIob2 } from '../src/metrics/spans.ts';
import { conllTaskData } from '../src/training/tasks.ts';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', 'spans', name);
/** Gold (column 1) and predicted (column 2) labels of a fixture. */
const columns = (name: string) => ({
  gold: readConll(fixture(name), { labelColumn: 1 }),
  pred: readConll(fixture(name), { labelColumn: 2 }),
});
const labels = (sentences: LabeledSentence[]) => sentences.map((s) => s.labels);
const corpus = (source: string, ...sentences: string[][]) => ({
  source,
  sentences: sentences.map((l, s) => ({
    words: l.map(() => 'w'),
    labels: l,
    lines: l.map((_, i) => 10 * s + i + 1),
  })),
});

describe('chooseScheme: detection', () => {
  it('detects IOB2, IOB1 and BIOES and says why, with file and line', () => {
    expect(chooseScheme('auto', [corpus('a', ['B-PER', 'I-PER', 'O', 'B-LOC'])])).toEqual({
      scheme: 'iob2',
      detected: true,
      reason: 'every span opens with B-',
    });
    const iob1 = chooseScheme('auto', [corpus('a', ['B-PER', 'O']), corpus('b', ['O', 'I-LOC'], ['I-PER'])]);
    expect(iob1.scheme).toBe('iob1');
    expect(iob1.reason).toBe(
      "an I- label opens a span where IOB2 would need B- ('I-LOC' after 'O' at b:2, 2 times in all)",
    );
    const bioes = chooseScheme('auto', [corpus('c', ['B-PER', 'E-PER', 'O', 'S-LOC'])]);
    expect(bioes).toMatchObject({ scheme: 'bioes', detected: true });
    expect(bioes.reason).toBe("S-/E- labels occur ('E-PER' at c:2, 2 times in all)");
    expect(chooseScheme('auto', [corpus('d', ['I-PER', 'I-PER', 'B-PER'])]).reason).toMatch(
      /'I-PER' after the sentence start at d:1, once in all/,
    );
  });

  it('says labels are not spans (accuracy only) when none has a span prefix', () => {
    expect(chooseScheme('auto', [corpus('pos', ['DET', 'NOUN'])])).toEqual({
      scheme: null,
      detected: true,
      reason: "the labels are not spans (e.g. 'DET' at pos:1)",
    });
  });

  it('detects each fixture file', () => {
    const scheme = (name: string, labelColumn: number) =>
      chooseScheme('auto', [{ source: name, sentences: readConll(fixture(name), { labelColumn }) }]).scheme;
    expect(scheme('iob1.conll', 1)).toBe('iob1');
    expect(scheme('bioes.conll', 1)).toBe('bioes');
    expect(scheme('iob2.conll', 1)).toBe('iob2');
    // The predicted column of iob2.conll opens with I-PER: IOB1 evidence.
    expect(scheme('iob2.conll', 2)).toBe('iob1');
  });
});

describe('chooseScheme: labels that fit no scheme', () => {
  it('refuses junk among span labels, naming file, line and label', () => {
    expect(() => chooseScheme('auto', [corpus('x.conll', ['B-PER', 'O'], ['X-PER'])])).toThrow(
      "x.conll:11: label 'X-PER' fits no span scheme: expected O, B-TYPE, I-TYPE, E-TYPE or S-TYPE while other labels are spans (e.g. 'B-PER' at x.conll:1)",
    );
    expect(() => chooseScheme('bioes', [corpus('x.conll', ['O', 'X-PER'])])).toThrow(
      "x.conll:2: label 'X-PER' fits no span scheme: expected O, B-TYPE, I-TYPE, E-TYPE or S-TYPE (--scheme bioes)",
    );
    expect(() => chooseScheme('iob2', [corpus('pos', ['DET'])])).toThrow(
      "pos:1: label 'DET' fits no span scheme",
    );
  });

  it('refuses a forced scheme the labels break, and names the detected one', () => {
    expect(() => chooseScheme('iob2', [corpus('f', ['O', 'I-PER', 'I-PER'])])).toThrow(
      "f:2: 'I-PER' (in 'O I-PER I-PER') is in no valid IOB2 span (an IOB2 span is B-X followed by I-X…); 2 such labels in all; the labels look like IOB1",
    );
    expect(() => chooseScheme('iob2', [corpus('f', ['S-PER'])])).toThrow(
      "f:1: label 'S-PER' is not IOB2: expected O, B-TYPE or I-TYPE; the labels look like BIOES",
    );
    expect(() => chooseScheme('bioes', [corpus('f', ['B-PER', 'I-PER', 'O'])])).toThrow(
      /^f:1: 'B-PER' \(in 'B-PER I-PER'\) is in no valid BIOES span \(a BIOES span is S-X, or B-X I-X… E-X\); 2 such labels in all; the labels look like IOB2 .*use --scheme auto or iob2$/,
    );
    // Auto-detected BIOES with a broken span is refused as well: strict F1 would drop that gold span.
    expect(() => chooseScheme('auto', [corpus('g', ['S-LOC', 'B-PER', 'O'])])).toThrow(
      "g:2: 'B-PER' (in 'S-LOC B-PER O') is in no valid BIOES span",
    );
  });

  it('accepts forced schemes the labels fit', () => {
    expect(chooseScheme('iob1', [corpus('f', ['B-PER', 'O', 'I-LOC'])])).toEqual({
      scheme: 'iob1',
      detected: false,
      reason: 'forced by --scheme iob1',
    });
    expect(chooseScheme('bioes', [corpus('f', ['O', 'O'])]).scheme).toBe('bioes');
    expect(chooseScheme('iob2', [corpus('f', ['B-PER', 'I-PER'])]).scheme).toBe('iob2');
  });
});

describe('span F1 on the fixtures, hand-computed', () => {
  it('IOB1 fixture', () => {
    const { gold, pred } = columns('iob1.conll');
    // gold: PER 0-1, LOC 3, LOC 4 | PER 0; pred: PER 0-1, LOC 3-4 | PER 0 (B-PER at a sentence start is read too).
    const strict = spanF1(labels(gold), labels(pred), { scheme: 'iob1' });
    expect(strict).toMatchObject({ tp: 2, predicted: 3, support: 4 });
    expect(strict.precision).toBeCloseTo(2 / 3, 12);
    expect(strict.recall).toBeCloseTo(0.5, 12);
    expect(strict.f1).toBeCloseTo(4 / 7, 12);
    expect(strict.byType.PER).toEqual({ tp: 2, predicted: 2, support: 2, precision: 1, recall: 1, f1: 1 });
    expect(strict.byType.LOC).toEqual({ tp: 0, predicted: 1, support: 2, precision: 0, recall: 0, f1: 0 });
    expect(spanF1(labels(gold), labels(pred), { mode: 'lenient' }).f1).toBeCloseTo(4 / 7, 12);
  });

  it('BIOES fixture: strict drops the unclosed B-LOC, lenient reads it', () => {
    const { gold, pred } = columns('bioes.conll');
    // gold: PER 0-1, LOC 3, ORG 4-6 | LOC 0; pred strict: PER, ORG | LOC (B-LOC then B-ORG is invalid).
    const strict = spanF1(labels(gold), labels(pred), { scheme: 'bioes' });
    expect(strict).toMatchObject({ tp: 3, predicted: 3, support: 4, precision: 1, recall: 0.75 });
    expect(strict.f1).toBeCloseTo(6 / 7, 12);
    expect(strict.byType.LOC).toMatchObject({ tp: 1, predicted: 1, support: 2, precision: 1, recall: 0.5 });
    expect(strict.byType.LOC!.f1).toBeCloseTo(2 / 3, 12);
    expect(strict.byType.ORG).toMatchObject({ tp: 1, predicted: 1, support: 1, f1: 1 });
    const lenient = spanF1(labels(gold), labels(pred), { mode: 'lenient' });
    expect(lenient).toMatchObject({ tp: 4, predicted: 4, support: 4, f1: 1 });
    expect(toIob2(pred[0]!.labels, { scheme: 'bioes' })).toEqual([
      'B-PER',
      'I-PER',
      'O',
      'O',
      'B-ORG',
      'I-ORG',
      'I-ORG',
    ]);
  });

  it('IOB2 fixture: I- openings count only in lenient mode', () => {
    const { gold, pred } = columns('iob2.conll');
    // gold: PER 0-1, ORG 3 | LOC 0. pred strict: ORG 3 | LOC 0; lenient adds PER 0-1 (right) and LOC 5 (wrong).
    const strict = spanF1(labels(gold), labels(pred), { scheme: 'iob2' });
    expect(strict).toMatchObject({ tp: 2, predicted: 2, support: 3, precision: 1 });
    expect(strict.recall).toBeCloseTo(2 / 3, 12);
    expect(strict.f1).toBeCloseTo(0.8, 12);
    expect(strict.byType.PER).toEqual({ tp: 0, predicted: 0, support: 1, precision: 0, recall: 0, f1: 0 });
    const lenient = spanF1(labels(gold), labels(pred), { mode: 'lenient' });
    expect(lenient).toMatchObject({ tp: 3, predicted: 4, support: 3, precision: 0.75, recall: 1 });
    expect(lenient.f1).toBeCloseTo(6 / 7, 12);
    expect(lenient.byType.LOC).toMatchObject({ tp: 1, predicted: 2, support: 1, precision: 0.5, recall: 1 });
    expect(lenient.byType.LOC!.f1).toBeCloseTo(2 / 3, 12);
  });
});

describe('conllTaskData: the scheme of CoNLL files', () => {
  const same = (name: string) => ({ train: fixture(name), dev: fixture(name), test: fixture(name) });

  it('detects the scheme from the labels and says so in the notes', () => {
    const iob1 = conllTaskData(same('iob1.conll'), { labelColumn: 1 });
    expect(iob1.scheme).toMatchObject({ scheme: 'iob1', detected: true });
    expect(iob1.notes).toEqual([
      `${fixture('iob1.conll')}: span scheme IOB1 (detected: an I- label opens a span where IOB2 would need B- ('I-PER' after the sentence start at ${fixture('iob1.conll')}:1, 9 times in all)); the model learns the labels as given, spans are converted to IOB2 for scoring; span F1 is reported strict and lenient`,
    ]);
    expect(conllTaskData(same('bioes.conll'), { labelColumn: 1 }).scheme?.scheme).toBe('bioes');
    expect(conllTaskData(same('iob2.conll'), { labelColumn: 1 }).scheme?.scheme).toBe('iob2');
  });

  it('refuses a forced scheme the files break, naming the file and line', () => {
    expect(() => conllTaskData(same('iob1.conll'), { labelColumn: 1, scheme: 'iob2' })).toThrow(
      `${fixture('iob1.conll')}:1: 'I-PER' (in 'I-PER I-PER') is in no valid IOB2 span`,
    );
  });
});
