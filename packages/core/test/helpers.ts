/**
 * @file Core test helpers: the two devices (the CPU reference and the required WebGPU adapter), closeness
 * checks, random inputs seeded per test (from the test's name, see kernels/test/seed.ts), and central-difference
 * gradient checks in float64 on the CPU backend.
 */
import type { DeviceChoice } from '@reprise/kernels';
import { afterAll, beforeAll, expect } from 'vitest';
import { nextUniform, seedNote } from '../../kernels/test/seed.ts';
import { Device, type Shape, type Tensor, sizeOf, tidy } from '../src/index.ts';

export async function openDevices(): Promise<{ cpu: Device; gpu: Device }> {
  const choice = (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice;
  if (choice === 'cpu')
    throw new Error('REPRISE_TEST_DEVICE=cpu: these tests compare WebGPU with the CPU twin');
  return {
    cpu: await Device.create({ device: 'cpu', poison: true }),
    gpu: await Device.create({ device: choice, poison: true }),
  };
}

/** Opens both devices for a test file (before all tests) and destroys them after; call at module level. */
export function useDevices(): { cpu: Device; gpu: Device } {
  const devices = {} as { cpu: Device; gpu: Device };
  beforeAll(async () => Object.assign(devices, await openDevices()));
  afterAll(() => {
    devices.cpu?.destroy();
    devices.gpu?.destroy();
  });
  return devices;
}

/**
 * |actual − expected| ≤ atol + rtol·|expected| elementwise. Both sides must be finite: poisoned (NaN) outputs
 * mark elements nobody wrote, so a reference holding NaN or ±Inf is itself broken and must not pass by
 * agreeing with an equally broken result.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { rtol: number; atol: number },
  what: string,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(e))
      expect.fail(`${what}: the reference's element ${i} is ${e}, not a finite value; ${seedNote()}`);
    if (!(Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e)))
      expect.fail(
        `${what}: element ${i} is ${a}, expected ${e} (atol ${tol.atol}, rtol ${tol.rtol}); ${seedNote()}`,
      );
  }
}

export interface InputSpec {
  shape: Shape;
  /** Values in [lo, hi); defaults to [-1, 1). */
  lo?: number;
  hi?: number;
  /** Keep |x| ≥ gap so that kinks (relu, abs, max) are not straddled by the finite difference. */
  gap?: number;
  dtype?: 'f32' | 'i32';
  /** For i32 inputs: explicit values. */
  values?: number[];
  /** Whether the gradient is checked for this input (default: f32 inputs). */
  grad?: boolean;
}

export function makeValues(spec: InputSpec): number[] {
  if (spec.values) return spec.values;
  const { lo = -1, hi = 1, gap = 0 } = spec;
  return Array.from({ length: sizeOf(spec.shape) }, () => {
    let v = lo + (hi - lo) * nextUniform();
    if (gap > 0 && Math.abs(v) < gap) v = v < 0 ? -gap - Math.abs(v) : gap + v;
    return Math.fround(v);
  });
}

/** Builds the inputs on a device, runs fn, and reduces to a scalar with fixed weights (so every output counts). */
function scalarLoss(
  device: Device,
  fn: (xs: Tensor[]) => Tensor,
  specs: InputSpec[],
  values: number[][],
  weights: number[] | null,
) {
  const xs = specs.map((s, i) => {
    const t = device.tensor(values[i]!, s.shape, s.dtype ?? 'f32');
    if ((s.dtype ?? 'f32') === 'f32' && s.grad !== false) t.setRequiresGrad();
    return t;
  });
  const out = fn(xs);
  const w = weights ?? makeValues({ shape: out.shape });
  const loss = out.mul(device.tensor(w, out.shape)).sum();
  return { xs, out, loss, weights: w };
}

/**
 * Checks d(Σ w·fn(x))/dx from backward() against central differences in float64 on the CPU backend
 * (eps 1e-6: truncation error ~eps², round-off ~1e-16/eps), then checks that WebGPU gives the same
 * forward values and gradients as the CPU within f32 tolerances.
 */
export async function gradCheck(
  devices: { cpu: Device; gpu: Device },
  fn: (xs: Tensor[]) => Tensor,
  specs: InputSpec[],
  gpuTol = { rtol: 2e-4, atol: 2e-5 },
): Promise<void> {
  const { cpu, gpu } = devices;
  const values = specs.map(makeValues);
  const analytic = tidy(() => {
    const r = scalarLoss(cpu, fn, specs, values, null);
    r.loss.backward();
    return { grads: r.xs.map((x) => x.grad), weights: r.weights, out: r.out, xs: r.xs };
  });
  const eps = 1e-6;
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    if ((spec.dtype ?? 'f32') !== 'f32' || spec.grad === false) continue;
    const g = await analytic.grads[i]!.hostData();
    const numeric = new Float64Array(values[i]!.length);
    for (let j = 0; j < numeric.length; j++) {
      const at = (delta: number) =>
        tidy(() => {
          const shifted = values.map((v, k) => (k === i ? v.map((x, m) => (m === j ? x + delta : x)) : v));
          return scalarLoss(cpu, fn, specs, shifted, analytic.weights).loss.detach();
        });
      const plus = at(eps);
      const minus = at(-eps);
      numeric[j] = ((await plus.item()) - (await minus.item())) / (2 * eps);
      plus.dispose();
      minus.dispose();
    }
    expectClose(
      g,
      numeric,
      { rtol: 1e-5, atol: 1e-6 },
      `gradient of input ${i} (cpu, float64) vs central differences`,
    );
  }
  // WebGPU: same forward values and gradients as the CPU reference.
  const onGpu = tidy(() => {
    const r = scalarLoss(gpu, fn, specs, values, analytic.weights);
    r.loss.backward();
    return { grads: r.xs.map((x) => x.grad), out: r.out, xs: r.xs };
  });
  expectClose(await onGpu.out.hostData(), await analytic.out.hostData(), gpuTol, 'forward webgpu vs cpu');
  for (let i = 0; i < specs.length; i++) {
    if (!analytic.grads[i]) continue;
    expect(onGpu.grads[i], `webgpu gradient of input ${i}`).toBeTruthy();
    expectClose(
      await onGpu.grads[i]!.hostData(),
      await analytic.grads[i]!.hostData(),
      gpuTol,
      `gradient ${i} webgpu vs cpu`,
    );
  }
  for (const r of [analytic, onGpu]) {
    r.out.dispose();
    for (const x of r.xs) {
      x.zeroGrad();
      x.dispose();
    }
  }
}
