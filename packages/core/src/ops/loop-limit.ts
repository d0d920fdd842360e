/**
 * @file Backend workaround for llvmpipe's loop limit. Mesa's llvmpipe on OpenGL ES stops a shader invocation
 * after 65535 loop iterations (`LLVMPIPE_LOOP_LIMIT` in @reprise/kernels, docs/runtime.md), so kernels whose
 * invocations loop over every row (scatter-add over its indices, layer norm's parameter gradient over the
 * rows) run in launches of at most `ROWS_PER_LAUNCH` rows whose results are added in order: the sum stays
 * deterministic and the same on every backend.
 */
import { tidy } from '../scope.ts';
import type { Tensor } from '../tensor.ts';
import { binaryKernel } from './elementwise.ts';

export const ROWS_PER_LAUNCH = 32768;

/** Σ over row ranges [start, end) of at most ROWS_PER_LAUNCH rows of `launchRows(start, end)`, in order. */
export function sumOverRowLaunches(rows: number, launchRows: (start: number, end: number) => Tensor): Tensor {
  if (rows <= ROWS_PER_LAUNCH) return launchRows(0, rows);
  return tidy(() => {
    let total: Tensor | null = null;
    for (let start = 0; start < rows; start += ROWS_PER_LAUNCH) {
      const part = launchRows(start, Math.min(rows, start + ROWS_PER_LAUNCH));
      total = total ? binaryKernel('add', total, part) : part;
    }
    return total!;
  });
}
