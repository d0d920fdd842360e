/**
 * @file A one-shot check for a machine with a real GPU (see docs/gpu.md and docs/perf-notes.md):
 * every kernel against its CPU twin on the hardware adapter, then matmul GFLOP/s per variant at large sizes.
 * Bundled into one file with esbuild so that it runs with a bare `node` and dawn.node, no node_modules.
 * Prints JSON lines; the caller adds a PyTorch baseline on the same card.
 */
import { Device, attention, tidy } from '@reprise/core';
import { type MatmulParams, WebGpuBackend } from '@reprise/kernels';
import { checkAgainstTwin, randomInts, randomValues } from '../../packages/kernels/test/helpers.ts';
import { timeIt } from './timing.ts';

const out = (o: object) => console.log(JSON.stringify(o));
const f32 = (data: number[]) => ({ data, dtype: 'f32' as const });
const i32 = (data: number[]) => ({ data, dtype: 'i32' as const });

async function correctness(gpu: WebGpuBackend, variant: string): Promise<number> {
  let failures = 0;
  const report = (name: string, problem: string | null) => {
    if (problem) failures++;
    out({ check: name, variant, ok: problem === null, problem });
  };
  for (const [M, N, K] of [
    [1, 1, 1],
    [33, 129, 65],
    [200, 136, 68],
    [513, 257, 129],
  ] as const) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const params = { batch: 2, M, N, K, transA, transB, aBatchStride: M * K, bBatchStride: 0 };
        const c = { inputs: [f32(randomValues(2 * M * K)), f32(randomValues(K * N))], params };
        report(`matmul ${M}x${N}x${K} ${+transA}${+transB}`, await checkAgainstTwin(gpu, 'matmul', c));
      }
    }
  }
  if (variant !== 'auto') return failures;
  const n = 1031;
  report(
    'unary gelu',
    await checkAgainstTwin(gpu, 'unary', {
      inputs: [f32(randomValues(n, -4, 4))],
      params: { op: 'gelu', size: n },
    }),
  );
  report(
    'binary pow broadcast',
    await checkAgainstTwin(gpu, 'binary', {
      inputs: [f32(randomValues(2 * n, 0.1, 3)), f32(randomValues(2))],
      params: { op: 'pow', shape: [n, 2], aStrides: [2, 1], bStrides: [0, 1] },
    }),
  );
  report(
    'reduce sum',
    await checkAgainstTwin(gpu, 'reduce', {
      inputs: [f32(randomValues(7 * n))],
      params: { op: 'sum', outShape: [7], outStrides: [n], redShape: [n], redStrides: [1] },
    }),
  );
  const x = f32(randomValues(33 * 129, -6, 6));
  const t = i32(randomInts(33, 129));
  report(
    'softmax',
    await checkAgainstTwin(gpu, 'softmax', { inputs: [x], params: { rows: 33, cols: 129, log: false } }),
  );
  report(
    'crossEntropy',
    await checkAgainstTwin(gpu, 'crossEntropy', {
      inputs: [x, t],
      params: { rows: 33, cols: 129, ignoreIndex: -100 },
    }),
  );
  const idx = i32(randomInts(n, 129));
  report(
    'gather',
    await checkAgainstTwin(gpu, 'gather', {
      inputs: [f32(randomValues(129 * 7)), idx],
      params: { vocab: 129, dim: 7, count: n },
    }),
  );
  report(
    'scatterAdd',
    await checkAgainstTwin(gpu, 'scatterAdd', {
      inputs: [f32(randomValues(n * 7)), idx],
      params: { vocab: 129, dim: 7, count: n },
    }),
  );
  return failures;
}

async function speed(gpu: WebGpuBackend, variant: string, sizes: number[]) {
  for (const n of sizes) {
    const params: MatmulParams = {
      batch: 1,
      M: n,
      N: n,
      K: n,
      transA: false,
      transB: false,
      aBatchStride: 0,
      bBatchStride: 0,
    };
    const a = gpu.upload(randomValues(n * n), 'f32');
    const b = gpu.upload(randomValues(n * n), 'f32');
    const timing = await timeIt(
      async () => {
        gpu.release(gpu.run('matmul', { A: a, B: b }, params));
        await gpu.sync();
      },
      { warmup: 2, samples: 5, minSampleMs: 50 },
    );
    out({
      bench: 'matmul',
      shape: [n, n, n],
      impl: `reprise-webgpu-${variant}`,
      adapter: gpu.adapter.description,
      median_ms: timing.medianMs,
      gflops: (2 * n ** 3) / timing.medianMs / 1e6,
    });
    gpu.release(a);
    gpu.release(b);
  }
}

/** Fused vs unfused attention forward+backward (causal), the shapes of the software-adapter target and larger. */
async function attentionSpeed(gpu: WebGpuBackend) {
  const dev = new Device(gpu);
  for (const [bh, seq] of [
    [32, 512],
    [32, 1024],
    [32, 2048],
  ] as const) {
    const shape = [1, bh, seq, 64];
    const [q, k, v, dO] = [1, 2, 3, 4].map((seed) => dev.randn(shape, { seed }).setRequiresGrad());
    for (const impl of ['fused', 'unfused'] as const) {
      gpu.resetPeak();
      const base = { bench: 'attention fwd+bwd', shape: [bh, seq, 64], impl: `reprise-webgpu-${impl}` };
      try {
        const timing = await timeIt(async () => {
          tidy(() => {
            attention(q!, k!, v!, { causal: true, impl }).backward(dO!);
            for (const t of [q, k, v]) t!.zeroGrad();
          });
          await gpu.sync();
        });
        const flops = (3.5 * 4 * bh * seq * seq * 64) / 2;
        out({
          ...base,
          median_ms: timing.medianMs,
          gflops: flops / timing.medianMs / 1e6,
          peak_bytes: gpu.memory().peakLiveBytes,
        });
      } catch (e) {
        out({ ...base, error: (e as Error).message });
      }
    }
    for (const t of [q, k, v, dO]) t!.dispose();
  }
}

async function main() {
  const variants = (process.env.VARIANTS ?? 'auto,register4x4,register16x16').split(',');
  const sizes = (process.env.SIZES ?? '1024,2048,4096,8192').split(',').map(Number);
  let failures = 0;
  for (const variant of variants) {
    const gpu = await WebGpuBackend.create(
      'auto',
      variant === 'auto' ? {} : { variants: { matmul: variant } },
    );
    if (variant === 'auto') {
      const features = [...gpu.context.adapter.features].sort();
      out({
        adapter: gpu.adapter,
        features,
        limits: { maxComputeWorkgroupStorageSize: gpu.context.device.limits.maxComputeWorkgroupStorageSize },
      });
    }
    failures += await correctness(gpu, variant);
    // The register variants are built for llvmpipe: time them only where they finish quickly.
    await speed(gpu, variant, variant === 'auto' ? sizes : sizes.filter((n) => n <= 2048));
    if (variant === 'auto' && process.env.ATTENTION !== '0') await attentionSpeed(gpu);
    out({ variant, compileSeconds: gpu.pipelines.compileSeconds });
    gpu.destroy();
  }
  out({ failures });
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
