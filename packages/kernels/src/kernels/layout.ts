/**
 * @file Data-movement kernels. `strided` covers permute, slice, expand (stride 0), tile and pad: each output
 * element reads input[offset + Σ (idx_k − lo_k)·stride_k] when lo_k ≤ idx_k < lo_k + extent_k on every axis,
 * else 0. `concat` joins two tensors viewed as [outer, inner] rows.
 */
import { EXACT_TOL } from './elementwise-ops.ts';
import { assertInputs, defineKernel } from './kernel.ts';
import {
  MAX_RANK,
  WORKGROUP_1D,
  grid1d,
  gridIndexFn,
  padRank,
  paramsDecl,
  product,
  wgslType,
} from './wgsl.ts';

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

const SHAPE = 4;
const STRIDES = SHAPE + MAX_RANK;
const LO = STRIDES + MAX_RANK;
const EXTENT = LO + MAX_RANK;

export const strided = defineKernel<StridedParams>({
  name: 'strided',
  output: (p, inputs) => {
    assertInputs('strided', inputs, [['*', 0]]);
    return { size: product(p.shape), dtype: inputs[0]!.dtype };
  },
  cpu: ([x], p, out) => {
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
  gpu: (p, [x], target) => {
    const n = product(p.shape);
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    const t = wgslType(x!.dtype);
    const padded = p.lo !== undefined || p.extent !== undefined;
    return {
      key: `strided:${t}:${padded ? 'pad' : 'view'}`,
      workgroups: grid.workgroups,
      uniforms: [
        n,
        grid.rowStride,
        p.shape.length,
        p.offset,
        ...padRank(p.shape, 1),
        ...padRank(p.strides),
        ...padRank(p.lo ?? []),
        ...padRank(p.extent ?? p.shape, 1),
      ],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> xs: array<${t}>;
@group(0) @binding(1) var<storage, read_write> out: array<${t}>;
${paramsDecl(2)}${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, pu(1u));
  if (i >= pu(0u)) { return; }
  var rem = i;
  var off = i32(pu(3u));
  var inside = true;
  for (var k = i32(pu(2u)) - 1; k >= 0; k--) {
    let d = pu(${SHAPE}u + u32(k));
    let idx = i32(rem % d) - pi(${LO}u + u32(k));
    rem = rem / d;
    ${padded ? `inside = inside && idx >= 0 && idx < pi(${EXTENT}u + u32(k));` : ''}
    off += idx * pi(${STRIDES}u + u32(k));
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
export const concat = defineKernel<ConcatParams>({
  name: 'concat',
  output: (p, inputs) => {
    assertInputs('concat', inputs, [
      ['*', p.outer * p.aInner],
      [inputs[0]!.dtype, p.outer * p.bInner],
    ]);
    return { size: p.outer * (p.aInner + p.bInner), dtype: inputs[0]!.dtype };
  },
  cpu: ([a, b], p, out) => {
    const w = p.aInner + p.bInner;
    for (let o = 0; o < p.outer; o++) {
      for (let j = 0; j < p.aInner; j++) out[o * w + j] = a![o * p.aInner + j]!;
      for (let j = 0; j < p.bInner; j++) out[o * w + p.aInner + j] = b![o * p.bInner + j]!;
    }
  },
  gpu: (p, [a], target) => {
    const n = p.outer * (p.aInner + p.bInner);
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    const t = wgslType(a!.dtype);
    return {
      key: `concat:${t}`,
      workgroups: grid.workgroups,
      uniforms: [n, grid.rowStride, p.aInner, p.bInner],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> as_: array<${t}>;
@group(0) @binding(1) var<storage, read> bs_: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${paramsDecl(3)}${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, pu(1u));
  if (i >= pu(0u)) { return; }
  let aw = pu(2u);
  let bw = pu(3u);
  let o = i / (aw + bw);
  let j = i % (aw + bw);
  if (j < aw) { out[i] = as_[o * aw + j]; } else { out[i] = bs_[o * bw + j - aw]; }
}`,
    };
  },
  tolerance: () => EXACT_TOL,
  describe: (p) => `concat(outer ${p.outer}, widths ${p.aInner} + ${p.bInner})`,
});
