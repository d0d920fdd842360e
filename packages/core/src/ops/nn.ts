/**
 * @file Neural-network ops: embedding gather (scatter-add backward), softmax, log-softmax, dropout. The fused
 * ops (cross-entropy, layer norm, attention) are in ./fused/.
 */
import { sortIndices } from '@reprise/kernels';
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import { fmt, normalizeAxis, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { launch, requireDtype } from './apply.ts';
import { permute, reshape, slice } from './layout.ts';
import { sumOverRowLaunches } from './loop-limit.ts';

/**
 * table [V, D] gathered at i32 `indices` [...] → [..., D]. With `offset`, the table is rows offset .. offset + V − 1
 * of a larger one (a row block, model/src/row-blocks.ts): indices outside it give zero rows, so the blocks'
 * gathers sum to the whole table's.
 */
export function gather(table: Tensor, indices: Tensor, options: { offset?: number } = {}): Tensor {
  requireDtype('gather', table, 'f32');
  requireDtype('gather (indices)', indices, 'i32');
  if (table.rank !== 2) throw new Error(`gather: the table must be [rows, dim], got ${fmt(table.shape)}`);
  const [vocab, dim] = table.shape as [number, number];
  const { offset } = options;
  const out = launch(
    'gather',
    'gather',
    { table, idx: indices },
    { vocab, dim, count: indices.size, offset },
    [...indices.shape, dim],
  );
  return record(out, 'gather', [table, indices], { offset });
}

/**
 * The adjoint of gather: rows of `src` [..., D] summed into a [vocab, D] table at `indices`, in index order
 * (deterministic; in launches of bounded length, ./loop-limit.ts); with `offset`, into the row block that starts
 * there (indices outside it add nothing). Indices uploaded from the host (token ids) are sorted there first, so
 * each table row reads only its own positions; others are scanned by every row.
 */
export function scatterAdd(src: Tensor, indices: Tensor, vocab: number, offset?: number): Tensor {
  const dim = src.shape.at(-1)!;
  const count = indices.size;
  if (sizeOf(src.shape.slice(0, -1)) !== count) {
    throw new Error(
      `scatterAdd: ${src} has ${sizeOf(src.shape.slice(0, -1))} rows but ${indices} has ${count} indices`,
    );
  }
  const host = indices.hostIndices;
  const chunk = (rows: Tensor, start: number, end: number): Tensor => {
    const params = { vocab, dim, count: end - start, offset };
    if (!host)
      return launch('scatterAdd', 'scatterAdd', { src: rows, idx: sliceFlat(indices, start, end) }, params, [
        vocab,
        dim,
      ]);
    const sorted = sortIndices(host.subarray(start, end), vocab, offset);
    const dev = src.device;
    return tidy(() =>
      launch(
        'scatterAdd',
        'scatterAddSorted',
        {
          src: rows,
          order: dev.tensor(sorted.order, [end - start], 'i32'),
          starts: dev.tensor(sorted.starts, [vocab + 1], 'i32'),
        },
        { ...params, maxRun: sorted.maxRun },
        [vocab, dim],
      ),
    );
  };
  // Rows [start, end) of src, as [end − start, dim] when a part of it.
  const rows = (start: number, end: number) =>
    start === 0 && end === count ? src : slice(reshape(src, [count, dim]), [start], [end]);
  return sumOverRowLaunches(count, (start, end) => chunk(rows(start, end), start, end));
}

function sliceFlat(indices: Tensor, start: number, end: number): Tensor {
  if (start === 0 && end === indices.size) return indices;
  return slice(reshape(indices, [indices.size]), [start], [end]);
}

/** Applies a last-axis row op along any axis by moving that axis last and back. */
function alongAxis(x: Tensor, axis: number, op: string, fn: (x: Tensor) => Tensor): Tensor {
  const ax = normalizeAxis(op, axis, x.rank);
  if (ax === x.rank - 1) return fn(x);
  const perm = x.shape.map((_, k) => k);
  perm[ax] = x.rank - 1;
  perm[x.rank - 1] = ax;
  return tidy(() => permute(fn(permute(x, perm)), perm));
}

function softmaxLast(x: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  requireDtype(op, x, 'f32');
  const cols = x.shape.at(-1) ?? 1;
  const out = launch(op, 'softmax', { xs: x }, { rows: x.size / Math.max(cols, 1), cols, log }, x.shape);
  return record(out, op, [x]);
}

export const softmax = (x: Tensor, axis = -1) => alongAxis(x, axis, 'softmax', (t) => softmaxLast(t, false));
export const logSoftmax = (x: Tensor, axis = -1) =>
  alongAxis(x, axis, 'logSoftmax', (t) => softmaxLast(t, true));

export interface RotaryOptions {
  /** Columns per head (even; divides x's last axis). */
  headDim: number;
  /** Which columns pair up in a head: (i, i + d/2) or (2i, 2i + 1). */
  pairing: 'half' | 'interleaved';
}

/**
 * Rotary position embedding of x [..., D] at i32 `positions` (x's leading shape): each pair of a head's columns
 * rotates by the angle whose cos and sin the [P, D] tables hold at the row's position, in one kernel. The
 * gradient is the kernel's transpose applied to the incoming gradient (the inverse rotation, for real angles);
 * the tables and positions get none.
 */
export function rotary(
  x: Tensor,
  positions: Tensor,
  cos: Tensor,
  sin: Tensor,
  options: RotaryOptions,
): Tensor {
  requireDtype('rotary', x, 'f32');
  requireDtype('rotary (positions)', positions, 'i32');
  const dim = x.shape.at(-1) ?? 1;
  if (positions.shape.join() !== x.shape.slice(0, -1).join())
    throw new Error(
      `rotary: positions must be ${fmt(x.shape.slice(0, -1))} (x is ${fmt(x.shape)}), got ${fmt(positions.shape)}`,
    );
  for (const t of [cos, sin])
    if (t.rank !== 2 || t.shape[1] !== dim || t.shape.join() !== cos.shape.join())
      throw new Error(`rotary: cos and sin tables must both be [positions, ${dim}], got ${cos} and ${sin}`);
  const out = rotaryKernel(x, positions, cos, sin, options, false);
  return record(out, 'rotary', [x, positions, cos, sin], options);
}

/** The rotary kernel on x, forward or its transpose (the gradient). */
export function rotaryKernel(
  x: Tensor,
  positions: Tensor,
  cos: Tensor,
  sin: Tensor,
  options: RotaryOptions,
  adjoint: boolean,
): Tensor {
  const dim = x.shape.at(-1) ?? 1;
  const params = { rows: x.size / dim, dim, tableRows: cos.shape[0]!, adjoint, ...options };
  return launch('rotary', 'rotary', { xs: x, pos: positions, cosT: cos, sinT: sin }, params, x.shape);
}

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p). The mask is a
 * hash of (seed, index), identical on every backend; pass a new seed each step.
 */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  requireDtype('dropout', x, 'f32');
  if (p === 0) return reshape(x, x.shape);
  const out = launch('dropout', 'dropout', { xs: x }, { size: x.size, p, seed }, x.shape);
  return record(out, 'dropout', [x], { p, seed });
}
