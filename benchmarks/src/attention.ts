/**
 * @file `bench attention`: fused vs unfused attention, forward and forward+backward, per shape and mask:
 * milliseconds, GFLOP/s and peak buffer bytes. Each configuration's output is checked (against the CPU twin
 * when small enough, else fused against unfused) before it is timed.
 */
import { Device, type Tensor, attention, noGrad, tidy } from '@reprise/core';
import { CpuBackend, type WebGpuBackend, compareToTwin } from '@reprise/kernels';
import type { Measurement, SuiteOptions } from './report.ts';
import { timeIt } from './timing.ts';

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
    default: { bh: [[1, 4]], seq: [64, 128, 256, 512], dim: [32, 64], causal: [true, false] },
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

function inputs(dev: Device, c: Config) {
  const shape = [c.batch, c.heads, c.seq, c.headDim];
  return [1, 2, 3, 4].map((seed) => dev.randn(shape, { seed }));
}

async function outputOf(dev: Device, c: Config, impl: 'fused' | 'unfused') {
  const [q, k, v] = inputs(dev, c);
  const out = noGrad(() => attention(q!, k!, v!, { causal: c.causal, impl }));
  const data = await out.hostData();
  for (const t of [q, k, v, out]) t!.dispose();
  return data;
}

async function check(gpuDev: Device, c: Config): Promise<string | null> {
  const fused = await outputOf(gpuDev, c, 'fused');
  const small = c.batch * c.heads * c.seq * c.seq * c.headDim <= 2 ** 25;
  const reference = small
    ? await outputOf(new Device(new CpuBackend()), c, 'fused')
    : await outputOf(gpuDev, c, 'unfused');
  return compareToTwin(fused, reference, 1e-3, 1e-4);
}

export async function benchAttention(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  const results: Measurement[] = [];
  for (const c of attentionConfigs(options.mode)) {
    const shape = [c.batch * c.heads, c.seq, c.headDim];
    const label = `B·H ${c.batch * c.heads}, T ${c.seq}, d ${c.headDim}, ${c.causal ? 'causal' : 'bidirectional'}`;
    const problem = await check(dev, c);
    for (const backward of [false, true]) {
      for (const impl of ['fused', 'unfused'] as const) {
        const base = {
          bench: backward ? 'attention fwd+bwd' : 'attention fwd',
          shape,
          label,
          impl: `reprise-webgpu-${impl}`,
          adapter: gpu.adapter.description,
        };
        if (problem) {
          results.push({ ...base, error: `wrong result: ${problem}` });
          continue;
        }
        const [q, k, v, dO] = inputs(dev, c).map((t) => t.setRequiresGrad(backward));
        const step = () =>
          tidy(() => {
            const out = attention(q!, k!, v!, { causal: c.causal, impl });
            if (backward) {
              out.backward(dO!);
              for (const t of [q, k, v]) t!.zeroGrad();
            }
          });
        gpu.resetPeak();
        const before = gpu.memory().liveBytes;
        const timing = await timeIt(async () => {
          step();
          await gpu.sync();
        });
        const peak = gpu.memory().peakLiveBytes - before;
        results.push({
          ...base,
          median_ms: timing.medianMs,
          gflops: flops(c, backward) / timing.medianMs / 1e6,
          peak_bytes: peak,
        });
        options.progress?.(results.at(-1)!);
        for (const t of [q, k, v, dO] as Tensor[]) t.dispose();
      }
    }
  }
  const target = results.filter(
    (r) => r.bench === 'attention fwd+bwd' && r.shape[1] === 512 && r.shape[2] === 64,
  );
  for (const fused of target.filter((r) => r.impl.endsWith('fused') && !r.impl.endsWith('unfused'))) {
    const unfused = target.find((r) => r.impl.endsWith('unfused') && r.label === fused.label);
    if (fused.median_ms && unfused?.median_ms) {
      const ratio = unfused.median_ms / fused.median_ms;
      options.note?.(
        `attention fwd+bwd ${fused.label}: fused is ${ratio.toFixed(2)}× the unfused path (target ≥ 1.5×: ${ratio >= 1.5 ? 'met' : 'missed'})`,
      );
    }
  }
  return results;
}
