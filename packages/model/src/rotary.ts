/**
 * @file Rotary position embedding (RoFormer; as in the decoders the research used): in each head, pairs of
 * query and key coordinates rotate by the angle position·θ_i, θ_i = base^(−2i/d). Which coordinates pair up is
 * the convention: 'half' pairs (i, i + d/2) ("rotate half": GPT-NeoX and Hugging Face's Llama, Mistral, Qwen2;
 * the default), 'interleaved' pairs (2i, 2i + 1) (GPT-J, the RoFormer paper). Applied to the [B, T, D]
 * projections before the heads are split, as x·cos + (x·R)·sin with R the fixed block-diagonal rotate matrix of
 * the convention: one small matmul and three elementwise ops, where slicing the halves and joining them again
 * would cost four strided copies forward and as many padded ones backward.
 */
import { type Device, type Tensor, gather } from '@reprise/core';

export type RotaryConvention = 'half' | 'interleaved';

export interface RotaryTables {
  /** [maxPositions, D]: cos/sin of each column's angle (the per-head pattern repeated over heads). */
  cos: Tensor;
  sin: Tensor;
  /** [D, D]: x·R puts −x₂ in each pair's first coordinate and x₁ in its second (the name is the default's). */
  rotateHalf: Tensor;
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
  const rotate = new Float32Array(dim * dim);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const [first, second] = pair(i).map((c) => h * headDim + c) as [number, number];
      rotate[second * dim + first] = -1; // out[first] = −x[second]
      rotate[first * dim + second] = 1; // out[second] = x[first]
    }
  }
  return {
    cos: device.tensor(cos, [maxPositions, dim]),
    sin: device.tensor(sin, [maxPositions, dim]),
    rotateHalf: device.tensor(rotate, [dim, dim]),
  };
}

/** The cos/sin rows at i32 positions [B, T] → [B, T, D]. */
export function rotaryAt(tables: RotaryTables, positions: Tensor): Omit<RotaryTables, 'rotateHalf'> {
  return { cos: gather(tables.cos, positions), sin: gather(tables.sin, positions) };
}

/** x [B, T, D] (all heads side by side) rotated at the positions whose tables `at` holds. */
export function applyRotary(x: Tensor, tables: RotaryTables, at: Omit<RotaryTables, 'rotateHalf'>): Tensor {
  return x.mul(at.cos).add(x.matmul(tables.rotateHalf).mul(at.sin));
}
