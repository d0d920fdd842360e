/**
 * @file `bench ops`: LayerNorm and softmax cross-entropy, forward + backward through our op API and through
 * tfjs's ops (webgpu on the same adapter, wasm, cpu), gradients read back to the host, in GB/s of the traffic
 * a perfect implementation needs (LayerNorm: x, dY in and dx out; cross-entropy: logits in, dlogits out).
 * Every implementation's gradients are checked against our CPU twin before they are timed.
 */
import { Device, Rng, type Tensor, crossEntropy, layerNorm } from '@reprise/core';
import { CpuBackend, type WebGpuBackend } from '@reprise/kernels';
import { type ImplCase, type Job, measureJob, twinCheck } from './job.ts';
import { type RowsInputs, tfjsCrossEntropy, tfjsLayerNorm } from './peers/tfjs-ops.ts';
import { type Tf, tfjsCases } from './peers/tfjs.ts';
import type { Measurement, SuiteOptions } from './report.ts';
import { type HostInput, repriseOpJob } from './reprise-job.ts';

interface Op {
  bench: string;
  /** Our op on a device, forward + backward. */
  reprise: (dev: Device, x: RowsInputs) => Job;
  tfjs: (tf: Tf, x: RowsInputs, backward: boolean) => Job;
  /** Random inputs for a rows × cols problem. */
  inputs: (rows: number, cols: number, rng: Rng) => RowsInputs;
  bytes: (rows: number, cols: number) => number;
  shapes: Record<SuiteOptions['mode'], [number, number][]>;
}

const randn = (n: number, rng: Rng, scale = 1) =>
  Float32Array.from({ length: n }, () => scale * rng.normal());

const OPS: Op[] = [
  {
    bench: 'layernorm fwd+bwd',
    reprise: (dev, { rows, cols, data }) => {
      const shapes = [[rows, cols], [cols], [cols], [rows, cols]];
      const inputs: HostInput[] = data.map((d, i) => ({ data: d, shape: shapes[i]!, differentiable: i < 3 }));
      const forward = ([x, w, b]: Tensor[]) => layerNorm(x!, w!, b!);
      return repriseOpJob(dev, inputs, forward, { backward: true, upstream: 3 });
    },
    tfjs: tfjsLayerNorm,
    inputs: (rows, cols, rng) => ({
      rows,
      cols,
      data: [randn(rows * cols, rng), randn(cols, rng, 0.5), randn(cols, rng, 0.5), randn(rows * cols, rng)],
    }),
    bytes: (rows, cols) => 12 * rows * cols,
    shapes: {
      quick: [[4096, 128]],
      default: [
        [4096, 128],
        [1024, 512],
      ],
      full: [
        [4096, 128],
        [1024, 512],
        [1024, 2048],
      ],
    },
  },
  {
    bench: 'cross-entropy fwd+bwd',
    reprise: (dev, { rows, cols, data, targets }) => {
      const inputs: HostInput[] = [
        { data: data[0]!, shape: [rows, cols], differentiable: true },
        { data: targets!, shape: [rows] },
      ];
      const forward = ([z, t]: Tensor[]) => crossEntropy(z!, t!);
      return repriseOpJob(dev, inputs, forward, { backward: true });
    },
    tfjs: tfjsCrossEntropy,
    inputs: (rows, cols, rng) => ({
      rows,
      cols,
      data: [randn(rows * cols, rng, 3)],
      targets: Int32Array.from({ length: rows }, () => rng.int(cols)),
    }),
    bytes: (rows, cols) => 8 * rows * cols,
    shapes: {
      quick: [[512, 2048]],
      default: [
        [512, 2048],
        [256, 8192],
      ],
      full: [
        [512, 2048],
        [256, 8192],
        [256, 16384],
      ],
    },
  },
];

/** f32 gradients of one row-wise op (a reduction over ≤ 16k columns) against the float64 twin. */
export const OPS_TOL = { rtol: 1e-3, atol: 1e-5 };

export async function benchOps(gpu: WebGpuBackend, options: SuiteOptions): Promise<Measurement[]> {
  const dev = new Device(gpu);
  const cpu = new Device(new CpuBackend());
  const results: Measurement[] = [];
  for (const op of OPS) {
    for (const [rows, cols] of op.shapes[options.mode]) {
      const x = op.inputs(rows, cols, new Rng(rows + cols));
      const twin = op.reprise(cpu, x);
      const expected = await twin.outputs();
      twin.dispose();
      const check = twinCheck(expected, OPS_TOL);
      const impls: ImplCase[] = [
        { impl: 'reprise-webgpu', adapter: gpu.adapter.description, build: () => op.reprise(dev, x) },
        ...tfjsCases(gpu, (tf) => op.tfjs(tf, x, true)),
      ];
      for (const { impl, adapter, build } of impls) {
        const base = { bench: op.bench, shape: [rows, cols], label: `${rows}×${cols}`, impl, adapter };
        results.push(await measureJob(base, build, check, { bytes: op.bytes(rows, cols) }));
        options.progress?.(results.at(-1)!);
      }
    }
  }
  return results;
}
