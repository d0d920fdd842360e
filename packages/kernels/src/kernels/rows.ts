/**
 * @file Row kernels over the last axis: softmax, log-softmax and softmax cross-entropy (forward per-row loss,
 * with ignore_index and label smoothing, and its gradient), all max-shifted. Two shapes of the same program:
 *  - `thread`: one invocation per row, no barriers: fastest on llvmpipe for rows it can finish;
 *  - `workgroup`: a workgroup per row with tree reductions in workgroup memory: for long rows (large
 *    vocabularies) and real GPUs, and the way around llvmpipe's per-invocation loop limit on GLES.
 */
import { defineKernel } from './kernel.ts';
import type { GpuTarget } from './kernel.ts';
import { grid1d, gridIndexFn } from './wgsl.ts';

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

export type RowVariant = 'thread' | 'workgroup';
const ROW_WG = 64;

/** `passes` = how many times the row is walked; see the file comment for the rule. */
export function chooseRowVariant(cols: number, passes: number, target: GpuTarget): RowVariant {
  if (target.variant === 'thread' || target.variant === 'workgroup') return target.variant;
  return target.isSoftware && passes * cols <= target.maxLoopIterations ? 'thread' : 'workgroup';
}

function rowLoopIterations(cols: number, passes: number, target: GpuTarget | null): number {
  const variant = target ? chooseRowVariant(cols, passes, target) : 'thread';
  return variant === 'thread' ? passes * cols : passes * Math.ceil(cols / ROW_WG) + 2 * Math.log2(ROW_WG);
}

interface RowProgram {
  /** Also compute `mean`, the row mean (label smoothing). */
  mean?: boolean;
  /** WGSL run once per row and invocation after the statistics, before `perElement` (per-row values). */
  setup?: string;
  /** WGSL run for each column j of row r (with base, cols, lse, mean in scope). */
  perElement?: string;
  /** WGSL run once per row (written by one invocation). */
  perRow?: string;
}

/** The uniforms every row program reads (`rowStride` is the thread variant's grid stride). */
const rowUniforms = { rows: 'u32', rowStride: 'u32', cols: 'u32' } as const;

/** WGSL for a row program in either shape. `xs` is the row input; uniforms as `rowUniforms`. */
function rowWgsl(variant: RowVariant, program: RowProgram): string {
  const wg = variant === 'workgroup';
  const loop = (body: string) =>
    wg
      ? `for (var j = lid; j < cols; j += ${ROW_WG}u) { ${body} }`
      : `for (var j = 0u; j < cols; j++) { ${body} }`;
  const reduce = (fn: string, v: string) => (wg ? `${v} = ${fn}(${v}, lid);` : '');
  return `${gridIndexFn}
${
  wg
    ? `var<workgroup> red: array<f32, ${ROW_WG}>;
fn wgReduce(v: f32, lid: u32, isMax: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), isMax); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wgMax(v: f32, lid: u32) -> f32 { return wgReduce(v, lid, true); }
fn wgSum(v: f32, lid: u32) -> f32 { return wgReduce(v, lid, false); }
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= params.rows) { return; }
  let lid = lid3.x;`
    : `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gridIndex(gid, params.rowStride);
  if (r >= params.rows) { return; }`
}
  let cols = params.cols;
  let base = r * cols;
  var m = -3.4028234663852886e38;
  ${loop('m = max(m, xs[base + j]);')}
  ${reduce('wgMax', 'm')}
  var total = 0.0;
  ${loop('total += exp(xs[base + j] - m);')}
  ${reduce('wgSum', 'total')}
  let lse = m + log(total);
  ${
    program.mean
      ? `var sx = 0.0;
  ${loop('sx += xs[base + j];')}
  ${reduce('wgSum', 'sx')}
  let mean = sx / f32(cols);`
      : ''
  }
  ${program.setup ?? ''}
  ${program.perElement ? loop(program.perElement) : ''}
  ${program.perRow ? (wg ? `if (lid == 0u) { ${program.perRow} }` : program.perRow) : ''}
}`;
}

/** Workgroups and grid stride for a row program. */
function rowLaunch(rows: number, variant: RowVariant, target: GpuTarget) {
  if (variant === 'thread') return grid1d(rows, target.maxWorkgroupsPerDimension, 64);
  const x = Math.max(1, Math.min(rows, target.maxWorkgroupsPerDimension));
  return { workgroups: [x, Math.ceil(rows / x), 1] as [number, number, number], rowStride: 0 };
}

const logits = {
  name: 'xs',
  dtype: 'f32',
  size: (p: { rows: number; cols: number }) => p.rows * p.cols,
} as const;

export const softmax = defineKernel<SoftmaxParams>()({
  name: 'softmax',
  inputs: [logits],
  output: { size: (p) => p.rows * p.cols, dtype: 'f32' },
  uniforms: rowUniforms,
  cpu: ({ xs: x }, p, out) => {
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
    const variant = chooseRowVariant(p.cols, 3, target);
    const grid = rowLaunch(p.rows, variant, target);
    return {
      key: `softmax:${p.log ? 'log' : 'plain'}:${variant}`,
      workgroups: grid.workgroups,
      uniforms: { rows: p.rows, rowStride: grid.rowStride, cols: p.cols },
      wgsl: () =>
        rowWgsl(variant, {
          perElement: `out[base + j] = ${p.log ? 'xs[base + j] - lse' : 'exp(xs[base + j] - lse)'};`,
        }),
    };
  },
  loopIterations: (p, target) => rowLoopIterations(p.cols, 3, target),
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

function ceIndexCheck(t: number, p: CrossEntropyParams, row: number) {
  if (t !== p.ignoreIndex && !(t >= 0 && t < p.cols)) {
    throw new Error(
      `crossEntropy: target ${t} at row ${row} is outside [0, ${p.cols}) and is not ignoreIndex ${p.ignoreIndex}`,
    );
  }
}

const targets = { name: 'targets', dtype: 'i32', size: (p: CrossEntropyParams) => p.rows } as const;
const ceUniforms = { ...rowUniforms, ignoreIndex: 'i32', smoothing: 'f32' } as const;
const ceValues = (p: CrossEntropyParams, rowStride: number) => ({
  rows: p.rows,
  rowStride,
  cols: p.cols,
  ignoreIndex: p.ignoreIndex,
  smoothing: p.smoothing ?? 0,
});

/**
 * Per-row loss: logsumexp(x_r) − (1 − ε)·x_r[t_r] − ε·mean(x_r), 0 for ignored rows.
 * Inputs: logits [rows, cols], targets [rows] i32.
 */
export const crossEntropy = defineKernel<CrossEntropyParams>()({
  name: 'crossEntropy',
  inputs: [logits, targets],
  output: { size: (p) => p.rows, dtype: 'f32' },
  uniforms: ceUniforms,
  cpu: ({ xs: x, targets }, p, out) => {
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
    const smooth = (p.smoothing ?? 0) > 0;
    const variant = chooseRowVariant(p.cols, smooth ? 3 : 2, target);
    const grid = rowLaunch(p.rows, variant, target);
    return {
      key: `crossEntropy:${smooth ? 'smoothed' : 'plain'}:${variant}`,
      workgroups: grid.workgroups,
      uniforms: ceValues(p, grid.rowStride),
      wgsl: () =>
        rowWgsl(variant, {
          mean: smooth,
          perRow: `let t = targets[r];
    let valid = t != params.ignoreIndex && t >= 0 && u32(t) < cols;
    let eps = params.smoothing;
    let loss = lse - (1.0 - eps) * xs[base + min(u32(max(t, 0)), cols - 1u)]${smooth ? ' - eps * mean' : ''};
    out[r] = select(0.0, loss, valid);`,
        }),
    };
  },
  loopIterations: (p, target) => rowLoopIterations(p.cols, (p.smoothing ?? 0) > 0 ? 3 : 2, target),
  // The logsumexp of `cols` terms, as for softmax above.
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-5 + 3e-8 * p.cols }),
  describe: (p) =>
    `crossEntropy([${p.rows}, ${p.cols}], ignoreIndex ${p.ignoreIndex}${p.smoothing ? `, smoothing ${p.smoothing}` : ''})`,
});

/**
 * d loss_r / d x_r = g_r · (softmax(x_r) − (1 − ε)·onehot(t_r) − ε/cols); zero rows where ignored.
 * Inputs: logits, targets, g [rows].
 */
export const crossEntropyGrad = defineKernel<CrossEntropyParams>()({
  name: 'crossEntropyGrad',
  inputs: [logits, targets, { name: 'g', dtype: 'f32', size: (p) => p.rows }],
  output: { size: (p) => p.rows * p.cols, dtype: 'f32' },
  uniforms: ceUniforms,
  cpu: ({ xs: x, targets, g }, p, out) => {
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
    const variant = chooseRowVariant(p.cols, 3, target);
    const grid = rowLaunch(p.rows, variant, target);
    return {
      key: `crossEntropyGrad:${variant}`,
      workgroups: grid.workgroups,
      uniforms: ceValues(p, grid.rowStride),
      wgsl: () =>
        rowWgsl(variant, {
          // Ignored rows (and their invocations) still run the reductions: barriers need uniform control flow.
          setup: `let t = targets[r];
  let valid = t != params.ignoreIndex && t >= 0 && u32(t) < cols;
  let spread = params.smoothing / f32(cols);
  let hit = 1.0 - params.smoothing + spread;
  let gr = select(0.0, g[r], valid);`,
          perElement: 'out[base + j] = gr * (exp(xs[base + j] - lse) - select(spread, hit, j == u32(t)));',
        }),
    };
  },
  loopIterations: (p, target) => rowLoopIterations(p.cols, 3, target),
  tolerance: (p) => ({ rtol: 1e-5 + 3e-8 * p.cols, atol: 1e-6 }),
  describe: (p) => `crossEntropyGrad([${p.rows}, ${p.cols}], ignoreIndex ${p.ignoreIndex})`,
});
