/**
 * @file Experiments: the statistics (means, t intervals, paired differences) against hand-computed values, the
 * config's validation and expansion, the synthetic task's labels, the aggregation's tables and verdicts, and a
 * tiny grid run end to end on the Dawn adapter that resumes by skipping finished runs, restarts a half-written
 * run from scratch and continues a killed one from its last checkpoint.
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
  loadExperimentConfig,
  validateExperimentConfig,
  variantKey,
} from '../src/experiments/config.ts';
import { planRuns } from '../src/experiments/records.ts';
import { multiSubwordShare, writeExperimentReport } from '../src/experiments/report.ts';
import {
  type ExperimentRecord,
  type RunRecord,
  readExperimentLog,
  runExperiment,
} from '../src/experiments/runner.ts';
import { type PretrainedHereSettings, settingsChanges, settingsHash } from '../src/experiments/settings.ts';
import { formatPoints, pairedDifference, summarize } from '../src/experiments/stats.ts';
import { evenly } from '../src/experiments/task-data.ts';
import { canonicalJson, readMetrics } from '../src/io/index.ts';
import { tinyExperimentData } from './fixtures/tiny-experiment.ts';

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
  data: tinyExperimentData(),
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

// biome-ignore lint/suspicious/noExplicitAny: configs are patched into invalid shapes on purpose.
type Mutable = any;

describe('experiment config', () => {
  it('expands groups into runs with stable ids, seed by seed, running a shared run once', () => {
    const runs = expandRuns(baseConfig());
    // Every run's first seed comes first: a grid cut short still has every cell once.
    expect(runs.map((r) => r.id)).toEqual([
      'synthetic/causal/seed1',
      'synthetic/sr-r1/seed1',
      'synthetic/causal/seed2',
      'synthetic/sr-r1/seed2',
    ]);
    expect(runs[1]!.groups).toEqual(['main', 'again']);
    expect(variantKey({ method: 'sr', r: 4, layer: 2, positions: 'continue', lastCopyOnly: false })).toBe(
      'sr-r4-l2-pos-continue-full-last-layer',
    );
  });

  it('gives each training budget of a learning curve its own runs; the default budget shares them', () => {
    const c = baseConfig();
    c.data.trainSentences = 12;
    c.groups = [
      { name: 'main', title: 'main', tasks: ['pos-universal'], variants: [{ method: 'causal' }], seeds: [1] },
      {
        name: 'learning-curve',
        title: 'curve',
        tasks: ['pos-universal', 'synthetic'],
        variants: [{ method: 'causal' }],
        seeds: [1],
        trainSentences: [4, 12, 'all'],
      },
    ];
    const runs = expandRuns(validateExperimentConfig(c, 'grid.json'));
    expect(runs.map((r) => [r.id, r.trainSentences, r.groups.join('+')])).toEqual([
      ['pos-universal/causal/seed1', 12, 'main+learning-curve'],
      ['pos-universal/train-4/causal/seed1', 4, 'learning-curve'],
      ['pos-universal/train-all/causal/seed1', 'all', 'learning-curve'],
      // The synthetic task has its own budget: one run, not three.
      ['synthetic/causal/seed1', 12, 'learning-curve'],
    ]);
    const [main, four] = planRuns(c);
    expect(main!.settings.data).toMatchObject({ trainSentences: 12 });
    expect(four!.settings.data).toMatchObject({ trainSentences: 4 });
    expect(four!.settingsHash).not.toBe(main!.settingsHash);
  });

  it("gives a group with its own epoch cap its own runs, trained that long; others keep the config's", () => {
    const c = baseConfig();
    c.groups.push({
      name: 'epoch-cap',
      title: 'cap',
      tasks: ['synthetic'],
      variants: [{ method: 'sr', r: 1 }],
      seeds: [1],
      epochs: 3,
    });
    const planned = planRuns(validateExperimentConfig(c, 'grid.json'));
    const capped = planned.find((r) => r.groups.includes('epoch-cap'))!;
    expect(capped.id).toBe('synthetic/epochs-3/sr-r1/seed1');
    expect(capped.groups).toEqual(['epoch-cap']);
    expect(capped.settings.finetune.epochs).toBe(3);
    const shared = planned.find((r) => r.id === 'synthetic/sr-r1/seed1')!;
    expect(shared.settings.finetune.epochs).toBe(1);
    expect(capped.settingsHash).not.toBe(shared.settingsHash);
    c.groups[2]!.epochs = 0;
    expect(() => validateExperimentConfig(c, 'grid.json')).toThrow(/groups\[2\]\.epochs|groups\.2\.epochs/);
  });

  it('takes either backbones to pretrain or given backbone directories, never both or neither', () => {
    expect(bad((c) => (c.backbones = { decoder: 'backbones/decoder' }))).toThrow(
      'grid.json: pretrain and backbones: exactly one must be given',
    );
    expect(bad((c) => (c.pretrain = undefined))).toThrow('found neither');
    expect(
      bad((c) => {
        c.pretrain = undefined;
        c.backbones = { decoder: 'no/such/dir' };
      }),
    ).toThrow(
      /grid\.json: backbones\.decoder: not a usable backbone: backbone .*no\/such\/dir: .*config\.json is missing/,
    );
    expect(bad((c) => (c.groups[0].trainSentences = [0]))).toThrow(
      'grid.json: groups[0].trainSentences[0]: expected an integer ≥ 1 or "all", found 0',
    );
    expect(bad((c) => (c.finetune.patience = -1))).toThrow(
      'grid.json: finetune.patience: expected an integer ≥ 0, found -1',
    );
  });

  const bad = (patch: (c: Mutable) => void) => {
    const c = baseConfig() as unknown as Mutable;
    patch(c);
    return () => validateExperimentConfig(c, 'grid.json');
  };

  it('refuses bad configs naming the file, the JSON path, what was expected and what was found', () => {
    expect(bad((c) => (c.seeds = undefined))).toThrow('grid.json: seeds: missing; expected array');
    expect(bad((c) => (c.seeds = [1, -2]))).toThrow('grid.json: seeds[1]: expected an integer ≥ 0, found -2');
    expect(bad((c) => (c.groups[0].tasks = ['pos']))).toThrow(
      'grid.json: groups[0].tasks[0]: expected one of "pos-universal", "pos-brown", "names", "synthetic", found "pos"',
    );
    expect(bad((c) => (c.groups[1].variants = [{ method: 'encoder' }]))).toThrow(
      'grid.json: groups[1].variants[0]: an encoder run, but pretrain.encoder is false',
    );
    // The fields no check used to reach (issue 17): fine-tuning values, variant fields, relations.
    expect(bad((c) => (c.finetune.epochs = 0))).toThrow(
      'grid.json: finetune.epochs: expected an integer ≥ 1, found 0',
    );
    expect(bad((c) => (c.finetune.lr = 'x'))).toThrow(
      'grid.json: finetune.lr: expected a number in (0, ∞), found "x"',
    );
    expect(bad((c) => (c.pretrain!.options.steps = 1.5))).toThrow(
      'grid.json: pretrain.options.steps: expected an integer ≥ 1, found 1.5',
    );
    expect(bad((c) => (c.pretrain!.options.model.heads = 3))).toThrow(
      'grid.json: pretrain.options.model: not a valid model: config.heads (3) must divide config.dModel (32)',
    );
    expect(bad((c) => (c.groups[0].variants[1].positions = 'middle'))).toThrow(
      'grid.json: groups[0].variants[1].positions: expected one of "continue", "reset", found "middle"',
    );
    expect(bad((c) => (c.groups[0].variants[0].labelSubword = 'second'))).toThrow(
      'grid.json: groups[0].variants[0].labelSubword: expected one of "first", "last", found "second"',
    );
    expect(bad((c) => (c.groups[0].variants = [{ method: 'unmask-layers', unmaskedLayers: '1,2' }]))).toThrow(
      'grid.json: groups[0].variants[0].unmaskedLayers: expected a list of layer numbers (integers ≥ 0), found "1,2"',
    );
    expect(bad((c) => (c.groups[0].variants = [{ method: 'unmask-layers', unmaskedLayers: [2] }]))).toThrow(
      'grid.json: groups[0].variants[0].unmaskedLayers[0]: must be a 0-based layer below 2, found 2',
    );
    expect(bad((c) => (c.groups[0].variants = [{ method: 'unmask-layers' }]))).toThrow(
      'grid.json: groups[0].variants[0].unmaskedLayers: must list the unmasked layers',
    );
    expect(bad((c) => (c.groups[0].variants[1].layer = 3))).toThrow(
      "grid.json: groups[0].variants[1].layer: must be at most the backbone's 2 layers, found 3",
    );
    expect(bad((c) => (c.data.synthetic.minWords = 6))).toThrow(
      'grid.json: data.synthetic.minWords: must not exceed data.synthetic.maxWords (5), found 6',
    );
    expect(bad((c) => (c.groups[1].name = 'main'))).toThrow(
      'grid.json: groups[1].name: must be unique, found "main" twice',
    );
    expect(bad(() => {})).not.toThrow();
  });

  it('refuses unknown keys at every level, naming the closest known key', () => {
    // [the object's JSON path (empty at the top), patch, the unknown key, the closest known key]
    const unknown: [string, (c: Mutable) => void, string, string][] = [
      ['', (c) => (c.sedes = [1]), 'sedes', 'seeds'],
      ['pretrain: ', (c) => (c.pretrain.encodr = true), 'encodr', 'encoder'],
      ['pretrain.options: ', (c) => (c.pretrain!.options.stpes = 3), 'stpes', 'steps'],
      ['pretrain.options.model: ', (c) => (c.pretrain!.options.model.dmodel = 3), 'dmodel', 'dModel'],
      ['data.synthetic: ', (c) => (c.data.synthetic.clases = 3), 'clases', 'classes'],
      ['finetune: ', (c) => (c.finetune.epocs = 3), 'epocs', 'epochs'],
      ['groups[1]: ', (c) => (c.groups[1].seed = [1]), 'seed', 'seeds'],
      ['groups[0].variants[1]: ', (c) => (c.groups[0].variants[1].rr = 2), 'rr', 'r'],
    ];
    for (const [where, patch, key, suggestion] of unknown)
      expect(bad(patch)).toThrow(`grid.json: ${where}unknown key "${key}" (did you mean '${suggestion}'?)`);
    expect(bad((c) => (c.finetune.epocs = 3))).toThrow(
      /^grid\.json: finetune: unknown key "epocs" \(did you mean 'epochs'\?\); expected only unmaskedLayers, .*, labelSubword$/,
    );
    // r and layer name a variant: a default for them would be silently overridden, so it is refused.
    expect(bad((c) => (c.finetune.r = 2))).toThrow('grid.json: finetune: unknown key "r"');
  });

  it('quotes at most ~200 characters of a bad value, and survives deep nesting', () => {
    let message = '';
    try {
      bad((c) => (c.name = 'a b'.repeat(4000)))();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('grid.json: name: expected a word (letters, digits, . _ -), found "a ba b');
    expect(message.length).toBeLessThan(400);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(bad((c) => (c.finetune.lr = deep))).toThrow(
      /^grid\.json: finetune\.lr: expected a number in \(0, ∞\), found \[{200}…$/,
    );
  });
});

describe('the shipped study grid (experiments/default.json)', () => {
  it('loads with the shipped backbones and plans every cell once, seed by seed', () => {
    const config = loadExperimentConfig(join(import.meta.dirname, '../../../experiments/default.json'));
    const planned = planRuns(config);
    // main: 6 methods × 3 tasks × 3 seeds; then one seed of r = 2, 4, 8, reset and separator (two tasks), early
    // exit on layers 1–3 for r = 0 and r = 1, two Brown-tag runs, two runs of up to 4 epochs, 1k / 4k / all
    // sentences for r = 0 (first and last subword) and r = 1, four methods × two tasks on the decoder pretrained
    // without repeated text, and the six main methods on the synthetic task for up to 12 epochs.
    expect(planned.length).toBe(54 + 3 + 4 + 6 + 2 + 2 + 9 + 8 + 6);
    expect(planned.map((r) => r.id)).toContain('synthetic/epochs-12/sr-r1/seed1');
    expect(planned.filter((r) => r.decoder).map((r) => r.id)).toContain(
      'pos-universal/decoder-norepeat/sr-r1/seed1',
    );
    expect(new Set(planned.map((r) => r.id)).size).toBe(planned.length);
    expect(planned[0]!.id).toBe('pos-universal/causal/seed1');
    // Seed 1 of every cell before seed 2 of any.
    const firstSeed2 = planned.findIndex((r) => r.seed === 2);
    expect(planned.slice(firstSeed2).every((r) => r.seed > 1)).toBe(true);
    // SR runs with positions continuing across copies unless the variant says reset (the paper's setting).
    const sr = planned.filter((r) => r.variant.method === 'sr');
    expect(sr.filter((r) => r.settings.finetune.positions === 'reset').map((r) => r.id)).toEqual([
      'pos-universal/decoder-norepeat/sr-r1-pos-reset/seed1',
      'synthetic/decoder-norepeat/sr-r1-pos-reset/seed1',
      'pos-universal/sr-r1-pos-reset/seed1',
      'synthetic/sr-r1-pos-reset/seed1',
    ]);
    // The same subword cap for every r: r = 8 keeps what r = 0 keeps.
    expect(new Set(planned.map((r) => r.settings.finetune.maxTokens))).toEqual(new Set([256]));
    // A quarter of the test words span several subwords of the shipped tokenizer (24,751 of 94,774 when this was
    // written): a word-level count, never one of subwords or special tokens.
    expect(multiSubwordShare(config)).toBeCloseTo(24751 / 94774, 4);
  });
});

describe('run settings and their hash', () => {
  const runOf = (config: ExperimentConfig, id: string) => planRuns(config).find((r) => r.id === id)!;
  it('holds the merged settings; the hash ignores key order and changes with anything that changes a run', () => {
    const config = baseConfig();
    const run = runOf(config, 'synthetic/sr-r1/seed2');
    expect(run.settings.finetune).toMatchObject({
      method: 'sr',
      r: 1,
      epochs: 1,
      batchSize: 4,
      lr: 1e-3,
      seed: 2,
    });
    expect(run.settings.backbone.model).toMatchObject({ dModel: 32, layers: 2, kind: 'decoder' });
    expect((run.settings.backbone as PretrainedHereSettings).pretrain).toMatchObject({
      steps: 2,
      vocabSize: 300,
    });
    expect(run.settings.data).toEqual({ synthetic: config.data.synthetic });
    expect(run.settingsHash).toMatch(/^[0-9a-f]{16}$/);
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 3 } })).toBe(
      '{"a":{"c":3,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
    expect(settingsHash({ a: 1, b: 2 })).toBe(settingsHash({ b: 2, a: 1 }));

    const hashAfter = (patch: (c: ExperimentConfig) => void, id = run.id) => {
      const c = baseConfig();
      patch(c);
      return runOf(c, id).settingsHash;
    };
    expect(hashAfter(() => {})).toBe(run.settingsHash);
    expect(hashAfter((c) => (c.pretrain!.options.model!.dModel = 64))).not.toBe(run.settingsHash);
    expect(hashAfter((c) => (c.pretrain!.options.steps = 3))).not.toBe(run.settingsHash);
    expect(hashAfter((c) => (c.finetune.epochs = 2))).not.toBe(run.settingsHash);
    expect(hashAfter((c) => (c.finetune.lr = 0.01))).not.toBe(run.settingsHash);
    expect(hashAfter((c) => (c.data.synthetic.train = 13))).not.toBe(run.settingsHash);
    // A default spelled out is the same setting; when to checkpoint cannot change the weights.
    expect(hashAfter((c) => (c.finetune.weightDecay = 0.05))).toBe(run.settingsHash);
    // An option added after runs were logged leaves their hash alone at the value that behaves as before it.
    expect(hashAfter((c) => (c.finetune.patience = 0))).toBe(run.settingsHash);
    expect(hashAfter((c) => (c.finetune.patience = 1))).not.toBe(run.settingsHash);
    expect(hashAfter((c) => (c.pretrain!.options.checkpointEvery = 1))).toBe(run.settingsHash);
    // Another task's data budget is not part of a run.
    expect(hashAfter((c) => (c.data.trainSentences = 9))).toBe(run.settingsHash);
    expect(
      settingsChanges(
        run.settings,
        runOf({ ...config, finetune: { ...config.finetune, epochs: 2 } }, run.id).settings,
      ),
    ).toEqual(['finetune.epochs 1 → 2']);
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
    // Every run is listed with its time (30 s: 0.5 min).
    expect(markdown).toContain('| synthetic/sr-r1/seed1 | 90.00 | 1 / 1 | 0.5 | — | 1 | — |');
    // Without CPU times the training ratio is one of wall times.
    expect(markdown).toContain('| sr-r1 | 20.0 | — | 2.00 | 3.00 | 1.50 |');
    expect([...charts.keys()]).toEqual(['main-synthetic.svg', 'sr-cost.svg']);
    // The answers come first, from the same numbers.
    expect(markdown.indexOf('## Answers (measured: 4 of 5 planned runs)')).toBeLessThan(
      markdown.indexOf('## Setup'),
    );
    expect(markdown).toContain(
      '1. **Does SR beat r = 0?** (points, paired by seed)\n   - synthetic: sr-r1 92.00 ± 25.41; against causal 26.00 ± 12.71: +66.00 ± 12.71, SR better',
    );

    // Once every row has CPU times (here 30 s and 75 s an epoch), the ratio is theirs; the code is named.
    const timed = records.map((r) => ({
      ...r,
      cpuSecondsPerEpoch: r.variant.method === 'sr' ? 75 : 30,
      code: r.seed === 1 ? 'c8e6400aaaa' : undefined,
    }));
    const cpu = await aggregate({
      config,
      records: timed,
      logPath: 'runs.jsonl',
      configPath: 'grid.json',
      reportPath: 'R.md',
    });
    expect(cpu.markdown).toContain('| sr-r1 | 20.0 | 75 (2) | 2.50 | 3.00 | 1.50 |');
    expect(cpu.markdown).toContain('training × r=0 (CPU)');
    expect(cpu.markdown).toContain(
      '- code: 2 at c8e6400, 2 logged before the code was recorded (and before CPU time was measured)',
    );
  });
});

describe('the answers', () => {
  it('name the shallowest head within a point of full depth and its saving, or say none is', async () => {
    const config = baseConfig();
    config.groups.push({
      name: 'early-exit',
      title: 'early exit',
      tasks: ['synthetic'],
      seeds: [1],
      variants: [
        { method: 'causal', layer: 1 },
        { method: 'causal' },
        { method: 'sr', r: 1, layer: 1 },
        { method: 'sr', r: 1 },
      ],
    });
    const at = (variant: RunRecord['variant'], accuracy: number, seconds: number) => ({
      ...record('synthetic', variant, 1, accuracy),
      secondsPerEpoch: seconds,
      inferenceMsPerSentence: seconds / 10,
    });
    const { markdown } = await aggregate({
      config,
      records: [
        at({ method: 'causal', layer: 1 }, 0.255, 5),
        at({ method: 'causal' }, 0.26, 10),
        at({ method: 'sr', r: 1, layer: 1 }, 0.7, 12),
        at({ method: 'sr', r: 1 }, 0.9, 20),
      ],
      logPath: 'runs.jsonl',
      configPath: 'grid.json',
      reportPath: 'R.md',
    });
    expect(markdown).toContain(
      '   - synthetic, causal: the head on layer 1/2 keeps 25.50 of 26.00, training 2.00× and inference 2.00× faster (wall time)',
    );
    expect(markdown).toContain(
      '   - synthetic, sr-r1: no shallower head measured so far is within a point of full depth (90.00): layer 1 70.00',
    );
  });
});

describe('aggregation by settings hash', () => {
  it("reports only records made with the config's settings, counts the stale ones, and matches the log", async () => {
    const config = baseConfig();
    const planned = planRuns(config);
    const hashed = (id: string, accuracy: number, hash?: string): RunRecord => {
      const p = planned.find((r) => r.id === id)!;
      return {
        ...record(p.task, p.variant, p.seed, accuracy),
        settingsHash: hash ?? p.settingsHash,
        settings: p.settings,
      };
    };
    const records = [
      record('synthetic', { method: 'causal' }, 1, 0.99), // legacy, superseded by the hashed rerun below
      hashed('synthetic/causal/seed1', 0.25),
      hashed('synthetic/causal/seed2', 0.27),
      hashed('synthetic/sr-r1/seed1', 0.01, 'ffffffffffffffff'), // another config's numbers
      hashed('synthetic/sr-r1/seed1', 0.9),
      hashed('synthetic/sr-r1/seed2', 0.96, '0000000000000000'),
    ];
    const { markdown, counts } = await aggregate({
      config,
      records,
      logPath: 'runs.jsonl',
      configPath: 'grid.json',
      reportPath: 'R.md',
    });
    expect(counts).toEqual({ planned: 4, done: 3, stale: 3, legacy: 0 });
    expect(markdown).toContain('(3 of 4 planned fine-tuning runs, 0 pretraining runs)');
    expect(markdown).toContain("3 records made with other settings than this config's");
    expect(markdown).not.toContain('without a settings hash');
    expect(markdown).toContain('3 of 4 planned runs (**the grid is incomplete**');
    // The causal row is the mean of its two current records, not of the legacy 0.99;
    // SR has one current seed (0.9): the stale 0.01 and 0.96 are not in it.
    // mean 0.26, sd 0.0141421, CI 12.706205 · 0.0141421 / √2 = 0.127062
    expect(markdown).toContain('| causal | 26.00 ± 12.71 |');
    expect(markdown).toContain('| sr-r1 | 90.00 (n=1) |');

    // A log written before settings were hashed is matched by task, variant and seed, and says so.
    const legacy = await aggregate({
      config,
      records: [record('synthetic', { method: 'causal' }, 1, 0.3)],
      logPath: 'runs.jsonl',
      configPath: 'grid.json',
      reportPath: 'R.md',
    });
    expect(legacy.counts).toEqual({ planned: 4, done: 1, stale: 0, legacy: 1 });
    expect(legacy.markdown).toContain(
      "1 record without a settings hash (written before the log recorded each run's settings):\nmatched by task, variant and seed",
    );
  });
});

describe('a tiny grid on the Dawn adapter', () => {
  let device: Device;
  beforeAll(async () => {
    device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
  });
  afterAll(() => device?.destroy());

  it('goes on when a run fails, and says which and why; the next invocation runs it', async () => {
    const config = baseConfig();
    config.groups = [config.groups[0]!];
    config.seeds = [1];
    const out = tmp();
    let current = '';
    const first = await runExperiment({
      device,
      config,
      outDir: out,
      onEvent: (e) => {
        if (e.type === 'grid') current = e.current;
        if (e.type === 'step' && current.startsWith('synthetic causal')) throw new Error('out of memory');
      },
    });
    expect(first).toMatchObject({
      ran: 1,
      failed: [{ id: 'synthetic/causal/seed1', error: 'out of memory' }],
      interrupted: false,
    });
    const second = await runExperiment({ device, config, outDir: out });
    expect(second).toMatchObject({ ran: 1, skipped: 1, failed: [] });
  });

  it('continues a run killed mid-epoch from its last checkpoint, counting the time before it once', async () => {
    const config = baseConfig();
    config.groups = [{ ...config.groups[0]!, variants: [{ method: 'sr', r: 1 }] }];
    config.seeds = [1];
    config.finetune = { ...config.finetune, epochs: 2 }; // 3 steps an epoch
    const straightOut = tmp();
    await runExperiment({ device, config, outDir: straightOut, code: 'abc' });
    const out = tmp();
    // A checkpoint after every step; the run dies during step 5 (in epoch 2), after step 4's checkpoint: the
    // grid reports it as failed and goes on (here there is nothing else to run).
    const killed = await runExperiment({
      device,
      config,
      outDir: out,
      checkpointEverySeconds: 0,
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 5) throw new Error('killed');
      },
    });
    expect(killed).toMatchObject({ ran: 0, failed: [{ id: 'synthetic/sr-r1/seed1', error: 'killed' }] });
    const runDir = join(out, 'runs', 'synthetic', 'sr-r1', 'seed1');
    const progress = JSON.parse(readFileSync(join(runDir, 'progress.json'), 'utf8'));
    expect(progress).toMatchObject({ segments: 1 });
    expect(progress.wallSeconds).toBeGreaterThan(0);
    await runExperiment({ device, config, outDir: out, checkpointEverySeconds: 0, code: 'abc' });
    const [straight, resumed] = [straightOut, out].map(
      (dir) => readExperimentLog(join(dir, 'runs.jsonl')).find((r) => r.kind === 'run') as RunRecord,
    );
    expect(resumed).toMatchObject({ segments: 2, code: 'abc', epochs: 2 });
    expect(straight).toMatchObject({ segments: 1, code: 'abc' });
    // The same steps on the same batches with the same dropout: the resumed run is the straight run.
    expect(resumed.test).toEqual(straight.test);
    const stepLosses = (dir: string) =>
      readMetrics(join(dir, 'runs', 'synthetic', 'sr-r1', 'seed1', 'metrics.jsonl'))
        .filter((m) => typeof m.loss === 'number')
        .map((m) => m.loss);
    expect(stepLosses(out)).toEqual(stepLosses(straightOut));
    // Epoch 2's training loss spans both processes (the checkpoint carried the first one's share of it).
    const trainLosses = (dir: string) =>
      JSON.parse(
        readFileSync(join(dir, 'runs', 'synthetic', 'sr-r1', 'seed1', 'results.json'), 'utf8'),
      ).history.map((h: { trainLoss: number }) => h.trainLoss);
    expect(trainLosses(out)).toEqual(trainLosses(straightOut));
    // Both processes' time is in the record: at least what the first had spent by its last checkpoint.
    expect(resumed.wallSeconds).toBeGreaterThan(progress.wallSeconds);
    expect(resumed.cpuSeconds).toBeGreaterThan(progress.cpuSeconds);
    expect(resumed.cpuSecondsPerEpoch).toBeGreaterThan(0);
  });

  it('runs, resumes by skipping finished runs, restarts an interrupted run cleanly, and reports', async () => {
    const out = tmp();
    const config = baseConfig();
    config.groups = [config.groups[0]!];
    config.seeds = [1];
    const first = await runExperiment({ device, config, outDir: out });
    expect(first).toMatchObject({ ran: 2, skipped: 0, interrupted: false });
    const log = join(out, 'runs.jsonl');
    const records = readExperimentLog(log);
    // The decoder is probed for induction heads once, before its first run.
    expect(records.map((r) => r.kind)).toEqual(['pretrain', 'probe', 'run', 'run']);
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
    // The report's numbers are the logged ones (one seed each: the score itself, n=1).
    const logged = readExperimentLog(log).filter((r): r is RunRecord => r.kind === 'run');
    for (const r of logged) {
      expect(r.settingsHash).toMatch(/^[0-9a-f]{16}$/);
      expect(r.settings?.finetune.epochs).toBe(1);
      expect(md).toContain(`| ${r.label} | ${(100 * r.test.accuracy).toFixed(2)} (n=1) |`);
    }
    expect(md).toContain('(2 of 2 planned fine-tuning runs, 1 pretraining runs)');

    // A changed config is refused, naming what changed, and nothing runs.
    const changed = { ...config, finetune: { ...config.finetune, epochs: 2 } };
    await expect(runExperiment({ device, config: changed, outDir: out })).rejects.toThrow(
      /2 finished runs \(synthetic\/causal\/seed1, synthetic\/sr-r1\/seed1\): finetune\.epochs 1 → 2\n.*--out <dir>.*--rerun-changed/s,
    );
    expect(readExperimentLog(log)).toHaveLength(4);
    // --rerun-changed reruns both; the old records stay in the log, left out of the report as stale.
    const rerun = await runExperiment({ device, config: changed, outDir: out, rerunChanged: true });
    expect(rerun).toMatchObject({ ran: 2, rerun: 2, skipped: 0 });
    expect(readExperimentLog(log).filter((r) => r.kind === 'run')).toHaveLength(4);
    const counts = await writeExperimentReport({
      config: changed,
      configPath: 'grid.json',
      logPath: log,
      reportPath: report,
    });
    expect(counts).toEqual({ planned: 2, done: 2, stale: 2, legacy: 0 });
    expect(await runExperiment({ device, config: changed, outDir: out })).toMatchObject({
      ran: 0,
      skipped: 2,
    });

    // A backbone pretrained with other settings is never reused silently: refused, or moved aside and retrained.
    const longer = {
      ...changed,
      pretrain: { ...changed.pretrain!, options: { ...changed.pretrain!.options, steps: 3 } },
    };
    await expect(runExperiment({ device, config: longer, outDir: out })).rejects.toThrow(
      `the decoder backbone in ${join(out, 'pretrain-decoder')}: pretrain.steps 2 → 3`,
    );
    const retrained = await runExperiment({ device, config: longer, outDir: out, rerunChanged: true });
    expect(retrained).toMatchObject({ ran: 2, rerun: 2 });
    expect(existsSync(join(out, 'pretrain-decoder.stale-1', 'final'))).toBe(true);
    const pretrains = readExperimentLog(log).filter((r) => r.kind === 'pretrain');
    expect(pretrains.map((p) => p.steps)).toEqual([2, 3]);

    // A given backbone (here the one just pretrained, as a shipped one would be): used as it is, logged once
    // with its directory, and part of every run's settings through the hash of its weights.
    const given: ExperimentConfig = {
      ...changed,
      pretrain: undefined,
      backbones: { decoder: join(out, 'pretrain-decoder', 'final') },
    };
    const givenOut = tmp();
    const validated = validateExperimentConfig(structuredClone(given), 'given.json', '/');
    expect(await runExperiment({ device, config: validated, outDir: givenOut })).toMatchObject({ ran: 2 });
    const givenLog = readExperimentLog(join(givenOut, 'runs.jsonl'));
    expect(givenLog.map((r) => r.kind)).toEqual(['pretrain', 'probe', 'run', 'run']);
    expect(givenLog[0]).toMatchObject({ source: join(out, 'pretrain-decoder', 'final'), wallSeconds: 0 });
    expect(existsSync(join(givenOut, 'pretrain-decoder'))).toBe(false);
    const runRecord = givenLog[2] as RunRecord;
    expect(runRecord.settings?.backbone).toMatchObject({
      kind: 'decoder',
      weights: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(await runExperiment({ device, config: validated, outDir: givenOut })).toMatchObject({
      ran: 0,
      skipped: 2,
    });

    // A group with a decoder of its own (here the stale one moved aside): its runs get their own ids and
    // settings, the decoder is logged and probed once, and the report relates each decoder's probe to SR's gain.
    const otherDecoder = join(out, 'pretrain-decoder.stale-1', 'final');
    const twoDecoders = validateExperimentConfig(
      {
        ...structuredClone(given),
        groups: [
          ...given.groups,
          { ...given.groups[0]!, name: 'other-decoder', title: 'another decoder', decoder: otherDecoder },
        ],
      },
      'given.json',
      '/',
    );
    expect(await runExperiment({ device, config: twoDecoders, outDir: givenOut })).toMatchObject({
      ran: 2,
      skipped: 2,
    });
    const both = readExperimentLog(join(givenOut, 'runs.jsonl'));
    expect(
      both.slice(4).map((r) => [r.kind, (r as RunRecord).id ?? (r as { source?: string }).source]),
    ).toEqual([
      ['pretrain', otherDecoder],
      ['probe', otherDecoder],
      ['run', 'synthetic/final/causal/seed1'],
      ['run', 'synthetic/final/sr-r1/seed1'],
    ]);
    const twoReport = await aggregate({
      config: twoDecoders,
      records: both,
      logPath: 'runs.jsonl',
      configPath: 'given.json',
      reportPath: 'R.md',
    });
    expect(twoReport.counts).toMatchObject({ planned: 4, done: 4, stale: 0 });
    expect(twoReport.markdown).toContain(
      '## 6. Does the induction score explain when continuing positions work?',
    );
    expect(twoReport.markdown.match(/^\| final \| 0 \| /gm)).toHaveLength(2);
    // Both decoders ran the same variants with the same seed: each table shows its own decoder's score only
    // (the other decoder's scores are set apart here, since the tiny runs may tie).
    const apart = both.map((r, i) =>
      i >= 4 && r.kind === 'run' ? { ...r, test: { ...r.test, accuracy: 0.1234 } } : r,
    );
    const apartReport = await aggregate({
      config: twoDecoders,
      records: apart,
      logPath: 'runs.jsonl',
      configPath: 'given.json',
      reportPath: 'R.md',
    });
    const srRow = (section: string) => {
      const from = apartReport.markdown.indexOf(section);
      expect(from).toBeGreaterThan(-1);
      return apartReport.markdown
        .slice(from)
        .match(/^\| SR r=1 \| ([^|]+) \|/m)?.[1]
        ?.trim();
    };
    const mainSr = both.find((r) => r.kind === 'run' && r.variant.method === 'sr') as RunRecord;
    expect(srRow('### Scores of every method')).toBe(`${(100 * mainSr.test.accuracy).toFixed(2)} (n=1)`);
    expect(srRow('### another decoder')).toBe('12.34 (n=1)');
  }, 600_000);
});
