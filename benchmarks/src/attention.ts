/**
 * @file `bench attention`: our fused and unfused attention and tfjs's composition of its own ops (webgpu on the
 * same adapter, wasm, cpu), forward and forward+backward, per shape and mask: milliseconds, GFLOP/s and our peak
 * buffer bytes. Every implementation's outputs (and gradients) are checked against the CPU twin when small
 * enough, else against our unfused path, before they are timed.
 */
import { Device, Rng, type Tensor, attention } from '@reprise/core';
import { CpuBackend, type HostArray, type WebGpuBackend } from '@reprise/kernels';
import { type ImplCase, type Job, measureJob, twinCheck } from './job.ts';
import { type AttentionInputs, tfjsAttention } from './peers/tfjs-ops.ts';
import { tfjsCases } from './peers/tfjs.ts';
import type { Measurement, SuiteOptions } from './report.ts';
import { repriseOpJob } from './reprise-job.ts';

interface Config {
  batch: number;
  heads: number;
  seq: number;
  headDim: number;
  causal: boolean;
}

export function attentionConfigs(mode: SuiteOptions['mode']): Config[] {
  const grid = {
    quick: { bh: [[1, 4]], seq: [128, 512], dim: [64], causal: [true] },
    default: { bh: [[1, 4]], seq: [128, 512], dim: [64], causal: [true, false] },
    full: {
      bh: [
        [1, 4],
        [4, 8],
      ],
      seq: [64, 128, 256, 512, 1024],
      dim: [32, 64],
      causal: [true, false],
    },
  }[mode];
  return grid.bh.flatMap(([batch, heads]) =>
    grid.seq.flatMap((seq) =>
      grid.dim.flatMap((headDim) =>
        grid.causal.map((causal) => ({ batch: batch!, heads: heads!, seq, headDim, causal })),
      ),
    ),
  );
}

/** Multiply-adds ×2 of QKᵀ and PV (forward), plus the five T×T×d products of the backward; causal halves them. */
function flops(c: Config, backward: boolean): number {
  const forward = 4 * c.batch * c.heads * c.seq * c.seq * c.headDim;
  return (forward * (backward ? 3.5 : 1)) / (c.causal ? 2 : 1);
}

/** q, k, v, dO as host arrays [B·H, T, d], fresh random values. */
function hostInputs(c: Config): AttentionInputs {
  const shape: [number, number, number] = [c.batch * c.heads, c.seq, c.headDim];
  const size = shape[0] * shape[1] * shape[2];
  const rng = new Rng(c.seq * 131 + c.headDim);
  const data = [0, 1, 2, 3].map(() => Float32Array.from({ length: size }, () => rng.normal()));
  return { data, shape, causal: c.causal };
}

/** Our attention op on `dev`: the output, or with `backward` dq, dk, dv; read back to the host. */
function repriseAttention(
  dev: Device,
  x: AttentionInputs,
  impl: 'fused' | 'unfused',
  backward: boolean,
): Job {
  // [B·H, T, d] as [1, B·H, T, d]: the same memory, the 4-D shape the op takes.
  const inputs = x.data.map((data, i) => ({ data, shape: [1, ...x.shape], differentiable: i < 3 }));
  const forward = ([q, k, v]: Tensor[]) => attention(q!, k!, v!, { causal: x.causal, impl });
  return repriseOpJob(dev, inputs, forward, { backward, upstream: 3 });
}

/** The reference outputs: the CPU twin when small enough, else our unfused path (itself twin-checked). */
async function reference(gpuDev: Device, x: AttentionInputs, backward: boolean): Promise<HostArray[]> {
  const small = x.shape[0] * x.shape[1] * x.shape[1] * x.shape[2] <= 2 ** 24;
  const job = small
    ? repriseAttention(new Device(new CpuBackend()), x, 'fused', backward)
    : repriseAttention(gpuDev, x, 'unfused', backward);
  try {
    return await job.outputs();
  } finally {
    job.dispose();
  }
}

/** f32 outputs and gradients against the float64 twin over T-long softmax rows and T×d products. */
export const ATTENTION_TOL = { rtol: 2e-3, atol: 2e-4 };

/** tfjs-cpu runs up to this many score entries (B·H·T²) outside --full. */
const TFJS_CPU_LIMIT = 4 * 256 * 256;

export async function benchAttention(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  const results: Measurement[] = [];
  for (const c of attentionConfigs(options.mode)) {
    const x = hostInputs(c);
    const label = `B·H ${c.batch * c.heads}, T ${c.seq}, d ${c.headDim}, ${c.causal ? 'causal' : 'bidirectional'}`;
    for (const backward of [false, true]) {
      const expected = await reference(dev, x, backward);
      const check = twinCheck(expected, ATTENTION_TOL);
      const bench = backward ? 'attention fwd+bwd' : 'attention fwd';
      const impls: ImplCase[] = [
        ...(['fused', 'unfused'] as const).map((impl) => ({
          impl: `reprise-webgpu-${impl}`,
          adapter: gpu.adapter.description,
          build: () => repriseAttention(dev, x, impl, backward),
        })),
        ...tfjsCases(
          gpu,
          (tf) => tfjsAttention(tf, x, backward),
          (b) => b !== 'cpu' || options.mode === 'full' || c.batch * c.heads * c.seq ** 2 <= TFJS_CPU_LIMIT,
        ),
      ];
      for (const { impl, adapter, build } of impls) {
        const base = { bench, shape: [...x.shape], label, impl, adapter };
        gpu.resetPeak();
        const before = gpu.memory().liveBytes;
        const m = await measureJob(base, build, check, { flops: flops(c, backward) });
        if (impl.startsWith('reprise-webgpu') && !m.error) m.peak_bytes = gpu.memory().peakLiveBytes - before;
        results.push(m);
        options.progress?.(m);
      }
    }
  }
  fusedVsUnfused(results, options);
  return results;
}

/** Issue #3's target: fused forward+backward ≥ 1.5× the unfused path at T 512, d 64. */
function fusedVsUnfused(results: Measurement[], options: SuiteOptions): void {
  const target = results.filter(
    (r) => r.bench === 'attention fwd+bwd' && r.shape[1] === 512 && r.shape[2] === 64,
  );
  for (const fused of target.filter((r) => r.impl === 'reprise-webgpu-fused')) {
    const unfused = target.find((r) => r.impl === 'reprise-webgpu-unfused' && r.label === fused.label);
    if (fused.median_ms && unfused?.median_ms) {
      const ratio = unfused.median_ms / fused.median_ms;
      options.note?.(
        `attention fwd+bwd ${fused.label}: fused is ${ratio.toFixed(2)}× the unfused path (target ≥ 1.5×: ${ratio >= 1.5 ? 'met' : 'missed'})`,
      );
    }
  }
}
