/**
 * @file The one place for WGSL plumbing and quirks: the params uniform, 1-D grids beyond 65535 workgroups,
 * strided index math, and float helpers (WGSL has no inf/NaN literals).
 */
import type { DType } from '../types.ts';

export const MAX_RANK = 6;

/** Declares the params uniform at `binding` with accessors `pu(i)` (u32), `pi(i)` (i32), `pf(i)` (f32). */
export function paramsDecl(binding: number): string {
  return `
struct Params { v: array<vec4<u32>, 16> }
@group(0) @binding(${binding}) var<uniform> params: Params;
fn pu(i: u32) -> u32 { return params.v[i >> 2u][i & 3u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(pu(i)); }
fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }
`;
}

export function wgslType(dtype: DType): string {
  return dtype === 'f32' ? 'f32' : 'i32';
}

const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);
/** The u32 bit pattern of an f32 (for uniforms). */
export function f32bits(x: number): number {
  f32View[0] = x;
  return u32View[0]!;
}
export function i32bits(x: number): number {
  return x >>> 0;
}

export const WORKGROUP_1D = 256;

/**
 * A 1-D launch over `n` items that stays under the per-dimension workgroup limit by folding into y.
 * The shader gets the index with `gridIndex(gid, pu(STRIDE_SLOT))` where the slot holds `rowStride`.
 */
export function grid1d(n: number, maxPerDim: number, wg = WORKGROUP_1D) {
  const groups = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(groups, maxPerDim);
  const y = Math.ceil(groups / x);
  return { workgroups: [x, y, 1] as [number, number, number], rowStride: x * wg };
}

export const gridIndexFn = `
fn gridIndex(gid: vec3<u32>, rowStride: u32) -> u32 { return gid.x + gid.y * rowStride; }
`;

/**
 * WGSL for `offsetOf(i, shapeSlot, strideSlot, rank)`: the element offset of out-linear index `i`
 * given the output shape at params[shapeSlot..] and an input's strides at params[strideSlot..].
 */
export const stridedOffsetFn = `
fn stridedOffset(i: u32, rank: u32, shapeSlot: u32, strideSlot: u32) -> u32 {
  var rem = i;
  var off = 0u;
  for (var k = i32(rank) - 1; k >= 0; k--) {
    let d = pu(shapeSlot + u32(k));
    off += (rem % d) * pu(strideSlot + u32(k));
    rem = rem / d;
  }
  return off;
}
`;

/** Pads a list of dims or strides to MAX_RANK entries (unused trailing slots are ignored by `rank`). */
export function padRank(values: readonly number[], fill = 0): number[] {
  if (values.length > MAX_RANK)
    throw new Error(`rank ${values.length} exceeds the supported maximum ${MAX_RANK}`);
  return [...values, ...new Array(MAX_RANK - values.length).fill(fill)];
}

/** Row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  return strides;
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** CPU counterpart of `stridedOffset`. */
export function stridedOffset(i: number, shape: readonly number[], strides: readonly number[]): number {
  let rem = i;
  let off = 0;
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k]!;
    off += (rem % d) * strides[k]!;
    rem = Math.floor(rem / d);
  }
  return off;
}
