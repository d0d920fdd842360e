/**
 * @file Every gradient rule, in one table. A rule gets the output's gradient `g` and the node (inputs,
 * output, attrs) and returns one gradient per input (null where none flows). Rules are written with ops, so
 * they run on any backend; `backward` runs them under noGrad.
 */
import type { KernelParams } from '@reprise/kernels';
import { launch, launchInto } from '../ops/apply.ts';
import { binaryKernel, unaryKernel, where } from '../ops/elementwise.ts';
import { expand, pad, permute, reshape, slice } from '../ops/layout.ts';
import { matmul } from '../ops/matmul.ts';
import { scatterAdd } from '../ops/nn.ts';
import { reduceKernel } from '../ops/reduce.ts';
import { tidy } from '../scope.ts';
import { type Shape, sameShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

interface RuleContext {
  inputs: Tensor[];
  output: Tensor;
  attrs: Record<string, unknown>;
}
type GradRule = (g: Tensor, ctx: RuleContext) => (Tensor | null)[];

/** Sums a broadcast gradient back down to `shape` (NumPy rules, right-aligned). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes = g.shape
    .map((_, k) => k)
    .filter((k) => k < lead || (shape[k - lead] === 1 && g.shape[k] !== 1));
  return tidy(() => reshape(reduceKernel('sum', g, axes, false), shape));
}

/** g broadcast back over the axes a keepdims=false reduction removed. */
function unreduce(g: Tensor, input: Tensor, axes: number[], keepdims: boolean): Tensor {
  return tidy(() => {
    const kept = keepdims
      ? g
      : reshape(
          g,
          input.shape.map((d, k) => (axes.includes(k) ? 1 : d)),
        );
    return expand(kept, input.shape);
  });
}

const mul = (a: Tensor, b: Tensor) => binaryKernel('mul', a, b);
/** [..., M, K] → [(…)·M, K], sharing storage. */
const flattenRows = (t: Tensor) => reshape(t, [-1, t.shape.at(-1)!]);
const unary = (op: Parameters<typeof unaryKernel>[0], x: Tensor) => unaryKernel(op, x);

export const GRAD_RULES = {
  add: (g, { inputs: [a, b] }) => [sumToShape(g, a!.shape), sumToShape(g, b!.shape)],
  sub: (g, { inputs: [a, b] }) => [
    sumToShape(g, a!.shape),
    tidy(() => sumToShape(unary('neg', g), b!.shape)),
  ],
  mul: (g, { inputs: [a, b] }) => [
    a!.requiresGrad ? tidy(() => sumToShape(mul(g, b!), a!.shape)) : null,
    b!.requiresGrad ? tidy(() => sumToShape(mul(g, a!), b!.shape)) : null,
  ],
  div: (g, { inputs: [a, b], output }) => [
    a!.requiresGrad ? tidy(() => sumToShape(binaryKernel('div', g, b!), a!.shape)) : null,
    // d(a/b)/db = −(a/b)/b
    b!.requiresGrad
      ? tidy(() => sumToShape(unary('neg', binaryKernel('div', mul(g, output), b!)), b!.shape))
      : null,
  ],
  pow: (g, { inputs: [a, b], output }) => [
    // d(a^b)/da = b·a^(b−1)
    a!.requiresGrad
      ? tidy(() => {
          const bMinus1 = binaryKernel('sub', b!, a!.device.scalar(1));
          return sumToShape(mul(g, mul(b!, binaryKernel('pow', a!, bMinus1))), a!.shape);
        })
      : null,
    // d(a^b)/db = a^b·ln a
    b!.requiresGrad ? tidy(() => sumToShape(mul(g, mul(output, unary('log', a!))), b!.shape)) : null,
  ],
  max: (g, { inputs: [a, b] }) => minMaxRule(g, a!, b!, 'ge'),
  min: (g, { inputs: [a, b] }) => minMaxRule(g, a!, b!, 'le'),
  neg: (g) => [unary('neg', g)],
  exp: (g, { output }) => [mul(g, output)],
  log: (g, { inputs: [a] }) => [binaryKernel('div', g, a!)],
  sqrt: (g, { output }) => [tidy(() => binaryKernel('div', g, mul(output, output.device.scalar(2))))],
  tanh: (g, { output }) =>
    // 1 − tanh²
    [tidy(() => mul(g, binaryKernel('sub', output.device.scalar(1), mul(output, output))))],
  relu: (g, { inputs: [a] }) => [tidy(() => mul(g, unary('step', a!)))],
  gelu: (g, { inputs: [a] }) => [tidy(() => mul(g, unary('gelu_grad', a!)))],
  abs: (g, { inputs: [a] }) => [
    tidy(() => mul(g, binaryKernel('sub', unary('step', a!), unary('step', unary('neg', a!))))),
  ],
  where: (g, { inputs: [cond, a, b] }) => {
    const zero = () => g.device.scalar(0);
    return [
      null,
      a!.requiresGrad ? tidy(() => sumToShape(where(cond!, g, zero()), a!.shape)) : null,
      b!.requiresGrad ? tidy(() => sumToShape(where(cond!, zero(), g), b!.shape)) : null,
    ];
  },
  sum: (g, { inputs: [x], attrs }) => [unreduce(g, x!, attrs.axes as number[], attrs.keepdims as boolean)],
  max_reduce: (g, { inputs: [x], output, attrs }) => {
    // The gradient goes to the maxima, split evenly between ties.
    const axes = attrs.axes as number[];
    const keepdims = attrs.keepdims as boolean;
    return [
      tidy(() => {
        const isMax = binaryKernel('eq', x!, unreduce(output, x!, axes, keepdims));
        const ties = reduceKernel('sum', isMax, axes, true);
        return mul(isMax, binaryKernel('div', unreduce(g, x!, axes, keepdims), ties));
      }),
    ];
  },
  reshape: (g, { inputs: [x] }) => [reshape(g, x!.shape)],
  permute: (g, { attrs }) => {
    const perm = attrs.perm as number[];
    const inverse = perm.map((_, k) => perm.indexOf(k));
    return [permute(g, inverse)];
  },
  slice: (g, { inputs: [x], attrs }) => [pad(g, x!.shape, attrs.lo as number[])],
  pad: (g, { inputs: [x], attrs }) => {
    const lo = attrs.lo as number[];
    return [
      slice(
        g,
        lo,
        lo.map((l, k) => l + x!.shape[k]!),
      ),
    ];
  },
  expand: (g, { inputs: [x] }) => [sumToShape(g, x!.shape)],
  concat: (g, { inputs: [a, b], attrs }) => {
    const axis = attrs.axis as number;
    const split = a!.shape[axis]!;
    const starts = g.shape.map((_, k) => (k === axis ? split : 0));
    return [
      a!.requiresGrad
        ? slice(
            g,
            g.shape.map(() => 0),
            g.shape.map((d, k) => (k === axis ? split : d)),
          )
        : null,
      b!.requiresGrad ? slice(g, starts, [...g.shape]) : null,
    ];
  },
  matmul: (g, { inputs: [a, b, ...epilogue], attrs }) => {
    const transA = attrs.transA as boolean;
    const transB = attrs.transB as boolean;
    const bias = attrs.bias ? epilogue[0] : undefined;
    const residual = attrs.residual ? epilogue[attrs.bias ? 1 : 0] : undefined;
    // With Â = op(A), B̂ = op(B): dÂ = G·B̂ᵀ and dB̂ = Âᵀ·G, written back in each operand's stored layout.
    const dA = () =>
      transA ? matmul(b!, g, { transA: transB, transB: true }) : matmul(g, b!, { transB: !transB });
    // A shared B (rank 2) under a batched, untransposed A: dB = Σ_batch A_bᵀ·G_b is one matmul over the
    // flattened rows (K = batch·M) instead of a batch of products and a sum over them.
    const foldRows = b!.rank === 2 && a!.rank > 2 && !transA;
    const dB = () => {
      const [a2, g2] = foldRows ? [flattenRows(a!), flattenRows(g)] : [a!, g];
      return transB ? matmul(g2, a2, { transA: true, transB: transA }) : matmul(a2, g2, { transA: !transA });
    };
    const grads = [
      a!.requiresGrad ? tidy(() => sumToShape(dA(), a!.shape)) : null,
      b!.requiresGrad ? tidy(() => sumToShape(dB(), b!.shape)) : null,
    ];
    // The epilogue's terms: the bias sums the rows of G, the residual takes G itself.
    if (bias) grads.push(bias.requiresGrad ? sumToShape(g, bias.shape) : null);
    if (residual) grads.push(residual.requiresGrad ? g : null);
    return grads;
  },
  gather: (g, { inputs: [table, indices] }) => [scatterAdd(g, indices!, table!.shape[0]!), null],
  // attrs are the forward kernel's params, layout included: the gradients come back in the inputs' layout.
  attention: (g, { inputs: [q, k, v, lengths, queryStart, lse], output, attrs: forward }) =>
    tidy(() => {
      // attrs are untyped in the tape; they were built as this kernel's params by `attention`.
      const attrs = forward as unknown as KernelParams<'attentionForward'>;
      const D = launch(
        'attention backward',
        'attentionRowDot',
        { dO: g, O: output, lengths: lengths!, queryStart: queryStart! },
        attrs,
        lse!.shape,
      );
      const common = {
        Q: q!,
        K: k!,
        V: v!,
        dO: g,
        LSE: lse!,
        Drow: D,
        lengths: lengths!,
        queryStart: queryStart!,
      };
      const dq = launch('attention backward', 'attentionGradQ', common, attrs, q!.shape);
      const { dK, dV } = launchInto(
        'attention backward',
        'attentionGradKV',
        common,
        { dK: { shape: k!.shape }, dV: { shape: v!.shape } },
        attrs,
      );
      return [dq, dK, dV, null, null, null];
    }),
  // Masked entries have y = 0, so the plain softmax rule gives them no gradient.
  maskedSoftmax: (g, { output }) => [softmaxGrad(g, output), null, null],
  softmax: (g, { output }) => [softmaxGrad(g, output)],
  logSoftmax: (g, { output }) =>
    // g − softmax·Σ g
    [
      tidy(() => {
        const total = reduceKernel('sum', g, [output.rank - 1], true);
        return binaryKernel('sub', g, mul(unary('exp', output), total));
      }),
    ],
  crossEntropy: (g, { inputs: [logits, targets], attrs }) => {
    // attrs are the forward kernel's params (rows, cols, ignoreIndex, smoothing).
    const params = attrs as unknown as KernelParams<'crossEntropy'>;
    return [
      launch(
        'crossEntropy backward',
        'crossEntropyGrad',
        { xs: logits!, targets: targets!, g },
        params,
        logits!.shape,
      ),
      null,
    ];
  },
  dropout: (g, { attrs }) => [
    // The same hash mask, applied to the gradient.
    launch(
      'dropout backward',
      'dropout',
      { xs: g },
      { size: g.size, p: attrs.p as number, seed: attrs.seed as number },
      g.shape,
    ),
  ],
  layerNorm: (g, { inputs: [x, weight, bias, stats], attrs }) => {
    const dim = x!.shape.at(-1)!;
    const params = { rows: x!.size / dim, dim, eps: attrs.eps as number };
    return tidy(() => {
      const dx = x!.requiresGrad
        ? launch(
            'layerNorm backward',
            'layerNormGradInput',
            { xs: x!, stats: stats!, w: weight!, dy: g },
            params,
            x!.shape,
          )
        : null;
      if (!weight!.requiresGrad && !bias!.requiresGrad) return [dx, null, null, null];
      // One column pass gives both: row 0 is dW, row 1 is dB.
      const both = layerNormParamGrads(x!, stats!, g, params);
      return [dx, reshape(slice(both, [0], [1]), [dim]), reshape(slice(both, [1], [2]), [dim]), null];
    });
  },
} satisfies Record<string, GradRule>;

export type OpName = keyof typeof GRAD_RULES;

/** Rows per launch of the column reduction (each invocation loops over rows: llvmpipe's loop limit). */
const LAYERNORM_ROW_CHUNK = 32768;

/** [dW; dB] as [2, dim], in row chunks added in order when there are many rows. */
function layerNormParamGrads(
  x: Tensor,
  stats: Tensor,
  g: Tensor,
  params: { rows: number; dim: number; eps: number },
) {
  const { rows, dim } = params;
  if (rows <= LAYERNORM_ROW_CHUNK) {
    return launch('layerNorm backward (params)', 'layerNormGradParams', { xs: x, stats, dy: g }, params, [
      2,
      dim,
    ]);
  }
  return tidy(() => {
    const [x2, g2, s2] = [reshape(x, [rows, dim]), reshape(g, [rows, dim]), reshape(stats, [rows, 2])];
    let total: Tensor | null = null;
    for (let start = 0; start < rows; start += LAYERNORM_ROW_CHUNK) {
      const end = Math.min(rows, start + LAYERNORM_ROW_CHUNK);
      const part = launch(
        'layerNorm backward (params)',
        'layerNormGradParams',
        {
          xs: slice(x2, [start], [end]),
          stats: slice(s2, [start], [end]),
          dy: slice(g2, [start], [end]),
        },
        { ...params, rows: end - start },
        [2, dim],
      );
      total = total ? binaryKernel('add', total, part) : part;
    }
    return total!;
  });
}

/** y·(g − Σ g·y) along the last axis. */
function softmaxGrad(g: Tensor, y: Tensor): Tensor {
  return tidy(() => {
    const dot = reduceKernel('sum', mul(g, y), [y.rank - 1], true);
    return mul(y, binaryKernel('sub', g, dot));
  });
}

function minMaxRule(g: Tensor, a: Tensor, b: Tensor, keepA: 'ge' | 'le'): (Tensor | null)[] {
  // Ties send the gradient to a, as the comparison decides.
  return tidy(() => {
    const pickA = binaryKernel(keepA, a, b);
    const zero = g.device.scalar(0);
    return [
      a.requiresGrad ? sumToShape(where(pickA, g, zero), a.shape) : null,
      b.requiresGrad ? sumToShape(where(pickA, zero, g), b.shape) : null,
    ];
  });
}
