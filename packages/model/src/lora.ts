/**
 * @file LoRA (Hu et al., 2021), the paper's fine-tuning method: a frozen projection x·W (+ b) gains a trainable
 * low-rank term, y = x·W (+ b) + (α/r)·dropout(x)·A·B with A [in, r] and B [r, out]. A starts Kaiming-uniform as
 * PEFT's `reset_lora_parameters` draws it (U(±1/√in)) and B at zero, so a fresh adapter leaves the model's
 * output unchanged. Built from existing ops (matmul with its residual epilogue, scale, dropout): no kernel of its
 * own. `attachLora` freezes the backbone (its weights get no gradient and so no optimizer state); `mergeLora`
 * folds the adapters into the weights (W + (α/r)·A·B) for a plain checkpoint or an export.
 */
import { type Device, Rng, type Tensor, dropout, matmul, noGrad, tidy } from '@reprise/core';
import { CONFIG_FIELD_LIMITS } from './config-limits.ts';
import type { TransformerConfig } from './config.ts';
import { type BlockRole, type ParamMap, blockParams } from './params.ts';
import type { Transformer } from './transformer.ts';

/** The projections an adapter can sit on: attention q, k, v, o and the MLP's gate, up and down. */
export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];
/** The paper's reference code adapts the attention projections. */
export const DEFAULT_LORA_TARGETS: readonly LoraTarget[] = ['q', 'k', 'v', 'o'];

/** The block role (params.ts) of each target's weight. GELU's MLP has `up` (mlp.fc) and `down` (mlp.proj). */
const TARGET_ROLE: Record<LoraTarget, BlockRole> = {
  q: 'qW',
  k: 'kW',
  v: 'vW',
  o: 'attnOutW',
  gate: 'mlpGateW',
  up: 'mlpUpW',
  down: 'mlpDownW',
};

export interface LoraConfig {
  rank: number;
  /** The update is scaled by alpha / rank. */
  alpha: number;
  /** Dropout on the adapter's input while training (PEFT's lora_dropout). */
  dropout: number;
  targets: LoraTarget[];
}

/**
 * The paper's recipe where unset: α = rank (its rank 16 with α 16: a scale of 1), dropout 0.1, q, k, v and o.
 */
export function makeLoraConfig(partial: Partial<LoraConfig> & Pick<LoraConfig, 'rank'>): LoraConfig {
  return {
    rank: partial.rank,
    alpha: partial.alpha ?? partial.rank,
    dropout: partial.dropout ?? 0.1,
    targets: [...(partial.targets ?? DEFAULT_LORA_TARGETS)],
  };
}

/** Throws, naming the field, what was expected and what was found, unless `lora` fits the model `cfg`. */
export function validateLoraConfig(cfg: TransformerConfig, lora: LoraConfig): void {
  // Capped as dModel is (config-limits.ts), so that a rank cannot size an allocation past the model's own.
  const maxRank = CONFIG_FIELD_LIMITS.dModel;
  if (!Number.isInteger(lora.rank) || lora.rank < 1 || lora.rank > maxRank)
    throw new Error(`lora.rank must be an integer in 1..${maxRank}, got ${lora.rank}`);
  if (!(typeof lora.alpha === 'number' && Number.isFinite(lora.alpha) && lora.alpha > 0))
    throw new Error(`lora.alpha must be a finite number > 0, got ${lora.alpha}`);
  if (!(typeof lora.dropout === 'number' && lora.dropout >= 0 && lora.dropout < 1))
    throw new Error(`lora.dropout must be in [0, 1), got ${lora.dropout}`);
  if (!Array.isArray(lora.targets) || lora.targets.length === 0)
    throw new Error(`lora.targets must name at least one of ${LORA_TARGETS.join(', ')}`);
  const seen = new Set<string>();
  for (const t of lora.targets) {
    if (!(LORA_TARGETS as readonly string[]).includes(t))
      throw new Error(
        `lora.targets: '${t}' is not a projection (expected some of ${LORA_TARGETS.join(', ')})`,
      );
    if (seen.has(t)) throw new Error(`lora.targets: '${t}' is listed twice`);
    seen.add(t);
  }
  // A rank above a projection's min(in, out) adds nothing, but PEFT allows it (and tiny test models meet it).
  const roles = blockParams(cfg, 0);
  for (const t of lora.targets)
    if (!roles[TARGET_ROLE[t]])
      throw new Error(
        `lora.targets: this model has no '${t}' projection (its MLP is '${cfg.mlp ?? 'gelu'}'; 'gate' needs SwiGLU)`,
      );
}

interface AdapterSpec {
  layer: number;
  role: BlockRole;
  /** The adapted weight's checkpoint name (params.ts). */
  weight: string;
  a: { name: string; shape: [number, number] };
  b: { name: string; shape: [number, number] };
}

/**
 * Every adapter in a fixed order (per layer, per target as listed): A is `<weight>.lora_A` [in, r] and B
 * `<weight>.lora_B` [r, out], named after the weight they adapt (`blocks.0.attn.q.lora_A`).
 */
export function loraSpecs(cfg: TransformerConfig, lora: LoraConfig): AdapterSpec[] {
  validateLoraConfig(cfg, lora);
  const out: AdapterSpec[] = [];
  for (let layer = 0; layer < cfg.layers; layer++) {
    const roles = blockParams(cfg, layer);
    for (const t of lora.targets) {
      const role = TARGET_ROLE[t];
      const { name, spec } = roles[role]!;
      const [fanIn, fanOut] = spec.shape as [number, number];
      const stem = name.replace(/\.weight$/, '');
      out.push({
        layer,
        role,
        weight: name,
        a: { name: `${stem}.lora_A`, shape: [fanIn, lora.rank] },
        b: { name: `${stem}.lora_B`, shape: [lora.rank, fanOut] },
      });
    }
  }
  return out;
}

/** The shape of every adapter tensor, in the fixed order (what a checkpoint of adapters must hold). */
export function loraShapes(cfg: TransformerConfig, lora: LoraConfig): Record<string, number[]> {
  return Object.fromEntries(
    loraSpecs(cfg, lora).flatMap((s) => [
      [s.a.name, s.a.shape],
      [s.b.name, s.b.shape],
    ]),
  );
}

/** One adapter as the block reads it. */
export interface Adapter {
  a: Tensor;
  b: Tensor;
  /** alpha / rank. */
  scale: number;
}

/** The adapters of a backbone: their config, tensors by name, and each one by (layer, role). */
export class LoraAdapters {
  readonly model: TransformerConfig;
  readonly config: LoraConfig;
  readonly params: ParamMap;
  readonly #specs: AdapterSpec[];
  readonly #byRole = new Map<string, Adapter>();

  constructor(model: TransformerConfig, config: LoraConfig, params: ParamMap) {
    const specs = loraSpecs(model, config);
    const shapes = loraShapes(model, config);
    for (const [name, shape] of Object.entries(shapes)) {
      const t = params[name];
      if (!t) throw new Error(`LoRA: adapter '${name}' [${shape.join(', ')}] is missing`);
      if (t.shape.join() !== shape.join())
        throw new Error(`LoRA: adapter '${name}' must be [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
    const extra = Object.keys(params).filter((n) => !(n in shapes));
    if (extra.length) throw new Error(`LoRA: unexpected adapter tensors ${extra.join(', ')}`);
    this.model = model;
    this.config = config;
    this.#specs = specs;
    this.params = Object.fromEntries(Object.keys(shapes).map((n) => [n, params[n]!]));
    const scale = config.alpha / config.rank;
    for (const s of specs)
      this.#byRole.set(`${s.layer}:${s.role}`, {
        a: this.params[s.a.name]!,
        b: this.params[s.b.name]!,
        scale,
      });
  }

  /**
   * Fresh adapters: A ~ U(−1/√in, 1/√in) (PEFT's `kaiming_uniform_(A, a=√5)`, whose bound √(6/((1+a²)·in)) is
   * 1/√in), B = 0; draws from one generator seeded with `seed`, in `loraSpecs` order.
   */
  static create(device: Device, model: TransformerConfig, config: LoraConfig, seed: number): LoraAdapters {
    const rng = new Rng(seed);
    const params: ParamMap = {};
    for (const s of loraSpecs(model, config)) {
      const bound = 1 / Math.sqrt(s.a.shape[0]);
      params[s.a.name] = device.rand(s.a.shape, { rng, low: -bound, high: bound }).setRequiresGrad();
      params[s.b.name] = device.zeros(s.b.shape).setRequiresGrad();
    }
    return new LoraAdapters(model, config, params);
  }

  /** The adapter on block `layer`'s weight `role`, if any. */
  at(layer: number, role: BlockRole): Adapter | undefined {
    return this.#byRole.get(`${layer}:${role}`);
  }

  /** The adapters of blocks 0..layers−1 (a head on block ℓ trains only those). */
  usedParams(layers: number): ParamMap {
    const used = this.#specs.filter((s) => s.layer < layers).flatMap((s) => [s.a.name, s.b.name]);
    return Object.fromEntries(used.map((n) => [n, this.params[n]!]));
  }

  /** The adapted weights' names with their A and B (for merging and export). */
  get adapted(): { weight: string; a: Tensor; b: Tensor; scale: number }[] {
    return this.#specs.map((s) => ({ weight: s.weight, ...this.#byRole.get(`${s.layer}:${s.role}`)! }));
  }

  dispose(): void {
    for (const t of Object.values(this.params)) t.dispose();
  }
}

/**
 * x·W (+ b) (+ residual) + scale·dropout(x)·A·B: the base product keeps its fused epilogue and becomes the
 * residual of the adapter's second product, so an adapter costs two thin matmuls and a scale.
 */
export function adaptedLinear(
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  options: { residual?: Tensor; adapter?: Adapter; dropout?: { p: number; nextSeed: () => number } | null },
): Tensor {
  const base = matmul(x, w, { bias: b, residual: options.residual });
  const ad = options.adapter;
  if (!ad) return base;
  const input = options.dropout ? dropout(x, options.dropout.p, options.dropout.nextSeed()) : x;
  return matmul(matmul(input, ad.a).mul(ad.scale), ad.b, { residual: base });
}

/**
 * Puts `adapters` on `model` and freezes its weights: they stop requiring grad, so backward computes no gradient
 * for them and an optimizer given only trainable tensors keeps no state for them.
 */
export function attachLora(model: Transformer, adapters: LoraAdapters): void {
  if (model.lora) throw new Error('attachLora: the model already has LoRA adapters');
  if (JSON.stringify(adapters.model) !== JSON.stringify(model.config))
    throw new Error(
      `attachLora: the adapters were made for the model ${JSON.stringify(adapters.model)}, not ${JSON.stringify(model.config)}`,
    );
  for (const t of Object.values(model.params)) t.setRequiresGrad(false);
  model.lora = adapters;
}

/**
 * Folds the adapters into the weights they adapt (W ← W + (α/r)·A·B, in place), frees them and makes the weights
 * trainable again: the model then computes what it computed with the adapters, as a plain backbone.
 */
export function mergeLora(model: Transformer): void {
  const lora = model.lora;
  if (!lora) throw new Error('mergeLora: the model has no LoRA adapters');
  noGrad(() => {
    for (const { weight, a, b, scale } of lora.adapted) {
      const w = model.params[weight]!;
      w.assign(tidy(() => w.add(matmul(a, b).mul(scale))));
    }
  });
  for (const t of Object.values(model.params)) t.setRequiresGrad(true);
  model.lora = null;
  lora.dispose();
}
