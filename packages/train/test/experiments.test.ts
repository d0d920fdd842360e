/**
 * @file Experiments: the statistics (means, t intervals, paired differences) against hand-computed values, the
 * config's validation and expansion, the synthetic task's labels, the aggregation's tables and verdicts, and a
 * tiny grid run end to end on the Dawn adapter that resumes by skipping finished runs and restarts an
 * interrupted one from scratch.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration } from '../src/cli/progress.ts';
import { SYNTHETIC_WORDS, syntheticSentences } from '../src/data/index.ts';
import { aggregate } from '../src/experiments/aggregate.ts';
import {
  type ExperimentConfig,
  expandRuns,
  validateExperimentConfig,
  variantKey,
} from '../src/experiments/config.ts';
import { writeExperimentReport } from '../src/experiments/report.ts';
import { type RunRecord, readExperimentLog, runExperiment } from '../src/experiments/runner.ts';
import { formatPoints, pairedDifference, summarize } from '../src/experiments/stats.ts';
import { evenly } from '../src/experiments/task-data.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'reprise-exp-'));

describe('statistics over seeds', () => {
  it('mean ± t-interval: hand-computed for n = 3 and n = 4', () => {
    // mean 0.82, sd 0.02, t(0.975, 2) = 4.302653 → 4.302653 · 0.02 / √3 = 0.0496827
    const s = summarize([0.8, 0.82, 0.84]);
    expect(s.mean).toBeCloseTo(0.82, 12);
    expect(s.sd).toBeCloseTo(0.02, 12);
    expect(s.ci95).toBeCloseTo(0.0496827, 6);
    // [1, 2, 3, 6]: mean 3, sd √(14/3) = 2.160247, t(0.975, 3) = 3.182446 → 3.182446 · 2.160247 / 2 = 3.437430
    const t = summarize([1, 2, 3, 6]);
    expect(t.ci95).toBeCloseTo(3.43743, 4);
    expect(formatPoints(s)).toBe('82.00 ± 4.97');
  });

  it('one seed has no interval, and says so', () => {
    const s = summarize([0.5]);
    expect(s.ci95).toBeNaN();
    expect(formatPoints(s)).toBe('50.00 (n=1)');
    expect(formatPoints(summarize([]))).toBe('—');
  });

  it('pairs differences by seed and only over shared seeds', () => {
    const a = new Map([
      [1, 0.9],
      [2, 0.91],
      [3, 0.93],
      [4, 0.5],
    ]);
    const b = new Map([
      [1, 0.8],
      [2, 0.82],
      [3, 0.83],
    ]);
    // differences 0.10, 0.09, 0.10: mean 0.096667, sd 0.005774, CI 4.302653 · 0.005774 / √3 = 0.014343
    const d = pairedDifference(a, b);
    expect(d.n).toBe(3);
    expect(d.mean).toBeCloseTo(0.0966667, 6);
    expect(d.ci95).toBeCloseTo(0.014343, 5);
    expect(d.excludesZero).toBe(true);
    const noisy = pairedDifference(
      new Map([
        [1, 0.9],
        [2, 0.7],
      ]),
      new Map([
        [1, 0.8],
        [2, 0.8],
      ]),
    );
    expect(noisy.excludesZero).toBe(false);
  });
});

const baseConfig = (): ExperimentConfig => ({
  name: 'tiny',
  seeds: [1, 2],
  pretrain: {
    options: {
      model: { dModel: 32, heads: 2, layers: 2, dFF: 64, maxPositions: 128, dropout: 0 },
      vocabSize: 300,
      steps: 2,
      batchSize: 2,
      context: 32,
      warmupSteps: 1,
      evalEvery: 2,
      evalBatches: 1,
      checkpointEvery: 0,
    },
    encoder: false,
  },
  data: {
    trainSentences: 8,
    devSentences: 4,
    testSentences: 4,
    synthetic: { train: 12, dev: 4, test: 6, classes: 4, minWords: 3, maxWords: 5 },
  },
  finetune: { epochs: 1, batchSize: 4 },
  groups: [
    {
      name: 'main',
      title: 'main',
      tasks: ['synthetic'],
      variants: [{ method: 'causal' }, { method: 'sr', r: 1 }],
    },
    { name: 'again', title: 'again', tasks: ['synthetic'], variants: [{ method: 'sr', r: 1 }], seeds: [1] },
  ],
});

describe('experiment config', () => {
  it('expands groups into runs with stable ids, running a shared run once', () => {
    const runs = expandRuns(baseConfig());
    expect(runs.map((r) => r.id)).toEqual([
      'synthetic/causal/seed1',
      'synthetic/causal/seed2',
      'synthetic/sr-r1/seed1',
      'synthetic/sr-r1/seed2',
    ]);
    expect(runs[2]!.groups).toEqual(['main', 'again']);
    expect(variantKey({ method: 'sr', r: 4, layer: 2, positions: 'continue', lastCopyOnly: false })).toBe(
      'sr-r4-l2-pos-continue-full-last-layer',
    );
  });

  it('refuses bad configs naming the file and the field', () => {
    const bad = (patch: (c: Record<string, unknown>) => void) => {
      const c = baseConfig() as unknown as Record<string, unknown>;
      patch(c);
      return () => validateExperimentConfig(c, 'grid.json');
    };
    expect(bad((c) => (c.seeds = undefined))).toThrow(
      'grid.json: seeds must be a non-empty list of non-negative integers, found undefined',
    );
    expect(bad((c) => ((c.groups as { tasks: string[] }[])[0]!.tasks = ['pos']))).toThrow(
      'grid.json: groups[0] (main).tasks must be a non-empty list of pos-universal, pos-brown, names, synthetic, found ["pos"]',
    );
    expect(
      bad((c) => ((c.groups as { variants: object[] }[])[1]!.variants = [{ method: 'encoder' }])),
    ).toThrow('not an encoder run while pretrain.encoder is false');
    expect(bad(() => {})).not.toThrow();
  });
});

describe('the grid progress line', () => {
  it('states time left in minutes, or hours and minutes', () => {
    expect(formatDuration(95)).toBe('2 min');
    expect(formatDuration(3725)).toBe('1 h 02 min');
  });
});

describe('data for experiments', () => {
  it('synthetic labels are the class of the next word', () => {
    const sentences = syntheticSentences({ sentences: 50, classes: 4, minWords: 3, maxWords: 9, seed: 7 });
    for (const s of sentences) {
      expect(s.labels).toHaveLength(s.words.length);
      for (let i = 0; i + 1 < s.words.length; i++) {
        const next = SYNTHETIC_WORDS.indexOf(s.words[i + 1] as (typeof SYNTHETIC_WORDS)[number]);
        expect(s.labels[i]).toBe(`C${next % 4}`);
      }
    }
    // Labels are balanced over the classes (what makes chance 1/K for a model that cannot see the right).
    const counts = new Map<string, number>();
    for (const l of sentences.flatMap((s) => s.labels)) counts.set(l, (counts.get(l) ?? 0) + 1);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    for (const c of ['C0', 'C1', 'C2', 'C3']) expect((counts.get(c) ?? 0) / total).toBeGreaterThan(0.18);
    const lengths = new Set(sentences.map((s) => s.words.length));
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(9);
  });

  it('subsamples evenly through a split', () => {
    expect(evenly([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4)).toEqual([0, 2, 5, 7]);
    expect(evenly([1, 2], 5)).toEqual([1, 2]);
  });
});

const record = (
  task: RunRecord['task'],
  variant: RunRecord['variant'],
  seed: number,
  accuracy: number,
): RunRecord => ({
  kind: 'run',
  id: `${task}/${variantKey(variant)}/seed${seed}`,
  task,
  variant,
  label: variantKey(variant),
  seed,
  groups: ['main'],
  test: { accuracy, f1: null },
  dev: { accuracy, f1: null },
  bestEpoch: 1,
  epochs: 1,
  secondsPerEpoch: variant.method === 'sr' ? 20 : 10,
  inferenceMsPerSentence: variant.method === 'sr' ? 3 : 2,
  tokensPerSecond: 1000,
  wallSeconds: 30,
  adapter: 'test adapter',
  date: '2026-11-27',
});

describe('aggregation', () => {
  it('answers question 1 with paired differences, and shows an incomplete grid as such', async () => {
    const config = baseConfig();
    config.groups[1]!.seeds = [3]; // a fifth run, not done yet
    const records = [
      record('synthetic', { method: 'causal' }, 1, 0.25),
      record('synthetic', { method: 'causal' }, 2, 0.27),
      record('synthetic', { method: 'sr', r: 1 }, 1, 0.9),
      record('synthetic', { method: 'sr', r: 1 }, 2, 0.94),
    ];
    const { markdown, charts } = await aggregate({
      config,
      records,
      logPath: 'runs.jsonl',
      configPath: 'grid.json',
      reportPath: 'R.md',
    });
    expect(markdown).toContain('`pnpm reprise experiment grid.json --report R.md --aggregate-only`');
    // differences 0.65, 0.67: mean 66.00, CI 12.706205 · 0.0141421 / √2 = 0.127062 → ± 12.71 points
    expect(markdown).toContain('| synthetic | sr-r1 | +66.00 ± 12.71 | SR better |');
    expect(markdown).toContain('| sr-r1 | 92.00 ± 25.41 | 20.0 | 3.00 |');
    expect(markdown).toContain('4 of 5 planned runs (**the grid is incomplete**');
    expect(markdown).toContain('| sr-r1 | 20.0 | 2.00 | 3.00 | 1.50 |');
    expect([...charts.keys()]).toEqual(['main-synthetic.svg', 'sr-cost.svg']);
  });
});

describe('a tiny grid on the Dawn adapter', () => {
  let device: Device;
  beforeAll(async () => {
    device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
  });
  afterAll(() => device?.destroy());

  it('runs, resumes by skipping finished runs, restarts an interrupted run cleanly, and reports', async () => {
    const out = tmp();
    const config = baseConfig();
    config.groups = [config.groups[0]!];
    config.seeds = [1];
    const first = await runExperiment({ device, config, outDir: out });
    expect(first).toMatchObject({ ran: 2, skipped: 0, interrupted: false });
    const log = join(out, 'runs.jsonl');
    const records = readExperimentLog(log);
    expect(records.map((r) => r.kind)).toEqual(['pretrain', 'run', 'run']);
    const runs = records.filter((r): r is RunRecord => r.kind === 'run');
    for (const r of runs) {
      expect(r.test.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.test.accuracy).toBeLessThanOrEqual(1);
      expect(r.secondsPerEpoch).toBeGreaterThan(0);
      expect(r.inferenceMsPerSentence).toBeGreaterThan(0);
    }
    // Checkpoints are deleted once a run is recorded; its metrics stay.
    const runDir = join(out, 'runs', 'synthetic', 'causal', 'seed1');
    expect(readdirSync(runDir).sort()).toEqual(['metrics.jsonl', 'results.json']);

    const again = await runExperiment({ device, config, outDir: out });
    expect(again).toMatchObject({ ran: 0, skipped: 2 });

    // Drop the last record and leave a half-written run directory behind: only that run runs again, from scratch.
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    writeFileSync(log, `${lines.slice(0, -1).join('\n')}\n{"kind":"run","id":"synthetic/sr-r1/se`);
    const srDir = join(out, 'runs', 'synthetic', 'sr-r1', 'seed1');
    mkdirSync(join(srDir, 'last'), { recursive: true });
    writeFileSync(join(srDir, 'last', 'partial'), 'x');
    const resumed = await runExperiment({ device, config, outDir: out });
    expect(resumed).toMatchObject({ ran: 1, skipped: 1 });
    expect(existsSync(join(srDir, 'last'))).toBe(false);
    const ids = readExperimentLog(log)
      .filter((r): r is RunRecord => r.kind === 'run')
      .map((r) => r.id);
    expect(ids).toEqual(['synthetic/causal/seed1', 'synthetic/sr-r1/seed1']);

    const report = join(out, 'report', 'RESULTS.md');
    await writeExperimentReport({ config, configPath: 'grid.json', logPath: log, reportPath: report });
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('## 1. Does SR (r ≥ 1) beat the causal decoder?');
    expect(readdirSync(join(out, 'report', 'results')).sort()).toEqual([
      'main-synthetic.svg',
      'runs.jsonl',
      'sr-cost.svg',
    ]);
  }, 600_000);
});
