/**
 * @file Rotary position embedding (RoFormer; as in the decoders the research used): in each head, pairs of
 * query and key coordinates rotate by the angle position·θ_i, θ_i = base^(−2i/d). Which coordinates pair up is
 * the convention: 'half' pairs (i, i + d/2) ("rotate half": GPT-NeoX and Hugging Face's Llama, Mistral, Qwen2;
 * the default), 'interleaved' pairs (2i, 2i + 1) (GPT-J, the RoFormer paper). Applied to the [B, T, D]
 * projections before the heads are split, by one kernel (core's `rotary`) that reads each row's cos and sin
 * from the tables at its position; its gradient is the inverse rotation, the same kernel. (It replaced x·cos +
 * (x·R)·sin with a rotate matrix R: a matmul, two gathers and three elementwise ops forward, more backward.)
 */
import { type Device, type Tensor, rotary } from '@reprise/core';

export type RotaryConvention = 'half' | 'interleaved';

export interface RotaryTables {
  /** [maxPositions, D]: cos/sin of each column's angle (the per-head pattern repeated over heads). */
  cos: Tensor;
  sin: Tensor;
  headDim: number;
  convention: RotaryConvention;
}

/**
 * Tables for `heads` heads side by side in `dim` columns (dim/heads per head); k and v of grouped-query attention
 * have their own, for their fewer heads.
 */
export function rotaryTables(
  device: Device,
  maxPositions: number,
  dim: number,
  heads: number,
  base = 10000,
  convention: RotaryConvention = 'half',
): RotaryTables {
  const headDim = dim / heads;
  const half = headDim / 2;
  // Pair i of a head: its two columns within the head.
  const pair = convention === 'half' ? (i: number) => [i, i + half] : (i: number) => [2 * i, 2 * i + 1];
  const cos = new Float32Array(maxPositions * dim);
  const sin = new Float32Array(maxPositions * dim);
  const pairOf = new Int32Array(headDim);
  for (let i = 0; i < half; i++) for (const c of pair(i)) pairOf[c] = i;
  for (let p = 0; p < maxPositions; p++) {
    for (let c = 0; c < dim; c++) {
      const angle = p * base ** (-(2 * pairOf[c % headDim]!) / headDim);
      cos[p * dim + c] = Math.cos(angle);
      sin[p * dim + c] = Math.sin(angle);
    }
  }
  return {
    cos: device.tensor(cos, [maxPositions, dim]),
    sin: device.tensor(sin, [maxPositions, dim]),
    headDim,
    convention,
  };
}

/** x [..., D] rotated at i32 `positions` (x's leading shape). */
export function applyRotary(x: Tensor, tables: RotaryTables, positions: Tensor): Tensor {
  return rotary(x, positions, tables.cos, tables.sin, {
    headDim: tables.headDim,
    pairing: tables.convention,
  });
}
