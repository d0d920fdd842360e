/**
 * @file LayerNorm over the last axis, as four single-output kernels: row statistics (mean, rstd in f32),
 * the affine normalization, the input gradient, and the weight/bias gradients (a column reduction).
 * One invocation per row (or column): right for llvmpipe, where workgroup reductions cost barriers.
 */
import { defineKernel } from './kernel.ts';
import { grid1d, gridIndexFn } from './wgsl.ts';

export interface LayerNormParams {
  rows: number;
  dim: number;
  eps: number;
}

const WG = 64;

/** The uniforms of all four kernels: `count` rows (or columns) to own, one per invocation. */
const uniforms = { count: 'u32', rowStride: 'u32', dim: 'u32', rows: 'u32', eps: 'f32' } as const;

function launchRows(name: string, p: LayerNormParams, count: number, maxPerDim: number, body: string) {
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
  let rows = params.rows;${body}`,
  };
}

/** The inputs, by what they hold. */
const xs = { name: 'xs', dtype: 'f32', size: (p: LayerNormParams) => p.rows * p.dim } as const;
const stats = { name: 'stats', dtype: 'f32', size: (p: LayerNormParams) => p.rows * 2 } as const;
const w = { name: 'w', dtype: 'f32', size: (p: LayerNormParams) => p.dim } as const;
const b = { name: 'b', dtype: 'f32', size: (p: LayerNormParams) => p.dim } as const;
const dy = { name: 'dy', dtype: 'f32', size: (p: LayerNormParams) => p.rows * p.dim } as const;
const rowsOut = { size: (p: LayerNormParams) => p.rows * p.dim, dtype: 'f32' } as const;

/** Mean and 1/sqrt(var + eps) (biased variance) of each row, as [rows, 2]. */
export const layerNormStats = defineKernel<LayerNormParams>()({
  name: 'layerNormStats',
  inputs: [xs],
  output: { size: (p) => p.rows * 2, dtype: 'f32' },
  uniforms,
  cpu: ({ xs: x }, p, out) => {
    for (let r = 0; r < p.rows; r++) {
      let mean = 0;
      for (let j = 0; j < p.dim; j++) mean += x![r * p.dim + j]!;
      mean /= p.dim;
      let v = 0;
      for (let j = 0; j < p.dim; j++) v += (x![r * p.dim + j]! - mean) ** 2;
      out[2 * r] = mean;
      out[2 * r + 1] = 1 / Math.sqrt(v / p.dim + p.eps);
    }
  },
  gpu: (p, _inputs, target) =>
    launchRows(
      'layerNormStats',
      p,
      p.rows,
      target.maxWorkgroupsPerDimension,
      `
  let base = i * dim;
  var s = 0.0;
  for (var j = 0u; j < dim; j++) { s += xs[base + j]; }
  let mean = s / f32(dim);
  var v = 0.0;
  for (var j = 0u; j < dim; j++) { let d = xs[base + j] - mean; v = fma(d, d, v); }
  out[2u * i] = mean;
  out[2u * i + 1u] = inverseSqrt(v / f32(dim) + params.eps);
}`,
    ),
  loopIterations: (p) => 2 * p.dim,
  // Two-pass f32 statistics over `dim` terms: relative error ~ dim·2^-24 at worst.
  tolerance: (p) => ({ rtol: 1e-5 + 1e-7 * p.dim, atol: 1e-6 }),
  describe: (p) => `layerNormStats([${p.rows}, ${p.dim}], eps ${p.eps})`,
});

/** y = (x − mean)·rstd·w + b. Inputs: x [rows, dim], stats [rows, 2], w [dim], b [dim]. */
export const layerNormApply = defineKernel<LayerNormParams>()({
  name: 'layerNormApply',
  inputs: [xs, stats, w, b],
  output: rowsOut,
  uniforms,
  cpu: ({ xs: x, stats, w, b }, p, out) => {
    for (let i = 0; i < p.rows * p.dim; i++) {
      const r = Math.floor(i / p.dim);
      const j = i % p.dim;
      out[i] = (x![i]! - stats![2 * r]!) * stats![2 * r + 1]! * w![j]! + b![j]!;
    }
  },
  // One invocation per row: the row's statistics are loaded once and no index is divided per element.
  gpu: (p, _inputs, target) =>
    launchRows(
      'layerNormApply',
      p,
      p.rows,
      target.maxWorkgroupsPerDimension,
      `
  let base = i * dim;
  let mean = stats[2u * i];
  let rstd = stats[2u * i + 1u];
  for (var j = 0u; j < dim; j++) { out[base + j] = fma((xs[base + j] - mean) * rstd, w[j], b[j]); }
}`,
    ),
  loopIterations: (p) => p.dim,
  tolerance: () => ({ rtol: 1e-5, atol: 1e-6 }),
  describe: (p) => `layerNormApply([${p.rows}, ${p.dim}])`,
});

/**
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, x̂ = (x − mean)·rstd.
 * Inputs: x, stats, w, dy.
 */
export const layerNormGradInput = defineKernel<LayerNormParams>()({
  name: 'layerNormGradInput',
  inputs: [xs, stats, w, dy],
  output: rowsOut,
  uniforms,
  cpu: ({ xs: x, stats, w, dy }, p, out) => {
    for (let r = 0; r < p.rows; r++) {
      const mean = stats![2 * r]!;
      const rstd = stats![2 * r + 1]!;
      let gMean = 0;
      let gxMean = 0;
      for (let j = 0; j < p.dim; j++) {
        const g = dy![r * p.dim + j]! * w![j]!;
        gMean += g;
        gxMean += g * (x![r * p.dim + j]! - mean) * rstd;
      }
      gMean /= p.dim;
      gxMean /= p.dim;
      for (let j = 0; j < p.dim; j++) {
        const k = r * p.dim + j;
        out[k] = rstd * (dy![k]! * w![j]! - gMean - (x![k]! - mean) * rstd * gxMean);
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launchRows(
      'layerNormGradInput',
      p,
      p.rows,
      target.maxWorkgroupsPerDimension,
      `
  let base = i * dim;
  let mean = stats[2u * i];
  let rstd = stats[2u * i + 1u];
  var gMean = 0.0;
  var gxMean = 0.0;
  for (var j = 0u; j < dim; j++) {
    let g = dy[base + j] * w[j];
    gMean += g;
    gxMean = fma(g, (xs[base + j] - mean) * rstd, gxMean);
  }
  gMean = gMean / f32(dim);
  gxMean = gxMean / f32(dim);
  for (var j = 0u; j < dim; j++) {
    let xhat = (xs[base + j] - mean) * rstd;
    out[base + j] = rstd * (dy[base + j] * w[j] - gMean - xhat * gxMean);
  }
}`,
    ),
  loopIterations: (p) => 2 * p.dim,
  // Row sums in f32 feed a difference of O(1) terms.
  tolerance: (p) => ({ rtol: 1e-4, atol: 1e-6 * Math.sqrt(p.dim) * 4 }),
  describe: (p) => `layerNormGradInput([${p.rows}, ${p.dim}])`,
});

/** [dW; dB] as [2, dim]: dW = Σ_rows dy·x̂, dB = Σ_rows dy. Inputs: x, stats, dy. */
export const layerNormGradParams = defineKernel<LayerNormParams>()({
  name: 'layerNormGradParams',
  inputs: [xs, stats, dy],
  output: { size: (p) => 2 * p.dim, dtype: 'f32' },
  uniforms,
  cpu: ({ xs: x, stats, dy }, p, out) => {
    for (let j = 0; j < p.dim; j++) {
      let dw = 0;
      let db = 0;
      for (let r = 0; r < p.rows; r++) {
        const k = r * p.dim + j;
        dw += dy![k]! * (x![k]! - stats![2 * r]!) * stats![2 * r + 1]!;
        db += dy![k]!;
      }
      out[j] = dw;
      out[p.dim + j] = db;
    }
  },
  gpu: (p, _inputs, target) =>
    launchRows(
      'layerNormGradParams',
      p,
      p.dim,
      target.maxWorkgroupsPerDimension,
      `
  var dw = 0.0;
  var db = 0.0;
  for (var r = 0u; r < rows; r++) {
    let k = r * dim + i;
    dw = fma(dy[k], (xs[k] - stats[2u * r]) * stats[2u * r + 1u], dw);
    db += dy[k];
  }
  out[i] = dw;
  out[dim + i] = db;
}`,
    ),
  loopIterations: (p) => p.rows,
  // Column sums over `rows` f32 terms.
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-6 * Math.sqrt(p.rows) * 8 }),
  describe: (p) => `layerNormGradParams([${p.rows}, ${p.dim}])`,
});
