/**
 * @file Fine-tuning for sequence labeling: a labeler (method, r, head layer) on a pretrained backbone, AdamW
 * with linear decay and clipping, evaluation on dev after every epoch, the best epoch kept (weights restored
 * at the end), the test set evaluated once. Resumable from the last epoch-end or Ctrl-C checkpoint.
 */
import { join } from 'node:path';
import { AdamW, type Device, warmupLinear } from '@reprise/core';
import {
  LoraAdapters,
  type LoraConfig,
  SequenceLabeler,
  type Transformer,
  attachLora,
  longestRepeatable,
  repeatedPositions,
} from '@reprise/model';
import type { LabeledSentence } from '../data/index.ts';
import {
  type HostTensor,
  METRICS_FILE,
  MetricsLog,
  resolveAtomicDir,
  truncateMetricsAfterStep,
  writeJsonAtomic,
} from '../io/index.ts';
import type { WordTokenizer } from '../tokenizer/index.ts';
import { finetuneTrainerSchema } from './checkpoint-schemas.ts';
import { type Evaluation, coverageNotes, evaluate } from './evaluate.ts';
import type { EventSink } from './events.ts';
import { buildLabelVocab, countCut, encodeLabeled, makeBatches } from './labeled-batches.ts';
import { type LabelerConfigFile, loadLabeler, saveLabeler, saveMergedLabeler } from './labeler-checkpoint.ts';
import { isInterrupted, recordStep, runSteps } from './loop.ts';
import { loraRecord } from './lora-checkpoint.ts';
import { type LabelerSettings, type MethodOptions, labelerSettings } from './methods.ts';
import { batchLoss } from './passes.ts';
import { loadForResume } from './resume-check.ts';
import { type TaskData, spanScheme } from './tasks.ts';
import { assignFromHost, optimizerFromHost, optimizerToHost, toHost } from './weights.ts';

export interface FinetuneOptions extends MethodOptions {
  /** The most epochs to train (the learning rate decays over all of them). */
  epochs: number;
  /**
   * Early stopping: training ends once dev has not improved for this many epochs in a row (the best epoch is
   * kept either way); 0 trains every epoch.
   */
  patience: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  /** Warmup as a fraction of all steps (0 in the paper). */
  warmupRatio: number;
  clip: number;
  seed: number;
  /** Subwords per sentence before repetition (256 in the paper). */
  maxTokens: number;
  labelSubword: 'first' | 'last';
  /**
   * LoRA adapters on a frozen backbone (@reprise/model's lora.ts) instead of training every weight; absent: full
   * fine-tuning (the default for the project's own small backbones).
   */
  lora?: LoraConfig;
}

export const FINETUNE_DEFAULTS: FinetuneOptions = {
  method: 'causal',
  r: 1,
  unmaskedLayers: [],
  layer: null,
  finalNorm: true,
  separator: false,
  positions: 'continue',
  lastCopyOnly: true,
  headDropout: 0.1,
  epochs: 3,
  patience: 0,
  batchSize: 32,
  lr: 1e-3,
  weightDecay: 0.05,
  warmupRatio: 0,
  clip: 1,
  seed: 5,
  maxTokens: 256,
  labelSubword: 'first',
};

export interface FinetuneInput {
  device: Device;
  outDir: string;
  /** A backbone to fine-tune (its weights change, unless `options.lora` freezes them). */
  backbone: Transformer;
  /**
   * The directory `backbone` was loaded from, unchanged: a LoRA run's checkpoints name it as the base they need
   * (required with `options.lora`).
   */
  backboneDir?: string;
  /** The backbone's: the project's own, or a Hugging Face model's (saved with each checkpoint). */
  tokenizer: WordTokenizer & { toJSON(): string };
  /** The task: its name (recorded in the checkpoint), splits, and span view for span F1. */
  data: TaskData;
  options: FinetuneOptions;
  resume?: boolean;
  /**
   * Also write the `last` checkpoint inside an epoch once this many seconds of training have passed since the
   * previous one, so that a run killed mid-epoch resumes near where it stopped (an experiment grid spanning
   * sessions). Without it, `last` is written at each epoch's end and on Ctrl-C.
   */
  checkpointEverySeconds?: number;
  /**
   * With `options.lora`: after training, also write `<outDir>/merged`, the best epoch's labeler with the adapters
   * folded into the backbone (a plain checkpoint that needs no base). The returned labeler is then merged too.
   */
  saveMerged?: boolean;
  onEvent?: EventSink;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  seconds: number;
  /**
   * Process CPU time of the epoch's training (all threads: the software adapter's included), which, unlike
   * `seconds`, does not grow while the process is paused or waits (absent in checkpoints written before it existed).
   */
  cpuSeconds?: number;
  /** `f1`: strict span F1 (selects the best epoch); `lenientF1`: seqeval's default mode (absent before it existed). */
  dev: { accuracy: number; f1: number | null; lenientF1?: number | null };
}

export interface FinetuneResult {
  labeler: SequenceLabeler;
  history: EpochRecord[];
  bestEpoch: number;
  /** Training ended before `epochs` because dev stopped improving (`patience`). */
  stoppedEarly: boolean;
  test: Evaluation | null;
  interrupted: boolean;
  secondsPerEpoch: number;
  /** Process CPU seconds per epoch (null when an epoch came from a checkpoint that did not record it). */
  cpuSecondsPerEpoch: number | null;
  tokensPerSecond: number;
}

interface TrainerState {
  step: number;
  dropoutCounter: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestScore: number;
  /** In a checkpoint written inside an epoch: that epoch's training so far. */
  epochSoFar?: EpochProgress;
}

interface EpochProgress {
  seconds: number;
  cpuSeconds: number;
  lossSum: number;
  lossCount: number;
}

/** This process's CPU time in seconds, all threads. */
export const processCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

export async function finetune(input: FinetuneInput): Promise<FinetuneResult> {
  const { device, outDir, backbone, tokenizer, data, options: o, onEvent = () => {} } = input;
  const vocab = buildLabelVocab(data.train);
  const { settings, maxTokens } = labelerPlan(o, backbone, tokenizer.special.sep);
  if (maxTokens < o.maxTokens)
    onEvent({
      type: 'log',
      message: `learned positions: the subword cap is lowered from ${o.maxTokens} to ${maxTokens} so that ${(settings.r ?? 0) + 1} copies fit the ${backbone.config.maxPositions}-row position table (rotary models keep the same cap for every r)`,
    });
  const enc = (s: LabeledSentence[]) => encodeLabeled(s, tokenizer, vocab, { ...o, maxTokens });
  const [train, dev, test] = [enc(data.train), enc(data.dev), enc(data.test)];
  if (train.length === 0) throw new Error('finetune: the training set is empty');
  const cut = countCut(train);
  if (cut.words > 0)
    onEvent({
      type: 'log',
      message: `training: ${cut.words} words in ${cut.sentences} sentences beyond the ${maxTokens}-subword cap are left out of the loss (dev and test are read whole, in windows)`,
    });
  const labeler = new SequenceLabeler(backbone, {
    ...settings,
    numLabels: vocab.labels.length,
    seed: o.seed,
  });
  backbone.dropoutSeed = o.seed;
  let lora: ReturnType<typeof loraRecord> | undefined;
  if (o.lora) {
    if (!input.backboneDir)
      throw new Error('finetune: options.lora needs backboneDir, the base its checkpoints will name');
    lora = loraRecord(o.lora, input.backboneDir);
    attachLora(backbone, LoraAdapters.create(device, backbone.config, o.lora, o.seed));
  }
  const named = labeler.params();
  const params = Object.values(named);
  const perEpoch = Math.ceil(train.length / o.batchSize);
  const totalSteps = perEpoch * o.epochs;
  const optimizer = new AdamW(params, {
    lr: warmupLinear(o.lr, Math.round(o.warmupRatio * totalSteps), totalSteps),
    weightDecay: o.weightDecay,
    maxGradNorm: o.clip,
    noDecay: labeler.noDecay(),
  });
  const configFile: LabelerConfigFile = {
    kind: 'reprise-labeler',
    model: backbone.config,
    labeler: settings,
    labels: vocab.labels,
    maxTokens,
    labelSubword: o.labelSubword,
    training: { task: data.name, ...o },
    ...(lora ? { lora } : {}),
  };
  const lastDir = join(outDir, 'last');
  const bestDir = join(outDir, 'best');
  let state: TrainerState = { step: 0, dropoutCounter: 0, history: [], bestEpoch: 0, bestScore: -1 };
  let best: Record<string, HostTensor> | null = null;
  if (input.resume && resolveAtomicDir(lastDir)) {
    const last = loadForResume(
      lastDir,
      (dir) => loadLabeler(dir, device),
      finetuneTrainerSchema,
      (l) => Object.keys(l.labeler.params()),
    );
    if (JSON.stringify(last.config.training) !== JSON.stringify(configFile.training))
      throw new Error(
        `cannot resume from ${lastDir}: it was started with other options (${JSON.stringify(last.config.training)})`,
      );
    assignFromHost(named, await toHost(last.labeler.params()));
    last.labeler.dispose();
    optimizer.loadState(optimizerFromHost(last.checkpoint.optimizer ?? {}, Object.keys(named)));
    state = last.trainer;
    backbone.dropoutCounter = state.dropoutCounter;
    if (resolveAtomicDir(bestDir)) {
      const saved = loadLabeler(bestDir, device).labeler;
      best = await toHost(saved.params());
      saved.dispose();
    }
    onEvent({
      type: 'log',
      message: `resuming from ${lastDir} at step ${state.step} (epoch ${state.step / perEpoch})`,
    });
  }
  if (input.resume) {
    // Steps logged after the checkpoint (or, without one, all) are run again: each step stays in the log once.
    const dropped = truncateMetricsAfterStep(join(outDir, METRICS_FILE), state.step);
    if (dropped > 0)
      onEvent({
        type: 'log',
        message: `${METRICS_FILE}: dropped ${dropped} records written after step ${state.step}`,
      });
  }
  const log = new MetricsLog(outDir);
  // Evaluation has no backward pass: bigger batches amortize the per-dispatch cost.
  const evalBatch = Math.max(o.batchSize, 64);
  // Best epoch by strict span F1 in the labels' own scheme (seqeval strict mode; IOB1 and BIOES scored as their
  // IOB2 conversion). Gold labels were checked to be valid in that scheme when the data was read, so strict F1
  // never drops gold spans and a low score is the model's, not a scheme mismatch. Lenient F1 is only reported.
  const decision = spanScheme(data);
  const scheme = decision.scheme;
  let epochBatches: { epoch: number; batches: number[][] } | null = null;
  // The epoch in progress: what a checkpoint inside it carried over, plus this process's share since then.
  let epochCarried: EpochProgress = state.epochSoFar ?? {
    seconds: 0,
    cpuSeconds: 0,
    lossSum: 0,
    lossCount: 0,
  };
  let epochStart = { wall: performance.now(), cpu: processCpuSeconds() };
  const epochProgress = (): EpochProgress => ({
    seconds: epochCarried.seconds + (performance.now() - epochStart.wall) / 1000,
    cpuSeconds: epochCarried.cpuSeconds + processCpuSeconds() - epochStart.cpu,
    lossSum: epochCarried.lossSum,
    lossCount: epochCarried.lossCount,
  });
  let lastSaved = performance.now();
  let tokensPerSecond = 0;
  const saveLast = async (step: number, reason: 'periodic' | 'interrupt') => {
    state.step = step;
    state.dropoutCounter = backbone.dropoutCounter;
    state.epochSoFar = step % perEpoch === 0 ? undefined : epochProgress();
    lastSaved = performance.now();
    await saveLabeler(lastDir, labeler, tokenizer, configFile, {
      optimizer: optimizerToHost(
        await optimizer.exportState(),
        Object.keys(named),
        Object.values(named).map((t) => t.size),
      ),
      trainer: state,
    });
    onEvent({ type: 'checkpoint', path: lastDir, reason });
  };
  onEvent({ type: 'phase', name: `fine-tune ${data.name}`, totalSteps, startStep: state.step });
  const done = await runSteps({
    optimizer,
    // A run that already stopped early (and is resumed, e.g. for its test evaluation) trains no further.
    startStep: patienceExhausted(state, o.patience) ? totalSteps : state.step,
    totalSteps,
    lossAt: (step) => {
      const epoch = Math.floor(step / perEpoch);
      if (epochBatches?.epoch !== epoch)
        epochBatches = { epoch, batches: makeBatches(train, o.batchSize, { seed: o.seed, epoch }) };
      const items = epochBatches.batches[step % perEpoch]!.map((i) => train[i]!);
      const tokens = items.reduce((a, s) => a + s.ids.length, 0);
      return { ...batchLoss(labeler, items), tokens };
    },
    onStep: (info) => {
      tokensPerSecond = info.tokensPerSecond;
      epochCarried.lossSum += info.loss;
      epochCarried.lossCount++;
      recordStep(log, 'finetune', info, onEvent);
    },
    afterStep: async (step) => {
      if (step % perEpoch !== 0) {
        const every = input.checkpointEverySeconds;
        if (every !== undefined && (performance.now() - lastSaved) / 1000 >= every)
          await saveLast(step, 'periodic');
        return;
      }
      const { seconds, cpuSeconds, lossSum, lossCount } = epochProgress();
      const epoch = step / perEpoch;
      const result = await evaluate(labeler, data.dev, dev, vocab, {
        batchSize: evalBatch,
        spanView: data.spanView,
        scheme,
      });
      // The windows of dev are the same every epoch: said once.
      if (state.history.length === 0)
        for (const note of coverageNotes(result, maxTokens, { scoring: true }))
          onEvent({ type: 'log', message: `dev: ${note}` });
      const f1 = result.spans?.f1 ?? null;
      const lenientF1 = result.lenientSpans?.f1 ?? null;
      const record: EpochRecord = {
        epoch,
        trainLoss: lossSum / Math.max(1, lossCount),
        seconds,
        cpuSeconds,
        dev: { accuracy: result.accuracy, f1, lenientF1 },
      };
      state.history.push(record);
      log.log({
        phase: 'finetune',
        epoch,
        train_loss: record.trainLoss,
        epoch_seconds: seconds,
        dev_accuracy: result.accuracy,
        dev_f1: f1,
        dev_f1_lenient: lenientF1,
      });
      onEvent({
        type: 'eval',
        step,
        epoch,
        metrics: { dev_accuracy: result.accuracy, ...(f1 === null ? {} : { dev_f1: f1 }) },
      });
      // The primary score: span F1 for span tasks, accuracy otherwise.
      const score = scheme !== null && f1 !== null ? f1 : result.accuracy;
      if (score > state.bestScore) {
        state.bestScore = score;
        state.bestEpoch = epoch;
        best = await toHost(named);
        await saveLabeler(bestDir, labeler, tokenizer, configFile);
        onEvent({ type: 'checkpoint', path: bestDir, reason: 'best' });
      }
      await saveLast(step, 'periodic');
      epochCarried = { seconds: 0, cpuSeconds: 0, lossSum: 0, lossCount: 0 };
      epochStart = { wall: performance.now(), cpu: processCpuSeconds() };
      if (patienceExhausted(state, o.patience)) {
        onEvent({
          type: 'log',
          message: `early stop after epoch ${epoch}: dev has not improved for ${o.patience} epoch${o.patience > 1 ? 's' : ''} (best: epoch ${state.bestEpoch})`,
        });
        return 'stop';
      }
    },
  });
  const interrupted = done < totalSteps && isInterrupted();
  const stoppedEarly = !interrupted && patienceExhausted(state, o.patience);
  if (interrupted) await saveLast(done, 'interrupt');
  optimizer.dispose();
  let testEval: Evaluation | null = null;
  if (!interrupted && best) {
    assignFromHost(named, best);
    testEval = await evaluate(labeler, data.test, test, vocab, {
      batchSize: evalBatch,
      spanView: data.spanView,
      scheme,
    });
    for (const note of coverageNotes(testEval, maxTokens, { scoring: true }))
      onEvent({ type: 'log', message: `test: ${note}` });
    const summary = {
      task: data.name,
      method: settings,
      bestEpoch: state.bestEpoch,
      stoppedEarly,
      history: state.history,
      spanScheme: decision,
      test: {
        accuracy: testEval.accuracy,
        f1: testEval.spans?.f1 ?? null,
        lenientF1: testEval.lenientSpans?.f1 ?? null,
        spans: spansJson(testEval),
        maxTokens,
        windowedSentences: testEval.windowedSentences,
        unscored: testEval.unscored,
      },
    };
    writeJsonAtomic(join(outDir, 'results.json'), summary);
    if (input.saveMerged && lora) {
      const mergedDir = join(outDir, 'merged');
      await saveMergedLabeler(mergedDir, labeler, tokenizer, configFile);
      onEvent({
        type: 'log',
        message: `merged: the adapters folded into the backbone, saved in ${mergedDir}`,
      });
    }
    log.log({
      phase: 'test',
      best_epoch: state.bestEpoch,
      test_accuracy: testEval.accuracy,
      test_f1: testEval.spans?.f1 ?? null,
      test_f1_lenient: testEval.lenientSpans?.f1 ?? null,
    });
  }
  const epochs = state.history.filter((h) => h.seconds > 0);
  return {
    labeler,
    history: state.history,
    bestEpoch: state.bestEpoch,
    stoppedEarly,
    test: testEval,
    interrupted,
    secondsPerEpoch: epochs.reduce((a, h) => a + h.seconds, 0) / Math.max(1, epochs.length),
    cpuSecondsPerEpoch: epochs.every((h) => h.cpuSeconds !== undefined)
      ? epochs.reduce((a, h) => a + h.cpuSeconds!, 0) / Math.max(1, epochs.length)
      : null,
    tokensPerSecond,
  };
}

/** Dev has not improved for `patience` epochs since the best one (never true when patience is 0). */
function patienceExhausted(state: TrainerState, patience: number): boolean {
  const lastEpoch = state.history.at(-1)?.epoch ?? 0;
  return patience > 0 && lastEpoch - state.bestEpoch >= patience;
}

/** Both span modes with per-type counts, for results.json; null without spans. */
function spansJson(e: Evaluation) {
  if (!e.spans) return null;
  return { scheme: e.scheme, strict: e.spans, lenient: e.lenientSpans };
}

/**
 * Subwords per sentence before repetition: the requested cap for every r with rotary positions (their tables
 * grow to the length needed); with a learned position table, lowered so that r+1 copies (and separators) fit.
 */
export function subwordCap(
  maxTokens: number,
  backbone: Pick<Transformer, 'positionLimit'>,
  settings: { r?: number; separator?: number | null; positions?: 'continue' | 'reset' },
): number {
  return Math.min(maxTokens, longestRepeatable(backbone.positionLimit, { ...settings, r: settings.r ?? 0 }));
}

/**
 * The labeler settings and subword cap for fine-tuning `backbone` with `o`, refusing (before anything is written)
 * a method or an r whose copies cannot fit even a one-subword sentence in a learned position table.
 */
export function labelerPlan(
  o: FinetuneOptions,
  backbone: Transformer,
  sepToken: number | undefined,
): { settings: LabelerSettings; maxTokens: number } {
  const settings = labelerSettings(o, backbone.config, sepToken);
  const maxTokens = subwordCap(o.maxTokens, backbone, settings);
  if (maxTokens < 1) {
    const r = settings.r ?? 0;
    throw new Error(
      `--r ${r}: ${r + 1} copies of a one-subword sentence need ${repeatedPositions(1, { ...settings, r })} positions, but the backbone's learned position table has ${backbone.config.maxPositions}; lower --r, or use --positions reset`,
    );
  }
  return { settings, maxTokens };
}
