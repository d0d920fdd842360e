/**
 * @file `bench train`: end-to-end training throughput (tokens/s) and peak memory of one small GPT, trained with
 * our engine (WebGPU), with PyTorch on the CPU (a subprocess, when a python can import torch; B 8 and B 16) and
 * with tfjs (webgpu on the same adapter, wasm, at B 8; cpu and B 16 too with --full), same model, batch,
 * sequence length and optimizer; then the demo's fine-tuning step (train-labeler.ts). Before timing, each implementation trains two steps on the batch it is timed
 * on, from the same initial weights, and its two losses are checked against our CPU twin's on that batch: the
 * first checks the forward pass, the drop between them the gradients and the AdamW update. (A bug that shows at
 * the timed batch size only must not be timed: hence the timed batch, though the twin takes a while on it.)
 */
import { AdamW, Device, Rng, type Tensor, keep, tidy } from '@reprise/core';
import { CpuBackend, type WebGpuBackend } from '@reprise/kernels';
import { Transformer, type TransformerConfig, makeConfig, noDecayNames } from '@reprise/model';
import { type ImplCase, type Job, measureJob } from './job.ts';
import { type AdamWSettings, TfjsGpt } from './peers/tfjs-gpt.ts';
import { type Tf, tfjsCases } from './peers/tfjs.ts';
import { type Manifest, TORCH_IMPL, noteTorchSkipped, torchPeer, torchTrainingJob } from './peers/torch.ts';
import { type Measurement, type SuiteOptions, atLeast } from './report.ts';
import { benchFinetune } from './train-labeler.ts';

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
  seq: number;
}

/** Random tokens; targets are the next token (the shape of LM training; the values do not matter here). */
export function randomBatch(batch: number, seed: number, seq = SEQ, vocab = GPT.vocabSize): Batch {
  const rng = new Rng(seed);
  const stream = Int32Array.from({ length: batch * (seq + 1) }, () => rng.int(vocab));
  const tokens = new Int32Array(batch * seq);
  const targets = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    tokens.set(stream.subarray(b * (seq + 1), b * (seq + 1) + seq), b * seq);
    targets.set(stream.subarray(b * (seq + 1) + 1, (b + 1) * (seq + 1)), b * seq);
  }
  return { tokens, targets, batch, seq };
}

export interface Trainer<B = Batch> {
  /** One training step; resolves with the loss (read back, as a trainer does to log it). */
  step(b: B): Promise<number>;
  /** Peak bytes held during one step: parameters, optimizer moments, activations, gradients. */
  peakBytes(b: B): Promise<number>;
  dispose(): void;
}

/**
 * Our engine's trainer from a step's loss (built on the graph inside the step's scope): zero the gradients, the
 * loss, backward, the optimizer step, and the loss read back; peak memory above what was live before the model.
 */
export function graphTrainer<B>(
  dev: Device,
  liveBefore: number,
  optimizer: AdamW,
  lossOf: (b: B) => Tensor,
  disposeModel: () => void,
): Trainer<B> {
  const step = async (b: B) => {
    const loss = tidy(() => {
      optimizer.zeroGrad();
      const out = lossOf(b);
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
      disposeModel();
    },
  };
}

/** Our engine: Transformer.lmLoss, backward, AdamW (the loop of `reprise pretrain`). */
export function repriseTrainer(dev: Device, cfg: TransformerConfig = GPT, init?: Weights): Trainer {
  const liveBefore = dev.backend.memory().liveBytes;
  const model = init
    ? new Transformer(dev, cfg, deviceParams(dev, init), INIT_SEED)
    : Transformer.create(dev, cfg, INIT_SEED);
  const optimizer = new AdamW(Object.values(model.params), { ...ADAMW, noDecay: model.noDecay() });
  const lossOf = ({ tokens, targets, batch, seq }: Batch) => {
    const shape = [batch, seq];
    return model.lmLoss(dev.tensor(tokens, shape, 'i32'), dev.tensor(targets, shape, 'i32'), {
      lengths: dev.full([batch], seq, 'i32'),
      positions: dev.tensor(
        Int32Array.from({ length: batch * seq }, (_, i) => i % seq),
        shape,
        'i32',
      ),
    });
  };
  return graphTrainer(dev, liveBefore, optimizer, lossOf, () => model.dispose());
}

export type Weights = Record<string, { data: Float32Array; shape: number[] }>;

/** Our model's initial weights on the host, by parameter name. */
export async function initialWeights(cfg: TransformerConfig = GPT): Promise<Weights> {
  const model = Transformer.create(new Device(new CpuBackend()), cfg, INIT_SEED);
  const weights = await hostWeights(model.params);
  model.dispose();
  return weights;
}

/** Host weights as trainable parameters on `dev`. */
export function deviceParams(dev: Device, weights: Weights): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(weights).map(([name, w]) => [name, dev.tensor(w.data, w.shape).setRequiresGrad()]),
  );
}

/** Parameters copied to the host as float32, by name. */
export async function hostWeights(params: Record<string, Tensor>): Promise<Weights> {
  const entries = await Promise.all(
    Object.entries(params).map(async ([name, t]) => [
      name,
      { data: Float32Array.from(await t.hostData()), shape: [...t.shape] },
    ]),
  );
  return Object.fromEntries(entries);
}

/** The GPT's parameters exempt from weight decay, as declared by the model (params.ts). */
const gptNoDecay = (name: string) => noDecayNames(GPT).has(name);

/** Weights as the PyTorch peer's manifest lists them, with our no-decay set. */
export function weightsManifest(weights: Weights) {
  return {
    noDecay: Object.keys(weights).filter(gptNoDecay),
    params: Object.entries(weights).map(([name, w]) => ({ name, shape: w.shape, file: w.data })),
  };
}

/** tfjs's trainer on the active backend; peak memory from tf.profile (all tensors, variables included). */
function tfjsTrainer(tf: Tf, weights: Weights): Trainer {
  const gpt = new TfjsGpt(tf, GPT, weights, gptNoDecay, ADAMW);
  const step = (b: Batch) => gpt.step(b.tokens, b.targets, b.batch);
  return {
    step,
    peakBytes: async (b) => (await tf.profile(async () => void (await step(b)))).peakBytes,
    dispose: () => gpt.dispose(),
  };
}

/** The PyTorch twin's inputs: the same config, weights (by our names), optimizer and no-decay set, same batch. */
export function gptManifest(weights: Weights, timed: Batch, cfg: TransformerConfig = GPT): Manifest {
  return {
    kind: 'gpt',
    config: cfg,
    adamw: ADAMW,
    ...weightsManifest(weights),
    batch: { shape: [timed.batch, timed.seq], tokens: timed.tokens, targets: timed.targets },
  };
}

/** A trainer as a benchmark job: outputs = the losses of two steps on the timed batch, run = one more step. */
export function trainerJob<B>(trainer: Trainer<B>, timed: B): Job {
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
  // tfjs trains 8× slower than ours: at B 8 only, unless --full.
  const tfjsBatches = options.mode === 'full' ? [8, 16] : [8];
  noteTorchSkipped(options.note);
  const torch = torchPeer();
  options.note?.(
    `train peak MiB: ours, peak live GPU buffers above those before the model; tfjs, tf.profile's peakBytes${torch ? `; ${TORCH_IMPL}, the resident-memory high-water mark of one step above the process before the model was built (RSS after malloc_trim, so it includes allocator slack and is not exact to the byte)` : ''}`,
  );
  for (const batch of options.mode === 'quick' ? [8] : [8, 16]) {
    const timed = randomBatch(batch, 11);
    // One float64 twin run per batch (about a minute at B 8) checks every implementation.
    const twin = trainerJob(repriseTrainer(new Device(new CpuBackend())), timed);
    const expected = await twin.outputs();
    twin.dispose();
    const impls: ImplCase[] = [
      {
        impl: 'reprise-webgpu',
        adapter: gpu.adapter.description,
        build: () => trainerJob(repriseTrainer(dev), timed),
      },
      ...(torch
        ? [{ ...torch, build: () => torchTrainingJob(torch.python, gptManifest(weights, timed)) }]
        : []),
      ...(tfjsBatches.includes(batch)
        ? tfjsCases(
            gpu,
            (tf) => trainerJob(tfjsTrainer(tf, weights), timed),
            (b) => b !== 'cpu' || options.mode === 'full',
          )
        : []),
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
    if (ours === undefined) continue;
    // Issue 13: within 0.8× of PyTorch on the same cores; issue 6: 3× tfjs-webgpu on the same adapter.
    for (const [peer, wanted] of [
      [TORCH_IMPL, 0.8],
      ['tfjs-webgpu', 3],
    ] as const) {
      const theirs = at(peer);
      if (theirs !== undefined)
        options.target?.(atLeast(`training tokens/s vs ${peer} (B ${batch})`, wanted, ours / theirs));
    }
    // Issue 13: a step holds at most ¼ of what tfjs-webgpu holds (the factor by which theirs exceeds ours).
    const peak = (impl: string) => results.find((r) => r.impl === impl && r.shape[0] === batch)?.peak_bytes;
    const [ourPeak, tfjsPeak] = [peak('reprise-webgpu'), peak('tfjs-webgpu')];
    if (ourPeak && tfjsPeak)
      options.target?.(
        atLeast(`training peak memory: tfjs-webgpu's over ours (B ${batch})`, 4, tfjsPeak / ourPeak),
      );
  }
  results.push(...(await benchFinetune(gpu, options)));
  return results;
}
