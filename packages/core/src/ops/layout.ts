/**
 * @file Shape and layout ops: reshape (shares storage), permute, transpose, slice, pad, expand, concat,
 * tile and repeat (built from reshape + expand, so their gradients come for free).
 * Composite ops run in `tidy`, so their intermediates are freed at once or with the graph that needs them.
 */
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import {
  type Shape,
  broadcastShapes,
  broadcastStrides,
  checkShape,
  fmt,
  normalizeAxis,
  sizeOf,
  stridesOf,
} from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { deviceOf, launch } from './apply.ts';

export function reshape(x: Tensor, shape: Shape): Tensor {
  const free = shape.indexOf(-1);
  let final = [...shape];
  if (free >= 0) {
    const known = sizeOf(shape.filter((_, k) => k !== free));
    if (known === 0 || x.size % known !== 0) {
      throw new Error(`reshape: cannot infer -1 in ${fmt(shape)} for ${x} (${x.size} elements)`);
    }
    final[free] = x.size / known;
  }
  checkShape('reshape', final);
  if (sizeOf(final) !== x.size)
    throw new Error(`reshape: ${x} has ${x.size} elements, shape ${fmt(shape)} holds ${sizeOf(final)}`);
  final = final.map(Number);
  return record(x.withShape(final), 'reshape', [x]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const axes = perm.map((a) => normalizeAxis('permute', a, x.rank));
  if (axes.length !== x.rank || new Set(axes).size !== x.rank) {
    throw new Error(`permute: [${perm}] is not a permutation of the ${x.rank} axes of ${x}`);
  }
  const strides = stridesOf(x.shape);
  const shape = axes.map((a) => x.shape[a]!);
  const out = launch(
    'permute',
    'strided',
    { xs: x },
    { shape, strides: axes.map((a) => strides[a]!), offset: 0 },
    shape,
  );
  return record(out, 'permute', [x], { perm: axes });
}

export function transpose(x: Tensor, axisA = -2, axisB = -1): Tensor {
  const a = normalizeAxis('transpose', axisA, x.rank);
  const b = normalizeAxis('transpose', axisB, x.rank);
  const perm = x.shape.map((_, k) => k);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** x[starts[0]:ends[0], …]; missing trailing axes are taken whole. Negative indices count from the end. */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  if (starts.length > x.rank || ends.length !== starts.length) {
    throw new Error(`slice: starts [${starts}] and ends [${ends}] must have equal length ≤ rank of ${x}`);
  }
  const lo = x.shape.map((d, k) => (k < starts.length ? (starts[k]! < 0 ? starts[k]! + d : starts[k]!) : 0));
  const hi = x.shape.map((d, k) => (k < ends.length ? (ends[k]! < 0 ? ends[k]! + d : ends[k]!) : d));
  x.shape.forEach((d, k) => {
    if (!(0 <= lo[k]! && lo[k]! <= hi[k]! && hi[k]! <= d)) {
      throw new Error(`slice: range ${starts[k]}:${ends[k]} on axis ${k} is outside 0..${d} of ${x}`);
    }
  });
  const strides = stridesOf(x.shape);
  const shape = hi.map((h, k) => h - lo[k]!);
  const offset = lo.reduce((acc, l, k) => acc + l * strides[k]!, 0);
  const out = launch('slice', 'strided', { xs: x }, { shape, strides, offset }, shape);
  return record(out, 'slice', [x], { lo });
}

/** Zero-pads x into `shape`, placing x's origin at `lo` (the adjoint of slice). */
export function pad(x: Tensor, shape: Shape, lo: readonly number[]): Tensor {
  const params = {
    shape: [...shape],
    strides: stridesOf(x.shape),
    offset: 0,
    lo: [...lo],
    extent: [...x.shape],
  };
  return record(launch('pad', 'strided', { xs: x }, params, shape), 'pad', [x], { lo: [...lo] });
}

/** Broadcasts x to `shape` (materialized). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes('expand', x.shape, shape);
  if (out.join() !== shape.join()) throw new Error(`expand: ${x} cannot be expanded to ${fmt(shape)}`);
  const strides = broadcastStrides(x.shape, shape);
  return record(
    launch('expand', 'strided', { xs: x }, { shape: [...shape], strides, offset: 0 }, shape),
    'expand',
    [x],
  );
}

/** Joins tensors along `axis`; all other dims must match. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new Error('concat: no tensors');
  deviceOf('concat', tensors);
  return tidy(() => concatChain(tensors, axis));
}

function concatChain(tensors: readonly Tensor[], axis: number): Tensor {
  let out = tensors[0]!;
  const ax = normalizeAxis('concat', axis, out.rank);
  for (const next of tensors.slice(1)) {
    const ok =
      next.rank === out.rank &&
      next.dtype === out.dtype &&
      next.shape.every((d, k) => k === ax || d === out.shape[k]);
    if (!ok) throw new Error(`concat: ${next} does not match ${out} outside axis ${ax}`);
    const outer = sizeOf(out.shape.slice(0, ax));
    const shape = out.shape.map((d, k) => (k === ax ? d + next.shape[k]! : d));
    const params = { outer, aInner: sizeOf(out.shape.slice(ax)), bInner: sizeOf(next.shape.slice(ax)) };
    const joined = launch('concat', 'concat', { a: out, b: next }, params, shape);
    out = record(joined, 'concat', [out, next], { axis: ax });
  }
  return out === tensors[0] ? reshape(out, out.shape) : out;
}

/** [a, b] tiled twice along axis 0 is [a, b, a, b]. */
export function tile(x: Tensor, axis: number, reps: number): Tensor {
  const ax = normalizeAxis('tile', axis, x.rank);
  checkReps('tile', reps);
  const inserted = [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)];
  const expanded = [...x.shape.slice(0, ax), reps, ...x.shape.slice(ax)];
  const final = x.shape.map((d, k) => (k === ax ? d * reps : d));
  return tidy(() => reshape(expand(reshape(x, inserted), expanded), final));
}

/** [a, b] repeated twice along axis 0 is [a, a, b, b]. */
export function repeat(x: Tensor, axis: number, reps: number): Tensor {
  const ax = normalizeAxis('repeat', axis, x.rank);
  checkReps('repeat', reps);
  const inserted = [...x.shape.slice(0, ax + 1), 1, ...x.shape.slice(ax + 1)];
  const expanded = [...x.shape.slice(0, ax + 1), reps, ...x.shape.slice(ax + 1)];
  const final = x.shape.map((d, k) => (k === ax ? d * reps : d));
  return tidy(() => reshape(expand(reshape(x, inserted), expanded), final));
}

function checkReps(op: string, reps: number): void {
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`${op}: reps must be an integer ≥ 1, got ${reps}`);
}
