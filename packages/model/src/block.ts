/**
 * @file One pre-LN transformer block: x + Attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP. It can compute
 * its outputs for a subset of rows only (the last copy under sequence repetition): keys and values still come
 * from every row, while queries, the attention output, the residuals and the MLP run on the chosen rows.
 */
import { type Tensor, attention, dropout, gather, layerNorm, matmul } from '@reprise/core';
import type { ParamMap } from './params.ts';
import { blockParamNames } from './params.ts';
import { type RotaryTables, applyRotary, rotaryAt } from './rotary.ts';

export interface BlockContext {
  heads: number;
  causal: boolean;
  /** i32 [B]: valid length of each sequence (keys past it are masked). */
  lengths: Tensor;
  /** i32 [B, T] positions, for rotary embeddings (null with learned positions). */
  positions: Tensor | null;
  rotary: RotaryTables | null;
  /** Dropout probability on the residual branches and a fresh seed per call, or null outside training. */
  dropout: { p: number; nextSeed: () => number } | null;
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
  /** [B, T, D] keys after rotary. */
  k: Tensor;
  /** [B, T, D] values. */
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
  const p = pick(params, layer);
  const [batch, seq, dim] = x.shape as [number, number, number];
  const h = layerNorm(x, p.ln1W, p.ln1B);
  // Queries (and the residual) at the output rows only; keys and values at every row.
  const rowsOf = (t: Tensor) => (out ? gather(t.reshape([batch * seq, dim]), out.rows) : t);
  let q = matmul(rowsOf(h), p.qW, { bias: p.qB });
  let k = matmul(h, p.kW, { bias: p.kB });
  const v = matmul(h, p.vW, { bias: p.vB });
  if (ctx.rotary) {
    const atKeys = rotaryAt(ctx.rotary, ctx.positions!);
    k = applyRotary(k, ctx.rotary, atKeys);
    q = applyRotary(q, ctx.rotary, out ? rotaryAt(ctx.rotary, out.positions!) : atKeys);
  }
  let attended: Tensor;
  if (!out || out.queryStart) {
    // [B, T, D] viewed as [B, T, H, d] (a reshape, no copy): the attention kernels read heads in place.
    const heads = (t: Tensor) => t.reshape([batch, t.shape[1]!, ctx.heads, dim / ctx.heads]);
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
    // Rows anywhere: explicit scores under the additive mask.
    const [qh, kh, vh] = [q, k, v].map((t) => splitHeads(t, ctx.heads)) as [Tensor, Tensor, Tensor];
    const scores = matmul(qh, kh, { transB: true })
      .mul(1 / Math.sqrt(dim / ctx.heads))
      .add(out.bias);
    attended = mergeHeads(matmul(scores.softmax(-1), vh));
  }
  ctx.onAttention?.({ layer, q, k, v, attended, causal: ctx.causal });
  x = addBranch(rowsOf(x), attended, p.attnOutW, p.attnOutB, ctx);
  const hidden = matmul(layerNorm(x, p.ln2W, p.ln2B), p.mlpUpW, { bias: p.mlpUpB }).gelu();
  return addBranch(x, hidden, p.mlpDownW, p.mlpDownB, ctx);
}

/** residual + dropout(input·W + b); fused into the matmul's epilogue when there is no dropout. */
function addBranch(residual: Tensor, input: Tensor, w: Tensor, b: Tensor, ctx: BlockContext): Tensor {
  if (!ctx.dropout || ctx.dropout.p === 0) return matmul(input, w, { bias: b, residual });
  return residual.add(dropout(matmul(input, w, { bias: b }), ctx.dropout.p, ctx.dropout.nextSeed()));
}

/** [B, T, D] → [B, H, T, D/H] */
function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  return x.reshape([b, t, heads, d / heads]).permute([0, 2, 1, 3]);
}

/** [B, H, T, d] → [B, T, H·d] */
function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  return x.permute([0, 2, 1, 3]).reshape([b, t, h * d]);
}

function pick(params: ParamMap, layer: number) {
  const names = blockParamNames(layer);
  return Object.fromEntries(Object.entries(names).map(([k, name]) => [k, params[name]!])) as Record<
    keyof typeof names,
    Tensor
  >;
}
