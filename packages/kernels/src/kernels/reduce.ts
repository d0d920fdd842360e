/**
 * @file Sum and max over any set of axes. The caller splits the input's axes into kept ones (the output,
 * with the input strides of each kept axis) and reduced ones; one invocation per output walks the reduced
 * elements. Adjacent reduced axes that are contiguous are merged first, so the common cases (last axis,
 * one axis, everything) run as a single strided loop.
 * With `chunkSize`, each output's reduced range is cut into chunks of that many elements, one invocation per
 * (output, chunk), giving partial results [outputs, chunks] for a second pass: that keeps each invocation's loop
 * short (see `loopIterations`) and spreads a large reduction over many invocations.
 */
import { defineKernel } from './kernel.ts';
import {
  MAX_RANK,
  WORKGROUP_1D,
  grid1d,
  gridIndexFn,
  padRank,
  product,
  stridedOffset,
  stridedOffsetFn,
} from './wgsl.ts';

export interface ReduceParams {
  op: 'sum' | 'max';
  outShape: number[];
  outStrides: number[];
  redShape: number[];
  redStrides: number[];
  /** Elements per chunk of the reduced range (default: all of it, one chunk). */
  chunkSize?: number;
}

/** Number of chunks each output's reduction is cut into. */
export function reduceChunks(p: ReduceParams): number {
  const count = product(p.redShape);
  return p.chunkSize ? Math.max(1, Math.ceil(count / p.chunkSize)) : 1;
}

/** Merges adjacent axes whose memory is contiguous across the pair (shape 1 axes dropped). */
export function collapseAxes(shape: readonly number[], strides: readonly number[]) {
  const s: number[] = [];
  const t: number[] = [];
  shape.forEach((d, k) => {
    if (d === 1) return;
    const last = s.length - 1;
    if (last >= 0 && t[last] === strides[k]! * d) {
      s[last] = s[last]! * d;
      t[last] = strides[k]!;
    } else {
      s.push(d);
      t.push(strides[k]!);
    }
  });
  return { shape: s.length ? s : [1], strides: t.length ? t : [0] };
}

const rankArray = { array: 'u32', length: MAX_RANK } as const;

export const reduce = defineKernel<ReduceParams>()({
  name: 'reduce',
  inputs: [{ name: 'xs', dtype: 'f32', size: () => 0 }],
  output: { size: (p) => product(p.outShape) * reduceChunks(p), dtype: 'f32' },
  uniforms: {
    /** Invocations: outputs × chunks. */
    size: 'u32',
    rowStride: 'u32',
    outRank: 'u32',
    redRank: 'u32',
    outShape: rankArray,
    outStrides: rankArray,
    /** The reduced axes after `collapseAxes`. */
    redShape: rankArray,
    redStrides: rankArray,
    /** Reduced elements per output, chunks per output, elements per chunk. */
    count: 'u32',
    chunks: 'u32',
    chunkSize: 'u32',
  },
  validate: (p) => {
    if (product(p.redShape) === 0 && p.op === 'max')
      throw new Error('reduce max: cannot reduce over zero elements');
  },
  cpu: ({ xs: x }, p, out) => {
    const n = product(p.outShape);
    const r = product(p.redShape);
    const chunks = reduceChunks(p);
    const size = p.chunkSize ?? r;
    for (let t = 0; t < n * chunks; t++) {
      const o = Math.floor(t / chunks);
      const c = t % chunks;
      const base = stridedOffset(o, p.outShape, p.outStrides);
      let acc = p.op === 'sum' ? 0 : Number.NEGATIVE_INFINITY;
      for (let j = c * size; j < Math.min(r, (c + 1) * size); j++) {
        const v = x![base + stridedOffset(j, p.redShape, p.redStrides)]!;
        acc = p.op === 'sum' ? acc + v : Math.max(acc, v);
      }
      out[t] = acc;
    }
  },
  loopIterations: (p) => {
    const redRank = collapseAxes(p.redShape, p.redStrides).shape.length;
    const perElement = redRank === 1 ? 1 : 1 + redRank;
    return (
      Math.min(product(p.redShape), p.chunkSize ?? Number.POSITIVE_INFINITY) * perElement + p.outShape.length
    );
  },
  gpu: (p, _inputs, target) => {
    const chunks = reduceChunks(p);
    const n = product(p.outShape) * chunks;
    const red = collapseAxes(p.redShape, p.redStrides);
    const simple = red.shape.length === 1;
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    const count = product(red.shape);
    const init = p.op === 'sum' ? '0.0' : '-3.4028234663852886e38';
    const combine = p.op === 'sum' ? 'acc + v' : 'max(acc, v)';
    const offset = simple ? 'j * redStridesAt(0u)' : 'redOffset(j, params.redRank)';
    return {
      key: `reduce:${p.op}:${simple ? 'simple' : 'strided'}`,
      workgroups: grid.workgroups,
      uniforms: {
        size: n,
        rowStride: grid.rowStride,
        outRank: p.outShape.length,
        redRank: red.shape.length,
        outShape: padRank(p.outShape, 1),
        outStrides: padRank(p.outStrides),
        redShape: padRank(red.shape, 1),
        redStrides: padRank(red.strides),
        count,
        chunks,
        chunkSize: p.chunkSize ?? count,
      },
      wgsl: () => `${gridIndexFn}${stridedOffsetFn('outOffset', 'outShape', 'outStrides')}${stridedOffsetFn('redOffset', 'redShape', 'redStrides')}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gridIndex(gid, params.rowStride);
  if (t >= params.size) { return; }
  let chunks = params.chunks;
  let size = params.chunkSize;
  let o = t / chunks;
  let c = t % chunks;
  let base = outOffset(o, params.outRank);
  let end = min(params.count, (c + 1u) * size);
  var acc: f32 = ${init};
  for (var j = c * size; j < end; j++) {
    let v = xs[base + ${offset}];
    acc = ${combine};
  }
  out[t] = acc;
}`,
    };
  },
  // f32 accumulation over R terms of magnitude ~1: rounding error grows like sqrt(R)·2^-24 for random signs.
  tolerance: (p) =>
    p.op === 'max' ? { rtol: 0, atol: 0 } : { rtol: 1e-5, atol: 1e-6 * Math.sqrt(product(p.redShape)) * 8 },
  describe: (p) => `reduce ${p.op}(out [${p.outShape}], over [${p.redShape}])`,
});
