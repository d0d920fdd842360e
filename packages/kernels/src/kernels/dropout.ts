/**
 * @file Dropout with a counter-based generator: element i is kept when hash(seed, i) ≥ p·2³², so the same
 * seed gives the same mask on every backend and every run, and the backward pass (the same kernel applied
 * to the gradient) needs no stored mask.
 */
import { defineKernel } from './kernel.ts';
import { WORKGROUP_1D, grid1d, gridIndexFn } from './wgsl.ts';

export interface DropoutParams {
  size: number;
  /** Probability of dropping an element, in [0, 1). */
  p: number;
  seed: number;
}

/** PCG hash (O'Neill), the same u32 arithmetic in WGSL and in JS. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

const pcgWgsl = `
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}`;

function threshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  return Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
}

export const dropout = defineKernel<DropoutParams>()({
  name: 'dropout',
  inputs: [{ name: 'xs', dtype: 'f32', size: (p) => p.size }],
  output: { size: (p) => p.size, dtype: 'f32' },
  /** keepFrom: the hash threshold below which an element drops; hashedSeed: pcg(seed); scale: 1/(1 − p). */
  uniforms: { size: 'u32', rowStride: 'u32', keepFrom: 'u32', hashedSeed: 'u32', scale: 'f32' },
  validate: (p) => void threshold(p.p),
  cpu: ({ xs: x }, p, out) => {
    const t = threshold(p.p);
    const scale = 1 / (1 - p.p);
    const s = pcgHash(p.seed);
    for (let i = 0; i < p.size; i++) out[i] = pcgHash((i ^ s) >>> 0) >= t ? x![i]! * scale : 0;
  },
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.size, target.maxWorkgroupsPerDimension);
    return {
      key: 'dropout',
      workgroups: grid.workgroups,
      uniforms: {
        size: p.size,
        rowStride: grid.rowStride,
        keepFrom: threshold(p.p),
        hashedSeed: pcgHash(p.seed),
        scale: 1 / (1 - p.p),
      },
      wgsl: () => `${gridIndexFn}${pcgWgsl}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  out[i] = select(0.0, xs[i] * params.scale, pcg(i ^ params.hashedSeed) >= params.keepFrom);
}`,
    };
  },
  // The mask is exact; the scale 1/(1−p) is rounded to f32 once.
  tolerance: () => ({ rtol: 1e-6, atol: 0 }),
  describe: (p) => `dropout(size ${p.size}, p ${p.p}, seed ${p.seed})`,
});
