/**
 * @file The two training steps `bench profile` takes apart, as three phases each (forward with the loss,
 * backward, optimizer): the pretraining step of `bench train`'s GPT (B 8 × T 128) and one SR fine-tuning step
 * of the demo's labeler (rotary decoder d 128, 4 layers, SR r = 1 with positions reset, last-copy-only last
 * layer, 187 labels, batch of 32 sentences of ~25 subwords with random ids and labels: the shape of a Brown
 * batch, not its text). Both with AdamW as their trainers set it up.
 */
import { AdamW, type Device, Rng, type Tensor } from '@reprise/core';
import { IGNORE_LABEL, SequenceLabeler, Transformer, makeConfig } from '@reprise/model';
import { GPT } from './train.ts';

export interface StepCase {
  name: string;
  label: string;
  /** Tokens the step trains on (the sentences' own subwords for fine-tuning, before repetition). */
  tokens: number;
  /** Zeroes the gradients and builds the loss (a scalar on the graph). */
  forward(): Tensor;
  optimizer: AdamW;
  dispose(): void;
}

export const CASES = ['pretrain', 'finetune'] as const;
export type CaseName = (typeof CASES)[number];

const SEQ = 128;
const PRETRAIN_BATCH = 8;

function pretrainCase(dev: Device): StepCase {
  const model = Transformer.create(dev, GPT, 1);
  const optimizer = new AdamW(Object.values(model.params), {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0.01,
    noDecay: model.noDecay(),
  });
  const rng = new Rng(11);
  const n = PRETRAIN_BATCH * SEQ;
  const tokens = Int32Array.from({ length: n }, () => rng.int(GPT.vocabSize));
  const targets = Int32Array.from({ length: n }, () => rng.int(GPT.vocabSize));
  const positions = Int32Array.from({ length: n }, (_, i) => i % SEQ);
  const shape = [PRETRAIN_BATCH, SEQ];
  return {
    name: 'pretrain',
    label: `GPT pretraining step (bench train): vocab ${GPT.vocabSize}, d ${GPT.dModel}, ${GPT.layers} layers, ${GPT.heads} heads, learned positions, B ${PRETRAIN_BATCH} × T ${SEQ}, AdamW`,
    tokens: n,
    forward: () => {
      optimizer.zeroGrad();
      return model.lmLoss(dev.tensor(tokens, shape, 'i32'), dev.tensor(targets, shape, 'i32'), {
        lengths: dev.full([PRETRAIN_BATCH], SEQ, 'i32'),
        positions: dev.tensor(positions, shape, 'i32'),
      });
    },
    optimizer,
    dispose: () => {
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** The demo's backbone (`DEMO.model`, vocab 4000) and fine-tuning recipe (FINETUNE_DEFAULTS, lr 2e-3). */
const DEMO_BACKBONE = makeConfig({ vocabSize: 4000, dModel: 128, heads: 4, layers: 4, dropout: 0.1 });
const BROWN_TAGS = 187;
const FINETUNE_BATCH = 32;

function finetuneCase(dev: Device): StepCase {
  const labeler = new SequenceLabeler(Transformer.create(dev, DEMO_BACKBONE, 1), {
    numLabels: BROWN_TAGS,
    r: 1,
    positions: 'reset',
    lastCopyOnly: true,
    headDropout: 0.1,
    seed: 5,
  });
  const named = labeler.params();
  const optimizer = new AdamW(Object.values(named), {
    lr: 2e-3,
    weightDecay: 0.05,
    maxGradNorm: 1,
    noDecay: labeler.noDecay(),
  });
  // Length-bucketed batches hold sentences of similar length: 22–28 subwords here, ~3 in 4 carrying a label.
  const rng = new Rng(7);
  const sentences = Array.from({ length: FINETUNE_BATCH }, () =>
    Array.from({ length: 22 + rng.int(7) }, () => rng.int(DEMO_BACKBONE.vocabSize)),
  );
  const layout = labeler.layout(sentences);
  const labels = new Int32Array(FINETUNE_BATCH * layout.baseSeq).fill(IGNORE_LABEL);
  sentences.forEach((s, b) => {
    for (let i = 0; i < s.length; i++)
      if (rng.uniform() < 0.75) labels[b * layout.baseSeq + i] = rng.int(BROWN_TAGS);
  });
  return {
    name: 'finetune',
    label: `SR r = 1 fine-tuning step (the demo's labeler): rotary decoder vocab ${DEMO_BACKBONE.vocabSize}, d ${DEMO_BACKBONE.dModel}, ${DEMO_BACKBONE.layers} layers, positions reset, last-copy-only last layer, ${BROWN_TAGS} labels, ${FINETUNE_BATCH} sentences of 22–28 random subword ids, dropout 0.1, AdamW with clipping`,
    tokens: sentences.reduce((a, s) => a + s.length, 0),
    forward: () => {
      optimizer.zeroGrad();
      // The layout is host work of every real step: made again here, as the training loop does.
      return labeler.loss(labeler.layout(sentences), labels, true);
    },
    optimizer,
    dispose: () => {
      optimizer.dispose();
      labeler.dispose();
    },
  };
}

export function buildCase(name: CaseName, dev: Device): StepCase {
  return name === 'pretrain' ? pretrainCase(dev) : finetuneCase(dev);
}
