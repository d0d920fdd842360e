/**
 * Fine-tuning on IOB1 gold labels, on the CPU backend with a tiny random backbone: results.json records the
 * detected scheme, strict and lenient span scores with per-type support, and the best epoch is the one with the
 * highest strict dev F1 in the labels' own scheme (under strict IOB2 these gold spans would mostly vanish).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device } from '@reprise/core';
import { Transformer, makeConfig } from '@reprise/model';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spanF1 } from '../src/metrics/spans.ts';
import { trainBpe } from '../src/tokenizer/index.ts';
import { FINETUNE_DEFAULTS, finetune } from '../src/training/finetune.ts';
import type { TaskData } from '../src/training/tasks.ts';

let device: Device;
const dir = mkdtempSync(join(tmpdir(), 'reprise-spans-'));
beforeAll(async () => {
  device = await Device.create({ device: 'cpu' });
});
afterAll(() => {
  device?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

// IOB1: every span opens with I-, and B- only splits two adjacent spans of one type (Paris | Rome).
const PATTERNS: [string[], string[]][] = [
  [
    ['John', 'Smith', 'visited', 'Paris'],
    ['I-PER', 'I-PER', 'O', 'I-LOC'],
  ],
  [
    ['Mary', 'saw', 'Paris', 'Rome'],
    ['I-PER', 'O', 'I-LOC', 'B-LOC'],
  ],
  [
    ['the', 'man', 'left'],
    ['O', 'O', 'O'],
  ],
];
const sentences = (n: number) =>
  Array.from({ length: n }, (_, i) => {
    const [words, labels] = PATTERNS[i % PATTERNS.length]!;
    return { words: [...words], labels: [...labels] };
  });

it('records IOB1 spans strict and lenient, per type, and selects the best epoch on strict F1', async () => {
  const data: TaskData = {
    name: 'iob1 (synthetic)',
    train: sentences(24),
    dev: sentences(6),
    test: sentences(6),
  };
  const tokenizer = trainBpe(
    data.train.map((s) => s.words),
    { vocabSize: 300 },
  );
  const config = makeConfig({
    vocabSize: tokenizer.vocabSize,
    dModel: 16,
    heads: 2,
    layers: 1,
    dFF: 32,
    maxPositions: 32,
  });
  const result = await finetune({
    device,
    outDir: dir,
    backbone: Transformer.create(device, config, 1),
    tokenizer,
    data,
    options: { ...FINETUNE_DEFAULTS, epochs: 2, batchSize: 8, lr: 3e-3 },
  });
  const saved = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  expect(saved.spanScheme).toMatchObject({ scheme: 'iob1', detected: true });
  expect(saved.spanScheme.reason).toMatch(/an I- label opens a span where IOB2 would need B-/);
  // Test gold: 2 × (PER, LOC) + 2 × (PER, LOC, LOC) = 10 spans, 4 PER and 6 LOC.
  const { strict, lenient, scheme } = saved.test.spans;
  expect(scheme).toBe('iob1');
  expect(strict.support).toBe(10);
  expect(strict.byType.PER.support).toBe(4);
  expect(strict.byType.LOC.support).toBe(6);
  for (const scores of [strict, lenient, strict.byType.PER, strict.byType.LOC])
    expect(Object.keys(scores)).toEqual(expect.arrayContaining(['precision', 'recall', 'f1', 'support']));
  expect(saved.test.f1).toBe(strict.f1);
  expect(saved.test.lenientF1).toBe(lenient.f1);
  // The saved numbers are those of the test predictions, in the IOB1 reading.
  const gold = data.test.map((s) => s.labels);
  expect(strict).toEqual(spanF1(gold, result.test!.predictions, { scheme: 'iob1' }));
  expect(lenient).toEqual(spanF1(gold, result.test!.predictions, { mode: 'lenient' }));
  // Best epoch: the first with the highest strict dev F1, both modes in the history.
  const f1s = saved.history.map((h: { dev: { f1: number; lenientF1: number } }) => h.dev.f1);
  expect(
    saved.history.every((h: { dev: { lenientF1: unknown } }) => typeof h.dev.lenientF1 === 'number'),
  ).toBe(true);
  expect(saved.bestEpoch).toBe(f1s.indexOf(Math.max(...f1s)) + 1);
}, 120_000);
