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
}

/** Rows to compute outputs for: flat indices into the B·T rows, with what attention needs at those rows. */
export interface OutputRows {
  /** i32 [B, N] flat row b·T + t. */
  rows: Tensor;
  /** i32 [B, N] positions of those rows (rotary). */
  positions: Tensor | null;
  /** f32 [B, 1, N, T] additive mask: 0 where the row's query may see the key, −1e9 elsewhere. */
  bias: Tensor;
}

export function runBlock(params: ParamMap, layer: number, x: Tensor, ctx: BlockContext, out?: OutputRows) {
  const p = pick(params, layer);
  const [batch, seq, dim] = x.shape as [number, number, number];
  const headDim = dim / ctx.heads;
  const h = layerNorm(x, p.ln1W, p.ln1B);
  let attended: Tensor;
  let residual: Tensor;
  if (!out) {
    const qkv = matmul(h, p.qkvW, { bias: p.qkvB })
      .reshape([batch, seq, 3, ctx.heads, headDim])
      .permute([2, 0, 3, 1, 4]);
    const part = (i: number) => qkv.slice([i], [i + 1]).reshape([batch, ctx.heads, seq, headDim]);
    let [q, k] = [part(0), part(1)];
    if (ctx.rotary) {
      const at = rotaryAt(ctx.rotary, ctx.positions!);
      [q, k] = [applyRotary(q, at), applyRotary(k, at)];
    }
    attended = mergeHeads(attention(q, k, part(2), { causal: ctx.causal, lengths: ctx.lengths }));
    residual = x;
  } else {
    const rowsOf = (t: Tensor) => gather(t.reshape([batch * seq, dim]), out.rows);
    const qW = p.qkvW.slice([0, 0], [dim, dim]);
    const qB = p.qkvB.slice([0], [dim]);
    const kv = matmul(h, p.qkvW.slice([0, dim], [dim, 3 * dim]), { bias: p.qkvB.slice([dim], [3 * dim]) })
      .reshape([batch, seq, 2, ctx.heads, headDim])
      .permute([2, 0, 3, 1, 4]);
    let k = kv.slice([0], [1]).reshape([batch, ctx.heads, seq, headDim]);
    const v = kv.slice([1], [2]).reshape([batch, ctx.heads, seq, headDim]);
    let q = splitHeads(matmul(rowsOf(h), qW, { bias: qB }), ctx.heads);
    if (ctx.rotary) {
      k = applyRotary(k, rotaryAt(ctx.rotary, ctx.positions!));
      q = applyRotary(q, rotaryAt(ctx.rotary, out.positions!));
    }
    const scores = matmul(q, k, { transB: true })
      .mul(1 / Math.sqrt(headDim))
      .add(out.bias);
    attended = mergeHeads(matmul(scores.softmax(-1), v));
    residual = rowsOf(x);
  }
  x = addBranch(residual, attended, p.projW, p.projB, ctx);
  const hidden = matmul(layerNorm(x, p.ln2W, p.ln2B), p.fcW, { bias: p.fcB }).gelu();
  return addBranch(x, hidden, p.outW, p.outB, ctx);
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
