/**
 * @file What every op does around its kernel: check devices, run the kernel, wrap the result, and manage the
 * scalar constants that `x.mul(2)`-style calls create.
 */
import type { DType } from '@reprise/kernels';
import type { Device } from '../device.ts';
import { type Shape, fmt } from '../shape.ts';
import { Tensor } from '../tensor.ts';

export type Operand = Tensor | number;

export function deviceOf(op: string, tensors: readonly Tensor[]): Device {
  const device = tensors[0]!.device;
  for (const t of tensors) {
    if (t.device !== device) throw new Error(`${op}: tensors on different devices (${tensors.join(', ')})`);
  }
  return device;
}

/** Runs kernel `kernelName` for op `op` and wraps the output with `shape`. */
export function launch(op: string, kernelName: string, inputs: readonly Tensor[], params: object, shape: Shape): Tensor {
  const device = deviceOf(op, inputs);
  const storage = device.backend.run(
    kernelName,
    inputs.map((t) => t.storage),
    params,
    op,
  );
  return new Tensor(device, storage, shape);
}

export function requireDtype(op: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new Error(`${op}: expected a ${dtype} tensor, got ${t} (use .cast('${dtype}'))`);
}

export function requireRank(op: string, t: Tensor, min: number, what = 'input'): void {
  if (t.rank < min) throw new Error(`${op}: ${what} must have at least ${min} dimensions, got ${fmt(t.shape)}`);
}

/**
 * Turns numbers into scalar tensors of `dtype` on `device`. Call `settle(out)` after the op: constants the graph
 * needs become graph-owned (freed with the graph), the others are freed at once.
 */
export function constants(device: Device, dtype: DType, ...values: Operand[]) {
  const made: Tensor[] = [];
  const tensors = values.map((v) => {
    if (typeof v !== 'number') return v;
    const t = device.scalar(v, dtype);
    made.push(t);
    return t;
  });
  const settle = (out: Tensor): Tensor => {
    for (const t of made) {
      if (out.node) t.graphOwned = true;
      else t.dispose();
    }
    return out;
  };
  return { tensors, settle };
}
