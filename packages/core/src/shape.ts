/**
 * @file Shape arithmetic: NumPy broadcasting, axis normalization, strides. Errors name the op and the shapes.
 */
import { contiguousStrides, product } from '@reprise/kernels';

export type Shape = readonly number[];

/** Number of elements. */
export const sizeOf: (shape: Shape) => number = product;
/** Row-major strides. */
export const stridesOf: (shape: Shape) => number[] = contiguousStrides;

export const fmt = (shape: Shape) => `[${shape.join(', ')}]`;

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The NumPy broadcast of several shapes, or an error naming the op and the offending axis. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const k = rank - s.length + i;
      const d = s[i]!;
      if (d === out[k] || d === 1) continue;
      if (out[k] === 1) {
        out[k] = d;
        continue;
      }
      throw new Error(
        `${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together (axis ${k - rank}: ${out[k]} vs ${d})`,
      );
    }
  }
  return out;
}

/** Strides to read a contiguous tensor of `shape` as if it had `outShape` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, k) => {
    const i = k - offset;
    return i < 0 || shape[i] === 1 ? 0 : own[i]!;
  });
}

/** Turns a possibly negative axis into 0..rank-1, or throws naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

export function normalizeAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normalizeAxis(op, a, rank));
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated axis in [${axes}]`);
  return list.sort((x, y) => x - y);
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`${op}: invalid shape ${fmt(shape)} (dims must be integers ≥ 0)`);
  }
}
