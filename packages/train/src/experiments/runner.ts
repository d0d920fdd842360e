/**
 * @file Runs an experiment grid, resumably: the shared backbones are pretrained once (a pretraining cut short
 * continues from its checkpoint), then every fine-tuning run not yet in `runs.jsonl` is run (one cut short by a
 * kill or Ctrl-C continues from its last checkpoint, written at least every ten minutes; a run directory made with
 * other settings is removed first) and appended to the log as one JSON line with its fully merged settings and
 * their hash. A run that throws is reported and left for the next invocation while the others go on. A
 * finished run is skipped only when its hash matches; runs or backbones made with
 * other settings are never mixed in: the runner refuses, listing what changed, unless told to rerun them
 * (`rerunChanged`: the old records stay in the log, and the report leaves them out as stale; an old backbone
 * is moved aside, never deleted). A finished run's checkpoints are deleted (~130 runs would fill a disk); its
 * metrics.jsonl and results.json stay.
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '@reprise/core';
import { z } from 'zod';
import type { InductionScore } from '../analysis/induction.ts';
import { type StrongestHead, probeBackbone } from '../analysis/probe.ts';
import { pretrainingText } from '../data/index.ts';
import { MetricsLog, readMetrics, resolveAtomicDir, writeFileAtomic } from '../io/index.ts';
import { strictObject } from '../io/validate.ts';
import type { BpeTokenizer } from '../tokenizer/index.ts';
import { loadBackbone } from '../training/backbone-checkpoint.ts';
import type { EventSink } from '../training/events.ts';
import { finetune, processCpuSeconds } from '../training/finetune.ts';
import { pretrain } from '../training/pretrain.ts';
import { readPretrainingFacts } from '../training/pretraining-facts.ts';
import type { TaskData } from '../training/tasks.ts';
import { type ExperimentConfig, type ExperimentTask, type Variant, variantLabel } from './config.ts';
import { type PlannedRun, selectRecords } from './records.ts';
import {
  type BackboneKind,
  type BackboneSettings,
  type RunSettings,
  backboneOf,
  backboneSettings,
  finetuneOptions,
  givenBackboneDir,
  givenBackboneSettings,
  pretrainOptions,
  settingsChanges,
  settingsHash,
} from './settings.ts';
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
  /** Hash of `settings` (absent in records written before settings were recorded). */
  settingsHash?: string;
  /** Everything the run was made with: backbone, fine-tuning options, task, data budget, seed. */
  settings?: RunSettings;
  test: { accuracy: number; f1: number | null };
  dev: { accuracy: number; f1: number | null };
  bestEpoch: number;
  epochs: number;
  /** Training time per epoch (dev evaluation excluded). */
  secondsPerEpoch: number;
  /**
   * Process CPU seconds per epoch (all threads), which a paused or waiting process does not accrue: the cost
   * to compare across runs (absent in records written before it was measured).
   */
  cpuSecondsPerEpoch?: number | null;
  /** Test-set inference time per sentence (batched as in evaluation). */
  inferenceMsPerSentence: number;
  tokensPerSecond: number;
  /** The run's wall time, summed over the processes that ran it (work lost to a kill is not counted). */
  wallSeconds: number;
  /** The same, in process CPU seconds (absent in records written before it was measured). */
  cpuSeconds?: number;
  /** How many processes the run took (more than 1: resumed from a checkpoint after a kill or Ctrl-C). */
  segments?: number;
  /** The commit the runner ran (`-dirty`: with uncommitted changes; absent in records written before it). */
  code?: string | null;
  adapter: string;
  date: string;
}

export interface PretrainRecord {
  kind: 'pretrain';
  backbone: BackboneKind;
  /** Hash of `settings` (absent in records written before settings were recorded). */
  settingsHash?: string;
  settings?: BackboneSettings;
  /** The directory of a backbone pretrained beforehand (absent when the runner pretrained it). */
  source?: string;
  /** A given backbone's own pretraining time, from its `pretraining.json` (`wallSeconds` is this grid's: 0). */
  pretrainingSeconds?: number | null;
  steps: number;
  parameters: number;
  validationLoss: number | null;
  tokensPerSecond: number;
  wallSeconds: number;
  adapter: string;
  date: string;
}

/** A decoder's induction probe (see analysis/probe.ts), logged once per decoder the runs use. */
export interface ProbeRecord {
  kind: 'probe';
  /** The decoder's directory, and the hash of its settings (as in its runs' settings). */
  source: string;
  settingsHash: string;
  /** Of the pretraining text, the fraction of sentences written twice in a row (null when not recorded). */
  repeatFraction: number | null;
  induction: Pick<InductionScore, 'first' | 'second' | 'chance' | 'length' | 'count'>;
  strongest: StrongestHead;
  adapter: string;
  date: string;
}

export type ExperimentRecord = RunRecord | PretrainRecord | ProbeRecord;

export function readExperimentLog(path: string): ExperimentRecord[] {
  if (!existsSync(path)) return [];
  // A line cut short by a crash is dropped: that run is simply run again.
  return readMetrics(path, { skipMalformed: true }) as unknown as ExperimentRecord[];
}

export interface ExperimentInput {
  device: Device;
  config: ExperimentConfig;
  outDir: string;
  /** Rerun runs (and repretrain backbones) made with other settings instead of refusing to mix them. */
  rerunChanged?: boolean;
  /** The code the runs are made with (a commit), recorded in each run's record. */
  code?: string | null;
  /** A run writes a resumable checkpoint at least this often (seconds of training; default 600). */
  checkpointEverySeconds?: number;
  onEvent?: EventSink;
}

export interface ExperimentOutcome {
  ran: number;
  skipped: number;
  /** Of `ran`: runs that had a record made with other settings (kept in the log, left out of the report). */
  rerun: number;
  /** Runs that threw (the error of each): skipped this time, tried again by the next invocation. */
  failed: { id: string; error: string }[];
  interrupted: boolean;
  logPath: string;
}

/** The settings a backbone directory was pretrained with, recorded beside it. */
const settingsFile = (outDir: string, kind: BackboneKind) => join(outDir, `pretrain-${kind}.settings.json`);
const backboneDir = (outDir: string, kind: BackboneKind) => join(outDir, `pretrain-${kind}`);

/** What changed since a backbone directory was pretrained; null when it does not exist or matches. */
function backboneChanges(outDir: string, kind: BackboneKind, settings: BackboneSettings): string[] | null {
  if (!existsSync(backboneDir(outDir, kind))) return null;
  const file = settingsFile(outDir, kind);
  if (!existsSync(file)) return ['no settings recorded beside it (pretrained before settings were recorded)'];
  let recorded: { settingsHash?: unknown; settings?: unknown };
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return [`${file} is not readable JSON (${(e as Error).message})`];
  }
  if (recorded.settingsHash === settingsHash(settings)) return null;
  return settingsChanges(recorded.settings, settings);
}

/** Moves a backbone made with other settings (and its settings file) aside, to `pretrain-<kind>.stale-<n>`. */
function moveBackboneAside(outDir: string, kind: BackboneKind): string {
  let n = 1;
  while (existsSync(`${backboneDir(outDir, kind)}.stale-${n}`)) n++;
  const to = `${backboneDir(outDir, kind)}.stale-${n}`;
  renameSync(backboneDir(outDir, kind), to);
  if (existsSync(settingsFile(outDir, kind))) renameSync(settingsFile(outDir, kind), `${to}.settings.json`);
  return to;
}

const LEGACY_RUN = ['no settings recorded (logged before settings were recorded)'];

/** The refusal: what changed, per backbone and per group of runs with the same changes, and how to go on. */
function changedSettingsError(
  outDir: string,
  backbones: { kind: BackboneKind; changes: string[] }[],
  runs: { run: PlannedRun; changes: string[] }[],
): Error {
  const lines: string[] = [];
  for (const b of backbones)
    lines.push(`- the ${b.kind} backbone in ${backboneDir(outDir, b.kind)}: ${b.changes.join('; ')}`);
  const groups = new Map<string, string[]>();
  for (const { run, changes } of runs) {
    const key = changes.join('; ');
    groups.set(key, [...(groups.get(key) ?? []), run.id]);
  }
  for (const [changes, ids] of groups) {
    const shown = ids.slice(0, 4).join(', ') + (ids.length > 4 ? ` and ${ids.length - 4} more` : '');
    lines.push(`- ${ids.length} finished run${ids.length > 1 ? 's' : ''} (${shown}): ${changes}`);
  }
  return new Error(
    [
      `${outDir}: this config's settings differ from those the runs here were made with (old → new); refusing to mix them:`,
      ...lines,
      'Either run into a new directory (--out <dir>), or add --rerun-changed to rerun what changed here (the',
      'old records stay in runs.jsonl but are left out of the report, which counts them as stale; an old',
      'backbone is moved aside to pretrain-<kind>.stale-<n>).',
    ].join('\n'),
  );
}

export async function runExperiment(input: ExperimentInput): Promise<ExperimentOutcome> {
  const { config, outDir, rerunChanged = false, onEvent = () => {} } = input;
  const log = new MetricsLog(outDir, { fileName: RUNS_LOG });
  const selection = selectRecords(config, readExperimentLog(log.path), { acceptLegacy: false });
  const runs = selection.planned;
  const done = new Set(selection.runs.map((r) => r.id));
  const todo = runs.filter((r) => !done.has(r.id));
  const outcome = {
    ran: 0,
    skipped: runs.length - todo.length,
    rerun: 0,
    failed: [] as ExperimentOutcome['failed'],
    interrupted: false,
    logPath: log.path,
  };
  if (todo.length === 0) return outcome;

  const kinds = [...new Set<BackboneKind>(['decoder', ...todo.map(backboneOf)])];
  const staleBackbones = kinds.flatMap((kind) => {
    const changes = backboneChanges(outDir, kind, backboneSettings(config, kind));
    return changes ? [{ kind, changes }] : [];
  });
  const changedRuns = selection.changed.map(({ run, record }) => ({
    run,
    changes: record.settings ? settingsChanges(record.settings, run.settings) : LEGACY_RUN,
  }));
  if ((staleBackbones.length || changedRuns.length) && !rerunChanged)
    throw changedSettingsError(outDir, staleBackbones, changedRuns);
  for (const { kind } of staleBackbones) moveBackboneAside(outDir, kind);
  const changedIds = new Set(changedRuns.map((c) => c.run.id));

  const decoder = await backbone(input, log, 'decoder');
  if (!decoder) return { ...outcome, interrupted: true };
  const encoder = kinds.includes('encoder') ? await backbone(input, log, 'encoder', decoder.tokenizer) : null;
  if (kinds.includes('encoder') && !encoder) return { ...outcome, interrupted: true };

  // Every decoder the remaining runs use is probed for induction heads once (the report relates it to SR's gain).
  const groupDecoders = new Map<string, string>();
  const decoderOf = async (run: PlannedRun) => {
    if (!run.decoder) return decoder.dir;
    if (!groupDecoders.has(run.decoder)) {
      groupDecoders.set(run.decoder, givenBackbone(input, log, 'decoder', run.decoder).dir);
      await probeOnce(input, log, run.decoder, run.settings.backbone);
    }
    return groupDecoders.get(run.decoder)!;
  };
  if (todo.some((r) => !r.decoder && backboneOf(r) === 'decoder'))
    await probeOnce(input, log, decoder.dir, backboneSettings(config, 'decoder'));
  const tasks = new Map<string, TaskData>();
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
    const taskKey = `${run.task} ${run.trainSentences}`;
    if (!tasks.has(taskKey))
      tasks.set(taskKey, experimentTaskData(run.task, config.data, run.trainSentences));
    const dir = backboneOf(run) === 'encoder' ? encoder!.dir : await decoderOf(run);
    let record: RunRecord | null;
    try {
      record = await fineTuneRun(input, run, tasks.get(taskKey)!, dir);
    } catch (e) {
      // One run's failure (e.g. an adapter limit) does not stop a grid that runs for hours unattended: the
      // others go on, and the next invocation tries this one again (from its last checkpoint, if any).
      const error = (e as Error).message;
      outcome.failed.push({ id: run.id, error });
      onEvent({ type: 'log', message: `run ${run.id} failed, going on with the others: ${error}` });
      continue;
    }
    if (!record) return { ...outcome, interrupted: true };
    log.log({ ...record });
    outcome.ran++;
    if (changedIds.has(run.id)) outcome.rerun++;
  }
  onEvent({ type: 'grid', done: runs.length, total: runs.length, current: 'done', etaSeconds: 0 });
  return outcome;
}

/** The pretrained backbone's final directory: pretrains it (or finishes pretraining it) when missing. */
async function backbone(
  input: ExperimentInput,
  log: MetricsLog,
  kind: BackboneKind,
  tokenizer?: BpeTokenizer,
): Promise<{ dir: string; tokenizer: BpeTokenizer; layers: number } | null> {
  const { device, config, outDir, onEvent } = input;
  const given = givenBackboneDir(config, kind);
  if (given) return givenBackbone(input, log, kind, given);
  const runDir = backboneDir(outDir, kind);
  const settings = backboneSettings(config, kind);
  const hash = settingsHash(settings);
  // Checked by the caller: what is here (if anything) was made with these settings.
  writeFileAtomic(
    settingsFile(outDir, kind),
    `${JSON.stringify({ settingsHash: hash, settings }, null, 2)}\n`,
  );
  const final = resolveAtomicDir(join(runDir, 'final'));
  if (final) {
    const loaded = loadBackbone(final, device);
    loaded.model.dispose();
    return { dir: final, tokenizer: loaded.tokenizer, layers: loaded.model.config.layers };
  }
  const started = performance.now();
  const result = await pretrain({
    device,
    outDir: runDir,
    options: pretrainOptions(config, kind),
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
    settingsHash: hash,
    settings,
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

/**
 * A backbone pretrained beforehand: checked to load, and logged once (with the facts its `pretraining.json`
 * records, when it has one) so that the report can describe it.
 */
function givenBackbone(
  input: ExperimentInput,
  log: MetricsLog,
  kind: BackboneKind,
  dir: string,
): { dir: string; tokenizer: BpeTokenizer; layers: number } {
  const settings = givenBackboneSettings(dir, kind);
  const hash = settingsHash(settings);
  const loaded = loadBackbone(dir, input.device);
  const { layers } = loaded.model.config;
  const parameters = loaded.model.parameterCount;
  loaded.model.dispose();
  const logged = readExperimentLog(log.path).some(
    (r) => r.kind === 'pretrain' && r.backbone === kind && r.settingsHash === hash,
  );
  if (!logged) {
    const facts = readPretrainingFacts(dir);
    log.log({
      kind: 'pretrain',
      backbone: kind,
      settingsHash: hash,
      settings,
      source: dir,
      steps: facts?.steps ?? 0,
      parameters,
      validationLoss: facts?.validationLoss ?? null,
      tokensPerSecond: facts?.tokensPerSecond ?? 0,
      wallSeconds: 0, // pretrained beforehand: not part of this grid's compute (its own time is in `facts`)
      pretrainingSeconds: facts?.wallSeconds ?? null,
      adapter: input.device.describe(),
      date: new Date().toISOString(),
    } satisfies PretrainRecord);
  }
  return { dir, tokenizer: loaded.tokenizer, layers };
}

/** Logs the induction probe of a decoder unless the log has it for these settings. */
async function probeOnce(
  input: ExperimentInput,
  log: MetricsLog,
  dir: string,
  settings: BackboneSettings,
): Promise<void> {
  const hash = settingsHash(settings);
  const logged = readExperimentLog(log.path).some((r) => r.kind === 'probe' && r.settingsHash === hash);
  if (logged) return;
  const { model, tokenizer, config } = loadBackbone(dir, input.device);
  try {
    const probe = await probeBackbone(model, tokenizer);
    if ('skipped' in probe.induction) return;
    const { first, second, chance, length, count } = probe.induction;
    const repeatFraction = config.training.repeatFraction;
    log.log({
      kind: 'probe',
      source: dir,
      settingsHash: hash,
      repeatFraction: typeof repeatFraction === 'number' ? repeatFraction : null,
      induction: { first, second, chance, length, count },
      strongest: probe.strongest,
      adapter: input.device.describe(),
      date: new Date().toISOString(),
    } satisfies ProbeRecord);
  } finally {
    model.dispose();
  }
}

/** The time a run's earlier processes spent up to its last checkpoint, kept beside it (`progress.json`). */
const runProgressSchema = strictObject({
  settingsHash: z.string(),
  wallSeconds: z.number().nonnegative(),
  cpuSeconds: z.number().nonnegative(),
  segments: z.number().int().min(1),
});
type RunProgress = z.infer<typeof runProgressSchema>;

/**
 * What an interrupted run left that this run can continue from: its progress, when made with the same settings
 * and a `last` checkpoint exists; otherwise null (the directory is then removed and the run starts over).
 */
function resumableProgress(runDir: string, settingsHash: string | undefined): RunProgress | null {
  const file = join(runDir, 'progress.json');
  if (!existsSync(file) || !resolveAtomicDir(join(runDir, 'last'))) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // written atomically, so only a hand-edited file gets here: start over
  }
  const parsed = runProgressSchema.safeParse(json);
  return parsed.success && parsed.data.settingsHash === settingsHash ? parsed.data : null;
}

/** One fine-tuning run (continued from its last checkpoint when a kill cut it short); null when interrupted. */
async function fineTuneRun(
  input: ExperimentInput,
  run: PlannedRun,
  data: TaskData,
  backboneDir: string,
): Promise<RunRecord | null> {
  const { device, config, outDir, onEvent = () => {} } = input;
  const runDir = join(outDir, 'runs', ...run.id.split('/'));
  const carried = resumableProgress(runDir, run.settingsHash);
  if (!carried) rmSync(runDir, { recursive: true, force: true });
  const started = { wall: performance.now(), cpu: processCpuSeconds() };
  const progress = (): RunProgress => ({
    settingsHash: run.settingsHash ?? '',
    wallSeconds: (carried?.wallSeconds ?? 0) + (performance.now() - started.wall) / 1000,
    cpuSeconds: (carried?.cpuSeconds ?? 0) + processCpuSeconds() - started.cpu,
    segments: (carried?.segments ?? 0) + 1,
  });
  const lastDir = join(runDir, 'last');
  const { model, tokenizer } = loadBackbone(backboneDir, device);
  const { variant } = run;
  const result = await finetune({
    device,
    outDir: runDir,
    backbone: model,
    tokenizer,
    data,
    options: finetuneOptions(config, run),
    resume: carried !== null,
    checkpointEverySeconds: input.checkpointEverySeconds ?? 600,
    onEvent: (event) => {
      // The time up to a resumable checkpoint is the run's; what a kill loses after it is not.
      if (event.type === 'checkpoint' && event.path === lastDir)
        writeFileAtomic(join(runDir, 'progress.json'), `${JSON.stringify(progress())}\n`);
      onEvent(event);
    },
  }).catch((e) => {
    model.dispose(); // the grid goes on: a failed run must not hold the adapter's memory
    throw e;
  });
  result.labeler.dispose();
  if (result.interrupted || !result.test) return null;
  const best = result.history.find((h) => h.epoch === result.bestEpoch);
  const { wallSeconds, cpuSeconds, segments } = progress();
  for (const left of ['last', 'best', 'progress.json'])
    rmSync(join(runDir, left), { recursive: true, force: true });
  return {
    kind: 'run',
    id: run.id,
    task: run.task,
    variant,
    label: variantLabel(variant, model.config.layers),
    seed: run.seed,
    groups: run.groups,
    settingsHash: run.settingsHash,
    settings: run.settings,
    test: { accuracy: result.test.accuracy, f1: result.test.spans?.f1 ?? null },
    dev: best?.dev ?? { accuracy: Number.NaN, f1: null },
    bestEpoch: result.bestEpoch,
    epochs: result.history.length,
    secondsPerEpoch: result.secondsPerEpoch,
    cpuSecondsPerEpoch: result.cpuSecondsPerEpoch,
    inferenceMsPerSentence: 1000 / result.test.sentencesPerSecond,
    tokensPerSecond: result.tokensPerSecond,
    wallSeconds,
    cpuSeconds,
    segments,
    code: input.code ?? null,
    adapter: device.describe(),
    date: new Date().toISOString(),
  };
}
