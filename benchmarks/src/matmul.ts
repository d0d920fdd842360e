/**
 * @file `bench matmul`: GFLOP/s of our matmul on the chosen WebGPU adapter and of its CPU twin, same run.
 * Every result is checked against float64 dot products at sampled positions before it is timed; a wrong
 * result is reported as an error, never as a time.
 */
import { CpuBackend, type KernelBackend, type MatmulParams, WebGpuBackend } from '@reprise/kernels';
import type { Measurement, SuiteOptions } from './report.ts';
import { timeIt } from './timing.ts';

interface Shape {
  M: number;
  N: number;
  K: number;
  label: string;
}

const square = (n: number): Shape => ({ M: n, N: n, K: n, label: `${n}³` });

export function matmulShapes(mode: SuiteOptions['mode']): Shape[] {
  if (mode === 'quick') return [256, 512, 1024].map(square);
  const full = mode === 'full';
  const squares = (full ? [128, 256, 512, 1024, 2048] : [128, 256, 512, 1024]).map(square);
  const transformer: Shape[] = [
    { M: 4096, N: 128, K: 512, label: 'tokens×d ← ·W (4096×128×512)' },
    { M: 2048, N: 512, K: 128, label: 'MLP up (2048×512×128)' },
  ];
  const odd: Shape[] = [
    { M: 127, N: 129, K: 131, label: 'odd 127×129×131' },
    { M: 1000, N: 1000, K: 1000, label: 'odd 1000³' },
    { M: 1, N: 1024, K: 1024, label: 'skinny 1×1024×1024' },
  ];
  return full
    ? [...squares, ...transformer, ...odd]
    : [...squares, ...transformer.slice(0, 1), ...odd.slice(0, 1)];
}

function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Compares 64 sampled outputs with float64 dot products; returns a problem or null. */
function checkSamples(
  c: ArrayLike<number>,
  a: Float32Array,
  b: Float32Array,
  { M, N, K }: Shape,
): string | null {
  for (let s = 0; s < 64; s++) {
    const m = (s * 7919) % M;
    const n = (s * 104729) % N;
    let dot = 0;
    for (let k = 0; k < K; k++) dot += a[m * K + k]! * b[k * N + n]!;
    const got = c[m * N + n]!;
    if (!(Math.abs(got - dot) <= 1e-4 * Math.abs(dot) + 1e-6 * K)) {
      return `C[${m}, ${n}] = ${got}, expected ${dot}`;
    }
  }
  return null;
}

async function measure(
  backend: KernelBackend,
  shape: Shape,
  impl: string,
): Promise<Omit<Measurement, 'adapter'>> {
  const { M, N, K } = shape;
  const params: MatmulParams = {
    batch: 1,
    M,
    N,
    K,
    transA: false,
    transB: false,
    aBatchStride: 0,
    bBatchStride: 0,
  };
  const aData = randomData(M * K, 1);
  const bData = randomData(K * N, 2);
  const a = backend.upload(aData, 'f32');
  const b = backend.upload(bData, 'f32');
  const base = { bench: 'matmul', shape: [M, N, K], label: shape.label, impl };
  try {
    const out = backend.run('matmul', [a, b], params);
    const problem = checkSamples(await backend.read(out), aData, bData, shape);
    backend.release(out);
    if (problem) return { ...base, error: `wrong result: ${problem}` };
    const timing = await timeIt(async () => {
      const c = backend.run('matmul', [a, b], params);
      if (backend instanceof WebGpuBackend) await backend.sync();
      backend.release(c);
    });
    return { ...base, median_ms: timing.medianMs, gflops: (2 * M * N * K) / timing.medianMs / 1e6 };
  } finally {
    backend.release(a);
    backend.release(b);
  }
}

/** The CPU twin is float64 TypeScript (~1 GFLOP/s): above this many multiply-adds it runs only with --full. */
const CPU_TWIN_LIMIT = 300 ** 3;

export async function benchMatmul(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const cpu = new CpuBackend();
  const results: Measurement[] = [];
  const adapter = gpu.adapter.description;
  for (const shape of matmulShapes(options.mode)) {
    results.push({ ...(await measure(gpu, shape, 'reprise-webgpu')), adapter });
    options.progress?.(results.at(-1)!);
    if (shape.M * shape.N * shape.K <= (options.mode === 'full' ? 1024 ** 3 : CPU_TWIN_LIMIT)) {
      results.push({
        ...(await measure(cpu, shape, 'reprise-cpu-twin')),
        adapter: 'cpu (float64 TypeScript)',
      });
      options.progress?.(results.at(-1)!);
    }
  }
  const at1024 = results.find((r) => r.impl === 'reprise-webgpu' && r.shape.join() === '1024,1024,1024');
  if (at1024?.gflops !== undefined && gpu.adapter.isSoftware) {
    const verdict =
      at1024.gflops >= TARGET_1024 ? 'met' : `missed by ${(TARGET_1024 - at1024.gflops).toFixed(1)} GFLOP/s`;
    options.note?.(
      `target on a software adapter: ≥ ${TARGET_1024} GFLOP/s at 1024³: ${at1024.gflops.toFixed(1)}, ${verdict}`,
    );
  }
  return results;
}

/** Issue #2's target for this machine's software adapter. */
const TARGET_1024 = 20;
