/**
 * @file RMSNorm as one fused op (Llama, Mistral, Qwen2): the forward gives y = x/√(mean(x²) + eps)·weight and
 * each row's 1/rms, which it saves; the backward gives the input's gradient per row and the weight's in one
 * column pass (in row launches of bounded length on llvmpipe, ../loop-limit.ts).
 */
import type { KernelParams } from '@reprise/kernels';
import { defineFusedOp } from '../../autograd/fused.ts';
import { tidy } from '../../scope.ts';
import { fmt } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { launch, launchInto, requireDtype } from '../apply.ts';
import { reshape, slice } from '../layout.ts';
import { sumOverRowLaunches } from '../loop-limit.ts';

type RmsNormParams = KernelParams<'rmsNorm'>;

const rmsNormOp = defineFusedOp<
  { x: Tensor; weight: Tensor },
  RmsNormParams,
  /** [rows]: each row's 1/√(mean(x²) + eps). */
  { rstd: Tensor }
>({
  name: 'rmsNorm',
  backward: (g, { inputs: { x, weight }, saved: { rstd }, attrs: params }) =>
    tidy(() => ({
      x: x.requiresGrad
        ? launch('rmsNorm backward', 'rmsNormGradInput', { xs: x, rstd, w: weight, dy: g }, params, x.shape)
        : null,
      weight: weight.requiresGrad ? weightGrad(x, rstd, g, params) : null,
    })),
});

/** dW [dim]: the column sums over all rows. */
function weightGrad(x: Tensor, rstd: Tensor, g: Tensor, params: RmsNormParams): Tensor {
  const { rows, dim } = params;
  const launchRows = (start: number, end: number) => {
    const part = (t: Tensor, width: number) =>
      start === 0 && end === rows ? t : slice(reshape(t, [rows, width]), [start], [end]);
    return launch(
      'rmsNorm backward (weight)',
      'rmsNormGradWeight',
      { xs: part(x, dim), rstd: part(rstd, 1), dy: part(g, dim) },
      { ...params, rows: end - start },
      [dim],
    );
  };
  return sumOverRowLaunches(rows, launchRows);
}

/**
 * RMSNorm over the last axis: x/√(mean(x²) + eps)·weight (no mean subtracted, no bias), statistics in f32.
 * eps sits inside the root, as Hugging Face's LlamaRMSNorm has it.
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  requireDtype('rmsNorm', x, 'f32');
  requireDtype('rmsNorm (weight)', weight, 'f32');
  const dim = x.shape.at(-1);
  if (dim === undefined || weight.shape.join() !== `${dim}`) {
    throw new Error(`rmsNorm: weight ${fmt(weight.shape)} must be [${dim}] for input ${fmt(x.shape)}`);
  }
  const params = { rows: x.size / Math.max(dim, 1), dim, eps };
  return tidy(() => {
    const { Y: y, rstd } = launchInto(
      'rmsNorm',
      'rmsNorm',
      { xs: x, w: weight },
      { Y: { shape: x.shape }, rstd: { shape: [params.rows] } },
      params,
    );
    return rmsNormOp.record(y, { x, weight }, { rstd }, params);
  });
}
