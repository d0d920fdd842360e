/**
 * Every kernel against its formula, not against its twin: the hand-computed tables of formula-cases.ts run on
 * the WebGPU backend and on the CPU twin alike, so a formula error the two share fails here. Also the
 * properties a table cannot show: dropout's scaling and kept fraction, and LayerNorm of a constant row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BINARY_OPS,
  CpuBackend,
  type HostArray,
  KERNELS,
  type KernelBackend,
  UNARY_OPS,
  type WebGpuBackend,
  kernel,
} from '../src/index.ts';
import { FORMULAS, type FormulaCase } from './formula-cases.ts';
import { firstPoison, openGpu, runKernel } from './helpers.ts';

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.destroy());

function expectFormula(got: HostArray[], f: FormulaCase, backend: string): void {
  const where = `${backend} ${kernel(f.kernel).describe(f.params)} (${f.what})`;
  expect(got.length, `${where}: outputs written`).toBe(f.expected.length);
  f.expected.forEach((expected, k) => {
    const out = got[k]!;
    const bad = firstPoison(out);
    if (bad) expect.fail(`${where}, output ${k}: ${bad}`);
    expect(out.length, `${where}, output ${k}: length`).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const diff = Math.abs(out[i]! - expected[i]!);
      if (!(diff <= f.tol.atol + f.tol.rtol * Math.abs(expected[i]!)))
        expect.fail(
          `${where}, output ${k} element ${i}: got ${out[i]}, expected ${expected[i]} ` +
            `(|diff| ${diff.toExponential(2)} > atol ${f.tol.atol} + rtol ${f.tol.rtol}·|expected|)`,
        );
    }
  });
}

it('every registered kernel, unary op and binary op has a formula case', () => {
  const covered = new Set(FORMULAS.map((f) => f.kernel));
  expect(Object.keys(KERNELS).filter((k) => !covered.has(k))).toEqual([]);
  const ops = (k: string) =>
    new Set(FORMULAS.filter((f) => f.kernel === k).map((f) => (f.params as { op: string }).op));
  expect(Object.keys(UNARY_OPS).filter((op) => !ops('unary').has(op))).toEqual([]);
  expect(Object.keys(BINARY_OPS).filter((op) => !ops('binary').has(op))).toEqual([]);
});

describe.each(['cpu twin', 'webgpu'])('on the %s', (name) => {
  const backend = (): KernelBackend => (name === 'webgpu' ? gpu : new CpuBackend({ poison: true }));

  it.each(FORMULAS.map((f) => [`${f.kernel}: ${f.what}`, f] as const))('%s', async (_, f) => {
    expectFormula(await runKernel(backend(), f.kernel, f), f, name);
  });

  it('dropout: each element is 0 or x/(1 − p), about 1 − p of them kept, the mask independent of x', async () => {
    const size = 4096;
    const p = 0.25;
    const x = Array.from({ length: size }, (_, i) => 1 + (i % 7));
    const params = { size, p, seed: 11 };
    const [y] = await runKernel(backend(), 'dropout', { inputs: [{ data: x, dtype: 'f32' }], params });
    const [y2] = await runKernel(backend(), 'dropout', {
      inputs: [{ data: x.map((v) => -2 * v), dtype: 'f32' }],
      params,
    });
    let kept = 0;
    for (let i = 0; i < size; i++) {
      const v = y![i]!;
      // The scale 1/(1 − p) = 4/3 is rounded to f32 once: 0.5 ulp.
      if (v !== 0 && Math.abs(v - x[i]! / (1 - p)) > 1e-6 * Math.abs(v))
        expect.fail(`element ${i}: ${v} is neither 0 nor ${x[i]}/(1 − ${p})`);
      if (v !== 0) kept++;
      // The backward pass reapplies the kernel to the gradient with the same seed: same positions dropped.
      if ((y2![i] === 0) !== (v === 0)) expect.fail(`element ${i}: the mask depends on the input values`);
    }
    // Kept count ~ Binomial(4096, 0.75): σ = √(4096·0.75·0.25) ≈ 27.7; 5σ (139) bounds a fair generator with
    // failure odds below 1e-6, while a wrong threshold (e.g. keeping p instead of 1 − p) is off by ~2048.
    expect(Math.abs(kept - size * (1 - p))).toBeLessThan(5 * Math.sqrt(size * p * (1 - p)));
  });

  it('layerNorm: a constant row normalizes to exactly the bias (eps keeps rstd finite)', async () => {
    const b = backend();
    const p = { rows: 1, dim: 4, eps: 1e-5 };
    const [stats] = await runKernel(b, 'layerNormStats', {
      inputs: [{ data: [5, 5, 5, 5], dtype: 'f32' }],
      params: p,
    });
    expect(Number.isFinite(stats![1])).toBe(true);
    const bias = [0.5, 0, -1, 0];
    const [y] = await runKernel(b, 'layerNormApply', {
      inputs: [
        { data: [5, 5, 5, 5], dtype: 'f32' },
        { data: Array.from(stats!), dtype: 'f32' },
        { data: [1, 2, 3, 4], dtype: 'f32' },
        { data: bias, dtype: 'f32' },
      ],
      params: p,
    });
    expect(Array.from(y!)).toEqual(bias);
  });
});
