/**
 * @file Rotary position embedding (RoFormer; as in the decoders the research used): queries and keys rotated
 * in pairs (i, i + d/2) by angles position·θ_i, θ_i = 10000^(−2i/d). Composed from core ops, so its gradient
 * comes from theirs; the cos/sin tables are constants built once on the host.
 */
import { type Device, type Tensor, concat, gather } from '@reprise/core';

export interface RotaryTables {
  /** [maxPositions, headDim/2] */
  cos: Tensor;
  sin: Tensor;
}

export function rotaryTables(
  device: Device,
  maxPositions: number,
  headDim: number,
  base = 10000,
): RotaryTables {
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * base ** (-(2 * i) / headDim);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return {
    cos: device.tensor(cos, [maxPositions, half]),
    sin: device.tensor(sin, [maxPositions, half]),
  };
}

/** The tables at i32 positions [B, T], shaped [B, 1, T, d/2] to broadcast over heads. */
export function rotaryAt(tables: RotaryTables, positions: Tensor): RotaryTables {
  const [batch, seq] = positions.shape as [number, number];
  const half = tables.cos.shape[1]!;
  const at = (table: Tensor) => gather(table, positions).reshape([batch, 1, seq, half]);
  return { cos: at(tables.cos), sin: at(tables.sin) };
}

/** x [B, H, T, d] rotated: [x₁·cos − x₂·sin, x₂·cos + x₁·sin] with x₁, x₂ its two halves. */
export function applyRotary(x: Tensor, at: RotaryTables): Tensor {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  const x1 = x.slice([0, 0, 0, 0], [b, h, t, d / 2]);
  const x2 = x.slice([0, 0, 0, d / 2], [b, h, t, d]);
  return concat([x1.mul(at.cos).sub(x2.mul(at.sin)), x2.mul(at.cos).add(x1.mul(at.sin))], 3);
}
