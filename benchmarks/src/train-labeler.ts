/**
 * @file The fine-tuning case of `bench train`: the demo's labeler (`reprise demo`: a 4-layer d 128 decoder with
 * rotary positions, POS tags of Brown, SR with positions reset per copy, AdamW lr 2e-3, weight decay 0.05,
 * clipping at 1) trained on one batch of real Brown sentences, r = 0 and r = 1, ours and the PyTorch twin.
 * Differences from the demo, for a check that can be exact: the backbone is freshly initialized (not
 * pretrained), without dropout, at a constant learning rate. Tokens/s counts the sentences' subwords, not the
 * repeated copies (as `reprise finetune` logs it). Every implementation's first loss and the drop after one
 * step are checked against our float64 CPU twin on the timed batch first.
 */
import { AdamW, Device } from '@reprise/core';
import { CpuBackend, type WebGpuBackend } from '@reprise/kernels';
import {
  IGNORE_LABEL,
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  makeConfig,
  repeatBatch,
} from '@reprise/model';
import { brownTaskData, trainBpe } from '@reprise/train';
import { type ImplCase, measureJob } from './job.ts';
import { type Manifest, torchPeer, torchTrainingJob } from './peers/torch.ts';
import type { Measurement, SuiteOptions } from './report.ts';
import {
  type Trainer,
  type Weights,
  checkLosses,
  deviceParams,
  graphTrainer,
  hostWeights,
  trainerJob,
  weightsManifest,
} from './train.ts';

/** The demo's model (packages/train/src/cli/commands/demo.ts DEMO), without dropout. */
const MODEL = makeConfig({ vocabSize: 4000, dModel: 128, heads: 4, layers: 4, dropout: 0 });
/** FINETUNE_DEFAULTS with the demo's learning rate. */
export const OPTIMIZER = {
  lr: 2e-3,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  weightDecay: 0.05,
  maxGradNorm: 1,
};
const POSITIONS = 'reset' as const;
const SEED = 5;

export interface LabeledBatch {
  /** Subword ids per sentence. */
  ids: number[][];
  /** [B·N] (N = longest sentence): each word's label on its first subword, IGNORE_LABEL elsewhere. */
  labels: Int32Array;
  numLabels: number;
  /** Subwords in the batch (what tokens/s counts). */
  tokens: number;
}

/**
 * `size` Brown training sentences of median length among the first 50 batches' worth (the length-bucketed
 * pool `reprise finetune` batches from), tokenized by a BPE of the demo's size trained on those sentences.
 */
export function brownBatch(size: number): LabeledBatch {
  const pool = brownTaskData('pos-brown', 50 * size, 1).train;
  const tokenizer = trainBpe(
    pool.map((s) => s.words),
    { vocabSize: MODEL.vocabSize },
  );
  const names = [...new Set(pool.flatMap((s) => s.labels))].sort();
  const encoded = pool
    .map((s) => ({ s, enc: tokenizer.encodeWords(s.words) }))
    .sort((a, b) => a.enc.ids.length - b.enc.ids.length);
  const start = Math.floor((encoded.length - size) / 2);
  const chosen = encoded.slice(start, start + size);
  const longest = Math.max(...chosen.map((c) => c.enc.ids.length));
  const labels = new Int32Array(size * longest).fill(IGNORE_LABEL);
  chosen.forEach(({ s, enc }, b) =>
    enc.firstTokenOfWord.forEach((t, w) => {
      labels[b * longest + t] = names.indexOf(s.labels[w]!);
    }),
  );
  return {
    ids: chosen.map((c) => c.enc.ids),
    labels,
    numLabels: names.length,
    tokens: chosen.reduce((n, c) => n + c.enc.ids.length, 0),
  };
}

/** The demo's labeler, freshly initialized or from `init` (backbone and head weights by our names). */
function makeLabeler(
  dev: Device,
  numLabels: number,
  r: number,
  cfg: TransformerConfig,
  init?: Weights,
): SequenceLabeler {
  const options = { numLabels, r, positions: POSITIONS, headDropout: 0, seed: SEED };
  if (!init) return new SequenceLabeler(Transformer.create(dev, cfg, 1), options);
  const { 'head.weight': w, 'head.bias': b, ...backbone } = deviceParams(dev, init);
  return new SequenceLabeler(new Transformer(dev, cfg, backbone), options, {
    'head.weight': w!,
    'head.bias': b!,
  });
}

/** Our fine-tuning step (the loop of `reprise finetune`): layout, loss, backward, clipped AdamW. */
export function labelerTrainer(
  dev: Device,
  numLabels: number,
  r: number,
  cfg: TransformerConfig = MODEL,
  init?: Weights,
): Trainer<LabeledBatch> {
  const liveBefore = dev.backend.memory().liveBytes;
  return labelerStepTrainer(dev, liveBefore, makeLabeler(dev, numLabels, r, cfg, init), OPTIMIZER);
}

/** The fine-tuning step of a built labeler: its trainable parameters under clipped AdamW. */
export function labelerStepTrainer(
  dev: Device,
  liveBefore: number,
  labeler: SequenceLabeler,
  settings: typeof OPTIMIZER,
): Trainer<LabeledBatch> {
  const optimizer = new AdamW(Object.values(labeler.params()), {
    ...settings,
    noDecay: labeler.noDecay(),
  });
  return graphTrainer(
    dev,
    liveBefore,
    optimizer,
    (b: LabeledBatch) => labeler.loss(labeler.layout(b.ids), b.labels, true),
    () => labeler.dispose(),
  );
}

/** The labeler's initial weights (backbone and head), by our names. */
export async function labelerWeights(
  numLabels: number,
  r: number,
  cfg: TransformerConfig = MODEL,
): Promise<Weights> {
  const labeler = makeLabeler(new Device(new CpuBackend()), numLabels, r, cfg);
  const weights = await hostWeights(labeler.params());
  labeler.dispose();
  return weights;
}

/** The PyTorch twin's inputs: config, weights, optimizer, and our repetition layout of the batch. */
export async function labelerManifest(
  batch: LabeledBatch,
  r: number,
  cfg: TransformerConfig = MODEL,
  weights?: Weights,
): Promise<Manifest> {
  // SequenceLabeler.layout's arguments: no separator, the demo's positions, no cap (rotary).
  const layout = repeatBatch(
    batch.ids,
    { r, separator: null, positions: POSITIONS },
    { maxPositions: Number.POSITIVE_INFINITY },
  );
  return {
    kind: 'labeler',
    config: cfg,
    numLabels: batch.numLabels,
    adamw: OPTIMIZER,
    ...weightsManifest(weights ?? (await labelerWeights(batch.numLabels, r, cfg))),
    layout: {
      batch: layout.batch,
      seq: layout.seq,
      baseSeq: layout.baseSeq,
      baseTokens: layout.baseTokens,
      repeatIndex: layout.repeatIndex,
      positions: layout.positions,
      lengths: layout.lengths,
      lastCopyRows: layout.lastCopyRows,
      labels: batch.labels,
    },
  };
}

export async function benchFinetune(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  // The demo's batch of 32; 16 with --quick (our float64 twin checks each r on the timed batch).
  const size = options.mode === 'quick' ? 16 : 32;
  const batch = brownBatch(size);
  const torch = torchPeer();
  const results: Measurement[] = [];
  for (const r of [0, 1]) {
    const twin = trainerJob(labelerTrainer(new Device(new CpuBackend()), batch.numLabels, r), batch);
    const expected = await twin.outputs();
    twin.dispose();
    const impls: ImplCase[] = [
      {
        impl: 'reprise-webgpu',
        adapter: gpu.adapter.description,
        build: () => trainerJob(labelerTrainer(dev, batch.numLabels, r), batch),
      },
      ...(torch
        ? [{ ...torch, build: async () => torchTrainingJob(torch.python, await labelerManifest(batch, r)) }]
        : []),
    ];
    for (const { impl, adapter, build } of impls) {
      const base = {
        bench: 'finetune step',
        shape: [size, r],
        label: `demo labeler, Brown POS, ${r === 0 ? 'causal r = 0' : `SR r = ${r}`}, B ${size} (${batch.tokens} subwords)`,
        impl,
        adapter,
      };
      const m = await measureJob(base, build, (o) => checkLosses(o, expected), {});
      if (m.median_ms) m.tokens_per_s = (batch.tokens * 1000) / m.median_ms;
      results.push(m);
      options.progress?.(m);
    }
  }
  return results;
}
