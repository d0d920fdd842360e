/**
 * @file Batched matmul with NumPy batch broadcasting and transposed operands read in place.
 */
import { record } from '../autograd/graph.ts';
import { tidy } from '../scope.ts';
import { broadcastShapes, fmt, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { launch, requireDtype, requireRank } from './apply.ts';
import { expand } from './layout.ts';

export interface MatmulOptions {
  /** Use a's last two axes transposed (a is [..., K, M]). */
  transA?: boolean;
  /** Use b's last two axes transposed (b is [..., N, K]). */
  transB?: boolean;
  /** Added to every output row [N], inside the matmul kernel (one pass less than a separate add). */
  bias?: Tensor;
  /** Added to the output (same shape as the output), inside the kernel: the residual connection. */
  residual?: Tensor;
}

/** a [..., M, K] · b [..., K, N] (+ bias [N]) (+ residual) → [..., M, N] (batch dims broadcast). */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  requireDtype('matmul', a, 'f32');
  requireDtype('matmul', b, 'f32');
  requireRank('matmul', a, 2, 'a');
  requireRank('matmul', b, 2, 'b');
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [M, Ka] = transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (Ka !== Kb) {
    throw new Error(
      `matmul: inner dimensions differ: a ${fmt(a.shape)}${transA ? 'ᵀ' : ''} has K=${Ka}, b ${fmt(b.shape)}${transB ? 'ᵀ' : ''} has K=${Kb}`,
    );
  }
  const batchShape = broadcastShapes('matmul (batch dims)', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = sizeOf(batchShape);
  const outShape = [...batchShape, M, N];
  const { bias, residual } = options;
  if (bias && (bias.dtype !== 'f32' || bias.shape.join() !== `${N}`)) {
    throw new Error(`matmul: bias must be an f32 [${N}], got ${bias}`);
  }
  if (residual && (residual.dtype !== 'f32' || residual.shape.join() !== outShape.join())) {
    throw new Error(`matmul: residual must be an f32 ${fmt(outShape)} like the output, got ${residual}`);
  }
  return tidy(() => {
    // An operand whose batch dims are neither the full batch nor all 1 is materialized to the full batch.
    const operand = (t: Tensor) => {
      const own = sizeOf(t.shape.slice(0, -2));
      if (own === 1) return { t, stride: 0 };
      const full = [...batchShape, ...t.shape.slice(-2)];
      const same = t.rank === full.length && t.shape.every((d, k) => d === full[k]);
      const x = same ? t : expand(t, full);
      return { t: x, stride: sizeOf(t.shape.slice(-2)) };
    };
    const A = operand(a);
    const B = operand(b);
    const epilogue = [bias, residual].filter((t): t is Tensor => t !== undefined);
    // A batch of [M, K] rows times one shared B is one [batch·M, K] · B: fewer, larger blocks (the x·W of
    // every linear layer). Possible when A's rows are contiguous across the batch, i.e. A is not transposed.
    const fold = batch > 1 && B.stride === 0 && A.stride !== 0 && !transA;
    const params = {
      batch: fold ? 1 : batch,
      M: fold ? batch * M : M,
      N,
      K: Ka,
      transA,
      transB,
      aBatchStride: fold ? 0 : A.stride,
      bBatchStride: B.stride,
      bias: bias !== undefined,
      residual: residual !== undefined,
    };
    const out = launch('matmul', 'matmul', { A: A.t, B: B.t, Bias: bias, Res: residual }, params, outShape);
    return record(out, 'matmul', [a, b, ...epilogue], params);
  });
}
