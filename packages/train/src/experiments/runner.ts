/**
 * @file Runs an experiment grid, resumably: the shared backbones are pretrained once (a pretraining cut short
 * continues from its checkpoint), then every fine-tuning run not yet in `runs.jsonl` is run from scratch (an
 * interrupted run's directory is removed first) and appended to the log as one JSON line. A finished run's
 * checkpoints are deleted (~130 runs would fill a disk); its metrics.jsonl and results.json stay.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '@reprise/core';
import { pretrainingText } from '../data/index.ts';
import { MetricsLog, readMetrics, resolveAtomicDir } from '../io/index.ts';
import type { BpeTokenizer } from '../tokenizer/index.ts';
import { loadBackbone } from '../training/backbone-checkpoint.ts';
import type { EventSink } from '../training/events.ts';
import { FINETUNE_DEFAULTS, finetune } from '../training/finetune.ts';
import { PRETRAIN_DEFAULTS, pretrain } from '../training/pretrain.ts';
import type { TaskData } from '../training/tasks.ts';
import {
  type ExperimentConfig,
  type ExperimentTask,
  type RunSpec,
  type Variant,
  expandRuns,
  variantLabel,
} from './config.ts';
import { experimentTaskData } from './task-data.ts';

export const RUNS_LOG = 'runs.jsonl';

export interface RunRecord {
  kind: 'run';
  id: string;
  task: ExperimentTask;
  variant: Variant;
  label: string;
  seed: number;
  groups: string[];
  test: { accuracy: number; f1: number | null };
  dev: { accuracy: number; f1: number | null };
  bestEpoch: number;
  epochs: number;
  /** Training time per epoch (dev evaluation excluded). */
  secondsPerEpoch: number;
  /** Test-set inference time per sentence (batched as in evaluation). */
  inferenceMsPerSentence: number;
  tokensPerSecond: number;
  wallSeconds: number;
  adapter: string;
  date: string;
}

export interface PretrainRecord {
  kind: 'pretrain';
  backbone: 'decoder' | 'encoder';
  steps: number;
  parameters: number;
  validationLoss: number | null;
  tokensPerSecond: number;
  wallSeconds: number;
  adapter: string;
  date: string;
}

export type ExperimentRecord = RunRecord | PretrainRecord;

export function readExperimentLog(path: string): ExperimentRecord[] {
  if (!existsSync(path)) return [];
  // A line cut short by a crash is dropped: that run is simply run again.
  return readMetrics(path, { skipMalformed: true }) as unknown as ExperimentRecord[];
}

export interface ExperimentInput {
  device: Device;
  config: ExperimentConfig;
  outDir: string;
  onEvent?: EventSink;
}

export interface ExperimentOutcome {
  ran: number;
  skipped: number;
  interrupted: boolean;
  logPath: string;
}

export async function runExperiment(input: ExperimentInput): Promise<ExperimentOutcome> {
  const { device, config, outDir, onEvent = () => {} } = input;
  const log = new MetricsLog(outDir, { fileName: RUNS_LOG });
  const records = readExperimentLog(log.path);
  const finished = new Set(records.filter((r) => r.kind === 'run').map((r) => r.id));
  const runs = expandRuns(config);
  const todo = runs.filter((r) => !finished.has(r.id));
  const outcome = { ran: 0, skipped: runs.length - todo.length, interrupted: false, logPath: log.path };
  if (todo.length === 0) return outcome;

  const needsEncoder = todo.some((r) => r.variant.method === 'encoder');
  const decoder = await backbone(input, log, 'decoder');
  if (!decoder) return { ...outcome, interrupted: true };
  const encoder = needsEncoder ? await backbone(input, log, 'encoder', decoder.tokenizer) : null;
  if (needsEncoder && !encoder) return { ...outcome, interrupted: true };

  const tasks = new Map<ExperimentTask, TaskData>();
  const started = performance.now();
  for (const [i, run] of todo.entries()) {
    const elapsed = (performance.now() - started) / 1000;
    onEvent({
      type: 'grid',
      done: outcome.skipped + i,
      total: runs.length,
      current: `${run.task} ${variantLabel(run.variant, decoder.layers)} seed ${run.seed}`,
      etaSeconds: i > 0 ? (elapsed / i) * (todo.length - i) : null,
    });
    if (!tasks.has(run.task)) tasks.set(run.task, experimentTaskData(run.task, config.data));
    const dir = run.variant.method === 'encoder' ? encoder!.dir : decoder.dir;
    const record = await fineTuneRun(input, run, tasks.get(run.task)!, dir);
    if (!record) return { ...outcome, interrupted: true };
    log.log({ ...record });
    outcome.ran++;
  }
  onEvent({ type: 'grid', done: runs.length, total: runs.length, current: 'done', etaSeconds: 0 });
  return outcome;
}

/** The pretrained backbone's final directory: pretrains it (or finishes pretraining it) when missing. */
async function backbone(
  input: ExperimentInput,
  log: MetricsLog,
  kind: 'decoder' | 'encoder',
  tokenizer?: BpeTokenizer,
): Promise<{ dir: string; tokenizer: BpeTokenizer; layers: number } | null> {
  const { device, config, outDir, onEvent } = input;
  const runDir = join(outDir, `pretrain-${kind}`);
  const final = resolveAtomicDir(join(runDir, 'final'));
  if (final) {
    const loaded = loadBackbone(final, device);
    loaded.model.dispose();
    return { dir: final, tokenizer: loaded.tokenizer, layers: loaded.model.config.layers };
  }
  const options = { ...PRETRAIN_DEFAULTS, ...config.pretrain.options };
  const started = performance.now();
  const result = await pretrain({
    device,
    outDir: runDir,
    options: { ...options, model: { ...options.model, kind } },
    ...pretrainingText(),
    tokenizer,
    resume: existsSync(join(runDir, 'checkpoints')),
    onEvent,
  });
  const layers = result.model.config.layers;
  const parameters = result.model.parameterCount;
  result.model.dispose();
  if (result.interrupted || !result.finalDir) return null;
  log.log({
    kind: 'pretrain',
    backbone: kind,
    steps: result.stepsDone,
    parameters,
    validationLoss: result.validation.at(-1)?.loss ?? null,
    tokensPerSecond: result.tokensPerSecond,
    wallSeconds: (performance.now() - started) / 1000,
    adapter: device.describe(),
    date: new Date().toISOString(),
  } satisfies PretrainRecord);
  return { dir: result.finalDir, tokenizer: result.tokenizer, layers };
}

/** One fine-tuning run from scratch; null when interrupted. */
async function fineTuneRun(
  input: ExperimentInput,
  run: RunSpec,
  data: TaskData,
  backboneDir: string,
): Promise<RunRecord | null> {
  const { device, config, outDir, onEvent } = input;
  const runDir = join(outDir, 'runs', ...run.id.split('/'));
  rmSync(runDir, { recursive: true, force: true });
  const started = performance.now();
  const { model, tokenizer } = loadBackbone(backboneDir, device);
  const { variant } = run;
  const result = await finetune({
    device,
    outDir: runDir,
    backbone: model,
    tokenizer,
    data,
    options: {
      ...FINETUNE_DEFAULTS,
      ...config.finetune,
      ...variant,
      r: variant.r ?? 1,
      layer: variant.layer ?? null,
      seed: run.seed,
    },
    onEvent,
  });
  result.labeler.dispose();
  if (result.interrupted || !result.test) return null;
  for (const checkpoint of ['last', 'best'])
    rmSync(join(runDir, checkpoint), { recursive: true, force: true });
  const best = result.history.find((h) => h.epoch === result.bestEpoch);
  return {
    kind: 'run',
    id: run.id,
    task: run.task,
    variant,
    label: variantLabel(variant, model.config.layers),
    seed: run.seed,
    groups: run.groups,
    test: { accuracy: result.test.accuracy, f1: result.test.spans?.f1 ?? null },
    dev: best?.dev ?? { accuracy: Number.NaN, f1: null },
    bestEpoch: result.bestEpoch,
    epochs: result.history.length,
    secondsPerEpoch: result.secondsPerEpoch,
    inferenceMsPerSentence: 1000 / result.test.sentencesPerSecond,
    tokensPerSecond: result.tokensPerSecond,
    wallSeconds: (performance.now() - started) / 1000,
    adapter: device.describe(),
    date: new Date().toISOString(),
  };
}
