/**
 * @file The one place for WGSL plumbing and quirks: 1-D grids beyond 65535 workgroups,
 * strided index math, and float helpers (WGSL has no inf/NaN literals). Bindings and the params uniform are
 * generated from each kernel's spec (wgsl-header.ts).
 */
import type { DType } from '../types.ts';

export const MAX_RANK = 6;

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
 * The shader gets the index with `gridIndex(gid, params.rowStride)`, the uniform holding `rowStride`.
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
 * WGSL for `name(i, rank)`: the element offset of out-linear index `i` given the output shape in the array
 * uniform `shape` and an input's strides in the array uniform `strides` (read through their `…At` accessors).
 */
export function stridedOffsetFn(name: string, shape: string, strides: string): string {
  return `
fn ${name}(i: u32, rank: u32) -> u32 {
  var rem = i;
  var off = 0u;
  for (var k = i32(rank) - 1; k >= 0; k--) {
    let d = ${shape}At(u32(k));
    off += (rem % d) * ${strides}At(u32(k));
    rem = rem / d;
  }
  return off;
}
`;
}

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
