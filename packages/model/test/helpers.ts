/**
 * Shared by the model tests: a small config, the Llama and Qwen2 block variants, and right-context influence
 * measured by gradients (how much the head's output at word i depends on each word's input embedding; a word the
 * output cannot see gets exactly zero).
 */
import { tidy } from '@reprise/core';
import { type SequenceLabeler, type TransformerConfig, makeConfig } from '../src/index.ts';

/** A 4-layer model small enough for float64 gradient checks on the CPU. */
export const smallConfig = (over: Partial<TransformerConfig> = {}) =>
  makeConfig({
    vocabSize: 23,
    dModel: 16,
    heads: 2,
    layers: 4,
    dFF: 32,
    maxPositions: 64,
    dropout: 0,
    ...over,
  });

/** The Llama family's block (RMSNorm, SwiGLU, 2 key/value heads for 4 query heads, no biases, untied head). */
export const LLAMA_FIELDS = {
  heads: 4,
  kvHeads: 2,
  norm: 'rms',
  normEps: 1e-6,
  mlp: 'swiglu',
  ropeTheta: 500000,
  qkvBias: false,
  attnOutBias: false,
  mlpBias: false,
  tieEmbeddings: false,
} as const satisfies Partial<TransformerConfig>;

/** Qwen2's: Llama's with biases on q, k and v only, and a tied head. */
export const QWEN2_FIELDS = {
  ...LLAMA_FIELDS,
  ropeTheta: 1000000,
  qkvBias: true,
  tieEmbeddings: true,
} as const satisfies Partial<TransformerConfig>;

/**
 * ∂(Σ_c w_c · logit_c at word i)/∂(input embedding of word j), its squared norm for every word j of `sentence`.
 * `w` weighs the labels (one per label) so that no direction of the head's output is left out by cancellation.
 */
export async function influence(
  l: SequenceLabeler,
  sentence: readonly number[],
  i: number,
  w: readonly number[],
): Promise<number[]> {
  const layout = l.layout([[...sentence]]);
  const dim = l.backbone.config.dModel;
  const emb = tidy(() => l.embed(layout).detach()).setRequiresGrad();
  tidy(() => {
    l.forwardEmbedded(emb, layout)
      .slice([0, i], [1, i + 1])
      .mul(l.backbone.device.tensor([...w], [w.length]))
      .sum()
      .backward();
  });
  const g = await emb.grad!.hostData();
  emb.dispose();
  return sentence.map((_, j) => {
    let s = 0;
    for (let k = 0; k < dim; k++) s += g[j * dim + k]! ** 2;
    return s;
  });
}
