/**
 * @file The backbone's parameters by name (the names used in checkpoints), with GPT-2 initialization:
 * weights N(0, 0.02), residual output projections N(0, 0.02/√(2L)), biases 0, LayerNorm gains 1.
 */
import { type Device, Rng, type Tensor } from '@reprise/core';
import type { TransformerConfig } from './config.ts';

export type ParamMap = Record<string, Tensor>;

export const blockParamNames = (l: number) => ({
  ln1W: `blocks.${l}.ln1.weight`,
  ln1B: `blocks.${l}.ln1.bias`,
  qW: `blocks.${l}.attn.q.weight`,
  qB: `blocks.${l}.attn.q.bias`,
  kW: `blocks.${l}.attn.k.weight`,
  kB: `blocks.${l}.attn.k.bias`,
  vW: `blocks.${l}.attn.v.weight`,
  vB: `blocks.${l}.attn.v.bias`,
  projW: `blocks.${l}.attn.proj.weight`,
  projB: `blocks.${l}.attn.proj.bias`,
  ln2W: `blocks.${l}.ln2.weight`,
  ln2B: `blocks.${l}.ln2.bias`,
  fcW: `blocks.${l}.mlp.fc.weight`,
  fcB: `blocks.${l}.mlp.fc.bias`,
  outW: `blocks.${l}.mlp.proj.weight`,
  outB: `blocks.${l}.mlp.proj.bias`,
});

/** The shape of every backbone parameter, in a fixed order. */
export function paramShapes(cfg: TransformerConfig): Record<string, number[]> {
  const { vocabSize: v, dModel: d, dFF: f } = cfg;
  const shapes: Record<string, number[]> = { 'embed.tokens': [v, d] };
  if (cfg.positions === 'learned') shapes['embed.positions'] = [cfg.maxPositions, d];
  for (let l = 0; l < cfg.layers; l++) {
    const n = blockParamNames(l);
    Object.assign(shapes, {
      [n.ln1W]: [d],
      [n.ln1B]: [d],
      [n.qW]: [d, d],
      [n.qB]: [d],
      [n.kW]: [d, d],
      [n.kB]: [d],
      [n.vW]: [d, d],
      [n.vB]: [d],
      [n.projW]: [d, d],
      [n.projB]: [d],
      [n.ln2W]: [d],
      [n.ln2B]: [d],
      [n.fcW]: [d, f],
      [n.fcB]: [f],
      [n.outW]: [f, d],
      [n.outB]: [d],
    });
  }
  shapes['norm.weight'] = [d];
  shapes['norm.bias'] = [d];
  if (!cfg.tieEmbeddings) shapes['lmHead.weight'] = [v, d];
  return shapes;
}

/** Names exempt from weight decay: biases, LayerNorm parameters and embeddings. */
export function isNoDecay(name: string): boolean {
  return name.endsWith('.bias') || /(^|\.)(ln\d|norm)\./.test(name) || name.startsWith('embed.');
}

export function initParams(device: Device, cfg: TransformerConfig, seed: number): ParamMap {
  const rng = new Rng(seed);
  const residualStd = 0.02 / Math.sqrt(2 * cfg.layers);
  const params: ParamMap = {};
  for (const [name, shape] of Object.entries(paramShapes(cfg))) {
    let t: Tensor;
    if (name.endsWith('.bias')) t = device.zeros(shape);
    else if (/ln\d\.weight$|norm\.weight$/.test(name)) t = device.ones(shape);
    else {
      const std = /attn\.proj\.weight$|mlp\.proj\.weight$/.test(name) ? residualStd : 0.02;
      t = device.randn(shape, { rng, std });
    }
    params[name] = t.setRequiresGrad();
  }
  return params;
}
