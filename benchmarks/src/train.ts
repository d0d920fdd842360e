/**
 * @file `bench train`: end-to-end training throughput (tokens/s) and peak memory of one small GPT, trained with
 * our engine (WebGPU) and with tfjs (webgpu on the same adapter, wasm; cpu with --full), same model, batch,
 * sequence length and optimizer. Before timing, each implementation trains two steps on the batch it is timed
 * on, from the same initial weights, and its two losses are checked against our CPU twin's on that batch: the
 * first checks the forward pass, the drop between them the gradients and the AdamW update. (A bug that shows at
 * the timed batch size only must not be timed: hence the timed batch, though the twin takes a while on it.)
 */
import { AdamW, Device, Rng, keep, tidy } from '@reprise/core';
import { CpuBackend, type WebGpuBackend } from '@reprise/kernels';
import { Transformer, isNoDecay, makeConfig } from '@reprise/model';
import { type ImplCase, type Job, measureJob } from './job.ts';
import { type AdamWSettings, TfjsGpt } from './peers/tfjs-gpt.ts';
import { type Tf, tfjsCases } from './peers/tfjs.ts';
import { type Measurement, type SuiteOptions, atLeast } from './report.ts';

/** The tfjs GPT of docs/runtime.md ("The tfjs GPT"): 1,071,872 parameters. */
export const GPT = makeConfig({
  vocabSize: 2048,
  dModel: 128,
  heads: 4,
  layers: 4,
  maxPositions: 128,
  positions: 'learned',
  dropout: 0,
});
const SEQ = 128;
const ADAMW: AdamWSettings = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };
const INIT_SEED = 1;

export interface Batch {
  tokens: Int32Array;
  targets: Int32Array;
  batch: number;
}

/** Random tokens; targets are the next token (the shape of LM training; the values do not matter here). */
function randomBatch(batch: number, seed: number): Batch {
  const rng = new Rng(seed);
  const stream = Int32Array.from({ length: batch * (SEQ + 1) }, () => rng.int(GPT.vocabSize));
  const tokens = new Int32Array(batch * SEQ);
  const targets = new Int32Array(batch * SEQ);
  for (let b = 0; b < batch; b++) {
    tokens.set(stream.subarray(b * (SEQ + 1), b * (SEQ + 1) + SEQ), b * SEQ);
    targets.set(stream.subarray(b * (SEQ + 1) + 1, (b + 1) * (SEQ + 1)), b * SEQ);
  }
  return { tokens, targets, batch };
}

export interface Trainer {
  /** One training step; resolves with the loss (read back, as a trainer does to log it). */
  step(b: Batch): Promise<number>;
  /** Peak bytes held during one step: parameters, optimizer moments, activations, gradients. */
  peakBytes(b: Batch): Promise<number>;
  dispose(): void;
}

/** Our engine: Transformer.lmLoss, backward, AdamW (the loop of `reprise pretrain`). */
function repriseTrainer(dev: Device): Trainer {
  const liveBefore = dev.backend.memory().liveBytes;
  const model = Transformer.create(dev, GPT, INIT_SEED);
  const optimizer = new AdamW(Object.values(model.params), { ...ADAMW, noDecay: model.noDecay() });
  const step = async ({ tokens, targets, batch }: Batch) => {
    const shape = [batch, SEQ];
    const loss = tidy(() => {
      optimizer.zeroGrad();
      const out = model.lmLoss(dev.tensor(tokens, shape, 'i32'), dev.tensor(targets, shape, 'i32'), {
        lengths: dev.full([batch], SEQ, 'i32'),
        positions: dev.tensor(
          Int32Array.from({ length: batch * SEQ }, (_, i) => i % SEQ),
          shape,
          'i32',
        ),
      });
      out.backward();
      optimizer.step();
      return keep(out.detach());
    });
    const value = await loss.item();
    loss.dispose();
    return value;
  };
  return {
    step,
    peakBytes: async (b) => {
      dev.backend.resetPeak();
      await step(b);
      return dev.backend.memory().peakLiveBytes - liveBefore;
    },
    dispose: () => {
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** Our model's initial weights on the host, by parameter name. */
async function initialWeights(): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const model = Transformer.create(new Device(new CpuBackend()), GPT, INIT_SEED);
  const entries = await Promise.all(
    Object.entries(model.params).map(async ([name, t]) => [
      name,
      { data: Float32Array.from(await t.hostData()), shape: [...t.shape] },
    ]),
  );
  model.dispose();
  return Object.fromEntries(entries);
}

/** tfjs's trainer on the active backend; peak memory from tf.profile (all tensors, variables included). */
function tfjsTrainer(tf: Tf, weights: Awaited<ReturnType<typeof initialWeights>>): Trainer {
  const gpt = new TfjsGpt(tf, GPT, weights, isNoDecay, ADAMW);
  const step = (b: Batch) => gpt.step(b.tokens, b.targets, b.batch);
  return {
    step,
    peakBytes: async (b) => (await tf.profile(async () => void (await step(b)))).peakBytes,
    dispose: () => gpt.dispose(),
  };
}

/** A trainer as a benchmark job: outputs = the losses of two steps on the timed batch, run = one more step. */
export function trainerJob(trainer: Trainer, timed: Batch): Job {
  return {
    outputs: async () => [Float32Array.of(await trainer.step(timed), await trainer.step(timed))],
    run: async () => void (await trainer.step(timed)),
    peakBytes: () => trainer.peakBytes(timed),
    dispose: () => trainer.dispose(),
  };
}

/** The first loss within 1e-4 relative, the drop after one step within 5% (float32 vs float64 twin). */
export function checkLosses([got]: ArrayLike<number>[], [want]: ArrayLike<number>[]): string | null {
  const [g0, g1] = [got![0]!, got![1]!];
  const [w0, w1] = [want![0]!, want![1]!];
  if (!(Math.abs(g0 - w0) <= 1e-4 * Math.abs(w0))) return `first loss ${g0}, CPU twin ${w0}`;
  const drop = w0 - w1;
  if (!(Math.abs(g0 - g1 - drop) <= 0.05 * Math.abs(drop) + 1e-5))
    return `loss drop after one step ${g0 - g1}, CPU twin ${drop}`;
  return null;
}

export async function benchTrain(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  const weights = await initialWeights();
  const results: Measurement[] = [];
  for (const batch of options.mode === 'full' ? [8, 16] : [8]) {
    const timed = randomBatch(batch, 11);
    const twin = trainerJob(repriseTrainer(new Device(new CpuBackend())), timed);
    const expected = await twin.outputs();
    twin.dispose();
    const impls: ImplCase[] = [
      {
        impl: 'reprise-webgpu',
        adapter: gpu.adapter.description,
        build: () => trainerJob(repriseTrainer(dev), timed),
      },
      ...tfjsCases(
        gpu,
        (tf) => trainerJob(tfjsTrainer(tf, weights), timed),
        (b) => b !== 'cpu' || options.mode === 'full',
      ),
    ];
    for (const { impl, adapter, build } of impls) {
      const base = {
        bench: 'train step',
        shape: [batch, SEQ],
        label: `GPT ${(GPT.vocabSize / 1024).toFixed(0)}k vocab, d ${GPT.dModel}, ${GPT.layers} layers, B ${batch} × T ${SEQ}`,
        impl,
        adapter,
      };
      const m = await measureJob(base, build, (o) => checkLosses(o, expected), {});
      if (m.median_ms) m.tokens_per_s = (batch * SEQ * 1000) / m.median_ms;
      results.push(m);
      options.progress?.(m);
    }
  }
  for (const batch of new Set(results.map((r) => r.shape[0]))) {
    const at = (impl: string) => results.find((r) => r.impl === impl && r.shape[0] === batch)?.tokens_per_s;
    const ours = at('reprise-webgpu');
    const theirs = at('tfjs-webgpu');
    if (ours === undefined || theirs === undefined) continue;
    options.target?.(atLeast(`training tokens/s vs tfjs-webgpu (B ${batch})`, 3, ours / theirs));
  }
  return results;
}
