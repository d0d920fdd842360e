/**
 * @file One pre-norm transformer block: x + Attn(Norm(x)), then x + MLP(Norm(x)). The config's variant picks
 * the norm (LayerNorm or RMSNorm), the MLP (GELU, or SwiGLU: down(silu(gate(x))·up(x))), the key/value heads
 * (grouped-query attention) and which projections have biases; params.ts declares the parameters each has.
 * A projection with a LoRA adapter (lora.ts) adds the adapter's low-rank term to its product.
 * It can compute its outputs for a subset of rows only (the last copy under sequence repetition): keys and
 * values still come from every row, while queries, the attention output, the residuals and the MLP run on the
 * chosen rows.
 */
import { type Tensor, attention, dropout, gather, layerNorm, matmul, rmsNorm } from '@reprise/core';
import { type Architecture, type TransformerConfig, architecture } from './config.ts';
import { type LoraAdapters, adaptedLinear } from './lora.ts';
import type { ParamMap } from './params.ts';
import { type BlockRole, blockParams } from './params.ts';
import { type RotaryTables, applyRotary } from './rotary.ts';

export interface BlockContext {
  config: TransformerConfig;
  causal: boolean;
  /** i32 [B]: valid length of each sequence (keys past it are masked). */
  lengths: Tensor;
  /** i32 [B, T] positions, for rotary embeddings (null with learned positions). */
  positions: Tensor | null;
  /** Rotary tables for the queries' heads and for the keys' (the same tables unless grouped). */
  rotary: { q: RotaryTables; k: RotaryTables } | null;
  /** Dropout probability on the residual branches and a fresh seed per call, or null outside training. */
  dropout: { p: number; nextSeed: () => number } | null;
  /** LoRA adapters on some projections, with their input dropout while training (null: none). */
  lora?: { adapters: LoraAdapters; dropout: { p: number; nextSeed: () => number } | null } | null;
  /** Called with the block's attention inputs and output, for analysis (see AttentionTap). */
  onAttention?: (tap: AttentionTap) => void;
}

/**
 * What one block's attention saw, handed to `onAttention` so that analysis can compute attention probabilities
 * (the fused kernels never materialize them): softmax(q·kᵀ/√d) per head under the block's mask, times v, is
 * `attended`. The tensors belong to the forward pass: `keep` those needed after its scope closes.
 */
export interface AttentionTap {
  /** 0-based block index. */
  layer: number;
  /** [B, Tq, D] queries after rotary (Tq = T unless the block computes chosen rows only). */
  q: Tensor;
  /** [B, T, KV·d] keys after rotary (KV = kvHeads, d = head size; KV·d = D without grouped-query attention). */
  k: Tensor;
  /** [B, T, KV·d] values. */
  v: Tensor;
  /** [B, Tq, D] the heads' attention outputs, before the output projection. */
  attended: Tensor;
  causal: boolean;
}

/**
 * Rows to compute outputs for: flat indices into the B·T rows, with what attention needs at those rows: either
 * `queryStart` (the rows of sequence b are the contiguous block starting at row queryStart[b], as the last copy
 * under sequence repetition is: fused attention, no score buffer) or an explicit `bias` for any rows.
 */
export interface OutputRows {
  /** i32 [B, N] flat row b·T + t. */
  rows: Tensor;
  /** i32 [B, N] positions of those rows (rotary). */
  positions: Tensor | null;
  /**
   * i32 [B]: rows[b, i] = b·T + queryStart[b] + i for every i with queryStart[b] + i < lengths[b]; the rows past
   * that are padding (their attention output is 0, and nothing may depend on them).
   */
  queryStart?: Tensor;
  /** f32 [B, 1, N, T] additive mask: 0 where the row's query may see the key, −1e9 elsewhere (used without queryStart). */
  bias?: Tensor;
}

export function runBlock(params: ParamMap, layer: number, x: Tensor, ctx: BlockContext, out?: OutputRows) {
  const a = architecture(ctx.config);
  const p = pick(params, ctx.config, layer);
  const [batch, seq, dim] = x.shape as [number, number, number];
  // x·W + b through the role's LoRA adapter when it has one.
  const linear = (input: Tensor, w: BlockRole, b: BlockRole, residual?: Tensor) =>
    adaptedLinear(input, p[w]!, p[b], {
      residual,
      adapter: ctx.lora?.adapters.at(layer, w),
      dropout: ctx.lora?.dropout,
    });
  const h = norm(a, x, p.ln1W!, p.ln1B);
  // Queries (and the residual) at the output rows only; keys and values at every row.
  const rowsOf = (t: Tensor) => (out ? gather(t.reshape([batch * seq, dim]), out.rows) : t);
  let q = linear(rowsOf(h), 'qW', 'qB');
  let k = linear(h, 'kW', 'kB');
  const v = linear(h, 'vW', 'vB');
  if (ctx.rotary) {
    const { q: forQ, k: forK } = ctx.rotary;
    k = applyRotary(k, forK, ctx.positions!);
    q = applyRotary(q, forQ, out ? out.positions! : ctx.positions!);
  }
  let attended: Tensor;
  if (!out || out.queryStart) {
    // [B, T, H·d] viewed as [B, T, H, d] (a reshape, no copy): the attention kernels read heads in place;
    // k and v have kvHeads heads.
    const heads = (t: Tensor) => t.reshape([batch, t.shape[1]!, t.shape[2]! / a.headDim, a.headDim]);
    const options = {
      causal: ctx.causal,
      lengths: ctx.lengths,
      queryStart: out?.queryStart,
      layout: 'bthd' as const,
    };
    attended = attention(heads(q), heads(k), heads(v), options).reshape([batch, q.shape[1]!, dim]);
  } else {
    if (!out.bias)
      throw new Error('runBlock: output rows need queryStart (contiguous rows) or an attention bias');
    // Rows anywhere: explicit scores under the additive mask; each key/value head repeated for its query
    // heads (Hugging Face's repeat_kv).
    const group = ctx.config.heads / a.kvHeads;
    const repeatKv = (t: Tensor) => (group === 1 ? t : t.repeat(1, group));
    const qh = splitHeads(q, a.headDim);
    const [kh, vh] = [k, v].map((t) => repeatKv(splitHeads(t, a.headDim))) as [Tensor, Tensor];
    const scores = matmul(qh, kh, { transB: true })
      .mul(1 / Math.sqrt(a.headDim))
      .add(out.bias);
    attended = mergeHeads(matmul(scores.softmax(-1), vh));
  }
  ctx.onAttention?.({ layer, q, k, v, attended, causal: ctx.causal });
  x = addBranch(rowsOf(x), attended, 'attnOutW', 'attnOutB', linear, ctx);
  const h2 = norm(a, x, p.ln2W!, p.ln2B);
  const hidden =
    a.mlp === 'swiglu'
      ? linear(h2, 'mlpGateW', 'mlpGateB')
          .silu()
          .mul(linear(h2, 'mlpUpW', 'mlpUpB'))
      : linear(h2, 'mlpUpW', 'mlpUpB').gelu();
  return addBranch(x, hidden, 'mlpDownW', 'mlpDownB', linear, ctx);
}

/** The config's norm: LayerNorm (gain and bias) or RMSNorm (gain only), with its ε. */
export function norm(a: Architecture, x: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor {
  if (a.norm === 'rms') return rmsNorm(x, weight, a.normEps);
  return layerNorm(x, weight, bias!, a.normEps);
}

/** residual + dropout(input·W + b); fused into the matmul's epilogue when there is no dropout. */
function addBranch(
  residual: Tensor,
  input: Tensor,
  w: BlockRole,
  b: BlockRole,
  linear: (input: Tensor, w: BlockRole, b: BlockRole, residual?: Tensor) => Tensor,
  ctx: BlockContext,
): Tensor {
  if (!ctx.dropout || ctx.dropout.p === 0) return linear(input, w, b, residual);
  return residual.add(dropout(linear(input, w, b), ctx.dropout.p, ctx.dropout.nextSeed()));
}

/** [B, T, n·d] → [B, n, T, d] */
function splitHeads(x: Tensor, headDim: number): Tensor {
  const [b, t, width] = x.shape as [number, number, number];
  return x.reshape([b, t, width / headDim, headDim]).permute([0, 2, 1, 3]);
}

/** [B, H, T, d] → [B, T, H·d] */
function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  return x.permute([0, 2, 1, 3]).reshape([b, t, h * d]);
}

/** Block `layer`'s parameters by role; the roles its variant lacks are undefined. */
function pick(params: ParamMap, cfg: TransformerConfig, layer: number): Partial<Record<BlockRole, Tensor>> {
  return Object.fromEntries(
    Object.entries(blockParams(cfg, layer)).map(([role, { name }]) => [role, params[name]!]),
  );
}
