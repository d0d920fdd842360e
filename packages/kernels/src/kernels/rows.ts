/**
 * @file Row kernels over the last axis: softmax, log-softmax and softmax cross-entropy (forward per-row loss
 * and its gradient). One invocation per row with max-subtraction; the fused, workgroup-per-row versions for
 * large vocabularies come with the transformer kernels.
 */
import { assertInputs, defineKernel } from './kernel.ts';
import { WORKGROUP_1D, f32bits, grid1d, gridIndexFn, i32bits, paramsDecl } from './wgsl.ts';

export interface SoftmaxParams {
  rows: number;
  cols: number;
  log: boolean;
}

function rowLogSumExp(x: ArrayLike<number>, base: number, cols: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < cols; j++) max = Math.max(max, x[base + j]!);
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j]! - max);
  return max + Math.log(sum);
}

/** WGSL log-sum-exp of one row of \`xs\`, max-shifted. */
const rowLseFn = `
fn rowLse(base: u32, cols: u32) -> f32 {
  var m = -3.4028234663852886e38;
  for (var j = 0u; j < cols; j++) { m = max(m, xs[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < cols; j++) { s += exp(xs[base + j] - m); }
  return m + log(s);
}`;

export const softmax = defineKernel<SoftmaxParams>({
  name: 'softmax',
  output: (p, inputs) => {
    assertInputs('softmax', inputs, [['f32', p.rows * p.cols]]);
    return { size: p.rows * p.cols, dtype: 'f32' };
  },
  cpu: ([x], p, out) => {
    for (let r = 0; r < p.rows; r++) {
      const base = r * p.cols;
      const lse = rowLogSumExp(x!, base, p.cols);
      for (let j = 0; j < p.cols; j++) {
        const v = x![base + j]! - lse;
        out[base + j] = p.log ? v : Math.exp(v);
      }
    }
  },
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.rows, target.maxWorkgroupsPerDimension, 64);
    return {
      key: `softmax:${p.log ? 'log' : 'plain'}`,
      workgroups: grid.workgroups,
      uniforms: [p.rows, grid.rowStride, p.cols],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${paramsDecl(2)}${gridIndexFn}${rowLseFn}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gridIndex(gid, pu(1u));
  if (r >= pu(0u)) { return; }
  let cols = pu(2u);
  let base = r * cols;
  let lse = rowLse(base, cols);
  for (var j = 0u; j < cols; j++) { out[base + j] = ${p.log ? 'xs[base + j] - lse' : 'exp(xs[base + j] - lse)'}; }
}`,
    };
  },
  loopIterations: (p) => 3 * p.cols,
  // exp/log in f32 (WGSL allows a few ulp) around a max-shifted sum of `cols` terms accumulated in order: the
  // sum's relative error (and so the logsumexp's absolute one) grows up to ~cols·2^-24; 3e-8·cols sits between
  // the typical √cols and that worst case.
  tolerance: (p) => ({ rtol: 1e-5 + 3e-8 * p.cols, atol: 1e-6 }),
  describe: (p) => `${p.log ? 'logSoftmax' : 'softmax'}([${p.rows}, ${p.cols}])`,
});

export interface CrossEntropyParams {
  rows: number;
  cols: number;
  /** Rows whose target equals this give loss 0 and gradient 0. */
  ignoreIndex: number;
  /** Label smoothing ε: the target distribution is (1 − ε)·onehot + ε/cols. Default 0. */
  smoothing?: number;
}

/** WGSL mean of one row of `xs` (for label smoothing). */
const rowMeanFn = `
fn rowMean(base: u32, cols: u32) -> f32 {
  var s = 0.0;
  for (var j = 0u; j < cols; j++) { s += xs[base + j]; }
  return s / f32(cols);
}`;

function ceIndexCheck(t: number, p: CrossEntropyParams, row: number) {
  if (t !== p.ignoreIndex && !(t >= 0 && t < p.cols)) {
    throw new Error(
      `crossEntropy: target ${t} at row ${row} is outside [0, ${p.cols}) and is not ignoreIndex ${p.ignoreIndex}`,
    );
  }
}

/**
 * Per-row loss: logsumexp(x_r) − (1 − ε)·x_r[t_r] − ε·mean(x_r), 0 for ignored rows.
 * Inputs: logits [rows, cols], targets [rows] i32.
 */
export const crossEntropy = defineKernel<CrossEntropyParams>({
  name: 'crossEntropy',
  output: (p, inputs) => {
    assertInputs('crossEntropy', inputs, [
      ['f32', p.rows * p.cols],
      ['i32', p.rows],
    ]);
    return { size: p.rows, dtype: 'f32' };
  },
  cpu: ([x, targets], p, out) => {
    for (let r = 0; r < p.rows; r++) {
      const t = targets![r]!;
      ceIndexCheck(t, p, r);
      if (t === p.ignoreIndex) {
        out[r] = 0;
        continue;
      }
      const eps = p.smoothing ?? 0;
      let mean = 0;
      for (let j = 0; j < p.cols; j++) mean += x![r * p.cols + j]!;
      mean /= p.cols;
      out[r] = rowLogSumExp(x!, r * p.cols, p.cols) - (1 - eps) * x![r * p.cols + t]! - eps * mean;
    }
  },
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.rows, target.maxWorkgroupsPerDimension, 64);
    const smooth = (p.smoothing ?? 0) > 0;
    return {
      key: `crossEntropy:${smooth ? 'smoothed' : 'plain'}`,
      workgroups: grid.workgroups,
      uniforms: [p.rows, grid.rowStride, p.cols, i32bits(p.ignoreIndex), f32bits(p.smoothing ?? 0)],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${paramsDecl(3)}${gridIndexFn}${rowLseFn}${smooth ? rowMeanFn : ''}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gridIndex(gid, pu(1u));
  if (r >= pu(0u)) { return; }
  let cols = pu(2u);
  let t = targets[r];
  if (t == pi(3u) || t < 0 || u32(t) >= cols) { out[r] = 0.0; return; }
  let eps = pf(4u);
  let loss = rowLse(r * cols, cols) - (1.0 - eps) * xs[r * cols + u32(t)];
  out[r] = ${smooth ? 'loss - eps * rowMean(r * cols, cols)' : 'loss'};
}`,
    };
  },
  loopIterations: (p) => ((p.smoothing ?? 0) > 0 ? 3 : 2) * p.cols,
  // The logsumexp of `cols` terms, as for softmax above.
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-5 + 3e-8 * p.cols }),
  describe: (p) =>
    `crossEntropy([${p.rows}, ${p.cols}], ignoreIndex ${p.ignoreIndex}${p.smoothing ? `, smoothing ${p.smoothing}` : ''})`,
});

/**
 * d loss_r / d x_r = g_r · (softmax(x_r) − (1 − ε)·onehot(t_r) − ε/cols); zero rows where ignored.
 * Inputs: logits, targets, g [rows].
 */
export const crossEntropyGrad = defineKernel<CrossEntropyParams>({
  name: 'crossEntropyGrad',
  output: (p, inputs) => {
    assertInputs('crossEntropyGrad', inputs, [
      ['f32', p.rows * p.cols],
      ['i32', p.rows],
      ['f32', p.rows],
    ]);
    return { size: p.rows * p.cols, dtype: 'f32' };
  },
  cpu: ([x, targets, g], p, out) => {
    for (let r = 0; r < p.rows; r++) {
      const t = targets![r]!;
      ceIndexCheck(t, p, r);
      const base = r * p.cols;
      const lse = t === p.ignoreIndex ? 0 : rowLogSumExp(x!, base, p.cols);
      const eps = p.smoothing ?? 0;
      for (let j = 0; j < p.cols; j++) {
        const target = (j === t ? 1 - eps : 0) + eps / p.cols;
        out[base + j] = t === p.ignoreIndex ? 0 : g![r]! * (Math.exp(x![base + j]! - lse) - target);
      }
    }
  },
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.rows, target.maxWorkgroupsPerDimension, 64);
    return {
      key: 'crossEntropyGrad',
      workgroups: grid.workgroups,
      uniforms: [p.rows, grid.rowStride, p.cols, i32bits(p.ignoreIndex), f32bits(p.smoothing ?? 0)],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${paramsDecl(4)}${gridIndexFn}${rowLseFn}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gridIndex(gid, pu(1u));
  if (r >= pu(0u)) { return; }
  let cols = pu(2u);
  let base = r * cols;
  let t = targets[r];
  if (t == pi(3u) || t < 0 || u32(t) >= cols) {
    for (var j = 0u; j < cols; j++) { out[base + j] = 0.0; }
    return;
  }
  let lse = rowLse(base, cols);
  let gr = g[r];
  let eps = pf(4u);
  let spread = eps / f32(cols);
  for (var j = 0u; j < cols; j++) {
    let wanted = select(spread, 1.0 - eps + spread, j == u32(t));
    out[base + j] = gr * (exp(xs[base + j] - lse) - wanted);
  }
}`,
    };
  },
  loopIterations: (p) => 3 * p.cols,
  tolerance: (p) => ({ rtol: 1e-5 + 3e-8 * p.cols, atol: 1e-6 }),
  describe: (p) => `crossEntropyGrad([${p.rows}, ${p.cols}], ignoreIndex ${p.ignoreIndex})`,
});
