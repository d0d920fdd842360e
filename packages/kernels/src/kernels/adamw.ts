/**
 * @file AdamW, fused: one pass over a parameter's flat buffer updates the parameter and both moments in place.
 * The gradient is multiplied by `scale[0]` (a 1-element buffer), so global-norm clipping needs no readback.
 */
import { assertInputs, defineKernel } from './kernel.ts';
import { WORKGROUP_1D, f32bits, grid1d, gridIndexFn, paramsDecl } from './wgsl.ts';

export interface AdamWParams {
  size: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step number t ≥ 1, for the bias corrections 1 − βᵗ. */
  step: number;
}

/** Inputs: param, grad, m, v (all [size]) and scale [1]; param, m and v are updated in place. */
export const adamw = defineKernel<AdamWParams>({
  name: 'adamw',
  inPlace: [0, 2, 3],
  output: (p, inputs) => {
    assertInputs('adamw', inputs, [
      ['f32', p.size],
      ['f32', p.size],
      ['f32', p.size],
      ['f32', p.size],
      ['f32', 1],
    ]);
    if (!(p.step >= 1)) throw new Error(`adamw: step must be ≥ 1, got ${p.step}`);
    return { size: 0, dtype: 'f32' };
  },
  cpu: ([param, grad, m, v, scale], p) => {
    const bc1 = 1 - p.beta1 ** p.step;
    const bc2 = 1 - p.beta2 ** p.step;
    for (let i = 0; i < p.size; i++) {
      const g = grad![i]! * scale![0]!;
      m![i] = p.beta1 * m![i]! + (1 - p.beta1) * g;
      v![i] = p.beta2 * v![i]! + (1 - p.beta2) * g * g;
      const decayed = param![i]! * (1 - p.lr * p.weightDecay);
      param![i] = decayed - (p.lr * (m![i]! / bc1)) / (Math.sqrt(v![i]! / bc2) + p.eps);
    }
  },
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.size, target.maxWorkgroupsPerDimension);
    const bc1 = 1 - p.beta1 ** p.step;
    const bc2 = 1 - p.beta2 ** p.step;
    return {
      key: 'adamw',
      workgroups: grid.workgroups,
      uniforms: [
        p.size,
        grid.rowStride,
        ...[p.lr, p.beta1, p.beta2, p.eps, 1 - p.lr * p.weightDecay, 1 / bc1, 1 / bc2].map(f32bits),
      ],
      wgsl: () => `
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
${paramsDecl(5)}${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, pu(1u));
  if (i >= pu(0u)) { return; }
  let lr = pf(2u);
  let beta1 = pf(3u);
  let beta2 = pf(4u);
  let g = grad[i] * scale[0];
  let mi = beta1 * m[i] + (1.0 - beta1) * g;
  let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * pf(6u) - lr * (mi * pf(7u)) / (sqrt(vi * pf(8u)) + pf(5u));
}`,
    };
  },
  // A handful of f32 operations per element; the update is small next to the parameter.
  tolerance: () => ({ rtol: 1e-5, atol: 1e-7 }),
  describe: (p) => `adamw(size ${p.size}, step ${p.step}, lr ${p.lr})`,
});
