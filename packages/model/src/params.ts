/**
 * @file The backbone's parameters, declared once: one spec per parameter (checkpoint name, shape, how it is
 * initialized, whether weight decay applies), from which initialization, the optimizer's no-decay set, the
 * parameter count and the checkpoint's expected shapes all follow. GPT-2 initialization: weights N(0, 0.02),
 * the residual branches' output projections N(0, 0.02/√(2L)), biases 0, LayerNorm gains 1; embeddings, biases
 * and LayerNorm parameters are exempt from weight decay.
 */
import { type Device, Rng, type Tensor } from '@reprise/core';
import type { TransformerConfig } from './config.ts';

export type ParamMap = Record<string, Tensor>;

export type ParamInit = { kind: 'zeros' } | { kind: 'ones' } | { kind: 'normal'; std: number };

export interface ParamSpec {
  shape: number[];
  init: ParamInit;
  /** AdamW's weight decay applies (matrices of linear layers only). */
  decay: boolean;
}

const GPT2_STD = 0.02;
const matrix = (shape: number[], std = GPT2_STD): ParamSpec => ({
  shape,
  init: { kind: 'normal', std },
  decay: true,
});
const bias = (n: number): ParamSpec => ({ shape: [n], init: { kind: 'zeros' }, decay: false });
const gain = (n: number): ParamSpec => ({ shape: [n], init: { kind: 'ones' }, decay: false });
const embedding = (shape: number[]): ParamSpec => ({
  shape,
  init: { kind: 'normal', std: GPT2_STD },
  decay: false,
});

/** A block's parameters by role (the keys the block code reads) → checkpoint names. */
export const blockParamNames = (l: number) => ({
  ln1W: `blocks.${l}.ln1.weight`,
  ln1B: `blocks.${l}.ln1.bias`,
  qW: `blocks.${l}.attn.q.weight`,
  qB: `blocks.${l}.attn.q.bias`,
  kW: `blocks.${l}.attn.k.weight`,
  kB: `blocks.${l}.attn.k.bias`,
  vW: `blocks.${l}.attn.v.weight`,
  vB: `blocks.${l}.attn.v.bias`,
  attnOutW: `blocks.${l}.attn.proj.weight`,
  attnOutB: `blocks.${l}.attn.proj.bias`,
  ln2W: `blocks.${l}.ln2.weight`,
  ln2B: `blocks.${l}.ln2.bias`,
  mlpUpW: `blocks.${l}.mlp.fc.weight`,
  mlpUpB: `blocks.${l}.mlp.fc.bias`,
  mlpDownW: `blocks.${l}.mlp.proj.weight`,
  mlpDownB: `blocks.${l}.mlp.proj.bias`,
});

/** Every backbone parameter, in the fixed order of checkpoints, optimizers and initialization. */
export function paramSpecs(cfg: TransformerConfig): Record<string, ParamSpec> {
  const { vocabSize: v, dModel: d, dFF: f } = cfg;
  // Each residual branch adds its output projection to the stream: scaled down so the sum over 2L branches
  // keeps the stream's variance (GPT-2).
  const residualStd = GPT2_STD / Math.sqrt(2 * cfg.layers);
  const specs: Record<string, ParamSpec> = { 'embed.tokens': embedding([v, d]) };
  if (cfg.positions === 'learned') specs['embed.positions'] = embedding([cfg.maxPositions, d]);
  for (let l = 0; l < cfg.layers; l++) {
    const n = blockParamNames(l);
    Object.assign(specs, {
      [n.ln1W]: gain(d),
      [n.ln1B]: bias(d),
      [n.qW]: matrix([d, d]),
      [n.qB]: bias(d),
      [n.kW]: matrix([d, d]),
      [n.kB]: bias(d),
      [n.vW]: matrix([d, d]),
      [n.vB]: bias(d),
      [n.attnOutW]: matrix([d, d], residualStd),
      [n.attnOutB]: bias(d),
      [n.ln2W]: gain(d),
      [n.ln2B]: bias(d),
      [n.mlpUpW]: matrix([d, f]),
      [n.mlpUpB]: bias(f),
      [n.mlpDownW]: matrix([f, d], residualStd),
      [n.mlpDownB]: bias(d),
    });
  }
  specs['norm.weight'] = gain(d);
  specs['norm.bias'] = bias(d);
  if (!cfg.tieEmbeddings) specs['lmHead.weight'] = matrix([v, d]);
  return specs;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The shape of every backbone parameter, in the fixed order. */
export function paramShapes(cfg: TransformerConfig): Record<string, number[]> {
  return Object.fromEntries(Object.entries(paramSpecs(cfg)).map(([name, s]) => [name, s.shape]));
}

/** Scalars in the backbone's parameters. */
export function parameterCount(cfg: TransformerConfig): number {
  return Object.values(paramSpecs(cfg)).reduce((a, s) => a + numel(s.shape), 0);
}

/** Names of the parameters exempt from weight decay. */
export function noDecayNames(cfg: TransformerConfig): Set<string> {
  return new Set(
    Object.entries(paramSpecs(cfg))
      .filter(([, s]) => !s.decay)
      .map(([name]) => name),
  );
}

/** Fresh parameters from their specs; the normal draws come from one generator, in the specs' order. */
export function initParams(device: Device, cfg: TransformerConfig, seed: number): ParamMap {
  const rng = new Rng(seed);
  const params: ParamMap = {};
  for (const [name, { shape, init }] of Object.entries(paramSpecs(cfg))) {
    const t =
      init.kind === 'zeros'
        ? device.zeros(shape)
        : init.kind === 'ones'
          ? device.ones(shape)
          : device.randn(shape, { rng, std: init.std });
    params[name] = t.setRequiresGrad();
  }
  return params;
}
