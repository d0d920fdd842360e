/**
 * @file Elementwise ops with NumPy broadcasting: arithmetic, comparisons, unary math, where, cast.
 */
import type { BinaryOpName, DType, UnaryOpName } from '@reprise/kernels';
import { record } from '../autograd/graph.ts';
import type { OpName } from '../autograd/rules.ts';
import { tidy } from '../scope.ts';
import { broadcastShapes, broadcastStrides, fmt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { constants, type Operand, launch, requireDtype } from './apply.ts';

/** The binary kernel without autograd (rules use it too). */
export function binaryKernel(op: BinaryOpName, a: Tensor, b: Tensor, label: string = op): Tensor {
  if (a.dtype !== b.dtype) {
    throw new Error(`${label}: dtypes differ (${a} and ${b}); cast one with .cast()`);
  }
  const shape = broadcastShapes(label, a.shape, b.shape);
  const params = {
    op,
    shape,
    aStrides: broadcastStrides(a.shape, shape),
    bStrides: broadcastStrides(b.shape, shape),
  };
  return launch(label, 'binary', { lhs: a, rhs: b }, params, shape);
}

function differentiableBinary(op: BinaryOpName & OpName, a: Tensor | number, b: Operand): Tensor {
  const base = typeof a === 'number' ? (b as Tensor) : a;
  return tidy(() => {
    const [x, y] = constants(base.device, base.dtype, a, b) as [Tensor, Tensor];
    return record(binaryKernel(op, x, y), op, [x, y]);
  });
}

export const add = (a: Tensor, b: Operand) => differentiableBinary('add', a, b);
export const sub = (a: Tensor, b: Operand) => differentiableBinary('sub', a, b);
export const mul = (a: Tensor, b: Operand) => differentiableBinary('mul', a, b);
export const div = (a: Tensor, b: Operand) => differentiableBinary('div', a, b);
export const pow = (a: Tensor, b: Operand) => differentiableBinary('pow', a, b);
export const maximum = (a: Tensor, b: Operand) => differentiableBinary('max', a, b);
export const minimum = (a: Tensor, b: Operand) => differentiableBinary('min', a, b);

/** 1.0 where the comparison holds, else 0.0 (f32); no gradient. */
export function compare(op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', a: Tensor, b: Operand): Tensor {
  return tidy(() => binaryKernel(op, a, constants(a.device, a.dtype, b)[0]!));
}

/** The unary kernel without autograd. */
export function unaryKernel(op: UnaryOpName, x: Tensor, label: string = op): Tensor {
  requireDtype(label, x, 'f32');
  return launch(label, 'unary', { xs: x }, { op, size: x.size }, x.shape);
}

const differentiableUnary = (op: UnaryOpName & OpName) => (x: Tensor) => record(unaryKernel(op, x), op, [x]);

export const neg = differentiableUnary('neg');
export const exp = differentiableUnary('exp');
export const log = differentiableUnary('log');
export const sqrt = differentiableUnary('sqrt');
export const tanh = differentiableUnary('tanh');
export const relu = differentiableUnary('relu');
export const gelu = differentiableUnary('gelu');
/** x·σ(x): the gate of SwiGLU (Llama, Mistral, Qwen2). */
export const silu = differentiableUnary('silu');
export const abs = differentiableUnary('abs');

/** cond ? a : b with broadcasting; `cond` is any dtype, nonzero meaning true. Gradients flow to a and b. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const dtype = typeof a !== 'number' ? a.dtype : typeof b !== 'number' ? b.dtype : 'f32';
  return tidy(() => {
    const [x, y] = constants(cond.device, dtype, a, b) as [Tensor, Tensor];
    if (x.dtype !== y.dtype) throw new Error(`where: value dtypes differ (${x} and ${y})`);
    const shape = broadcastShapes('where', cond.shape, x.shape, y.shape);
    const params = {
      shape,
      condStrides: broadcastStrides(cond.shape, shape),
      aStrides: broadcastStrides(x.shape, shape),
      bStrides: broadcastStrides(y.shape, shape),
    };
    return record(launch('where', 'where', { cond, x, y }, params, shape), 'where', [cond, x, y]);
  });
}

/** x with `value` wherever `mask` is nonzero. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (shape.join() !== x.shape.join()) {
    throw new Error(
      `maskedFill: mask ${fmt(mask.shape)} must broadcast to the tensor's shape ${fmt(x.shape)}`,
    );
  }
  return where(mask, value, x);
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return record(x.withShape(x.shape), 'reshape', [x]);
  return launch('cast', 'cast', { x }, { size: x.size, to: dtype }, x.shape);
}
