/**
 * @file Fused attention as one op (FlashAttention-style kernels, no T×T buffer, O(T) memory): the forward
 * saves each query row's log-sum-exp of its scores; the backward recomputes the scores from it (dO·O per row,
 * then dQ and dK, dV in two kernels). ../attention.ts checks the options and picks this or the unfused path.
 */
import type { KernelParams } from '@reprise/kernels';
import { defineFusedOp } from '../../autograd/fused.ts';
import { tidy } from '../../scope.ts';
import type { Tensor } from '../../tensor.ts';
import { launch, launchInto } from '../apply.ts';

type AttentionParams = KernelParams<'attentionForward'>;

interface Saved {
  /** i32 [B]: valid keys per sequence. */
  lengths: Tensor;
  /** i32 [B]: key position of each sequence's first query row. */
  queryStart: Tensor;
  /** [B, H, Tq]: log Σ exp(score) of each query row. */
  lse: Tensor;
}

/** attrs are the forward kernel's params, layout included: the gradients come back in the inputs' layout. */
const attentionOp = defineFusedOp<{ q: Tensor; k: Tensor; v: Tensor }, AttentionParams, Saved>({
  name: 'attention',
  backward: (g, { inputs: { q, k, v }, output, saved: { lengths, queryStart, lse }, attrs }) =>
    tidy(() => {
      const D = launch(
        'attention backward',
        'attentionRowDot',
        { dO: g, O: output, lengths, queryStart },
        attrs,
        lse.shape,
      );
      const common = { Q: q, K: k, V: v, dO: g, LSE: lse, Drow: D, lengths, queryStart };
      const dq = launch('attention backward', 'attentionGradQ', common, attrs, q.shape);
      const { dK, dV } = launchInto(
        'attention backward',
        'attentionGradKV',
        common,
        { dK: { shape: k.shape }, dV: { shape: v.shape } },
        attrs,
      );
      return { q: dq, k: dK, v: dV };
    }),
});

/** The fused path of `attention`, on checked inputs: lengths and queryStart as i32 [B] tensors. */
export function fusedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  lengths: Tensor,
  queryStart: Tensor,
  params: AttentionParams,
): Tensor {
  return tidy(() => {
    const [batch, heads, queries] = [params.batch, params.heads, params.queries ?? params.seq];
    const { O: out, LSE: lse } = launchInto(
      'attention',
      'attentionForward',
      { Q: q, K: k, V: v, lengths, queryStart },
      { O: { shape: q.shape }, LSE: { shape: [batch, heads, queries] } },
      params,
    );
    return attentionOp.record(out, { q, k, v }, { lengths, queryStart, lse }, params);
  });
}
