/**
 * @file Pretraining: a causal LM (decoder) or a masked LM (encoder) on the training text, in windows of the
 * context length; AdamW with warmup and cosine decay, global-norm clipping, validation perplexity on held-out
 * text, periodic checkpoints with optimizer state, exact resume, and a checkpoint on Ctrl-C.
 */
import { join } from 'node:path';
import { AdamW, type Device, warmupCosine } from '@reprise/core';
import { Transformer, type TransformerConfig, makeConfig } from '@reprise/model';
import {
  METRICS_FILE,
  MetricsLog,
  checkpointName,
  latestCheckpoint,
  pruneCheckpoints,
  truncateMetricsAfterStep,
} from '../io/index.ts';
import { type BpeTokenizer, trainBpe } from '../tokenizer/index.ts';
import {
  type BackboneConfigFile,
  type LoadedBackbone,
  loadBackbone,
  saveBackbone,
} from './backbone-checkpoint.ts';
import { type PretrainTrainerState, pretrainTrainerSchema } from './checkpoint-schemas.ts';
import type { EventSink } from './events.ts';
import { type TokenStream, lmBatch, tokenStream } from './lm-batches.ts';
import { lmBatchFrame, lmEvalLoss } from './lm-eval.ts';
import { isInterrupted, recordStep, runSteps } from './loop.ts';
import { loadForResume } from './resume-check.ts';
import { optimizerFromHost, optimizerToHost } from './weights.ts';

export interface PretrainOptions {
  /** Backbone shape (vocabSize comes from the tokenizer). */
  model: Partial<Omit<TransformerConfig, 'vocabSize'>>;
  /** Tokenizer vocabulary size when a tokenizer is trained here. */
  vocabSize: number;
  steps: number;
  batchSize: number;
  context: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  clip: number;
  seed: number;
  /** Validation every this many steps (and at the end). */
  evalEvery: number;
  evalBatches: number;
  /** A resumable checkpoint every this many steps (0: only at the end and on Ctrl-C). */
  checkpointEvery: number;
  /** Fraction of training sentences written twice in a row (see `tokenStream`); 0 = plain text. */
  repeatFraction: number;
}

export const PRETRAIN_DEFAULTS: PretrainOptions = {
  model: {},
  vocabSize: 4000,
  steps: 1000,
  batchSize: 16,
  context: 128,
  lr: 2e-3,
  warmupSteps: 50,
  weightDecay: 0.1,
  clip: 1,
  seed: 0,
  evalEvery: 200,
  evalBatches: 8,
  checkpointEvery: 200,
  repeatFraction: 0,
};

export interface PretrainInput {
  device: Device;
  /** The run directory: checkpoints/, final/, metrics.jsonl. */
  outDir: string;
  options: PretrainOptions;
  train: string[][];
  /** Held-out sentences for perplexity (never trained on). */
  dev: string[][];
  tokenizer?: BpeTokenizer;
  /** Continue from the latest checkpoint in outDir/checkpoints. */
  resume?: boolean;
  onEvent?: EventSink;
}

export interface PretrainResult {
  model: Transformer;
  tokenizer: BpeTokenizer;
  stepsDone: number;
  interrupted: boolean;
  losses: { step: number; loss: number }[];
  validation: { step: number; loss: number; perplexity: number }[];
  tokensPerSecond: number;
  seconds: number;
  finalDir: string | null;
  /** The checkpoint written on Ctrl-C (null when not interrupted). */
  checkpointDir: string | null;
}

export async function pretrain(input: PretrainInput): Promise<PretrainResult> {
  const { device, outDir, options: o, onEvent = () => {} } = input;
  const started = performance.now();
  const checkpoints = join(outDir, 'checkpoints');
  const resumeFrom = input.resume ? latestCheckpoint(checkpoints) : null;
  if (input.resume && !resumeFrom)
    onEvent({ type: 'log', message: `no checkpoint in ${checkpoints}: starting fresh` });
  let model: Transformer;
  let tokenizer: BpeTokenizer;
  let restored: (LoadedBackbone & { trainer: PretrainTrainerState }) | null = null;
  if (resumeFrom) {
    restored = loadForResume(resumeFrom, (dir) => loadBackbone(dir, device), pretrainTrainerSchema);
    ({ model, tokenizer } = restored);
    const saved = restored.config.training;
    for (const key of ['batchSize', 'context', 'seed', 'lr', 'steps', 'repeatFraction'] as const) {
      if (saved[key] !== o[key])
        throw new Error(
          `cannot resume from ${resumeFrom}: it was run with ${key} = ${saved[key]}, this run has ${o[key]}`,
        );
    }
  } else {
    tokenizer = input.tokenizer ?? trainBpe(input.train, { vocabSize: o.vocabSize });
    const cfg = makeConfig({ ...o.model, vocabSize: tokenizer.vocabSize });
    if (cfg.maxPositions < o.context)
      throw new Error(`pretrain: context ${o.context} exceeds the model's maxPositions ${cfg.maxPositions}`);
    model = Transformer.create(device, cfg, o.seed);
  }
  const objective = model.config.kind === 'encoder' ? 'mlm' : 'clm';
  const configFile: BackboneConfigFile = {
    kind: 'reprise-backbone',
    model: model.config,
    objective,
    training: { ...o },
  };
  const trainStream = tokenStream(input.train, tokenizer, o.context, {
    fraction: o.repeatFraction,
    seed: o.seed,
  });
  const devStream = tokenStream(input.dev, tokenizer, o.context);
  const params = Object.values(model.params);
  const optimizer = new AdamW(params, {
    lr: warmupCosine(o.lr, Math.min(o.warmupSteps, o.steps), o.steps, o.lr / 10),
    weightDecay: o.weightDecay,
    maxGradNorm: o.clip,
    noDecay: model.noDecay(),
  });
  let startStep = 0;
  if (restored) {
    optimizer.loadState(optimizerFromHost(restored.checkpoint.optimizer ?? {}, Object.keys(model.params)));
    const trainer = restored.trainer;
    startStep = trainer.step;
    model.dropoutCounter = trainer.dropoutCounter;
    onEvent({ type: 'log', message: `resuming from ${resumeFrom} at step ${startStep}` });
  }
  if (input.resume) {
    // Steps logged after the checkpoint (or, without one, all) are run again: each step stays in the log once.
    const dropped = truncateMetricsAfterStep(join(outDir, METRICS_FILE), startStep);
    if (dropped > 0)
      onEvent({
        type: 'log',
        message: `${METRICS_FILE}: dropped ${dropped} records written after step ${startStep}`,
      });
  }
  const log = new MetricsLog(outDir);
  const losses: PretrainResult['losses'] = [];
  const validation: PretrainResult['validation'] = [];
  const frame = lmBatchFrame(device, o.batchSize, o.context);
  const lossOf = (stream: TokenStream, index: number, seed: number, train: boolean) => {
    const b = lmBatch(stream, o.batchSize, seed, index, objective, tokenizer);
    const shape = [b.batch, b.context];
    return model.lmLoss(device.tensor(b.inputs, shape, 'i32'), device.tensor(b.targets, shape, 'i32'), {
      ...frame,
      train,
    });
  };
  const validate = async (step: number) => {
    const loss = await lmEvalLoss(model, tokenizer, devStream, {
      batchSize: o.batchSize,
      batches: o.evalBatches,
    });
    validation.push({ step, loss, perplexity: Math.exp(loss) });
    log.log({ phase: 'pretrain', step, val_loss: loss, val_perplexity: Math.exp(loss) });
    onEvent({ type: 'eval', step, metrics: { val_loss: loss, val_perplexity: Math.exp(loss) } });
  };
  const save = async (step: number, reason: 'periodic' | 'interrupt') => {
    const dir = join(checkpoints, checkpointName(step));
    checkpointDir = dir;
    await saveBackbone(dir, model, tokenizer, configFile, {
      optimizer: optimizerToHost(
        await optimizer.exportState(),
        Object.keys(model.params),
        Object.values(model.params).map((t) => t.size),
      ),
      trainer: { step, dropoutCounter: model.dropoutCounter },
    });
    pruneCheckpoints(checkpoints, 2);
    onEvent({ type: 'checkpoint', path: dir, reason });
  };
  onEvent({
    type: 'phase',
    name: objective === 'clm' ? 'pretrain (causal LM)' : 'pretrain (masked LM)',
    totalSteps: o.steps,
    startStep,
  });
  let tokensPerSecond = 0;
  let checkpointDir: string | null = null;
  const done = await runSteps({
    optimizer,
    startStep,
    totalSteps: o.steps,
    lossAt: (step) => ({ loss: lossOf(trainStream, step, o.seed, true), tokens: o.batchSize * o.context }),
    onStep: (info) => {
      tokensPerSecond = info.tokensPerSecond;
      losses.push({ step: info.step, loss: info.loss });
      recordStep(log, 'pretrain', info, onEvent);
    },
    afterStep: async (step) => {
      if (step % o.evalEvery === 0 || step === o.steps) await validate(step);
      if (o.checkpointEvery > 0 && step % o.checkpointEvery === 0 && step < o.steps)
        await save(step, 'periodic');
    },
  });
  const interrupted = done < o.steps && isInterrupted();
  let finalDir: string | null = null;
  if (interrupted) await save(done, 'interrupt');
  else {
    finalDir = join(outDir, 'final');
    await saveBackbone(finalDir, model, tokenizer, configFile, {
      trainer: { step: done, dropoutCounter: model.dropoutCounter },
    });
    onEvent({ type: 'checkpoint', path: finalDir, reason: 'final' });
  }
  optimizer.dispose();
  for (const t of [frame.lengths, frame.positions]) t.dispose();
  return {
    model,
    tokenizer,
    stepsDone: done,
    interrupted,
    losses,
    validation,
    tokensPerSecond,
    seconds: (performance.now() - started) / 1000,
    finalDir,
    checkpointDir: interrupted ? checkpointDir : null,
  };
}
