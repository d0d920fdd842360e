/**
 * @file Our logits next to the PyTorch reference's: the project's forward on token ids, the reference's as
 * nested rows, and the largest difference (the tests' 1e-4, explained at `TOLERANCE`).
 */
import { noGrad, tidy } from '@reprise/core';
import type { Transformer } from '@reprise/model';
import { expect } from 'vitest';
import { referenceLogits } from './torch.ts';

/** Logits as [sequence][position][class]. */
export type Logits = number[][][];

const nest = (
  data: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  batch: number,
  seq: number,
  classes: number,
): Logits =>
  Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, t) =>
      Array.from(data.subarray((b * seq + t) * classes, (b * seq + t + 1) * classes)),
    ),
  );

/** The backbone's LM logits of equal-length id rows (positions 0..T−1, no padding). */
export async function ourLmLogits(model: Transformer, ids: number[][]): Promise<Logits> {
  const dev = model.device;
  const [b, t] = [ids.length, ids[0]!.length];
  const logits = tidy(() =>
    noGrad(() => {
      const h = model.hidden(model.embedTokens(dev.tensor(Int32Array.from(ids.flat()), [b, t], 'i32')), {
        lengths: dev.tensor(Int32Array.from(ids.map((r) => r.length)), [b], 'i32'),
        positions: dev.tensor(Int32Array.from(ids.flatMap(() => [...Array(t).keys()])), [b, t], 'i32'),
      });
      return model.logits(h);
    }),
  );
  const data = await logits.data();
  logits.dispose();
  return nest(data, b, t, model.config.vocabSize);
}

/** The reference's logits (LM or token-classification head, whichever the directory's model has). */
export async function referenceGrid(dir: string, ids: number[][]): Promise<Logits> {
  const { shape, data } = await referenceLogits(dir, ids);
  return nest(data, shape[0]!, shape[1]!, shape[2]!);
}

/** Flat [B·T·C] values as nested rows. */
export function nested(data: Float32Array | Int32Array, batch: number, seq: number, classes: number): Logits {
  return nest(data, batch, seq, classes);
}

/** The largest |a − b| over all logits (shapes must agree). */
export function maxDiff(a: Logits, b: Logits): number {
  expect([a.length, a[0]?.length, a[0]?.[0]?.length]).toEqual([b.length, b[0]?.length, b[0]?.[0]?.length]);
  let m = 0;
  a.forEach((rows, i) =>
    rows.forEach((row, j) =>
      row.forEach((x, k) => {
        m = Math.max(m, Math.abs(x - b[i]![j]![k]!));
      }),
    ),
  );
  return m;
}

/**
 * Both sides compute in f32 from the same f32 weights (half types are widened exactly on both sides); the
 * logits are O(1–10) here (tiny.py's weight scale) and differ by summation order only: a few f32 ulps
 * (~1e-7 relative) per op through two blocks (measured: 1e-6 to 1e-5 on GLES) stays well below 1e-4, while a
 * wrong layout, mask or rotary convention moves them by O(0.1–1).
 */
export const TOLERANCE = 1e-4;

/** Two sequences of token ids < 101 (the tiny models' vocabulary), shared by the tests against the reference. */
export const TINY_IDS = [
  [5, 17, 3, 99, 42, 7, 64, 23],
  [88, 1, 56, 12, 0, 100, 31, 9],
];
