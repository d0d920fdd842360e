/**
 * @file The gradient rules of the primitives, in one table. A rule gets the output's gradient `g` and the node
 * (inputs, output, the op's typed attrs) and returns one gradient per input (null where none flows). Rules are
 * written with ops, so they run on any backend; `backward` runs them under noGrad. Fused ops (attention, layer
 * norm, RMS norm, cross-entropy), which launch their own backward kernels, keep their backward in their own module
 * (../ops/fused/, declared with ../autograd/fused.ts).
 */
import { launch } from '../ops/apply.ts';
import { binaryKernel, unaryKernel, where } from '../ops/elementwise.ts';
import { expand, pad, permute, reshape, slice } from '../ops/layout.ts';
import { matmul } from '../ops/matmul.ts';
import { rotaryKernel, scatterAdd } from '../ops/nn.ts';
import { reduceKernel } from '../ops/reduce.ts';
import { tidy } from '../scope.ts';
import { type Shape, sameShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

interface ReduceAttrs {
  axes: readonly number[];
  keepdims: boolean;
}

/** What each primitive records besides its inputs; ops not listed record nothing. */
export interface PrimitiveAttrs {
  sum: ReduceAttrs;
  max_reduce: ReduceAttrs;
  permute: { perm: readonly number[] };
  slice: { lo: readonly number[] };
  pad: { lo: readonly number[] };
  concat: { axis: number };
  /** The matmul kernel's params carry these (and more); the epilogue tensors follow a and b in the inputs. */
  matmul: { transA: boolean; transB: boolean; bias: boolean; residual: boolean };
  dropout: { p: number; seed: number };
  /** A row block's first row (undefined: the whole table). */
  gather: { offset: number | undefined };
  rotary: { headDim: number; pairing: 'half' | 'interleaved' };
}

type NoAttrs = Record<never, never>;
type AttrsOf<N> = N extends keyof PrimitiveAttrs ? PrimitiveAttrs[N] : NoAttrs;
/** `record`'s attrs argument for op N: required where N has attrs, absent otherwise. */
export type AttrsArg<N> = N extends keyof PrimitiveAttrs ? [attrs: PrimitiveAttrs[N]] : [];

interface RuleContext<A> {
  inputs: Tensor[];
  output: Tensor;
  attrs: A;
}
export type GradRule<A> = (g: Tensor, ctx: RuleContext<A>) => (Tensor | null)[];

/** Types each rule's attrs by its key (an op not in PrimitiveAttrs gets none); every op there needs a rule. */
const gradRules = <K extends string>(
  rules: { [N in K]: GradRule<AttrsOf<N>> } & { [N in keyof PrimitiveAttrs]: GradRule<PrimitiveAttrs[N]> },
) => rules;

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
function unreduce(g: Tensor, input: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
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

export const GRAD_RULES = gradRules({
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
  silu: (g, { inputs: [a] }) => [tidy(() => mul(g, unary('silu_grad', a!)))],
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
  sum: (g, { inputs: [x], attrs }) => [unreduce(g, x!, attrs.axes, attrs.keepdims)],
  max_reduce: (g, { inputs: [x], output, attrs }) => {
    // The gradient goes to the maxima, split evenly between ties.
    const { axes, keepdims } = attrs;
    return [
      tidy(() => {
        const isMax = binaryKernel('eq', x!, unreduce(output, x!, axes, keepdims));
        const ties = reduceKernel('sum', isMax, axes, true);
        return mul(isMax, binaryKernel('div', unreduce(g, x!, axes, keepdims), ties));
      }),
    ];
  },
  reshape: (g, { inputs: [x] }) => [reshape(g, x!.shape)],
  permute: (g, { attrs: { perm } }) => {
    const inverse = perm.map((_, k) => perm.indexOf(k));
    return [permute(g, inverse)];
  },
  slice: (g, { inputs: [x], attrs }) => [pad(g, x!.shape, attrs.lo)],
  pad: (g, { inputs: [x], attrs: { lo } }) => {
    return [
      slice(
        g,
        lo,
        lo.map((l, k) => l + x!.shape[k]!),
      ),
    ];
  },
  expand: (g, { inputs: [x] }) => [sumToShape(g, x!.shape)],
  concat: (g, { inputs: [a, b], attrs: { axis } }) => {
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
    const { transA, transB } = attrs;
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
  gather: (g, { inputs: [table, indices], attrs }) => [
    scatterAdd(g, indices!, table!.shape[0]!, attrs.offset),
    null,
  ],
  // The kernel's transpose (for real angles, the inverse rotation); the tables are constants.
  rotary: (g, { inputs: [, positions, cos, sin], attrs }) => [
    rotaryKernel(g, positions!, cos!, sin!, attrs, true),
    null,
    null,
    null,
  ],
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
  dropout: (g, { attrs }) => [
    // The same hash mask, applied to the gradient.
    launch('dropout backward', 'dropout', { xs: g }, { size: g.size, p: attrs.p, seed: attrs.seed }, g.shape),
  ],
});

export type OpName = keyof typeof GRAD_RULES;

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
