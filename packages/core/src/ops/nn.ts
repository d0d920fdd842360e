/**
 * @file Neural-network ops: embedding gather (scatter-add backward), softmax, log-softmax, cross-entropy,
 * layer normalization.
 */
import { sortIndices } from '@reprise/kernels';
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import { fmt, normalizeAxis, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { launch, requireDtype } from './apply.ts';
import { compare } from './elementwise.ts';
import { permute, reshape, slice } from './layout.ts';
import { sum } from './reduce.ts';

/** table [V, D] gathered at i32 `indices` [...] → [..., D]. */
export function gather(table: Tensor, indices: Tensor): Tensor {
  requireDtype('gather', table, 'f32');
  requireDtype('gather (indices)', indices, 'i32');
  if (table.rank !== 2) throw new Error(`gather: the table must be [rows, dim], got ${fmt(table.shape)}`);
  const [vocab, dim] = table.shape as [number, number];
  const out = launch('gather', 'gather', { table, idx: indices }, { vocab, dim, count: indices.size }, [
    ...indices.shape,
    dim,
  ]);
  return record(out, 'gather', [table, indices]);
}

/** Indices per scatter-add launch: each invocation scans them all, so this bounds its loop (llvmpipe's limit). */
export const SCATTER_CHUNK = 32768;

/**
 * The adjoint of gather: rows of `src` [..., D] summed into a [vocab, D] table at `indices`, in index order
 * (deterministic). Indices uploaded from the host (token ids) are sorted there first, so each table row reads
 * only its own positions; others are scanned by every row.
 */
export function scatterAdd(src: Tensor, indices: Tensor, vocab: number): Tensor {
  const dim = src.shape.at(-1)!;
  const count = indices.size;
  if (sizeOf(src.shape.slice(0, -1)) !== count) {
    throw new Error(
      `scatterAdd: ${src} has ${sizeOf(src.shape.slice(0, -1))} rows but ${indices} has ${count} indices`,
    );
  }
  const host = indices.hostIndices;
  const chunk = (rows: Tensor, start: number, end: number): Tensor => {
    const params = { vocab, dim, count: end - start };
    if (!host)
      return launch('scatterAdd', 'scatterAdd', { src: rows, idx: sliceFlat(indices, start, end) }, params, [
        vocab,
        dim,
      ]);
    const sorted = sortIndices(host.subarray(start, end), vocab);
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
  if (count <= SCATTER_CHUNK) return chunk(src, 0, count);
  // Chunks in index order, added in order: the result stays deterministic.
  return tidy(() => {
    const rows = reshape(src, [count, dim]);
    let total: Tensor | null = null;
    for (let start = 0; start < count; start += SCATTER_CHUNK) {
      const end = Math.min(count, start + SCATTER_CHUNK);
      const part = chunk(slice(rows, [start], [end]), start, end);
      total = total ? total.add(part) : part;
    }
    return total!;
  });
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

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default −100, as in PyTorch). */
  ignoreIndex?: number;
  /** 'mean' over non-ignored positions (default), 'sum', or 'none' (per position, 0 where ignored). */
  reduction?: 'mean' | 'sum' | 'none';
  /** Label smoothing ε in [0, 1): targets become (1 − ε)·onehot + ε/classes. */
  labelSmoothing?: number;
}

/** Softmax cross-entropy of logits [..., C] against i32 class indices [...]. */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  requireDtype('crossEntropy', logits, 'f32');
  requireDtype('crossEntropy (targets)', targets, 'i32');
  const cols = logits.shape.at(-1);
  if (cols === undefined || logits.shape.slice(0, -1).join() !== targets.shape.join()) {
    throw new Error(
      `crossEntropy: logits ${fmt(logits.shape)} must be targets' shape ${fmt(targets.shape)} plus a class axis`,
    );
  }
  return tidy(() => {
    const smoothing = options.labelSmoothing ?? 0;
    if (!(smoothing >= 0 && smoothing < 1))
      throw new Error(`crossEntropy: labelSmoothing must be in [0, 1), got ${smoothing}`);
    const params = { rows: targets.size, cols, ignoreIndex, smoothing };
    const rows = record(
      launch('crossEntropy', 'crossEntropy', { xs: logits, targets }, params, targets.shape),
      'crossEntropy',
      [logits, targets],
      params,
    );
    if (reduction === 'none') return rows;
    const total = sum(rows);
    if (reduction === 'sum') return total;
    const valid = sum(compare('ne', targets, ignoreIndex));
    return total.div(valid.maximum(1));
  });
}

/** LayerNorm over the last axis: (x − mean)/sqrt(var + eps)·weight + bias, statistics in f32. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  requireDtype('layerNorm', x, 'f32');
  const dim = x.shape.at(-1);
  if (dim === undefined || weight.shape.join() !== `${dim}` || bias.shape.join() !== `${dim}`) {
    throw new Error(
      `layerNorm: weight ${fmt(weight.shape)} and bias ${fmt(bias.shape)} must both be [${dim}] for input ${fmt(x.shape)}`,
    );
  }
  const params = { rows: x.size / Math.max(dim, 1), dim, eps };
  return tidy(() => {
    const stats = launch('layerNorm stats', 'layerNormStats', { xs: x }, params, [params.rows, 2]);
    const y = launch('layerNorm', 'layerNormApply', { xs: x, stats, w: weight, b: bias }, params, x.shape);
    return record(y, 'layerNorm', [x, weight, bias, stats], { eps });
  });
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
