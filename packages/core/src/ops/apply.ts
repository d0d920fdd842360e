/**
 * @file What every op does around its kernel: check devices, run the kernel, wrap the result, and make the
 * scalar constants that `x.mul(2)`-style calls need.
 */
import type { DType } from '@reprise/kernels';
import type { Device } from '../device.ts';
import { type Shape, fmt, sizeOf } from '../shape.ts';
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
export function launch(
  op: string,
  kernelName: string,
  inputs: readonly Tensor[],
  params: object,
  shape: Shape,
): Tensor {
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
  if (t.dtype !== dtype)
    throw new Error(`${op}: expected a ${dtype} tensor, got ${t} (use .cast('${dtype}'))`);
}

export function requireRank(op: string, t: Tensor, min: number, what = 'input'): void {
  if (t.rank < min)
    throw new Error(`${op}: ${what} must have at least ${min} dimensions, got ${fmt(t.shape)}`);
}

/** Turns numbers into scalar tensors of `dtype` on `device` (call inside the op's tidy, which frees them). */
export function constants(device: Device, dtype: DType, ...values: Operand[]): Tensor[] {
  return values.map((v) => (typeof v === 'number' ? device.scalar(v, dtype) : v));
}

/**
 * Runs an in-place kernel whose trailing inputs are its outputs: allocates them (uninitialized), runs the
 * kernel over `inputs` followed by the outputs, and returns the outputs as tensors.
 */
export function launchInto(
  op: string,
  kernelName: string,
  inputs: readonly Tensor[],
  outputs: readonly { shape: Shape; dtype?: DType }[],
  params: object,
): Tensor[] {
  const device = deviceOf(op, inputs);
  const outs = outputs.map(
    (o) => new Tensor(device, device.backend.alloc(sizeOf(o.shape), o.dtype ?? 'f32'), o.shape),
  );
  device.backend.runInPlace(
    kernelName,
    [...inputs, ...outs].map((t) => t.storage),
    params,
    op,
  );
  return outs;
}
