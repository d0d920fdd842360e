/**
 * @file `bench rows`: the memory-bound kernels (LayerNorm and RMSNorm forward and backward, softmax cross-entropy
 * forward and backward, AdamW) in GB/s of their minimal traffic, against a plain copy kernel measured in the same
 * run. Each kernel's result is compared with its CPU twin before it is timed.
 */
import {
  CpuBackend,
  type HostArray,
  type KernelBackend,
  type Storage,
  type WebGpuBackend,
  kernel,
  runByName,
  runInPlaceByName,
} from '@reprise/kernels';
import { twinCheck } from './job.ts';
import type { Measurement, SuiteOptions } from './report.ts';
import { timeIt } from './timing.ts';

interface Case {
  bench: string;
  label: string;
  shape: number[];
  kernel: string;
  params: object;
  /** Inputs as [length, kind]: random floats, class indices below `classes`, or one scale value. */
  inputs: { size: number; ints?: number; value?: number }[];
  /** Bytes a perfect kernel must move. */
  bytes: number;
}

/** A plain copy of n floats: the bandwidth ceiling the other kernels of the same size are compared with. */
function copyCase(label: string, n: number): Case {
  const params = { op: 'copy', size: n };
  return { bench: 'copy', label, shape: [n], kernel: 'unary', params, inputs: [{ size: n }], bytes: 8 * n };
}

function cases(mode: SuiteOptions['mode']): Case[] {
  const ln =
    mode === 'quick'
      ? [[4096, 256]]
      : [
          [4096, 128],
          [4096, 512],
          [1024, 2048],
        ];
  // Row kernels loop over the vocabulary in one invocation: 32768 columns exceed llvmpipe's GLES loop limit
  // (an error there, by design), so that size is in the full grid only.
  const ceGrid: Record<SuiteOptions['mode'], number[][]> = {
    quick: [[512, 2048]],
    default: [
      [512, 2048],
      [256, 16384],
    ],
    full: [
      [512, 2048],
      [256, 8192],
      [256, 16384],
      [128, 32768],
    ],
  };
  const ce = ceGrid[mode];
  const adam = mode === 'quick' ? [1 << 20] : [1 << 18, 1 << 20, 1 << 22];
  const out: Case[] = [];
  for (const n of adam) {
    out.push(copyCase(`${n} floats`, n));
    out.push({
      bench: 'adamw',
      label: `${n} floats`,
      shape: [n],
      kernel: 'adamw',
      params: { size: n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 },
      inputs: [{ size: n }, { size: n }, { size: n }, { size: n, value: 0.01 }, { size: 1, value: 1 }],
      bytes: 28 * n,
    });
  }
  for (const [rows, dim] of ln) {
    const n = rows! * dim!;
    const p = { rows, dim, eps: 1e-5 };
    const label = `[${rows}, ${dim}]`;
    out.push(copyCase(label, n));
    out.push({
      bench: 'layernorm stats',
      label,
      shape: [rows!, dim!],
      kernel: 'layerNormStats',
      params: p,
      inputs: [{ size: n }],
      bytes: 4 * n,
    });
    out.push({
      bench: 'layernorm apply',
      label,
      shape: [rows!, dim!],
      kernel: 'layerNormApply',
      params: p,
      inputs: [{ size: n }, { size: 2 * rows!, value: 0.5 }, { size: dim! }, { size: dim! }],
      bytes: 8 * n,
    });
    out.push({
      bench: 'layernorm grad input',
      label,
      shape: [rows!, dim!],
      kernel: 'layerNormGradInput',
      params: p,
      inputs: [{ size: n }, { size: 2 * rows!, value: 0.5 }, { size: dim! }, { size: n }],
      bytes: 12 * n,
    });
    // RMSNorm's forward writes y and 1/rms in place (y is what is checked); its gradients as LayerNorm's.
    out.push({
      bench: 'rmsnorm fwd',
      label,
      shape: [rows!, dim!],
      kernel: 'rmsNorm',
      params: p,
      inputs: [{ size: n }, { size: dim! }, { size: n }, { size: rows! }],
      bytes: 8 * n,
    });
    out.push({
      bench: 'rmsnorm grad input',
      label,
      shape: [rows!, dim!],
      kernel: 'rmsNormGradInput',
      params: p,
      inputs: [{ size: n }, { size: rows!, value: 0.5 }, { size: dim! }, { size: n }],
      bytes: 12 * n,
    });
    out.push({
      bench: 'rmsnorm grad weight',
      label,
      shape: [rows!, dim!],
      kernel: 'rmsNormGradWeight',
      params: p,
      inputs: [{ size: n }, { size: rows!, value: 0.5 }, { size: n }],
      bytes: 8 * n,
    });
  }
  // Rotary on the queries of a [B·T, D] batch (its backward is the same kernel's adjoint).
  for (const [rows, dim] of ln) {
    const n = rows! * dim!;
    out.push({
      bench: 'rotary',
      label: `[${rows}, ${dim}]`,
      shape: [rows!, dim!],
      kernel: 'rotary',
      params: { rows, dim, headDim: 32, tableRows: 1024, pairing: 'half', adjoint: false },
      inputs: [{ size: n }, { size: rows!, ints: 1024 }, { size: 1024 * dim! }, { size: 1024 * dim! }],
      bytes: 16 * n,
    });
  }
  for (const [rows, vocab] of ce) {
    const n = rows! * vocab!;
    const p = { rows, cols: vocab, ignoreIndex: -100 };
    const label = `[${rows}, ${vocab}]`;
    out.push(copyCase(label, n));
    out.push({
      bench: 'cross-entropy fwd',
      label,
      shape: [rows!, vocab!],
      kernel: 'crossEntropy',
      params: p,
      inputs: [{ size: n }, { size: rows!, ints: vocab! }],
      bytes: 4 * n,
    });
    out.push({
      bench: 'cross-entropy bwd',
      label,
      shape: [rows!, vocab!],
      kernel: 'crossEntropyGrad',
      params: p,
      inputs: [{ size: n }, { size: rows!, ints: vocab! }, { size: rows! }],
      bytes: 8 * n,
    });
  }
  return out;
}

function data(spec: Case['inputs'][number], seed: number): { values: number[]; dtype: 'f32' | 'i32' } {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  if (spec.ints)
    return { values: Array.from({ length: spec.size }, () => Math.floor(next() * spec.ints!)), dtype: 'i32' };
  if (spec.value !== undefined) return { values: new Array(spec.size).fill(spec.value), dtype: 'f32' };
  return { values: Array.from({ length: spec.size }, () => next() * 2 - 1), dtype: 'f32' };
}

/** Runs the case once on a backend; returns what the kernel wrote. */
async function runOnce(b: KernelBackend, c: Case, ins: Storage[]) {
  const def = kernel(c.kernel);
  if (def.inPlace) {
    runInPlaceByName(b, c.kernel, ins, c.params);
    return b.read(ins[def.inPlace[0]!]!);
  }
  const out = runByName(b, c.kernel, ins, c.params);
  const result = await b.read(out);
  b.release(out);
  return result;
}

/** The check of a kernel's output against its CPU twin's output, at the kernel's own tolerance. */
export const checkKernel = (name: string, params: object, twin: HostArray) =>
  twinCheck([twin], kernel(name).tolerance(params));

export async function benchRows(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const results: Measurement[] = [];
  const cpu = new CpuBackend();
  for (const c of cases(options.mode)) {
    const inputs = c.inputs.map((spec, i) => data(spec, i + 1));
    const upload = (b: KernelBackend) => inputs.map((x) => b.upload(x.values, x.dtype));
    const base = {
      bench: c.bench,
      label: c.label,
      shape: c.shape,
      impl: 'reprise-webgpu',
      adapter: gpu.adapter.description,
    };
    const gpuIns = upload(gpu);
    const got = await runOnce(gpu, c, gpuIns);
    const problem = checkKernel(c.kernel, c.params, await runOnce(cpu, c, upload(cpu)))([got]);
    if (problem) {
      results.push({ ...base, error: `wrong result: ${problem}` });
    } else {
      const def = kernel(c.kernel);
      const timing = await timeIt(async () => {
        if (def.inPlace) runInPlaceByName(gpu, c.kernel, gpuIns, c.params);
        else gpu.release(runByName(gpu, c.kernel, gpuIns, c.params));
        await gpu.sync();
      });
      results.push({ ...base, median_ms: timing.medianMs, gbps: c.bytes / timing.medianMs / 1e6 });
    }
    options.progress?.(results.at(-1)!);
    for (const s of gpuIns) gpu.release(s);
  }
  // The copy of the same size is the ceiling each kernel is compared with.
  for (const r of results) {
    const copy = results.find((x) => x.bench === 'copy' && x.label === r.label);
    if (r.bench !== 'copy' && r.gbps && copy?.gbps) r.vs_copy = r.gbps / copy.gbps;
  }
  return results;
}
