/**
 * @file RMSNorm over the last axis (Llama, Mistral, Qwen2: y = x / √(mean(x²) + eps) · w, no mean, no bias), as
 * three kernels: the forward, which also keeps each row's 1/rms for the backward; the input gradient; and the
 * weight gradient (a column reduction). One invocation per row (or column), as LayerNorm's kernels.
 */
import { defineKernel } from './kernel.ts';
import { grid1d, gridIndexFn } from './wgsl.ts';

export interface RmsNormParams {
  rows: number;
  dim: number;
  /** Inside the root, as Hugging Face's LlamaRMSNorm (1e-5 or 1e-6 in the released configs). */
  eps: number;
}

const WG = 64;

function checkParams(name: string, p: RmsNormParams): void {
  if (!(p.eps >= 0) || !Number.isFinite(p.eps))
    throw new Error(`${name}: eps ${p.eps} must be finite and ≥ 0`);
}

/** The uniforms of all three kernels: `count` rows (or columns) to own, one per invocation. */
const uniforms = { count: 'u32', rowStride: 'u32', dim: 'u32', rows: 'u32', eps: 'f32' } as const;

function launchRows(name: string, p: RmsNormParams, count: number, maxPerDim: number, body: string) {
  const grid = grid1d(count, maxPerDim, WG);
  return {
    key: name,
    workgroups: grid.workgroups,
    uniforms: { count, rowStride: grid.rowStride, dim: p.dim, rows: p.rows, eps: p.eps },
    wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.count) { return; }
  let dim = params.dim;
  let rows = params.rows;${body}
}`,
  };
}

/** The inputs, by what they hold. */
const rowsSize = (p: RmsNormParams) => p.rows * p.dim;
const xs = { name: 'xs', dtype: 'f32', size: rowsSize } as const;
const w = { name: 'w', dtype: 'f32', size: (p: RmsNormParams) => p.dim } as const;
const dy = { name: 'dy', dtype: 'f32', size: rowsSize } as const;
const rstd = { name: 'rstd', dtype: 'f32', size: (p: RmsNormParams) => p.rows } as const;

/** CPU: 1/√(mean(x²) + eps) of row r. */
function inverseRms(x: ArrayLike<number>, p: RmsNormParams, r: number): number {
  let s = 0;
  for (let j = 0; j < p.dim; j++) s += x[r * p.dim + j]! ** 2;
  return 1 / Math.sqrt(s / p.dim + p.eps);
}

/** Sum of dim squares in f32 (positive terms: relative error ≤ dim·2⁻²⁴, ~√dim·2⁻²⁴ typical) then a few roundings. */
const rowSumTolerance = (p: RmsNormParams) => ({ rtol: 1e-5 + 1e-7 * p.dim, atol: 1e-6 });

/**
 * y = x·rstd·w with rstd = 1/√(mean(x²) + eps) per row. Inputs: x [rows, dim], w [dim]; writes Y [rows, dim] and
 * rstd [rows] in place (rstd is what the backward kernels take).
 */
export const rmsNorm = defineKernel<RmsNormParams>()({
  name: 'rmsNorm',
  inputs: [
    xs,
    w,
    { name: 'Y', dtype: 'f32', access: 'read_write', size: rowsSize },
    { ...rstd, access: 'read_write' },
  ],
  uniforms,
  validate: (p) => checkParams('rmsNorm', p),
  cpu: ({ xs: x, w, Y: y, rstd: inv }, p) => {
    for (let r = 0; r < p.rows; r++) {
      const rs = inverseRms(x!, p, r);
      inv![r] = rs;
      for (let j = 0; j < p.dim; j++) y![r * p.dim + j] = x![r * p.dim + j]! * rs * w![j]!;
    }
  },
  gpu: (p, _inputs, target) =>
    launchRows(
      'rmsNorm',
      p,
      p.rows,
      target.maxWorkgroupsPerDimension,
      `
  let base = i * dim;
  var s = 0.0;
  for (var j = 0u; j < dim; j++) { let v = xs[base + j]; s = fma(v, v, s); }
  let r = inverseSqrt(s / f32(dim) + params.eps);
  rstd[i] = r;
  for (var j = 0u; j < dim; j++) { Y[base + j] = xs[base + j] * r * w[j]; }`,
    ),
  loopIterations: (p) => 2 * p.dim,
  tolerance: rowSumTolerance,
  describe: (p) => `rmsNorm([${p.rows}, ${p.dim}], eps ${p.eps})`,
});

/**
 * dx = rstd·(g − x̂·mean(g·x̂)) with g = dy·w, x̂ = x·rstd (LayerNorm's input gradient without the mean terms).
 * Inputs: x, rstd, w, dy.
 */
export const rmsNormGradInput = defineKernel<RmsNormParams>()({
  name: 'rmsNormGradInput',
  inputs: [xs, rstd, w, dy],
  output: { size: rowsSize, dtype: 'f32' },
  uniforms,
  validate: (p) => checkParams('rmsNormGradInput', p),
  cpu: ({ xs: x, rstd: inv, w, dy }, p, out) => {
    for (let r = 0; r < p.rows; r++) {
      const rs = inv![r]!;
      let gx = 0;
      for (let j = 0; j < p.dim; j++) {
        const k = r * p.dim + j;
        gx += dy![k]! * w![j]! * x![k]! * rs;
      }
      gx /= p.dim;
      for (let j = 0; j < p.dim; j++) {
        const k = r * p.dim + j;
        out[k] = rs * (dy![k]! * w![j]! - x![k]! * rs * gx);
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launchRows(
      'rmsNormGradInput',
      p,
      p.rows,
      target.maxWorkgroupsPerDimension,
      `
  let base = i * dim;
  let r = rstd[i];
  var gx = 0.0;
  for (var j = 0u; j < dim; j++) { gx = fma(dy[base + j] * w[j], xs[base + j] * r, gx); }
  gx = gx / f32(dim);
  for (var j = 0u; j < dim; j++) {
    out[base + j] = r * (dy[base + j] * w[j] - xs[base + j] * r * gx);
  }`,
    ),
  loopIterations: (p) => 2 * p.dim,
  // A row sum in f32 feeds a difference of O(1) terms (as LayerNorm's input gradient).
  tolerance: (p) => ({ rtol: 1e-4, atol: 1e-6 * Math.sqrt(p.dim) * 4 }),
  describe: (p) => `rmsNormGradInput([${p.rows}, ${p.dim}])`,
});

/**
 * dw = Σ_rows dy·x·rstd, as [dim]. Inputs: x, rstd, dy. Each invocation loops over all rows: past llvmpipe's loop
 * limit the caller runs it on row chunks and adds the parts, as for LayerNorm's parameter gradients.
 */
export const rmsNormGradWeight = defineKernel<RmsNormParams>()({
  name: 'rmsNormGradWeight',
  inputs: [xs, rstd, dy],
  output: { size: (p) => p.dim, dtype: 'f32' },
  uniforms,
  validate: (p) => checkParams('rmsNormGradWeight', p),
  cpu: ({ xs: x, rstd: inv, dy }, p, out) => {
    for (let j = 0; j < p.dim; j++) {
      let dw = 0;
      for (let r = 0; r < p.rows; r++) dw += dy![r * p.dim + j]! * x![r * p.dim + j]! * inv![r]!;
      out[j] = dw;
    }
  },
  gpu: (p, _inputs, target) =>
    launchRows(
      'rmsNormGradWeight',
      p,
      p.dim,
      target.maxWorkgroupsPerDimension,
      `
  var dw = 0.0;
  for (var r = 0u; r < rows; r++) {
    let k = r * dim + i;
    dw = fma(dy[k], xs[k] * rstd[r], dw);
  }
  out[i] = dw;`,
    ),
  loopIterations: (p) => p.rows,
  // Column sums over `rows` f32 terms of either sign.
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-6 * Math.sqrt(p.rows) * 8 }),
  describe: (p) => `rmsNormGradWeight([${p.rows}, ${p.dim}])`,
});
