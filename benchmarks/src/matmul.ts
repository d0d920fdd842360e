/**
 * @file `bench matmul`: GFLOP/s of our matmul on the chosen WebGPU adapter, of its CPU twin and of the peers
 * (PyTorch CPU at the square sizes, tfjs webgpu/wasm/cpu, gpu.js wasm/webgpu, plain JS), all in the same run,
 * results read back to the host. Every result is checked against float64 dot products at sampled positions
 * before it is timed; a wrong result is reported as an error, never as a time.
 */
import {
  CpuBackend,
  type HostArray,
  type KernelBackend,
  type MatmulParams,
  WebGpuBackend,
} from '@reprise/kernels';
import { type Job, measureJob } from './job.ts';
import { type MatmulInputs, gpujsMatmul, plainJsMatmul, tfjsMatmul } from './peers/matmul.ts';
import { TFJS_BACKENDS, tfjsImpl, useTfjs } from './peers/tfjs.ts';
import { noteTorchSkipped, torchMatmulJob, torchPeer } from './peers/torch.ts';
import { type Measurement, type SuiteOptions, atLeast } from './report.ts';

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
export function checkSamples(
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

/** Our matmul on a kernel backend (the WebGPU kernels or the CPU twin), result read back to the host. */
function repriseMatmul(backend: KernelBackend, { a: aData, b: bData, M, N, K }: MatmulInputs): Job {
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
  const a = backend.upload(aData, 'f32');
  const b = backend.upload(bData, 'f32');
  const once = async () => {
    const c = backend.run('matmul', { A: a, B: b }, params);
    try {
      return await backend.read(c);
    } finally {
      backend.release(c);
    }
  };
  return {
    run: async () => void (await once()),
    outputs: async () => [await once()],
    dispose: () => {
      backend.release(a);
      backend.release(b);
    },
  };
}

/** Peers at about 1 GFLOP/s (plain JS, tfjs-cpu, gpu.js, our float64 twin) run up to this size. */
const slowLimit = (mode: SuiteOptions['mode']) => (mode === 'full' ? 1024 ** 3 : 512 ** 3);

interface Impl {
  impl: string;
  adapter: string;
  slow: boolean;
  /** Runs at these shapes only (default: all). */
  only?: (shape: Shape) => boolean;
  build: (inputs: MatmulInputs) => Job | Promise<Job>;
}

function impls(gpu: WebGpuBackend, buffersOnly: () => Promise<WebGpuBackend>): Impl[] {
  const dawn = gpu.adapter.description;
  const host = 'cpu';
  const list: Impl[] = [
    { impl: 'reprise-webgpu', adapter: dawn, slow: false, build: (x) => repriseMatmul(gpu, x) },
    // Where our kernels read operands through textures, the same kernel from storage buffers: what they gain.
    ...(gpu.target.maxTextureSide > 0
      ? [
          {
            impl: 'reprise-webgpu-buffers',
            adapter: `${dawn}, operands from storage buffers (no textures)`,
            slow: false,
            build: async (x: MatmulInputs) => repriseMatmul(await buffersOnly(), x),
          },
        ]
      : []),
    {
      impl: 'reprise-cpu-twin',
      adapter: 'cpu (float64 TypeScript)',
      slow: true,
      build: (x) => repriseMatmul(new CpuBackend(), x),
    },
  ];
  for (const backend of TFJS_BACKENDS) {
    list.push({
      impl: tfjsImpl(backend),
      adapter: backend === 'webgpu' ? dawn : host,
      slow: backend === 'cpu',
      build: async (x) => tfjsMatmul(await useTfjs(gpu, backend), x),
    });
  }
  list.push(
    { impl: 'gpujs-wasm', adapter: host, slow: true, build: (x) => gpujsMatmul(x) },
    { impl: 'gpujs-webgpu', adapter: dawn, slow: true, build: (x) => gpujsMatmul(x, gpu) },
    { impl: 'js', adapter: host, slow: true, build: (x) => plainJsMatmul(x) },
  );
  const torch = torchPeer();
  if (torch)
    list.push({
      impl: torch.impl,
      adapter: torch.adapter,
      slow: false,
      only: (s) => s.M === s.N && s.N === s.K,
      build: (x) => torchMatmulJob(torch.python, { kind: 'matmul', ...x }),
    });
  return list;
}

export async function benchMatmul(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const results: Measurement[] = [];
  noteTorchSkipped(options.note);
  const buffers: { backend?: Promise<WebGpuBackend> } = {};
  const buffersOnly = () =>
    (buffers.backend ??= WebGpuBackend.create(gpu.adapter.backend as 'opengles', { textureOperands: false }));
  try {
    return await measureAll(gpu, options, impls(gpu, buffersOnly), results);
  } finally {
    (await buffers.backend)?.destroy();
  }
}

async function measureAll(
  gpu: WebGpuBackend,
  options: SuiteOptions,
  all: Impl[],
  results: Measurement[],
): Promise<Measurement[]> {
  for (const shape of matmulShapes(options.mode)) {
    const { M, N, K } = shape;
    const inputs = { a: randomData(M * K, 1), b: randomData(K * N, 2), M, N, K };
    const check = ([c]: HostArray[]) => checkSamples(c!, inputs.a, inputs.b, shape);
    for (const impl of all) {
      if (impl.slow && M * N * K > slowLimit(options.mode)) continue;
      if (impl.only && !impl.only(shape)) continue;
      const base = {
        bench: 'matmul',
        shape: [M, N, K],
        label: shape.label,
        impl: impl.impl,
        adapter: impl.adapter,
      };
      results.push(await measureJob(base, () => impl.build(inputs), check, { flops: 2 * M * N * K }));
      options.progress?.(results.at(-1)!);
    }
  }
  targets(results, gpu, options);
  return results;
}

/**
 * The targets at 1024³: issue #6's ≥ 4× tfjs-webgpu on the same adapter and ≥ 0.9× tfjs-wasm, and on a
 * software adapter issue #2's ≥ 20 GFLOP/s and issue 13's ≥ 45 GFLOP/s.
 */
function targets(results: Measurement[], gpu: WebGpuBackend, options: SuiteOptions): void {
  const at = (impl: string) => results.find((r) => r.impl === impl && r.shape.join() === '1024,1024,1024');
  const ours = at('reprise-webgpu');
  if (!ours?.median_ms || ours.gflops === undefined) return;
  for (const [peer, wanted] of [
    ['tfjs-webgpu', 4],
    ['tfjs-wasm', 0.9],
  ] as const) {
    const theirs = at(peer)?.median_ms;
    if (theirs !== undefined)
      options.target?.(atLeast(`matmul 1024³ vs ${peer}`, wanted, theirs / ours.median_ms));
  }
  if (gpu.adapter.isSoftware) {
    options.target?.(atLeast('matmul 1024³ on a software adapter', 20, ours.gflops, 'GFLOP/s'));
    // Issue 13's bar on llvmpipe (goal 60).
    options.target?.(
      atLeast('matmul 1024³ GFLOP/s on a software adapter (issue 13)', 45, ours.gflops, 'GFLOP/s'),
    );
  }
}
