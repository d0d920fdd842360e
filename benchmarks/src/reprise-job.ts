/**
 * @file Our ops as benchmark jobs: host inputs uploaded once to a device (WebGPU or the CPU twin), then one
 * forward (and backward) per run, outputs or gradients read back to the host.
 */
import { type Device, type Tensor, tidy } from '@reprise/core';
import type { HostArray } from '@reprise/kernels';
import type { Job } from './job.ts';

export interface HostInput {
  data: HostArray;
  shape: number[];
  /** Gradients are taken with respect to the differentiable inputs. */
  differentiable?: boolean;
}

export interface OpJobOptions {
  /** Run the backward pass: the outputs are then the gradients of the differentiable inputs. */
  backward: boolean;
  /** Index of the input holding the upstream gradient (absent: the forward output is a scalar loss). */
  upstream?: number;
}

export function repriseOpJob(
  dev: Device,
  inputs: HostInput[],
  forward: (xs: Tensor[]) => Tensor,
  { backward, upstream }: OpJobOptions,
): Job {
  const xs = inputs.map((x) =>
    dev
      .tensor(x.data, x.shape, x.data instanceof Int32Array ? 'i32' : 'f32')
      .setRequiresGrad(backward && (x.differentiable ?? false)),
  );
  const once = async () => {
    const outs = tidy(() => {
      const out = forward(xs);
      if (!backward) return [out];
      out.backward(upstream === undefined ? undefined : xs[upstream]);
      return xs
        .filter((_, i) => inputs[i]!.differentiable)
        .map((t) => {
          const g = t.grad!;
          t.grad = null;
          return g;
        });
    });
    try {
      return await Promise.all(outs.map((t) => t.hostData()));
    } finally {
      for (const t of outs) t.dispose();
    }
  };
  return {
    run: async () => void (await once()),
    outputs: once,
    dispose: () => {
      for (const t of xs) t.dispose();
    },
  };
}
