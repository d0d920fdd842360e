/**
 * @file Rotary position embedding (RoFormer; as in the decoders the research used): in each head, the pairs
 * (i, i + d/2) of queries and keys rotate by the angle position·θ_i, θ_i = 10000^(−2i/d). Applied to the
 * [B, T, D] projections before the heads are split, as x·cos + (x·R)·sin with R the fixed block-diagonal
 * "rotate half" matrix: one small matmul and three elementwise ops, where slicing the halves and joining them
 * again would cost four strided copies forward and as many padded ones backward.
 */
import { type Device, type Tensor, gather } from '@reprise/core';

export interface RotaryTables {
  /** [maxPositions, D]: cos/sin of each column's angle (the per-head pattern repeated over heads). */
  cos: Tensor;
  sin: Tensor;
  /** [D, D]: x·R puts −x₂ in the first half of each head and x₁ in the second. */
  rotateHalf: Tensor;
}

export function rotaryTables(
  device: Device,
  maxPositions: number,
  dim: number,
  heads: number,
  base = 10000,
): RotaryTables {
  const headDim = dim / heads;
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * dim);
  const sin = new Float32Array(maxPositions * dim);
  for (let p = 0; p < maxPositions; p++) {
    for (let c = 0; c < dim; c++) {
      const i = (c % headDim) % half;
      const angle = p * base ** (-(2 * i) / headDim);
      cos[p * dim + c] = Math.cos(angle);
      sin[p * dim + c] = Math.sin(angle);
    }
  }
  const rotate = new Float32Array(dim * dim);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const first = h * headDim + i;
      const second = first + half;
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
