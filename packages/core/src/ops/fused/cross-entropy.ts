/**
 * @file Softmax cross-entropy as one fused op: the forward kernel gives each row's loss from the logits
 * (max-shifted, with ignore_index and label smoothing), the backward kernel each row's softmax minus its
 * (smoothed) target, times the row's gradient. The reductions over rows are primitive ops.
 */
import type { KernelParams } from '@reprise/kernels';
import { defineFusedOp } from '../../autograd/fused.ts';
import { tidy } from '../../scope.ts';
import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { launch, requireDtype } from '../apply.ts';
import { compare } from '../elementwise.ts';
import { sum } from '../reduce.ts';

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default −100, as in PyTorch). */
  ignoreIndex?: number;
  /** 'mean' over non-ignored positions (default), 'sum', or 'none' (per position, 0 where ignored). */
  reduction?: 'mean' | 'sum' | 'none';
  /** Label smoothing ε in [0, 1): targets become (1 − ε)·onehot + ε/classes. */
  labelSmoothing?: number;
}

/** The per-row loss; attrs are the kernels' params (rows, cols, ignoreIndex, smoothing). */
const rowLosses = defineFusedOp<{ logits: Tensor }, KernelParams<'crossEntropy'>, { targets: Tensor }>({
  name: 'crossEntropy',
  backward: (g, { inputs: { logits }, saved: { targets }, attrs }) => ({
    logits: launch(
      'crossEntropy backward',
      'crossEntropyGrad',
      { xs: logits, targets, g },
      attrs,
      logits.shape,
    ),
  }),
});

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
    const rows = rowLosses.record(
      launch('crossEntropy', 'crossEntropy', { xs: logits, targets }, params, targets.shape),
      { logits },
      { targets },
      params,
    );
    if (reduction === 'none') return rows;
    const total = sum(rows);
    if (reduction === 'sum') return total;
    const valid = sum(compare('ne', targets, ignoreIndex));
    return total.div(valid.maximum(1));
  });
}
