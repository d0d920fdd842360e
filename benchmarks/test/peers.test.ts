/**
 * @file The benchmark instrument itself: a wrong result is an error and is never timed; every peer's matmul
 * (tfjs webgpu on the test adapter, wasm, cpu; gpu.js wasm and webgpu; plain JS) computes the right product;
 * the tfjs GPT is the same model as ours (same losses before and after one AdamW step, from the same weights).
 */
import { AdamW, Device, tidy } from '@reprise/core';
import { CpuBackend, WebGpuBackend } from '@reprise/kernels';
import { Transformer, makeConfig, noDecayNames } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Job, measureJob } from '../src/job.ts';
import { type MatmulInputs, gpujsMatmul, plainJsMatmul, tfjsMatmul } from '../src/peers/matmul.ts';
import { TfjsGpt } from '../src/peers/tfjs-gpt.ts';
import { TFJS_BACKENDS, useTfjs } from '../src/peers/tfjs.ts';

let gpu: WebGpuBackend;
beforeAll(async () => {
  // Required, as every GPU test here: no adapter is a failure, not a skip.
  gpu = await WebGpuBackend.create((process.env.REPRISE_TEST_DEVICE ?? 'auto') as 'auto');
});
afterAll(() => gpu?.destroy());

function randomMatrices(M: number, N: number, K: number): MatmulInputs {
  let s = 99;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  return {
    a: Float32Array.from({ length: M * K }, next),
    b: Float32Array.from({ length: K * N }, next),
    M,
    N,
    K,
  };
}

function maxError(c: ArrayLike<number>, { a, b, M, N, K }: MatmulInputs): number {
  let worst = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let dot = 0;
      for (let k = 0; k < K; k++) dot += a[m * K + k]! * b[k * N + n]!;
      worst = Math.max(worst, Math.abs(c[m * N + n]! - dot));
    }
  }
  return worst;
}

describe('measureJob', () => {
  it('reports a wrong result as an error and never times it', async () => {
    let runs = 0;
    const job: Job = {
      run: async () => void runs++,
      outputs: async () => [Float32Array.of(1, 2, 3)],
      dispose: () => {},
    };
    const base = { bench: 'b', shape: [3], impl: 'x', adapter: 'a' };
    const m = await measureJob(
      base,
      () => job,
      () => 'element 2 is 3, expected 4',
      { flops: 1 },
    );
    expect(m.error).toBe('wrong result: element 2 is 3, expected 4');
    expect(m.median_ms).toBeUndefined();
    expect(runs).toBe(0);
  });

  it('times a right result and derives GFLOP/s from its median', async () => {
    const job: Job = { run: async () => {}, outputs: async () => [Float32Array.of(1)], dispose: () => {} };
    const m = await measureJob(
      { bench: 'b', shape: [1], impl: 'x', adapter: 'a' },
      () => job,
      () => null,
      {
        flops: 1e6,
      },
    );
    expect(m.error).toBeUndefined();
    expect(m.median_ms).toBeGreaterThan(0);
    expect(m.gflops).toBeCloseTo(1e6 / m.median_ms! / 1e6, 6);
  });

  it('turns a failing build into an error', async () => {
    const m = await measureJob(
      { bench: 'b', shape: [1], impl: 'x', adapter: 'a' },
      () => {
        throw new Error('backend failed to start');
      },
      () => null,
      {},
    );
    expect(m.error).toBe('backend failed to start');
  });
});

describe('peer matmuls compute A·B (17×19×23, float32 sums: error below 1e-5)', () => {
  const x = randomMatrices(17, 19, 23);
  const cases: [string, () => Job | Promise<Job>][] = [
    ['js', () => plainJsMatmul(x)],
    ['gpujs-wasm', () => gpujsMatmul(x)],
    ['gpujs-webgpu', () => gpujsMatmul(x, gpu)],
    ...TFJS_BACKENDS.map(
      (b) => [`tfjs-${b}`, async () => tfjsMatmul(await useTfjs(gpu, b), x)] as [string, () => Promise<Job>],
    ),
  ];
  for (const [name, build] of cases) {
    it(name, async () => {
      const job = await build();
      try {
        const [c] = await job.outputs();
        expect(c!.length).toBe(17 * 19);
        expect(maxError(c!, x)).toBeLessThan(1e-5);
      } finally {
        job.dispose();
      }
    }, 120_000);
  }

  it('gpu.js runs in WebAssembly by default in Node (the mode the report names gpujs-wasm)', () => {
    const job = gpujsMatmul(x);
    expect(job.mode).toBe('webasm');
    job.dispose();
  });
});

describe('the tfjs GPT is our Transformer', () => {
  const cfg = makeConfig({
    vocabSize: 37,
    dModel: 16,
    heads: 2,
    layers: 2,
    maxPositions: 8,
    positions: 'learned',
    dropout: 0,
  });
  const adamw = { lr: 1e-2, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.1 };
  const batch = 2;
  const seq = 8;
  const tokens = Int32Array.from({ length: batch * seq }, (_, i) => (i * 7 + 3) % 37);
  const targets = Int32Array.from({ length: batch * seq }, (_, i) => (i * 5 + 1) % 37);

  /** Losses of three AdamW steps on the same batch with our engine on the CPU twin (float64). */
  async function ours(): Promise<number[]> {
    const dev = new Device(new CpuBackend());
    const model = Transformer.create(dev, cfg, 3);
    const opt = new AdamW(Object.values(model.params), { ...adamw, noDecay: model.noDecay() });
    const losses: number[] = [];
    for (let s = 0; s < 3; s++) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = model.lmLoss(
          dev.tensor(tokens, [batch, seq], 'i32'),
          dev.tensor(targets, [batch, seq], 'i32'),
          {
            lengths: dev.full([batch], seq, 'i32'),
            positions: dev.tensor(
              Int32Array.from({ length: batch * seq }, (_, i) => i % seq),
              [batch, seq],
              'i32',
            ),
          },
        );
        l.backward();
        opt.step();
        return l.detach();
      });
      losses.push(await loss.item());
    }
    return losses;
  }

  it('gives the same losses over three steps from the same weights (tfjs cpu backend)', async () => {
    const expected = await ours();
    const init = Transformer.create(new Device(new CpuBackend()), cfg, 3);
    const weights: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, t] of Object.entries(init.params)) {
      weights[name] = { data: Float32Array.from(await t.hostData()), shape: [...t.shape] };
    }
    const tf = await useTfjs(gpu, 'cpu');
    const noDecay = noDecayNames(cfg);
    const gpt = new TfjsGpt(tf, cfg, weights, (name) => noDecay.has(name), adamw);
    const got: number[] = [];
    for (let s = 0; s < 3; s++) got.push(await gpt.step(tokens, targets, batch));
    gpt.dispose();
    // float32 (tfjs) against float64 (twin): 1e-5 relative on a loss of ~3.6.
    for (let s = 0; s < 3; s++) expect(Math.abs(got[s]! - expected[s]!)).toBeLessThan(1e-5 * expected[s]!);
    // The steps did something: a model that ignored the update would repeat its first loss.
    expect(expected[0]! - expected[2]!).toBeGreaterThan(0.05);
  }, 120_000);
});
