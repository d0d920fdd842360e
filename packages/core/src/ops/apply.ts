/**
 * @file What every op does around its kernel: check devices, run the kernel, wrap the result, and make the
 * scalar constants that `x.mul(2)`-style calls need.
 */
import type {
  DType,
  InPlaceKernelName,
  KernelInputs,
  KernelParams,
  OutputKernelName,
  Storage,
} from '@reprise/kernels';
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

/** The storages of a kernel's named tensor inputs (absent optional inputs stay absent). */
function storages(inputs: object): Record<string, Storage> {
  return Object.fromEntries(
    Object.entries(inputs as Record<string, Tensor | undefined>).flatMap(([name, t]) =>
      t ? [[name, t.storage]] : [],
    ),
  );
}

function tensorsOf(inputs: object): Tensor[] {
  return Object.values(inputs as Record<string, Tensor | undefined>).filter((t) => t !== undefined);
}

/** Runs kernel `kernelName` for op `op` on its inputs by name and wraps the output with `shape`. */
export function launch<N extends OutputKernelName>(
  op: string,
  kernelName: N,
  inputs: KernelInputs<N, Tensor>,
  params: KernelParams<N>,
  shape: Shape,
): Tensor {
  const device = deviceOf(op, tensorsOf(inputs));
  const storage = device.backend.run(kernelName, storages(inputs) as KernelInputs<N>, params, op);
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
 * Runs an in-place kernel some of whose inputs are its outputs: allocates those (uninitialized, shapes by name in
 * `outputs`), runs the kernel over `inputs` and them, and returns them as tensors by name.
 */
export function launchInto<N extends InPlaceKernelName, K extends keyof KernelInputs<N> & string>(
  op: string,
  kernelName: N,
  inputs: Omit<KernelInputs<N, Tensor>, K>,
  outputs: { [name in K]: { shape: Shape; dtype?: DType } },
  params: KernelParams<N>,
): { [name in K]: Tensor } {
  const device = deviceOf(op, tensorsOf(inputs));
  const outs = Object.fromEntries(
    Object.entries(outputs as Record<string, { shape: Shape; dtype?: DType }>).map(([name, o]) => [
      name,
      new Tensor(device, device.backend.alloc(sizeOf(o.shape), o.dtype ?? 'f32'), o.shape),
    ]),
  ) as { [name in K]: Tensor };
  device.backend.runInPlace(
    kernelName,
    { ...storages(inputs), ...storages(outs) } as KernelInputs<N>,
    params,
    op,
  );
  return outs;
}
