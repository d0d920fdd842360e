/**
 * The backward twins against central differences of the forward twins, in float64 (no GPU): RMSNorm, the
 * SiLU and GELU derivatives, and the fused attention backward with grouped-query heads. The GPU kernels are
 * held to these twins by kernels.test.ts, so a backward formula the kernel and its twin share cannot pass.
 * With h = 1e-5 the central difference is off by ~h²·f''' ≈ 1e-10 plus rounding ~1e-16/h ≈ 1e-11 relative to
 * the loss: rtol 1e-6 with atol 1e-7 leaves room and still fails any wrong term (all O(1e-2) or more here).
 */
import { describe, expect, it } from 'vitest';
import { type HostArray, UNARY_OPS, kernel } from '../src/index.ts';
import { randomValues } from './helpers.ts';
import { seedNote } from './seed.ts';

const H = 1e-5;
const TOL = { rtol: 1e-6, atol: 1e-7 };

/** Runs a twin; returns its output, or for an in-place kernel the inputs it writes (in `inPlace` order). */
function twin(name: string, inputs: HostArray[], params: object): HostArray[] {
  const def = kernel(name);
  const copies = inputs.map((a) => a.slice());
  const info = def.output(
    params,
    copies.map((a) => ({ dtype: a instanceof Int32Array ? 'i32' : 'f32', size: a.length }) as const),
  );
  const out = new Float64Array(info.size);
  def.cpu(copies, params, out);
  return def.inPlace ? def.inPlace.map((i) => copies[i]!) : [out];
}

/** Σ loss-weights · output: a scalar whose gradient with respect to the output is the weights. */
function dot(a: HostArray, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * w[i]!;
  return s;
}

/** Compares `analytic` with the central differences of `loss` at each element of `x` (changed and restored). */
function expectGradient(what: string, x: Float64Array, analytic: HostArray, loss: () => number): void {
  expect(analytic.length, `${what}: gradient length`).toBe(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    x[i] = x0 + H;
    const up = loss();
    x[i] = x0 - H;
    const down = loss();
    x[i] = x0;
    const fd = (up - down) / (2 * H);
    const diff = Math.abs(analytic[i]! - fd);
    if (!(diff <= TOL.atol + TOL.rtol * Math.abs(fd)))
      expect.fail(
        `${what}, element ${i}: backward twin ${analytic[i]}, central difference ${fd} ` +
          `(|diff| ${diff.toExponential(2)}); ${seedNote()}`,
      );
  }
}

const f64 = (n: number, lo = -1, hi = 1) => Float64Array.from(randomValues(n, lo, hi));

describe('RMSNorm backward twins', () => {
  it.each([
    [1, 1, 1e-5],
    [5, 7, 1e-5],
    [3, 13, 1e-6],
  ])('[%i, %i], eps %f: dx and dw match central differences of the forward', (rows, dim, eps) => {
    const p = { rows, dim, eps };
    const [x, w, dy] = [f64(rows * dim, -2, 2), f64(dim), f64(rows * dim)];
    const forward = () => twin('rmsNorm', [x, w, new Float64Array(rows * dim), new Float64Array(rows)], p);
    const loss = () => dot(forward()[0]!, dy);
    const rstd = forward()[1]!;
    expectGradient('dx', x, twin('rmsNormGradInput', [x, rstd, w, dy], p)[0]!, loss);
    expectGradient('dw', w, twin('rmsNormGradWeight', [x, rstd, dy], p)[0]!, loss);
  });
});

describe('unary derivatives', () => {
  it.each([
    ['silu', 'silu_grad'],
    ['gelu', 'gelu_grad'],
  ] as const)('%s: %s matches central differences', (f, df) => {
    const xs = randomValues(64, -6, 6);
    for (const x of xs) {
      const fd = (UNARY_OPS[f].cpu(x + H) - UNARY_OPS[f].cpu(x - H)) / (2 * H);
      const got = UNARY_OPS[df].cpu(x);
      if (!(Math.abs(got - fd) <= TOL.atol + TOL.rtol * Math.abs(fd)))
        expect.fail(`${df}(${x}) = ${got}, central difference of ${f}: ${fd}; ${seedNote()}`);
    }
  });
});

describe('attention backward twins with grouped-query heads', () => {
  // [batch, heads, kvHeads, seq, queries, lengths, queryStart, layout]: odd T, padding, queries at an offset.
  const cases: [number, number, number, number, number, number[], number[], 'bhtd' | 'bthd'][] = [
    [2, 6, 2, 5, 5, [5, 3], [0, 0], 'bhtd'],
    [2, 6, 2, 5, 5, [5, 4], [0, 0], 'bthd'],
    [1, 3, 1, 7, 3, [7], [3], 'bthd'],
    [2, 4, 4, 5, 5, [5, 2], [0, 0], 'bhtd'],
  ];
  it.each(cases)(
    'B %i, H %i, KV %i, T %i, Tq %i, lengths %j, queryStart %j, %s: dQ, dK, dV, causal and not',
    (B, Hq, KV, T, Tq, lengths, starts, layout) => {
      const d = 4;
      for (const causal of [true, false]) {
        const p = {
          batch: B,
          heads: Hq,
          kvHeads: KV,
          seq: T,
          queries: Tq,
          headDim: d,
          causal,
          scale: 0.7,
          layout,
        };
        const [nq, nk, rows] = [B * Hq * Tq * d, B * KV * T * d, B * Hq * Tq];
        const [q, k, v, dO] = [f64(nq, -2, 2), f64(nk, -2, 2), f64(nk, -2, 2), f64(nq)];
        const [len, qs] = [Int32Array.from(lengths), Int32Array.from(starts)];
        const forward = () =>
          twin('attentionForward', [q, k, v, len, qs, new Float64Array(nq), new Float64Array(rows)], p);
        const loss = () => dot(forward()[0]!, dO);
        const [o, lse] = forward();
        const D = twin('attentionRowDot', [dO, o!, len, qs], p)[0]!;
        const back = [q, k, v, dO, lse!, D, len, qs];
        const [dK, dV] = twin('attentionGradKV', [...back, new Float64Array(nk), new Float64Array(nk)], p);
        const what = `${kernel('attentionGradKV').describe(p)}`;
        expectGradient(`${what}: dQ`, q, twin('attentionGradQ', back, p)[0]!, loss);
        expectGradient(`${what}: dK`, k, dK!, loss);
        expectGradient(`${what}: dV`, v, dV!, loss);
      }
    },
  );
});
