/**
 * The benchmarks' correctness guards reject wrong results: each suite's real checker (matmul's float64 dot
 * products; the twin checks of attention, LayerNorm/cross-entropy gradients, the row kernels and the model's
 * logits; the training losses) is fed its correct output (accepted), a copy with one element just past the
 * tolerance, a NaN, or a missing output (refused), and a refused result is reported as an error and never
 * timed. The training guard checks the very batch that is timed. All on the CPU twin: no adapter needed.
 */
import { Device, type Tensor, attention, crossEntropy, layerNorm } from '@reprise/core';
import { CpuBackend, type HostArray, kernel } from '@reprise/kernels';
import { describe, expect, it } from 'vitest';
import { ATTENTION_TOL } from '../src/attention.ts';
import { type Job, measureJob, twinCheck } from '../src/job.ts';
import { checkSamples } from '../src/matmul.ts';
import { MODEL_TOL } from '../src/model.ts';
import { OPS_TOL } from '../src/ops.ts';
import { repriseOpJob } from '../src/reprise-job.ts';
import { checkKernel } from '../src/rows.ts';
import { type Batch, type Trainer, checkLosses, trainerJob } from '../src/train.ts';

const cpu = new Device(new CpuBackend());

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  });
}

/** A copy of `outputs` with element `j` of output `i` set to `value(old)`. */
function altered(outputs: HostArray[], i: number, j: number, value: (old: number) => number): HostArray[] {
  return outputs.map((o, k) => {
    if (k !== i) return o;
    const copy = Float64Array.from(o);
    copy[j] = value(copy[j]!);
    return copy;
  });
}

/** Just past the tolerance atol + rtol·|x| (and just within it, to show the bound is the stated one). */
const past = (tol: { rtol: number; atol: number }, factor: number) => (x: number) =>
  x + factor * (tol.atol + tol.rtol * Math.abs(x));

describe('matmul: sampled outputs against float64 dot products', () => {
  const shape = { M: 9, N: 7, K: 5, label: '9×7×5' };
  const a = values(shape.M * shape.K, 1);
  const b = values(shape.K * shape.N, 2);
  const c = new Float64Array(shape.M * shape.N);
  for (let m = 0; m < shape.M; m++)
    for (let n = 0; n < shape.N; n++)
      for (let k = 0; k < shape.K; k++) c[m * shape.N + n]! += a[m * shape.K + k]! * b[k * shape.N + n]!;
  // matmul.ts's bound: |got − dot| ≤ 1e-4·|dot| + 1e-6·K. Sample 0 is C[0, 0].
  const bound = 1e-4 * Math.abs(c[0]!) + 1e-6 * shape.K;
  const withC00 = (v: number) => Float64Array.from(c, (x, i) => (i === 0 ? v : x));

  it('accepts the product, and C[0, 0] off by half the bound', () => {
    expect(checkSamples(c, a, b, shape)).toBeNull();
    expect(checkSamples(withC00(c[0]! + 0.5 * bound), a, b, shape)).toBeNull();
  });

  it('refuses C[0, 0] off by 1.5× the bound, NaN, or missing', () => {
    expect(checkSamples(withC00(c[0]! + 1.5 * bound), a, b, shape)).toMatch(/^C\[0, 0\] = .*, expected /);
    expect(checkSamples(withC00(Number.NaN), a, b, shape)).toMatch(/^C\[0, 0\] = NaN/);
    expect(checkSamples(new Float32Array(0), a, b, shape)).toMatch(/^C\[0, 0\] = undefined/);
  });
});

/** The CPU twin's outputs of an op job: what the suites compare every implementation with. */
async function twinOutputs(job: Job): Promise<HostArray[]> {
  try {
    return await job.outputs();
  } finally {
    job.dispose();
  }
}

/** Every way to be wrong that a twin check must refuse, and the near miss it must accept. */
function expectRejectsWrong(
  check: (outs: HostArray[]) => string | null,
  good: HostArray[],
  tol: { rtol: number; atol: number },
) {
  const last = good.length - 1;
  const j = good[last]!.length - 1;
  expect(check(good), 'the reference itself').toBeNull();
  expect(check(altered(good, last, j, past(tol, 0.5))), 'within the tolerance').toBeNull();
  expect(check(altered(good, last, j, past(tol, 1.5))), 'past the tolerance').toMatch(
    new RegExp(`^output ${last}: element ${j}: `),
  );
  expect(check(altered(good, 0, 0, () => Number.NaN)), 'NaN').toMatch(/^output 0: element 0 is NaN/);
  expect(check(altered(good, 0, 0, () => Number.POSITIVE_INFINITY)), '∞').toMatch(/element 0 is Infinity/);
  expect(check(good.slice(0, -1)), 'an output missing').toMatch(/outputs, expected/);
  expect(check([...good, good[0]!]), 'an output too many').toMatch(/outputs, expected/);
  expect(check(good.map((o, i) => (i === last ? o.slice(0, -1) : o))), 'short').toMatch(
    new RegExp(`output ${last} has ${j} elements, expected ${j + 1}`),
  );
}

describe('twin checks of attention, ops, row kernels and the model', () => {
  it('attention forward and gradients (the suite’s tolerance)', async () => {
    const shape = [1, 2, 8, 4];
    const inputs = [0, 1, 2, 3].map((i) => ({ data: values(64, 10 + i), shape, differentiable: i < 3 }));
    const forward = ([q, k, v]: Tensor[]) => attention(q!, k!, v!, { causal: true });
    for (const backward of [false, true]) {
      const good = await twinOutputs(repriseOpJob(cpu, inputs, forward, { backward, upstream: 3 }));
      expect(good).toHaveLength(backward ? 3 : 1);
      expectRejectsWrong(twinCheck(good, ATTENTION_TOL), good, ATTENTION_TOL);
    }
  });

  it('LayerNorm and cross-entropy gradients (the suite’s tolerance)', async () => {
    const [rows, cols] = [4, 8];
    const ln = await twinOutputs(
      repriseOpJob(
        cpu,
        [
          { data: values(rows * cols, 1), shape: [rows, cols], differentiable: true },
          { data: values(cols, 2), shape: [cols], differentiable: true },
          { data: values(cols, 3), shape: [cols], differentiable: true },
          { data: values(rows * cols, 4), shape: [rows, cols] },
        ],
        ([x, w, b]) => layerNorm(x!, w!, b!),
        { backward: true, upstream: 3 },
      ),
    );
    expect(ln).toHaveLength(3);
    expectRejectsWrong(twinCheck(ln, OPS_TOL), ln, OPS_TOL);
    const ce = await twinOutputs(
      repriseOpJob(
        cpu,
        [
          { data: values(rows * cols, 5), shape: [rows, cols], differentiable: true },
          { data: Int32Array.of(0, 7, 3, 5), shape: [rows] },
        ],
        ([z, t]) => crossEntropy(z!, t!),
        { backward: true },
      ),
    );
    expectRejectsWrong(twinCheck(ce, OPS_TOL), ce, OPS_TOL);
  });

  it('row kernels at their own tolerance, and model logits', async () => {
    const backend = new CpuBackend();
    const [rows, cols] = [4, 8];
    const params = { rows, cols, ignoreIndex: -100 };
    const out = backend.run(
      'crossEntropy',
      { xs: backend.upload(values(rows * cols, 6), 'f32'), targets: backend.upload([1, 2, 3, 4], 'i32') },
      params,
    );
    const twin = await backend.read(out);
    expectRejectsWrong(
      checkKernel('crossEntropy', params, twin),
      [twin],
      kernel('crossEntropy').tolerance(params),
    );
    const logits = Float64Array.from(values(60, 7));
    expectRejectsWrong(twinCheck([logits], MODEL_TOL), [logits], MODEL_TOL);
  });
});

describe('a refused result is an error, never a time', () => {
  const base = { bench: 'guard', shape: [1], label: 'one', impl: 'test', adapter: 'none' };
  const job = (outputs: HostArray[]) => {
    const calls = { run: 0, disposed: 0 };
    const j: Job = {
      run: async () => void calls.run++,
      outputs: async () => outputs,
      dispose: () => void calls.disposed++,
    };
    return { j, calls };
  };
  const check = twinCheck([Float32Array.of(1, 2, 3)], { rtol: 1e-3, atol: 0 });

  it('a wrong output: the measurement holds the check’s message and no time; run never called', async () => {
    const { j, calls } = job([Float32Array.of(1, 2.01, 3)]);
    const m = await measureJob(base, () => j, check, { flops: 1 });
    expect(m.error).toMatch(/^wrong result: output 0: element 1: /);
    expect(m.median_ms).toBeUndefined();
    expect(m.gflops).toBeUndefined();
    expect(calls).toEqual({ run: 0, disposed: 1 });
  });

  it('a right output is timed', async () => {
    const { j, calls } = job([Float32Array.of(1, 2, 3)]);
    const m = await measureJob(base, () => j, check, { flops: 1 });
    expect(m.error).toBeUndefined();
    expect(m.median_ms).toBeGreaterThanOrEqual(0);
    expect(calls.run).toBeGreaterThan(0);
  });
});

describe('the training guard', () => {
  // A twin's two losses on the same batch: the first, then after one AdamW step.
  const twin = [Float64Array.of(7.62, 7.5)];

  it('accepts the twin’s losses within 1e-4 (first) and 5% of the drop', () => {
    expect(checkLosses([Float32Array.of(7.62, 7.5)], twin)).toBeNull();
    expect(
      checkLosses([Float64Array.of(7.62 * (1 + 5e-5), 7.62 * (1 + 5e-5) - 0.12 * 1.04)], twin),
    ).toBeNull();
  });

  it('refuses a first loss off by 2e-4, a drop off by 10%, no update, NaN', () => {
    expect(checkLosses([Float64Array.of(7.62 * (1 + 2e-4), 7.5)], twin)).toMatch(/^first loss /);
    expect(checkLosses([Float64Array.of(7.62, 7.62 - 0.12 * 1.1)], twin)).toMatch(
      /^loss drop after one step /,
    );
    expect(checkLosses([Float64Array.of(7.62, 7.62)], twin)).toMatch(/^loss drop/);
    expect(checkLosses([Float64Array.of(Number.NaN, 7.5)], twin)).toMatch(/^first loss NaN/);
    expect(checkLosses([Float64Array.of(7.62, Number.NaN)], twin)).toMatch(/^loss drop after one step NaN/);
  });

  /** A stand-in trainer: loss 8 − 0.1·steps so far, plus `error(batch)`; records the batches it trains on. */
  const fakeTrainer = (error: (b: Batch) => number) => {
    const seen: number[] = [];
    let steps = 0;
    const trainer: Trainer = {
      step: async (b) => {
        seen.push(b.batch);
        return 8 - 0.1 * steps++ + error(b);
      },
      peakBytes: async (b) => {
        seen.push(b.batch);
        return 0;
      },
      dispose: () => {},
    };
    return { trainer, seen };
  };
  const base = () => ({ bench: 'train step', shape: [8, 128], label: 'B 8', impl: 'fake', adapter: 'none' });
  const batchOf = (n: number): Batch => ({
    tokens: new Int32Array(n),
    targets: new Int32Array(n),
    batch: n,
    seq: 1,
  });

  it('checks the batch it times: a trainer wrong only at the timed batch size is refused, not timed', async () => {
    const timed = batchOf(8);
    const reference = fakeTrainer(() => 0);
    const expected = await trainerJob(reference.trainer, timed).outputs();
    expect(reference.seen, 'the twin trains on the timed batch').toEqual([8, 8]);
    const right = fakeTrainer(() => 0);
    const ok = await measureJob(
      base(),
      () => trainerJob(right.trainer, timed),
      (o) => checkLosses(o, expected),
      {},
    );
    expect(ok.error).toBeUndefined();
    expect(new Set(right.seen), 'checked, timed and measured on the timed batch only').toEqual(new Set([8]));
    const wrongAt8 = fakeTrainer((b) => (b.batch === 8 ? 0.01 : 0));
    const m = await measureJob(
      base(),
      () => trainerJob(wrongAt8.trainer, timed),
      (o) => checkLosses(o, expected),
      {},
    );
    expect(m.error).toMatch(/^wrong result: first loss 8.01\d*, CPU twin 8$/);
    expect(m.median_ms).toBeUndefined();
    expect(wrongAt8.seen, 'two check steps, no timed step').toEqual([8, 8]);
  });
});
