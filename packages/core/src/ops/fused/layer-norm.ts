/**
 * @file LayerNorm as one fused op: the forward computes each row's statistics (mean, 1/σ) and applies them;
 * it saves the statistics, and the backward gives the input's gradient per row and the weight's and bias's
 * gradients in one column pass (in row launches of bounded length on llvmpipe, ../loop-limit.ts).
 */
import type { KernelParams } from '@reprise/kernels';
import { defineFusedOp } from '../../autograd/fused.ts';
import { tidy } from '../../scope.ts';
import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { launch, requireDtype } from '../apply.ts';
import { reshape, slice } from '../layout.ts';
import { sumOverRowLaunches } from '../loop-limit.ts';

type LayerNormParams = KernelParams<'layerNormStats'>;

const layerNormOp = defineFusedOp<
  { x: Tensor; weight: Tensor; bias: Tensor },
  LayerNormParams,
  /** [rows, 2]: each row's mean and 1/sqrt(var + eps). */
  { stats: Tensor }
>({
  name: 'layerNorm',
  backward: (g, { inputs: { x, weight, bias }, saved: { stats }, attrs: params }) =>
    tidy(() => {
      const dx = x.requiresGrad
        ? launch(
            'layerNorm backward',
            'layerNormGradInput',
            { xs: x, stats, w: weight, dy: g },
            params,
            x.shape,
          )
        : null;
      if (!weight.requiresGrad && !bias.requiresGrad) return { x: dx, weight: null, bias: null };
      // One column pass gives both: row 0 is dW, row 1 is dB.
      const both = paramGrads(x, stats, g, params);
      const { dim } = params;
      return {
        x: dx,
        weight: reshape(slice(both, [0], [1]), [dim]),
        bias: reshape(slice(both, [1], [2]), [dim]),
      };
    }),
});

/** [dW; dB] as [2, dim]: the column sums over all rows. */
function paramGrads(x: Tensor, stats: Tensor, g: Tensor, params: LayerNormParams): Tensor {
  const { rows, dim } = params;
  const launchRows = (start: number, end: number) => {
    const part = (t: Tensor, width: number) =>
      start === 0 && end === rows ? t : slice(reshape(t, [rows, width]), [start], [end]);
    return launch(
      'layerNorm backward (params)',
      'layerNormGradParams',
      { xs: part(x, dim), stats: part(stats, 2), dy: part(g, dim) },
      { ...params, rows: end - start },
      [2, dim],
    );
  };
  return sumOverRowLaunches(rows, launchRows);
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
    return layerNormOp.record(y, { x, weight, bias }, { stats }, params);
  });
}
