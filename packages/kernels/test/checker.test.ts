/**
 * The checkers themselves: the twin comparison must reject a reference that holds NaN, Inf or poison (not
 * only a result that does), and random inputs must come from the running test's own seed.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend, POISON_I32 } from '../src/index.ts';
import { type KernelCase, checkAgainstTwin, compareWritten, randomValues } from './helpers.ts';
import { hashName, uniformStream } from './seed.ts';

const copy = (data: number[]): KernelCase => ({
  inputs: [{ data, dtype: 'f32' }],
  params: { op: 'copy', size: data.length },
});

describe('the twin comparison', () => {
  it('rejects a twin output holding NaN even when the result agrees with it', async () => {
    // Both sides copy a NaN input: agreeing NaNs must not pass as a match.
    const problem = await checkAgainstTwin(new CpuBackend({ poison: true }), 'unary', copy([1, Number.NaN]));
    expect(problem).toMatch(
      /CPU twin's output is not a valid reference: element 1 is NaN; random inputs seeded/,
    );
  });

  it('rejects ±Inf and the i32 poison sentinel in the reference, and NaN in the result', () => {
    const c = copy([1, 2]);
    const ok = new Float32Array([1, 2]);
    expect(compareWritten('unary', c, [ok], [new Float32Array([1, Number.POSITIVE_INFINITY])])).toMatch(
      /CPU twin's output is not a valid reference: element 1 is Infinity/,
    );
    const cast = { inputs: [{ data: [1, 2], dtype: 'f32' as const }], params: { size: 2, to: 'i32' } };
    const poisoned = new Int32Array([POISON_I32, 2]);
    expect(compareWritten('cast', cast, [new Int32Array([1, 2])], [poisoned])).toMatch(
      /not a valid reference: element 0 is the i32 poison sentinel/,
    );
    expect(compareWritten('unary', c, [new Float32Array([Number.NaN, 2])], [ok])).toMatch(
      /WebGPU output element 0 is NaN/,
    );
    expect(compareWritten('unary', c, [ok], [ok])).toBeNull();
  });

  it('still reports an ordinary mismatch beyond the tolerance', () => {
    expect(
      compareWritten('unary', copy([1, 2]), [new Float32Array([1, 2.001])], [new Float32Array([1, 2])]),
    ).toMatch(/element 1: webgpu 2.00\d*, cpu 2 /);
  });
});

describe('per-test seeds', () => {
  it('random inputs restart from the hash of the running test name', () => {
    const u = uniformStream(hashName(expect.getState().currentTestName!));
    const expected = [u(), u(), u()].map((v) => Math.fround(-1 + 2 * v));
    expect(randomValues(3)).toEqual(expected);
  });
});
