/**
 * @file Data-movement kernels. `strided` covers permute, slice, expand (stride 0), tile and pad: each output
 * element reads input[offset + Σ (idx_k − lo_k)·stride_k] when lo_k ≤ idx_k < lo_k + extent_k on every axis,
 * else 0. `concat` joins two tensors viewed as [outer, inner] rows.
 */
import { EXACT_TOL } from './elementwise-ops.ts';
import { defineKernel } from './kernel.ts';
import { MAX_RANK, WORKGROUP_1D, grid1d, gridIndexFn, padRank, product, wgslType } from './wgsl.ts';

export interface StridedParams {
  /** Output shape (contiguous). */
  shape: number[];
  /** Input element strides per output axis (0 to broadcast). */
  strides: number[];
  offset: number;
  /** Per-axis start of the input window in output coordinates (pad); omit for 0. */
  lo?: number[];
  /** Per-axis extent of the input window; omit for the whole output (no padding). */
  extent?: number[];
}

const u32s = { array: 'u32', length: MAX_RANK } as const;
const i32s = { array: 'i32', length: MAX_RANK } as const;

export const strided = defineKernel<StridedParams>()({
  name: 'strided',
  inputs: [{ name: 'xs', dtype: 'any', size: () => 0 }],
  output: { size: (p) => product(p.shape), dtype: (_p, { xs }) => xs.dtype },
  uniforms: {
    size: 'u32',
    rowStride: 'u32',
    rank: 'u32',
    offset: 'i32',
    shape: u32s,
    strides: i32s,
    lo: i32s,
    extent: i32s,
  },
  cpu: ({ xs: x }, p, out) => {
    const n = product(p.shape);
    const r = p.shape.length;
    for (let i = 0; i < n; i++) {
      let rem = i;
      let off = p.offset;
      let inside = true;
      for (let k = r - 1; k >= 0; k--) {
        const d = p.shape[k]!;
        const idx = (rem % d) - (p.lo?.[k] ?? 0);
        rem = Math.floor(rem / d);
        if (idx < 0 || idx >= (p.extent?.[k] ?? d)) inside = false;
        off += idx * p.strides[k]!;
      }
      out[i] = inside ? x![off]! : 0;
    }
  },
  gpu: (p, { xs }, target) => {
    const n = product(p.shape);
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    const t = wgslType(xs.dtype);
    const padded = p.lo !== undefined || p.extent !== undefined;
    return {
      key: `strided:${t}:${padded ? 'pad' : 'view'}`,
      workgroups: grid.workgroups,
      uniforms: {
        size: n,
        rowStride: grid.rowStride,
        rank: p.shape.length,
        offset: p.offset,
        shape: padRank(p.shape, 1),
        strides: padRank(p.strides),
        lo: padRank(p.lo ?? []),
        extent: padRank(p.extent ?? p.shape, 1),
      },
      wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  var rem = i;
  var off = params.offset;
  var inside = true;
  for (var k = i32(params.rank) - 1; k >= 0; k--) {
    let d = shapeAt(u32(k));
    let idx = i32(rem % d) - loAt(u32(k));
    rem = rem / d;
    ${padded ? 'inside = inside && idx >= 0 && idx < extentAt(u32(k));' : ''}
    off += idx * stridesAt(u32(k));
  }
  ${padded ? `out[i] = select(${t}(0), xs[u32(max(off, 0))], inside);` : 'out[i] = xs[u32(off)];'}
}`,
    };
  },
  tolerance: () => ({ rtol: 0, atol: 0 }),
  describe: (p) => `strided(out [${p.shape}], strides [${p.strides}], offset ${p.offset})`,
});

export interface ConcatParams {
  outer: number;
  aInner: number;
  bInner: number;
}

/** out[o, :] = [a[o, 0:aInner], b[o, 0:bInner]]. */
export const concat = defineKernel<ConcatParams>()({
  name: 'concat',
  inputs: [
    { name: 'a', dtype: 'any', size: (p) => p.outer * p.aInner },
    { name: 'b', dtype: 'any', size: (p) => p.outer * p.bInner },
  ],
  output: { size: (p) => p.outer * (p.aInner + p.bInner), dtype: (_p, { a }) => a.dtype },
  uniforms: { size: 'u32', rowStride: 'u32', aInner: 'u32', bInner: 'u32' },
  validate: (_p, { a, b }) => {
    if (a.dtype !== b.dtype) throw new Error(`kernel concat: input 1 (b) must be ${a.dtype}, got ${b.dtype}`);
  },
  cpu: ({ a, b }, p, out) => {
    const w = p.aInner + p.bInner;
    for (let o = 0; o < p.outer; o++) {
      for (let j = 0; j < p.aInner; j++) out[o * w + j] = a![o * p.aInner + j]!;
      for (let j = 0; j < p.bInner; j++) out[o * w + p.aInner + j] = b![o * p.bInner + j]!;
    }
  },
  gpu: (p, { a }, target) => {
    const n = p.outer * (p.aInner + p.bInner);
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    return {
      key: `concat:${wgslType(a.dtype)}`,
      workgroups: grid.workgroups,
      uniforms: { size: n, rowStride: grid.rowStride, aInner: p.aInner, bInner: p.bInner },
      wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  let aw = params.aInner;
  let bw = params.bInner;
  let o = i / (aw + bw);
  let j = i % (aw + bw);
  if (j < aw) { out[i] = a[o * aw + j]; } else { out[i] = b[o * bw + j - aw]; }
}`,
    };
  },
  tolerance: () => EXACT_TOL,
  describe: (p) => `concat(outer ${p.outer}, widths ${p.aInner} + ${p.bInner})`,
});
