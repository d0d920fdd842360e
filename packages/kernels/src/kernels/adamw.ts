/**
 * @file AdamW, fused: one pass over a parameter's flat buffer updates the parameter and both moments in place.
 * The gradient is multiplied by `scale[0]` (a 1-element buffer), so global-norm clipping needs no readback.
 */
import { defineKernel } from './kernel.ts';
import { WORKGROUP_1D, grid1d, gridIndexFn } from './wgsl.ts';

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

const all = (p: AdamWParams) => p.size;

/** param, m and v are updated in place; the gradient is scaled by scale[0]. */
export const adamw = defineKernel<AdamWParams>()({
  name: 'adamw',
  inputs: [
    { name: 'param', dtype: 'f32', access: 'read_write', size: all },
    { name: 'grad', dtype: 'f32', size: all },
    { name: 'm', dtype: 'f32', access: 'read_write', size: all },
    { name: 'v', dtype: 'f32', access: 'read_write', size: all },
    { name: 'scale', dtype: 'f32', size: () => 1 },
  ],
  uniforms: {
    size: 'u32',
    rowStride: 'u32',
    lr: 'f32',
    beta1: 'f32',
    beta2: 'f32',
    eps: 'f32',
    /** 1 − lr·weightDecay. */
    decay: 'f32',
    /** 1 / (1 − β₁ᵗ) and 1 / (1 − β₂ᵗ). */
    invBc1: 'f32',
    invBc2: 'f32',
  },
  validate: (p) => {
    if (!(p.step >= 1)) throw new Error(`adamw: step must be ≥ 1, got ${p.step}`);
  },
  cpu: ({ param, grad, m, v, scale }, p) => {
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
      uniforms: {
        size: p.size,
        rowStride: grid.rowStride,
        lr: p.lr,
        beta1: p.beta1,
        beta2: p.beta2,
        eps: p.eps,
        decay: 1 - p.lr * p.weightDecay,
        invBc1: 1 / bc1,
        invBc2: 1 / bc2,
      },
      wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  let lr = params.lr;
  let beta1 = params.beta1;
  let beta2 = params.beta2;
  let g = grad[i] * scale[0];
  let mi = beta1 * m[i] + (1.0 - beta1) * g;
  let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * params.decay - lr * (mi * params.invBc1) / (sqrt(vi * params.invBc2) + params.eps);
}`,
    };
  },
  // A handful of f32 operations per element; the update is small next to the parameter.
  tolerance: () => ({ rtol: 1e-5, atol: 1e-7 }),
  describe: (p) => `adamw(size ${p.size}, step ${p.step}, lr ${p.lr})`,
});
