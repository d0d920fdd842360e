/**
 * @file Row gather (embedding lookup) and its adjoint, a deterministic scatter-add.
 * Out-of-range indices read as zero rows on the GPU; the CPU twin throws, naming the position, so that
 * debug mode and the CPU backend catch them. With `offset` set, the table is one row block of a larger table
 * (rows offset .. offset + vocab − 1: model/src/row-blocks.ts splits a table above the adapter's bindable-buffer
 * limit this way); indices outside the block are then expected, read as zero rows and add nothing, so that the
 * blocks' gathers sum to the whole table's.
 */
import { type GpuTarget, defineKernel } from './kernel.ts';
import { WORKGROUP_1D, grid1d, gridIndexFn } from './wgsl.ts';

export interface GatherParams {
  /** Rows in the table. */
  vocab: number;
  /** Row width. */
  dim: number;
  /** Number of indices. */
  count: number;
  /** The table is rows offset .. offset + vocab − 1 of a larger one (a row block); indices outside it are skipped. */
  offset?: number;
}

function checkIndex(index: number, vocab: number, position: number): void {
  if (!(index >= 0 && index < vocab)) {
    throw new Error(`gather: index ${index} at position ${position} is outside the table's ${vocab} rows`);
  }
}

/**
 * The table row of index `index`, or −1 when a row block does not hold it (the whole table must: the CPU twin
 * throws on an index outside it; a block's window is not checked against the whole table, which it does not know).
 */
function tableRow(index: number, p: GatherParams, position: number): number {
  if (p.offset === undefined) {
    checkIndex(index, p.vocab, position);
    return index;
  }
  if (!(index >= 0)) checkIndex(index, p.vocab, position);
  const row = index - p.offset;
  return row >= 0 && row < p.vocab ? row : -1;
}

/** out[i, :] = table[idx[i], :]. Inputs: table [vocab, dim] (f32), idx [count] (i32). */
export const gather = defineKernel<GatherParams>()({
  name: 'gather',
  inputs: [
    { name: 'table', dtype: 'f32', size: (p) => p.vocab * p.dim },
    { name: 'idx', dtype: 'i32', size: (p) => p.count },
  ],
  output: { size: (p) => p.count * p.dim, dtype: 'f32' },
  uniforms: { size: 'u32', rowStride: 'u32', dim: 'u32', vocab: 'u32', offset: 'i32' },
  cpu: ({ table, idx }, p, out) => {
    for (let i = 0; i < p.count; i++) {
      const row = tableRow(idx![i]!, p, i);
      for (let d = 0; d < p.dim; d++) out[i * p.dim + d] = row < 0 ? 0 : table![row * p.dim + d]!;
    }
  },
  gpu: (p, _inputs, target) => {
    const n = p.count * p.dim;
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    return {
      key: 'gather',
      workgroups: grid.workgroups,
      uniforms: { size: n, rowStride: grid.rowStride, dim: p.dim, vocab: p.vocab, offset: p.offset ?? 0 },
      wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  let dim = params.dim;
  let row = idx[i / dim] - params.offset;
  if (row < 0 || u32(row) >= params.vocab) { out[i] = 0.0; return; }
  out[i] = table[u32(row) * dim + i % dim];
}`,
    };
  },
  tolerance: () => ({ rtol: 0, atol: 0 }),
  describe: (p) => `gather(table [${p.vocab}, ${p.dim}]${atOffset(p)}, ${p.count} indices)`,
});

/** What both scatter-adds share: the rows to sum, the table they fill, the uniforms of `scatterPlan`. */
const src = { name: 'src', dtype: 'f32', size: (p: GatherParams) => p.count * p.dim } as const;
const tableOut = { size: (p: GatherParams) => p.vocab * p.dim, dtype: 'f32' } as const;
const scatterUniforms = { size: 'u32', rowStride: 'u32', dim: 'u32', blocks: 'u32' } as const;
const atOffset = (p: GatherParams) => (p.offset === undefined ? '' : ` at row ${p.offset}`);

/**
 * grad[v, :] = Σ_{i : idx[i] = v} src[i, :], summed in increasing i. WGSL has no float atomics, and atomics
 * would make the sum order (and so the bits) vary between runs; instead one invocation per (row v, column
 * block) scans the indices in order. Cost O(vocab · count) compares, which is small next to the matmuls of
 * the models this engine trains. Inputs: src [count, dim] (f32), idx [count] (i32).
 */
export const scatterAdd = defineKernel<GatherParams>()({
  name: 'scatterAdd',
  inputs: [src, { name: 'idx', dtype: 'i32', size: (p) => p.count }],
  output: tableOut,
  uniforms: { ...scatterUniforms, count: 'u32', offset: 'i32' },
  cpu: ({ src, idx }, p, out) => {
    out.fill(0);
    for (let i = 0; i < p.count; i++) {
      const row = tableRow(idx![i]!, p, i);
      if (row < 0) continue;
      for (let d = 0; d < p.dim; d++) out[row * p.dim + d]! += src![i * p.dim + d];
    }
  },
  gpu: (p, _inputs, target) => {
    const plan = scatterPlan(
      p,
      target,
      'scatterAdd',
      (accumulate) =>
        // Every index, in order.
        `for (var i = 0u; i < params.count; i++) { if (idx[i] - params.offset == i32(v)) { ${accumulate('i')} } }`,
    );
    return { ...plan, uniforms: { ...plan.uniforms, count: p.count, offset: p.offset ?? 0 } };
  },
  loopIterations: (p) => p.count,
  // Sums of f32 values in index order; error ~ (rows sharing an index)·2^-24 relative.
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-6 * Math.sqrt(p.count) }),
  describe: (p) => `scatterAdd(${p.count} rows of ${p.dim} into [${p.vocab}, ${p.dim}]${atOffset(p)})`,
});

/** The indices grouped by row (a stable counting sort on the host): what `scatterAddSorted` reads. */
export interface SortedIndices {
  /**
   * Positions i in increasing order within each row v = idx[i] (of the block's rows, with an offset; the
   * positions of indices outside the block follow, unread).
   */
  order: Int32Array;
  /** Row v's positions are order[starts[v] .. starts[v+1]). */
  starts: Int32Array;
  /** The most positions any row has (the kernel's loop bound). */
  maxRun: number;
}

/** Groups positions by table row; with `offset`, by the rows of the block that starts there (see GatherParams). */
export function sortIndices(idx: ArrayLike<number>, vocab: number, offset?: number): SortedIndices {
  const p = { vocab, dim: 1, count: idx.length, offset };
  const rows = Int32Array.from({ length: idx.length }, (_, i) => tableRow(idx[i]!, p, i));
  const starts = new Int32Array(vocab + 1);
  for (const row of rows) if (row >= 0) starts[row + 1]!++;
  let maxRun = 0;
  for (let v = 0; v < vocab; v++) {
    maxRun = Math.max(maxRun, starts[v + 1]!);
    starts[v + 1]! += starts[v];
  }
  const next = starts.slice(0, vocab);
  const order = new Int32Array(idx.length);
  let outside = starts[vocab]!;
  rows.forEach((row, i) => {
    order[row >= 0 ? next[row]!++ : outside++] = i;
  });
  return { order, starts, maxRun };
}

export interface SortedScatterParams extends GatherParams {
  maxRun: number;
}

/**
 * The same sums as `scatterAdd`, in the same order, from indices sorted on the host (`sortIndices`): one
 * invocation per (row v, column block) reads only its own positions, O(count·dim + vocab·dim) instead of
 * O(vocab·count). Used when the indices came from the host, which is the case for token ids.
 * Inputs: src [count, dim] (f32), order [count] (i32), starts [vocab + 1] (i32).
 */
export const scatterAddSorted = defineKernel<SortedScatterParams>()({
  name: 'scatterAddSorted',
  inputs: [
    src,
    { name: 'order', dtype: 'i32', size: (p) => p.count },
    { name: 'starts', dtype: 'i32', size: (p) => p.vocab + 1 },
  ],
  output: tableOut,
  uniforms: scatterUniforms,
  cpu: ({ src, order, starts }, p, out) => {
    for (let v = 0; v < p.vocab; v++) {
      for (let d = 0; d < p.dim; d++) {
        let acc = 0;
        for (let k = starts![v]!; k < starts![v + 1]!; k++) acc += src![order![k]! * p.dim + d]!;
        out[v * p.dim + d] = acc;
      }
    }
  },
  gpu: (p, _inputs, target) =>
    scatterPlan(
      p,
      target,
      'scatterAddSorted',
      (accumulate) => `for (var k = starts[v]; k < starts[v + 1u]; k++) { ${accumulate('u32(order[k])')} }`,
    ),
  loopIterations: (p) => p.maxRun,
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-6 * Math.sqrt(p.count) }),
  describe: (p) => `scatterAddSorted(${p.count} rows of ${p.dim} into [${p.vocab}, ${p.dim}])`,
});

/**
 * Both scatter-adds: one invocation per (table row v, block of up to 4 columns) sums rows of src in increasing
 * position order; `loop` chooses which positions (all, testing each index, or row v's sorted run).
 */
function scatterPlan(
  p: GatherParams,
  target: GpuTarget,
  key: string,
  loop: (accumulate: (row: string) => string) => string,
) {
  const cols = Math.min(p.dim, 4);
  const blocks = Math.ceil(p.dim / cols);
  const n = p.vocab * blocks;
  const grid = grid1d(n, target.maxWorkgroupsPerDimension, 64);
  const accumulate = (row: string) =>
    `let at = (${row}) * dim; for (var c = 0u; c < ${cols}u; c++) { acc[c] += src[at + min(c0 + c, dim - 1u)]; }`;
  return {
    key: `${key}:${cols}`,
    workgroups: grid.workgroups,
    uniforms: { size: n, rowStride: grid.rowStride, dim: p.dim, blocks },
    wgsl: () => `${gridIndexFn}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gridIndex(gid, params.rowStride);
  if (t >= params.size) { return; }
  let dim = params.dim;
  let v = t / params.blocks;
  let c0 = (t % params.blocks) * ${cols}u;
  var acc: array<f32, ${cols}>;
  ${loop(accumulate)}
  for (var c = 0u; c < ${cols}u; c++) {
    if (c0 + c < dim) { out[v * dim + c0 + c] = acc[c]; }
  }
}`,
  };
}
