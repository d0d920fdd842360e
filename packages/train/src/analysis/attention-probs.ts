/**
 * @file Attention probabilities on the host, from one block's queries and keys as the model's `onAttention` tap
 * hands them over: softmax(q·kᵀ/√d) per head, under the block's mask (causal or not) and the padding of each
 * sequence. The fused attention kernels never write these out; reading q and k back is cheap at analysis sizes.
 */

export interface HostAttention {
  /** [B, Tq, H·d] queries (after rotary). */
  q: Float32Array;
  /** [B, T, H·d] keys (after rotary). */
  k: Float32Array;
  batch: number;
  /** Query rows per sequence (T unless the block computed chosen rows only). */
  queries: number;
  /** Key rows per sequence. */
  seq: number;
  heads: number;
  /** H·d. */
  dim: number;
  /** Valid length of each sequence: keys at or past it get no weight. */
  lengths: ArrayLike<number>;
  causal: boolean;
  /** Key position of each sequence's first query row (default 0: query row i sits at position i). */
  queryStart?: ArrayLike<number>;
}

/** Checks that the arrays hold [B, Tq, D] and [B, T, D] values; returns `a` for chaining. */
export function checkHostAttention(a: HostAttention): HostAttention {
  if (a.dim % a.heads !== 0) throw new Error(`attention: ${a.heads} heads do not divide width ${a.dim}`);
  if (a.q.length !== a.batch * a.queries * a.dim)
    throw new Error(
      `attention: q must hold [${a.batch}, ${a.queries}, ${a.dim}] = ${a.batch * a.queries * a.dim} values, got ${a.q.length}`,
    );
  if (a.k.length !== a.batch * a.seq * a.dim)
    throw new Error(
      `attention: k must hold [${a.batch}, ${a.seq}, ${a.dim}] = ${a.batch * a.seq * a.dim} values, got ${a.k.length}`,
    );
  if (a.lengths.length !== a.batch)
    throw new Error(`attention: ${a.lengths.length} lengths for a batch of ${a.batch}`);
  return a;
}

/**
 * Probabilities [T] that query row `i` of sequence `b` gives each key in head `h` (float64; 0 at masked keys).
 * A query row past its sequence's length sees nothing: all zeros, as the kernels give.
 */
export function attentionRow(a: HostAttention, b: number, h: number, i: number): Float64Array {
  const headDim = a.dim / a.heads;
  const probs = new Float64Array(a.seq);
  const position = (a.queryStart?.[b] ?? 0) + i;
  const length = a.lengths[b]!;
  if (position >= length) return probs;
  const end = a.causal ? position + 1 : length;
  const qAt = (b * a.queries + i) * a.dim + h * headDim;
  const scale = 1 / Math.sqrt(headDim);
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < end; j++) {
    const kAt = (b * a.seq + j) * a.dim + h * headDim;
    let dot = 0;
    for (let c = 0; c < headDim; c++) dot += a.q[qAt + c]! * a.k[kAt + c]!;
    probs[j] = dot * scale;
    if (probs[j]! > max) max = probs[j]!;
  }
  let sum = 0;
  for (let j = 0; j < end; j++) {
    probs[j] = Math.exp(probs[j]! - max);
    sum += probs[j]!;
  }
  for (let j = 0; j < end; j++) probs[j]! /= sum;
  return probs;
}
