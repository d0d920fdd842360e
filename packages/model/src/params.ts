/**
 * @file The backbone's parameters, declared once: one spec per parameter (checkpoint name, shape, how it is
 * initialized, whether weight decay applies), from which initialization, the optimizer's no-decay set, the
 * parameter count and the checkpoint's expected shapes all follow. GPT-2 initialization: weights N(0, 0.02),
 * the residual branches' output projections N(0, 0.02/√(2L)), biases 0, norm gains 1; embeddings, biases
 * and norm parameters are exempt from weight decay. The variant (config.ts: norm, MLP, grouped-query heads,
 * biases) decides which parameters a block has; today's GPT-2 block keeps its names, order and initialization.
 */
import { type Device, Rng, type Tensor } from '@reprise/core';
import { type TransformerConfig, architecture } from './config.ts';
import { rowBlockName, rowBlockStarts } from './row-blocks.ts';

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

/** A block's parameters by the role the block code reads them under. */
export type BlockRole =
  | 'ln1W'
  | 'ln1B'
  | 'qW'
  | 'qB'
  | 'kW'
  | 'kB'
  | 'vW'
  | 'vB'
  | 'attnOutW'
  | 'attnOutB'
  | 'ln2W'
  | 'ln2B'
  | 'mlpGateW'
  | 'mlpGateB'
  | 'mlpUpW'
  | 'mlpUpB'
  | 'mlpDownW'
  | 'mlpDownB';

/**
 * Block l's parameters in checkpoint order: role → checkpoint name and spec. Roles the variant lacks (biases it
 * has none of, the norms' biases under RMSNorm, the gate of a GELU MLP) are absent. The GELU MLP keeps GPT-2's
 * names (`mlp.fc`, `mlp.proj`); SwiGLU's three projections are `mlp.gate`, `mlp.up` and `mlp.down`.
 */
export function blockParams(cfg: TransformerConfig, l: number): Partial<Record<BlockRole, NamedSpec>> {
  const { dModel: d, dFF: f } = cfg;
  const a = architecture(cfg);
  const kv = a.kvDim;
  // Each residual branch adds its output projection to the stream: scaled down so the sum over 2L branches
  // keeps the stream's variance (GPT-2).
  const residualStd = GPT2_STD / Math.sqrt(2 * cfg.layers);
  const layerNorm = a.norm === 'layer';
  const b = `blocks.${l}`;
  const mlp: Slot[] =
    a.mlp === 'swiglu'
      ? [
          ['mlpGateW', `${b}.mlp.gate.weight`, matrix([d, f])],
          ['mlpGateB', `${b}.mlp.gate.bias`, a.mlpBias && bias(f)],
          ['mlpUpW', `${b}.mlp.up.weight`, matrix([d, f])],
          ['mlpUpB', `${b}.mlp.up.bias`, a.mlpBias && bias(f)],
          ['mlpDownW', `${b}.mlp.down.weight`, matrix([f, d], residualStd)],
          ['mlpDownB', `${b}.mlp.down.bias`, a.mlpBias && bias(d)],
        ]
      : [
          ['mlpUpW', `${b}.mlp.fc.weight`, matrix([d, f])],
          ['mlpUpB', `${b}.mlp.fc.bias`, a.mlpBias && bias(f)],
          ['mlpDownW', `${b}.mlp.proj.weight`, matrix([f, d], residualStd)],
          ['mlpDownB', `${b}.mlp.proj.bias`, a.mlpBias && bias(d)],
        ];
  const slots: Slot[] = [
    ['ln1W', `${b}.ln1.weight`, gain(d)],
    ['ln1B', `${b}.ln1.bias`, layerNorm && bias(d)],
    ['qW', `${b}.attn.q.weight`, matrix([d, d])],
    ['qB', `${b}.attn.q.bias`, a.qkvBias && bias(d)],
    ['kW', `${b}.attn.k.weight`, matrix([d, kv])],
    ['kB', `${b}.attn.k.bias`, a.qkvBias && bias(kv)],
    ['vW', `${b}.attn.v.weight`, matrix([d, kv])],
    ['vB', `${b}.attn.v.bias`, a.qkvBias && bias(kv)],
    ['attnOutW', `${b}.attn.proj.weight`, matrix([d, d], residualStd)],
    ['attnOutB', `${b}.attn.proj.bias`, a.attnOutBias && bias(d)],
    ['ln2W', `${b}.ln2.weight`, gain(d)],
    ['ln2B', `${b}.ln2.bias`, layerNorm && bias(d)],
    ...mlp,
  ];
  return Object.fromEntries(
    slots.flatMap(([role, name, spec]) => (spec ? [[role, { name, spec }]] : [])),
  ) as Partial<Record<BlockRole, NamedSpec>>;
}

interface NamedSpec {
  name: string;
  spec: ParamSpec;
}
/** role, checkpoint name, spec (false where the variant has no such parameter). */
type Slot = [BlockRole, string, ParamSpec | false];

/** Every backbone parameter, in the fixed order of checkpoints, optimizers and initialization. */
export function paramSpecs(cfg: TransformerConfig): Record<string, ParamSpec> {
  const { vocabSize: v, dModel: d } = cfg;
  const specs: Record<string, ParamSpec> = { 'embed.tokens': embedding([v, d]) };
  if (cfg.positions === 'learned') specs['embed.positions'] = embedding([cfg.maxPositions, d]);
  for (let l = 0; l < cfg.layers; l++) {
    for (const { name, spec } of Object.values(blockParams(cfg, l))) specs[name] = spec;
  }
  specs['norm.weight'] = gain(d);
  if (architecture(cfg).norm === 'layer') specs['norm.bias'] = bias(d);
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

/**
 * The first rows of each parameter's blocks on an adapter whose largest bindable buffer is `maxBufferBytes`
 * ([0]: held whole; row-blocks.ts). Throws, naming it, for a parameter that cannot be held at all.
 */
export function rowBlockLayout(cfg: TransformerConfig, maxBufferBytes: number): Record<string, number[]> {
  return Object.fromEntries(
    Object.entries(paramShapes(cfg)).map(([name, shape]) => [
      name,
      rowBlockStarts(name, shape, maxBufferBytes),
    ]),
  );
}

/**
 * Fresh parameters from their specs; the normal draws come from one generator, in the specs' order. A parameter
 * above the device's largest bindable buffer is made as row blocks (row-blocks.ts) from the same draws, so it holds
 * the same values as on an adapter that binds it whole.
 */
export function initParams(device: Device, cfg: TransformerConfig, seed: number): ParamMap {
  const rng = new Rng(seed);
  const layout = rowBlockLayout(cfg, device.backend.adapter.maxBufferBytes);
  const params: ParamMap = {};
  for (const [name, { shape, init }] of Object.entries(paramSpecs(cfg))) {
    const starts = layout[name]!;
    starts.forEach((start, b) => {
      const block = starts.length === 1 ? shape : [(starts[b + 1] ?? shape[0]!) - start, ...shape.slice(1)];
      const t =
        init.kind === 'zeros'
          ? device.zeros(block)
          : init.kind === 'ones'
            ? device.ones(block)
            : device.randn(block, { rng, std: init.std });
      params[starts.length === 1 ? name : rowBlockName(name, start)] = t.setRequiresGrad();
    });
  }
  return params;
}
