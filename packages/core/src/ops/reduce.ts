/**
 * @file Reductions over axes: sum, mean, max, with keepdims.
 */
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import { type Shape, normalizeAxes, sizeOf, stridesOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { launch, requireDtype } from './apply.ts';
import { reshape } from './layout.ts';

export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  return keepdims
    ? shape.map((d, k) => (axes.includes(k) ? 1 : d))
    : shape.filter((_, k) => !axes.includes(k));
}

/**
 * Reductions longer than this run in two passes (partial results per chunk, then their reduction): one
 * invocation's loop stays far below llvmpipe's 65535-iteration limit, and a long reduction uses many invocations.
 */
export const REDUCE_CHUNK = 8192;

/** The reduce kernel without autograd. */
export function reduceKernel(
  op: 'sum' | 'max',
  x: Tensor,
  axes: readonly number[],
  keepdims: boolean,
): Tensor {
  requireDtype(op, x, 'f32');
  const strides = stridesOf(x.shape);
  const kept = x.shape.map((_, k) => k).filter((k) => !axes.includes(k));
  if (op === 'max' && axes.some((k) => x.shape[k] === 0)) {
    throw new Error(`max: cannot reduce ${x} over an empty axis`);
  }
  const params = {
    op,
    outShape: kept.map((k) => x.shape[k]!),
    outStrides: kept.map((k) => strides[k]!),
    redShape: axes.map((k) => x.shape[k]!),
    redStrides: axes.map((k) => strides[k]!),
  };
  const shape = reducedShape(x.shape, axes, keepdims);
  const count = sizeOf(params.redShape);
  if (count <= REDUCE_CHUNK) return launch(op, 'reduce', { xs: x }, params, shape);
  return tidy(() => {
    const chunks = Math.ceil(count / REDUCE_CHUNK);
    const partial = launch(op, 'reduce', { xs: x }, { ...params, chunkSize: REDUCE_CHUNK }, [
      ...params.outShape,
      chunks,
    ]);
    return reshape(reduceKernel(op, partial, [params.outShape.length], false), shape);
  });
}

export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const list = normalizeAxes('sum', axes, x.rank);
  return record(reduceKernel('sum', x, list, keepdims), 'sum', [x], { axes: list, keepdims });
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const list = normalizeAxes('mean', axes, x.rank);
  const count = sizeOf(list.map((k) => x.shape[k]!));
  return tidy(() => sum(x, list, keepdims).mul(1 / count));
}

export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const list = normalizeAxes('max', axes, x.rank);
  return record(reduceKernel('max', x, list, keepdims), 'max_reduce', [x], { axes: list, keepdims });
}
