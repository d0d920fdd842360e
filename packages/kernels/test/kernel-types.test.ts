/**
 * Kernel call sites are typed by each kernel's one declaration. The `@ts-expect-error` lines below are checked by
 * `pnpm typecheck` (tsc covers test files): each must be a compile error, or tsc fails with "Unused
 * '@ts-expect-error' directive". The runtime part checks what a caller that escapes the types (a cast, a
 * kernel picked by name at run time) is told.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend, type KernelBackend, type KernelParams, type Storage, runByName } from '../src/index.ts';

const ln: KernelParams<'layerNormStats'> = { rows: 2, dim: 3, eps: 1e-5 };

/** Never called: only compiled. */
function typeChecks(b: KernelBackend, x: Storage, stats: Storage, w: Storage, bias: Storage) {
  b.run('layerNormApply', { xs: x, stats, w, b: bias }, ln);
  // @ts-expect-error a missing input ('b', the bias) does not compile
  b.run('layerNormApply', { xs: x, stats, w }, ln);
  // @ts-expect-error a misspelt input name does not compile
  b.run('layerNormApply', { xs: x, stat: stats, w, b: bias }, ln);
  // @ts-expect-error a misspelt param does not compile
  b.run('layerNormStats', { xs: x }, { rows: 2, dim: 3, epsilon: 1e-5 });
  // @ts-expect-error a missing param does not compile
  b.run('layerNormStats', { xs: x }, { rows: 2, dim: 3 });
  // @ts-expect-error an unknown kernel does not compile
  b.run('layerNormStat', { xs: x }, ln);
  // @ts-expect-error an in-place kernel goes through runInPlace
  b.run('adamw', { param: x, grad: x, m: x, v: x, scale: x }, {} as KernelParams<'adamw'>);
  // Optional inputs are optional: matmul's epilogue.
  const mm: KernelParams<'matmul'> = {
    ...{ batch: 1, M: 2, N: 3, K: 3, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 },
    bias: true,
  };
  b.run('matmul', { A: x, B: w, Bias: bias }, mm);
  // @ts-expect-error a misspelt optional input does not compile either
  b.run('matmul', { A: x, B: w, bias }, mm);
}

/** Never called: a kernel's uniforms are typed by its spec, so a launch that misspells one does not compile. */
async function uniformChecks() {
  const { defineKernel } = await import('../src/kernels/kernel.ts');
  defineKernel<{ size: number }>()({
    name: 'example',
    inputs: [{ name: 'xs', dtype: 'f32', size: (p) => p.size }],
    output: { size: (p) => p.size, dtype: 'f32' },
    uniforms: { size: 'u32', scale: 'f32' },
    // @ts-expect-error the twin sees only the declared inputs ('ys' is not one)
    cpu: ({ xs, ys }, p, out) => {
      for (let i = 0; i < p.size; i++) out[i] = xs[i]! + ys[i]!;
    },
    gpu: (p) => ({
      key: 'example',
      workgroups: [1, 1, 1],
      // @ts-expect-error 'scal' is not a declared uniform ('scale' is missing)
      uniforms: { size: p.size, scal: 2 },
      wgsl: () => '',
    }),
    tolerance: () => ({ rtol: 0, atol: 0 }),
    describe: () => 'example',
  });
}

describe('kernel call sites', () => {
  it('are compiled against each kernel spec (see the @ts-expect-error lines)', () => {
    expect(typeof typeChecks).toBe('function');
    expect(typeof uniformChecks).toBe('function');
  });

  it('a call that escapes the types is refused at run time, naming the expected and missing inputs', () => {
    const cpu = new CpuBackend();
    const x = cpu.upload([1, 2, 3, 4, 5, 6], 'f32');
    const wrong = { xs: x } as never;
    expect(() => cpu.run('layerNormApply', wrong, ln)).toThrow(
      /layerNormApply\(\[2, 3\]\): expected inputs \{xs, stats, w, b\}, missing stats, w, b/,
    );
    expect(() => runByName(cpu, 'layerNormStats', [x, x], ln)).toThrow(
      /kernel layerNormStats: expected 1 inputs \(xs\), got 2/,
    );
    expect(() => runByName(cpu, 'layerNormStats', [cpu.upload([1], 'f32')], ln)).toThrow(
      /kernel layerNormStats: input 0 \(xs\) holds 1 elements, needs 6/,
    );
  });
});
