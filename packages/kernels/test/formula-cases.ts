/**
 * @file Every kernel's formula on small inputs, with the expected values written out by hand or as textbook
 * closed forms, independent of the CPU twins: formulas.test.ts holds both the WebGPU kernels and the twins to
 * these tables, so a formula error the two share cannot pass. Values whose derivation is not obvious say
 * where they come from.
 */
import { type Tolerance, sortIndices } from '../src/index.ts';
import type { KernelCase } from './helpers.ts';

export interface FormulaCase extends KernelCase {
  kernel: string;
  what: string;
  /** What the kernel writes: its output, or each in-place input in `inPlace` order. */
  expected: number[][];
  tol: Tolerance;
}

/** Integers, copies and sums of small integers: f32 holds them exactly, so any difference is an error. */
const EXACT: Tolerance = { rtol: 0, atol: 0 };
/** A few correctly rounded f32 operations (0.5 ulp = 6e-8 each; division 2.5 ulp): well under 1e-6. */
const ROUNDED: Tolerance = { rtol: 1e-6, atol: 0 };
/**
 * exp, log, tanh, sqrt, pow in f32: the WGSL spec allows exp 3 + 2|x| ulp and log 2⁻²¹ absolute near 1, and
 * inputs such as ln 3 are themselves rounded to f32 (6e-8 relative); rtol 1e-5 with atol 1e-6 covers both and
 * still tells apart every wrong formula below (the closest, GELU's erf form, is 1.5e-4 away).
 */
const TRANSCENDENTAL: Tolerance = { rtol: 1e-5, atol: 1e-6 };

const f32 = (data: number[]) => ({ data, dtype: 'f32' as const });
const i32 = (data: number[]) => ({ data, dtype: 'i32' as const });
const nan = (n: number) => f32(new Array(n).fill(Number.NaN));
const LN3 = Math.log(3);

function unary(op: string, x: number[], expected: number[], tol: Tolerance, note = ''): FormulaCase {
  const what = `${op}(${x.join(', ')})${note}`;
  return {
    kernel: 'unary',
    what,
    inputs: [f32(x)],
    params: { op, size: x.length },
    expected: [expected],
    tol,
  };
}

function binary(
  op: string,
  a: number[],
  b: number[],
  expected: number[],
  tol = EXACT,
  dtype: 'f32' | 'i32' = 'f32',
): FormulaCase {
  return {
    kernel: 'binary',
    what: `${op} of [${a}] and [${b}] (${dtype})`,
    inputs: [
      { data: a, dtype },
      { data: b, dtype },
    ],
    params: { op, shape: [a.length], aStrides: [1], bStrides: [1] },
    expected: [expected],
    tol,
  };
}

const elementwise: FormulaCase[] = [
  {
    kernel: 'fill',
    what: 'f32 -2.5',
    inputs: [],
    params: { size: 3, value: -2.5, dtype: 'f32' },
    expected: [[-2.5, -2.5, -2.5]],
    tol: EXACT,
  },
  {
    kernel: 'fill',
    what: 'i32 7',
    inputs: [],
    params: { size: 2, value: 7, dtype: 'i32' },
    expected: [[7, 7]],
    tol: EXACT,
  },
  {
    kernel: 'cast',
    what: 'f32 to i32 truncates toward zero',
    inputs: [f32([-2.7, -0.5, 0.5, 2.7, 3])],
    params: { size: 5, to: 'i32' },
    expected: [[-2, 0, 0, 2, 3]],
    tol: EXACT,
  },
  {
    kernel: 'cast',
    what: 'i32 to f32',
    inputs: [i32([-3, 0, 5])],
    params: { size: 3, to: 'f32' },
    expected: [[-3, 0, 5]],
    tol: EXACT,
  },
  unary('copy', [1.5, -2], [1.5, -2], EXACT),
  unary('neg', [1.5, -2], [-1.5, 2], EXACT),
  unary('abs', [-2, 0, 3], [2, 0, 3], EXACT),
  unary('exp', [0, 1, -1], [1, Math.E, 1 / Math.E], TRANSCENDENTAL),
  unary('log', [1, 2, 0.5], [0, Math.LN2, -Math.LN2], TRANSCENDENTAL),
  unary('sqrt', [4, 2, 0.25], [2, Math.SQRT2, 0.5], TRANSCENDENTAL),
  // tanh(1) from tables; -30 saturates (the WGSL side clamps its argument, which must not change the value).
  unary('tanh', [0, 1, -30], [0, 0.7615941559557649, -1], TRANSCENDENTAL),
  unary('relu', [-1, 0, 2], [0, 0, 2], EXACT),
  unary('step', [-1, 0, 2], [0, 0, 1], EXACT),
  // The tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as GPT-2 and torch's approximate='tanh';
  // values from Python's math module. The exact erf form gives GELU(1) = 0.8413447460685429, 1.5e-4 away, so
  // these also pin which form the kernels compute.
  unary(
    'gelu',
    [0, 1, -1, 3, 0.5, -30],
    [0, 0.8411919906082768, -0.15880800939172324, 2.996362607918227, 0.34571400982514394, 0],
    TRANSCENDENTAL,
    ' (tanh form)',
  ),
  // d/dx of the tanh-form GELU by central differences (h = 1e-5, error ~1e-10) in float64 Python: not the
  // analytic expression the kernels use, so an error in that expression shows here.
  unary(
    'gelu_grad',
    [0, 1, -1, 3],
    [0.5, 1.0829640838372345, -0.08296408383901, 1.0115841666324954],
    TRANSCENDENTAL,
  ),
  // x·σ(x), values from Python's math module; −30 is where a naive exp(−x) form is still fine but a wrong
  // sigmoid sign (x·σ(−x) = −30 there) is not.
  unary(
    'silu',
    [0, 1, -1, 3, -30],
    [0, 0.7310585786300049, -0.2689414213699951, 2.8577223804673, -2.8072868906517896e-12],
    TRANSCENDENTAL,
  ),
  // d/dx of x·σ(x) by central differences (h = 1e-5) in float64 Python, as for gelu_grad; −1.5 lies past the
  // minimum of silu (x ≈ −1.278), where the derivative is negative.
  unary(
    'silu_grad',
    [0, 1, -1, 3, -1.5],
    [0.5, 0.9276705118632654, 0.07232948813218343, 1.0881041059951357, -0.04129415429321437],
    TRANSCENDENTAL,
  ),
  binary('add', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [10, -1, 1, 4]),
  binary('sub', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [2, -5, 0, 0]),
  binary('mul', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [24, -6, 0.25, 4]),
  binary('div', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [1.5, -1.5, 1, 1], ROUNDED),
  // Negative bases with integral exponents follow torch (the sign of an odd power).
  binary('pow', [2, -2, -2, 4], [3, 3, 2, 0.5], [8, -8, 4, 2], TRANSCENDENTAL),
  binary('max', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [6, 2, 0.5, 2]),
  binary('min', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [4, -3, 0.5, 2]),
  binary('eq', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [0, 0, 1, 1]),
  binary('ne', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [1, 1, 0, 0]),
  binary('lt', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [0, 1, 0, 0]),
  binary('le', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [0, 1, 1, 1]),
  binary('gt', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [1, 0, 0, 0]),
  binary('ge', [6, -3, 0.5, 2], [4, 2, 0.5, 2], [1, 0, 1, 1]),
  // i32 multiplication wraps to the low 32 bits like WGSL: 65536² = 2³² → 0; 46341² = 2147488281 → −2147479015;
  // 123456789·987654321 (beyond float64's exact integers) → −67153019 (Python: (a·b) mod 2³², signed).
  binary(
    'mul',
    [65536, 46341, 123456789],
    [65536, 46341, 987654321],
    [0, -2147479015, -67153019],
    EXACT,
    'i32',
  ),
  binary('sub', [7, -3], [5, 4], [2, -7], EXACT, 'i32'),
  {
    kernel: 'binary',
    what: 'add broadcasting a row [3] and a column [2, 1] over [2, 3]',
    inputs: [f32([1, 2, 3, 4, 5, 6]), f32([10, 20, 30])],
    params: { op: 'add', shape: [2, 3], aStrides: [3, 1], bStrides: [0, 1] },
    expected: [[11, 22, 33, 14, 25, 36]],
    tol: EXACT,
  },
  {
    kernel: 'binary',
    what: 'sub broadcasting a column [2, 1] over [2, 3]',
    inputs: [f32([1, 2, 3, 4, 5, 6]), f32([100, 200])],
    params: { op: 'sub', shape: [2, 3], aStrides: [3, 1], bStrides: [1, 0] },
    expected: [[-99, -98, -97, -196, -195, -194]],
    tol: EXACT,
  },
  {
    kernel: 'where',
    what: 'takes a where the condition is non-zero, else b',
    inputs: [f32([1, 0, -2, 0]), f32([1, 2, 3, 4]), f32([10, 20, 30, 40])],
    params: { shape: [4], condStrides: [1], aStrides: [1], bStrides: [1] },
    expected: [[1, 20, 3, 40]],
    tol: EXACT,
  },
  {
    kernel: 'where',
    what: 'i32 condition, broadcast scalar a',
    inputs: [i32([0, 1, 0]), f32([7]), f32([1, 2, 3])],
    params: { shape: [3], condStrides: [1], aStrides: [0], bStrides: [1] },
    expected: [[1, 7, 3]],
    tol: EXACT,
  },
];

// x = [[1, 2, 3], [4, 5, 6]] throughout the layout cases.
const X23 = [1, 2, 3, 4, 5, 6];
const layout: FormulaCase[] = [
  {
    kernel: 'strided',
    what: 'transpose [2, 3] → [3, 2]',
    inputs: [f32(X23)],
    params: { shape: [3, 2], strides: [1, 3], offset: 0 },
    expected: [[1, 4, 2, 5, 3, 6]],
    tol: EXACT,
  },
  {
    kernel: 'strided',
    what: 'slice x[:, 1:]',
    inputs: [f32(X23)],
    params: { shape: [2, 2], strides: [3, 1], offset: 1 },
    expected: [[2, 3, 5, 6]],
    tol: EXACT,
  },
  {
    kernel: 'strided',
    what: 'expand [3] → [2, 3]',
    inputs: [f32([1, 2, 3])],
    params: { shape: [2, 3], strides: [0, 1], offset: 0 },
    expected: [[1, 2, 3, 1, 2, 3]],
    tol: EXACT,
  },
  {
    kernel: 'strided',
    what: 'pad [2, 2] into [3, 4] at (1, 1)',
    inputs: [f32([1, 2, 3, 4])],
    params: { shape: [3, 4], strides: [2, 1], offset: 0, lo: [1, 1], extent: [2, 2] },
    expected: [[0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0]],
    tol: EXACT,
  },
  {
    kernel: 'concat',
    what: '[[1], [2]] with [[3, 4], [5, 6]] along the last axis',
    inputs: [f32([1, 2]), f32([3, 4, 5, 6])],
    params: { outer: 2, aInner: 1, bInner: 2 },
    expected: [[1, 3, 4, 2, 5, 6]],
    tol: EXACT,
  },
];

// r = [[1, -5, 3], [-4, 2, 6]]; the all-negative rows catch a max that starts from 0.
const R23 = [1, -5, 3, -4, 2, 6];
const reductions: FormulaCase[] = [
  ...(
    [
      ['sum', 'last axis', R23, { outShape: [2], outStrides: [3], redShape: [3], redStrides: [1] }, [-1, 4]],
      [
        'sum',
        'first axis',
        R23,
        { outShape: [3], outStrides: [1], redShape: [2], redStrides: [3] },
        [-3, -3, 9],
      ],
      ['sum', 'everything', R23, { outShape: [], outStrides: [], redShape: [2, 3], redStrides: [3, 1] }, [3]],
      ['max', 'last axis', R23, { outShape: [2], outStrides: [3], redShape: [3], redStrides: [1] }, [3, 6]],
      [
        'max',
        'first axis',
        R23,
        { outShape: [3], outStrides: [1], redShape: [2], redStrides: [3] },
        [1, 2, 6],
      ],
      [
        'max',
        'last axis of all-negative rows',
        [-3, -1, -2, -7, -5, -6],
        { outShape: [2], outStrides: [3], redShape: [3], redStrides: [1] },
        [-1, -5],
      ],
      [
        'sum',
        '[1..5] in chunks of 2 (partials)',
        [1, 2, 3, 4, 5],
        { outShape: [], outStrides: [], redShape: [5], redStrides: [1], chunkSize: 2 },
        [3, 7, 5],
      ],
    ] as const
  ).map(([op, what, x, p, expected]) => ({
    kernel: 'reduce',
    what: `${op} over ${what}`,
    inputs: [f32([...x])],
    params: { op, ...p },
    expected: [[...expected]],
    tol: EXACT,
  })),
];

// [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]], stored plainly or transposed.
const mm = (
  what: string,
  a: number[],
  b: number[],
  p: object,
  expected: number[],
  extra: number[][] = [],
) => ({
  kernel: 'matmul',
  what,
  inputs: [f32(a), f32(b), ...extra.map(f32)],
  params: {
    batch: 1,
    M: 2,
    N: 2,
    K: 2,
    transA: false,
    transB: false,
    aBatchStride: 4,
    bBatchStride: 0,
    ...p,
  },
  expected: [expected],
  tol: EXACT,
});
const matmul: FormulaCase[] = [
  mm('2×2 integers', [1, 2, 3, 4], [5, 6, 7, 8], {}, [19, 22, 43, 50]),
  mm('A stored transposed', [1, 3, 2, 4], [5, 6, 7, 8], { transA: true }, [19, 22, 43, 50]),
  mm('B stored transposed', [1, 2, 3, 4], [5, 7, 6, 8], { transB: true }, [19, 22, 43, 50]),
  mm('both transposed', [1, 3, 2, 4], [5, 7, 6, 8], { transA: true, transB: true }, [19, 22, 43, 50]),
  mm('[1, 2] · [2, 3]', [1, 2], [1, 2, 3, 4, 5, 6], { M: 1, N: 3, aBatchStride: 2 }, [9, 12, 15]),
  // The second batch item multiplies by the swap matrix, so its product is B with its rows exchanged.
  mm(
    'batch of 2 sharing B',
    [1, 2, 3, 4, 0, 1, 1, 0],
    [5, 6, 7, 8],
    { batch: 2 },
    [19, 22, 43, 50, 7, 8, 5, 6],
  ),
  mm(
    'bias and residual epilogue',
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    { bias: true, residual: true },
    [120, 221, 344, 449],
    [
      [1, -1],
      [100, 200, 300, 400],
    ],
  ),
];

// table = [[1, 2], [3, 4], [5, 6]], indices [2, 0, 2].
const sorted = sortIndices([2, 0, 2], 3);
const embedding: FormulaCase[] = [
  {
    kernel: 'gather',
    what: 'rows 2, 0, 2 of a [3, 2] table',
    inputs: [f32([1, 2, 3, 4, 5, 6]), i32([2, 0, 2])],
    params: { vocab: 3, dim: 2, count: 3 },
    expected: [[5, 6, 1, 2, 5, 6]],
    tol: EXACT,
  },
  {
    kernel: 'scatterAdd',
    what: 'rows [1, 2], [3, 4], [5, 6] added into rows 2, 0, 2 (row 1 untouched: 0)',
    inputs: [f32([1, 2, 3, 4, 5, 6]), i32([2, 0, 2])],
    params: { vocab: 3, dim: 2, count: 3 },
    expected: [[3, 4, 0, 0, 6, 8]],
    tol: EXACT,
  },
  {
    kernel: 'gather',
    what: 'indices 2, 5, 4, 9 from the block of rows 4..6 of a larger table (outside it: zero rows)',
    inputs: [f32([1, 2, 3, 4, 5, 6]), i32([2, 5, 4, 9])],
    params: { vocab: 3, dim: 2, count: 4, offset: 4 },
    expected: [[0, 0, 3, 4, 1, 2, 0, 0]],
    tol: EXACT,
  },
  {
    kernel: 'scatterAdd',
    what: 'rows added into the block of rows 4..6 at indices 2, 5, 4, 5 (2 is outside it: nothing)',
    inputs: [f32([1, 2, 3, 4, 5, 6, 7, 8]), i32([2, 5, 4, 5])],
    params: { vocab: 3, dim: 2, count: 4, offset: 4 },
    expected: [[5, 6, 10, 12, 0, 0]],
    tol: EXACT,
  },
  {
    kernel: 'scatterAddSorted',
    what: 'the same sum through the sorted order',
    inputs: [f32([1, 2, 3, 4, 5, 6]), i32([...sorted.order]), i32([...sorted.starts])],
    params: { vocab: 3, dim: 2, count: 3, maxRun: sorted.maxRun },
    expected: [[3, 4, 0, 0, 6, 8]],
    tol: EXACT,
  },
];

// Logits row [0, ln 2, ln 3] has softmax [1/6, 1/3, 1/2]; [100, 100, 100] (uniform, and exp(100) overflows f32
// unless the row max is subtracted) has [1/3, 1/3, 1/3].
const LOGITS = [0, Math.LN2, LN3, 100, 100, 100];
/**
 * The WebGPU row kernels form logsumexp = max + log Σ in f32 next to the logits and subtract it from x, so an
 * output carries up to ½ ulp(101) = 3.8e-6 absolute from the rows of 100 (the float64 twin does not); atol 4e-6
 * admits that and nothing more.
 */
const ROW_TOL: Tolerance = { rtol: 1e-5, atol: 4e-6 };
const SMOOTH = 0.1;
// Smoothed target q = (1 − ε)·onehot(2) + ε/3 = [ε/3, ε/3, 1 − ε + ε/3]; loss = −Σ q·log p, the textbook
// definition (the kernels use an algebraic rearrangement of it).
const smoothedLoss =
  (SMOOTH / 3) * Math.log(6) + (SMOOTH / 3) * Math.log(3) + (1 - SMOOTH + SMOOTH / 3) * Math.LN2;
const rows: FormulaCase[] = [
  {
    kernel: 'softmax',
    what: 'rows [0, ln 2, ln 3] and [100, 100, 100]',
    inputs: [f32(LOGITS)],
    params: { rows: 2, cols: 3, log: false },
    expected: [[1 / 6, 1 / 3, 1 / 2, 1 / 3, 1 / 3, 1 / 3]],
    tol: ROW_TOL,
  },
  {
    kernel: 'softmax',
    what: 'log-softmax of the same rows',
    inputs: [f32(LOGITS)],
    params: { rows: 2, cols: 3, log: true },
    expected: [[-Math.log(6), -LN3, -Math.LN2, -LN3, -LN3, -LN3]],
    tol: ROW_TOL,
  },
  {
    kernel: 'crossEntropy',
    what: 'targets 2 and ignored: −log(1/2) and 0',
    inputs: [f32(LOGITS), i32([2, -100])],
    params: { rows: 2, cols: 3, ignoreIndex: -100 },
    expected: [[Math.LN2, 0]],
    tol: ROW_TOL,
  },
  {
    kernel: 'crossEntropy',
    what: `label smoothing ${SMOOTH}, 3 classes: −Σ q·log p (uniform row: ln 3 whatever q)`,
    inputs: [f32(LOGITS), i32([2, 0])],
    params: { rows: 2, cols: 3, ignoreIndex: -100, smoothing: SMOOTH },
    expected: [[smoothedLoss, LN3]],
    tol: ROW_TOL,
  },
  {
    kernel: 'crossEntropyGrad',
    what: `label smoothing ${SMOOTH}, upstream 2: 2·(p − q); ignored row 0`,
    inputs: [f32(LOGITS), i32([2, -100]), f32([2, 5])],
    params: { rows: 2, cols: 3, ignoreIndex: -100, smoothing: SMOOTH },
    // 2·(1/6 − 1/30), 2·(1/3 − 1/30), 2·(1/2 − 28/30)
    expected: [[4 / 15, 0.6, -13 / 15, 0, 0, 0]],
    tol: ROW_TOL,
  },
];

// Rows: [1, 2, 3, 4] (mean 2.5, biased variance 1.25); a constant row (variance 0: rstd = 1/√eps, finite only
// thanks to eps); [1 ∓ δ, …] with δ = 2⁻¹⁰ (variance δ² ≈ 9.5e-7, below eps = 1e-5: rstd 302.15, against 1024
// without eps and 1013.6 with eps added outside the root), all exact in f32.
const DELTA = 2 ** -10;
const EPS = 1e-5;
const layerNorm: FormulaCase[] = [
  {
    kernel: 'layerNormStats',
    what: 'mean and 1/√(var + eps) of a plain, a constant and a tiny-variance row',
    inputs: [f32([1, 2, 3, 4, 5, 5, 5, 5, 1 - DELTA, 1 + DELTA, 1 - DELTA, 1 + DELTA])],
    params: { rows: 3, dim: 4, eps: EPS },
    expected: [[2.5, 1 / Math.sqrt(1.25 + EPS), 5, 1 / Math.sqrt(EPS), 1, 1 / Math.sqrt(DELTA ** 2 + EPS)]],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'layerNormApply',
    what: '(x − mean)·rstd·w + b with mean 2, rstd 0.5',
    inputs: [f32([1, 3, 2, 6]), f32([2, 0.5]), f32([1, 2, 3, 4]), f32([0, 1, 0, -1])],
    params: { rows: 1, dim: 4, eps: EPS },
    expected: [[-0.5, 2, 0, 7]],
    tol: EXACT,
  },
  {
    // x = [0, 0, 4, 4]: mean 2, variance 4, rstd 0.5, x̂ = [−1, −1, 1, 1]; g = dy·w = [1, 4, 3, 8], mean(g) = 4,
    // mean(g·x̂) = 1.5; dx = rstd·(g − mean(g) − x̂·mean(g·x̂)). Checked against finite differences of the
    // LayerNorm definition in float64.
    kernel: 'layerNormGradInput',
    what: 'hand-computed gradient of a 4-wide row',
    inputs: [f32([0, 0, 4, 4]), f32([2, 0.5]), f32([1, 2, 1, 2]), f32([1, 2, 3, 4])],
    params: { rows: 1, dim: 4, eps: 0 },
    expected: [[-0.75, 0.75, -1.25, 1.25]],
    tol: ROUNDED,
  },
  {
    // Rows [0, 4] (rstd 0.5) and [1, 3] (rstd 1) both normalize to [−1, 1]; dy = [[1, 2], [3, 4]].
    // dw = Σ_rows dy·x̂ = [−1 − 3, 2 + 4], db = Σ_rows dy = [4, 6]; output [dw, db].
    kernel: 'layerNormGradParams',
    what: 'weight and bias gradients over 2 rows',
    inputs: [f32([0, 4, 1, 3]), f32([2, 0.5, 2, 1]), f32([1, 2, 3, 4])],
    params: { rows: 2, dim: 2, eps: 0 },
    expected: [[-4, 6, 4, 6]],
    tol: EXACT,
  },
];

// Rows: [1, 2, 3, 4] (mean square 7.5), a zero row (1/rms = 1/√eps: finite thanks to eps, y = 0), [2, −2, 2, −2]
// (mean square 4, no mean to remove: LayerNorm would give the same x̂ only for this row), and [δ, −δ, δ, −δ] with
// δ = 2⁻¹⁰ (mean square δ² ≈ 9.5e-7 below eps = 1e-5: 1/rms = 302.15 with eps inside the root, 1013.6 with it
// outside, 1024 without), all exact in f32.
// Rotary, one head of 4 columns. Position 0: cos 1, sin 0 (the identity). Position 1 ('half' pairs (0, 2) and
// (1, 3)): pair 0 turns by 90° (cos 0, sin 1), pair 1 by 0°. x = [1, 2, 3, 4] → [1·0 − 3·1, 2, 3·0 + 1·1, 4] =
// [−3, 2, 1, 4]; the adjoint turns by −90°: [3, 2, −1, 4]. 'interleaved' pairs (0, 1), (2, 3), pair 0 at 90°:
// [1·0 − 2·1, 2·0 + 1·1, 3, 4] = [−2, 1, 3, 4].
const rotaryParams = { rows: 2, dim: 4, headDim: 4, tableRows: 2, pairing: 'half', adjoint: false } as const;
const rotaryX = f32([1, 2, 3, 4, 5, 6, 7, 8]);
const rotary: FormulaCase[] = [
  {
    kernel: 'rotary',
    what: "'half' pairs: row 0 at position 1 (pair 0 turned by 90°), row 1 at position 0 (unchanged)",
    inputs: [rotaryX, i32([1, 0]), f32([1, 1, 1, 1, 0, 1, 0, 1]), f32([0, 0, 0, 0, 1, 0, 1, 0])],
    params: rotaryParams,
    expected: [[-3, 2, 1, 4, 5, 6, 7, 8]],
    tol: EXACT,
  },
  {
    kernel: 'rotary',
    what: 'the adjoint (the backward pass) turns the other way',
    inputs: [rotaryX, i32([1, 0]), f32([1, 1, 1, 1, 0, 1, 0, 1]), f32([0, 0, 0, 0, 1, 0, 1, 0])],
    params: { ...rotaryParams, adjoint: true },
    expected: [[3, 2, -1, 4, 5, 6, 7, 8]],
    tol: EXACT,
  },
  {
    kernel: 'rotary',
    what: "'interleaved' pairs: pair (0, 1) turned by 90°",
    inputs: [rotaryX, i32([1, 0]), f32([1, 1, 1, 1, 0, 0, 1, 1]), f32([0, 0, 0, 0, 1, 1, 0, 0])],
    params: { ...rotaryParams, pairing: 'interleaved' },
    expected: [[-2, 1, 3, 4, 5, 6, 7, 8]],
    tol: EXACT,
  },
];

const rmsRows = [1, 2, 3, 4, 0, 0, 0, 0, 2, -2, 2, -2, DELTA, -DELTA, DELTA, -DELTA];
const rmsInv = [7.5, 0, 4, DELTA ** 2].map((ms) => 1 / Math.sqrt(ms + EPS));
const rmsW = [1, 2, 3, -4];
const rmsNorm: FormulaCase[] = [
  {
    kernel: 'rmsNorm',
    what: 'y = x/√(mean(x²) + eps)·w and 1/rms of a plain, a zero, a zero-mean and a tiny row',
    inputs: [f32(rmsRows), f32(rmsW), nan(16), nan(4)],
    params: { rows: 4, dim: 4, eps: EPS },
    expected: [rmsRows.map((x, i) => x * rmsInv[Math.floor(i / 4)]! * rmsW[i % 4]!), rmsInv],
    tol: TRANSCENDENTAL,
  },
  {
    // x = [2, −2, 2, −2] with 1/rms = 0.5 (eps 0): x̂ = [1, −1, 1, −1]; g = dy·w = [1, 4, 3, 8]; mean(g·x̂) = −2;
    // dx = rstd·(g − x̂·mean(g·x̂)) = [1.5, 1, 2.5, 3]. Confirmed by central differences of the definition in
    // float64 Python.
    kernel: 'rmsNormGradInput',
    what: 'hand-computed gradient of a 4-wide row',
    inputs: [f32([2, -2, 2, -2]), f32([0.5]), f32([1, 2, 1, 2]), f32([1, 2, 3, 4])],
    params: { rows: 1, dim: 4, eps: 0 },
    expected: [[1.5, 1, 2.5, 3]],
    tol: ROUNDED,
  },
  {
    // Rows [2, −2] (1/rms 0.5) and [1, 3] (1/rms taken as 1), dy = [[1, 2], [3, 4]]: dw = Σ_rows dy·x·rstd =
    // [1·2·0.5 + 3·1·1, 2·(−2)·0.5 + 4·3·1] = [4, 10].
    kernel: 'rmsNormGradWeight',
    what: 'weight gradient over 2 rows',
    inputs: [f32([2, -2, 1, 3]), f32([0.5, 1]), f32([1, 2, 3, 4])],
    params: { rows: 2, dim: 2, eps: 0 },
    expected: [[4, 10]],
    tol: EXACT,
  },
];

const optimizer: FormulaCase[] = [
  {
    kernel: 'dropout',
    what: 'p = 0 is the identity',
    inputs: [f32([1.5, -2, 3])],
    params: { size: 3, p: 0, seed: 5 },
    expected: [[1.5, -2, 3]],
    tol: EXACT,
  },
  {
    // AdamW (Loshchilov & Hutter; torch.optim.AdamW): θ ← θ·(1 − lr·wd) − lr·m̂/(√v̂ + eps), m̂ = m/(1 − β1ᵗ),
    // v̂ = v/(1 − β2ᵗ). Step 1 from zero moments, g = 0.5: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25, so
    // θ = 1·0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002 and 0 − 0.099999998. Inputs: θ, g, m, v, scale.
    kernel: 'adamw',
    what: 'step 1 from zero moments, by the textbook formula',
    inputs: [f32([1, 0]), f32([0.5, 0.5]), f32([0, 0]), f32([0, 0]), f32([1])],
    params: { size: 2, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 },
    expected: [
      [0.899000002, -0.099999998],
      [0.05, 0.05],
      [0.00025, 0.00025],
    ],
    // a handful of f32 operations, the inputs 1 − β and 1/(1 − βᵗ) rounded to f32 once each.
    tol: { rtol: 1e-5, atol: 1e-9 },
  },
  {
    // Step 10 with moments m = 0.2, v = 0.04 and gradient −1 scaled by 0.5 (clipping): m = 0.13, v = 0.04021;
    // θ from the textbook formula in float64 Python. The second parameter is 0, so it shows the update alone.
    kernel: 'adamw',
    what: 'step 10, gradient scale 0.5, weight decay 0.1',
    inputs: [f32([-2, 0]), f32([-1, -1]), f32([0.2, 0.2]), f32([0.04, 0.04]), f32([0.5])],
    params: { size: 2, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 10 },
    expected: [
      [-1.9989931254341387, -0.000993125434138664],
      [0.13, 0.13],
      [0.04021, 0.04021],
    ],
    tol: { rtol: 1e-5, atol: 1e-9 },
  },
];

// One head, 2 tokens, d = 4, scale 1: q = [[2, 0, 0, 0], [0, ln 3, 0, 0]], k = [e1, e2], v = [[1..4], [5..8]].
// Causal: token 0 sees only key 0 (O = v0, L = 2); token 1 scores [0, ln 3] → weights [1/4, 3/4], O = [4, 5, 6, 7],
// L = ln 4. Full: token 0 scores [2, 0] → weight of v1 is w = 1/(e² + 1), L = ln(e² + 1).
const att = (causal: boolean) => ({ batch: 1, heads: 1, seq: 2, headDim: 4, causal, scale: 1 });
const Q = [2, 0, 0, 0, 0, LN3, 0, 0];
const K = [1, 0, 0, 0, 0, 1, 0, 0];
const V = [1, 2, 3, 4, 5, 6, 7, 8];
const W = 1 / (Math.E ** 2 + 1);
const O_CAUSAL = [1, 2, 3, 4, 4, 5, 6, 7];
// Backward with dO = [[1, 0, 0, 1], [0, 1, 1, 0]]: D = rowsum(dO∘O) = [5, 11]. Token 1: dP = [dO1·v0, dO1·v1] =
// [5, 13], dS = p∘(dP − D) = [1/4·(5 − 11), 3/4·(13 − 11)] = [−1.5, 1.5]; token 0's single weight gives dS = 0.
// dQ1 = Σ dS·k = [−1.5, 1.5, 0, 0]; dK_j = Σ_i dS_ij·q_i = ∓1.5·q1; dV_j = Σ_i p_ij·dO_i. All confirmed by
// finite differences of the forward pass in float64.
const DO = [1, 0, 0, 1, 0, 1, 1, 0];
const attention: FormulaCase[] = [
  {
    kernel: 'attentionForward',
    what: 'causal, 2 tokens: the first attends only to itself',
    inputs: [f32(Q), f32(K), f32(V), i32([2]), i32([0]), nan(8), nan(2)],
    params: att(true),
    expected: [O_CAUSAL, [2, Math.log(4)]],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'attentionForward',
    what: 'not causal, 2 tokens',
    inputs: [f32(Q), f32(K), f32(V), i32([2]), i32([0]), nan(8), nan(2)],
    params: att(false),
    expected: [
      [1 + 4 * W, 2 + 4 * W, 3 + 4 * W, 4 + 4 * W, 4, 5, 6, 7],
      [Math.log(Math.E ** 2 + 1), Math.log(4)],
    ],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'attentionForward',
    what: 'length 1: key 1 gets no weight, row 1 is zeros',
    inputs: [f32(Q), f32(K), f32(V), i32([1]), i32([0]), nan(8), nan(2)],
    params: att(false),
    expected: [
      [1, 2, 3, 4, 0, 0, 0, 0],
      [2, 0],
    ],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'attentionRowDot',
    what: 'D = rowsum(dO∘O), padded row 0',
    inputs: [f32(DO), f32(O_CAUSAL), i32([2]), i32([0])],
    params: att(true),
    expected: [[5, 11]],
    tol: EXACT,
  },
  {
    kernel: 'attentionGradQ',
    what: 'causal, hand-computed dQ',
    inputs: [f32(Q), f32(K), f32(V), f32(DO), f32([2, Math.log(4)]), f32([5, 11]), i32([2]), i32([0])],
    params: att(true),
    expected: [[0, 0, 0, 0, -1.5, 1.5, 0, 0]],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'attentionGradKV',
    what: 'causal, hand-computed dK and dV',
    inputs: [
      f32(Q),
      f32(K),
      f32(V),
      f32(DO),
      f32([2, Math.log(4)]),
      f32([5, 11]),
      i32([2]),
      i32([0]),
      nan(8),
      nan(8),
    ],
    params: att(true),
    expected: [
      [0, -1.5 * LN3, 0, 0, 0, 1.5 * LN3, 0, 0],
      [1, 0.25, 0.25, 1, 0, 0.75, 0.75, 0],
    ],
    tol: TRANSCENDENTAL,
  },
  // Token 1 alone as the query (Tq = 1 at key position 1): its rows of the causal cases above.
  {
    kernel: 'attentionForward',
    what: 'one query at queryStart 1, causal: token 1 of the causal case',
    inputs: [f32(Q.slice(4)), f32(K), f32(V), i32([2]), i32([1]), nan(4), nan(1)],
    params: { ...att(true), queries: 1 },
    expected: [O_CAUSAL.slice(4), [Math.log(4)]],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'attentionGradQ',
    what: 'one query at queryStart 1: token 1 of the causal dQ',
    inputs: [
      f32(Q.slice(4)),
      f32(K),
      f32(V),
      f32(DO.slice(4)),
      f32([Math.log(4)]),
      f32([11]),
      i32([2]),
      i32([1]),
    ],
    params: { ...att(true), queries: 1 },
    expected: [[-1.5, 1.5, 0, 0]],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'attentionGradKV',
    what: 'one query at queryStart 1: dK as in the causal case (token 0 added 0), dV = p·dO of token 1',
    inputs: [
      f32(Q.slice(4)),
      f32(K),
      f32(V),
      f32(DO.slice(4)),
      f32([Math.log(4)]),
      f32([11]),
      i32([2]),
      i32([1]),
      nan(8),
      nan(8),
    ],
    params: { ...att(true), queries: 1 },
    expected: [
      [0, -1.5 * LN3, 0, 0, 0, 1.5 * LN3, 0, 0],
      [0, 0.25, 0.25, 0, 0, 0.75, 0.75, 0],
    ],
    tol: TRANSCENDENTAL,
  },
  // Grouped-query heads. One token, 4 query heads on 2 key/value heads, q = 0: each query head's output is the
  // value row of its key/value head, heads 0 and 1 reading head 0 and heads 2 and 3 head 1 (⌊h / 2⌋, as Hugging
  // Face's repeat_kv; h mod 2 would interleave them), with logsumexp 0.
  {
    kernel: 'attentionForward',
    what: 'heads 4, kvHeads 2, one token: query head h reads key/value head ⌊h/2⌋',
    inputs: [
      f32(new Array(16).fill(0)),
      f32([1, 0, 0, 0, 0, 1, 0, 0]),
      f32([1, 2, 3, 4, 5, 6, 7, 8]),
      i32([1]),
      i32([0]),
      nan(16),
      nan(4),
    ],
    params: { batch: 1, heads: 4, kvHeads: 2, seq: 1, headDim: 4, causal: true, scale: 1 },
    expected: [
      [1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8],
      [0, 0, 0, 0],
    ],
    tol: TRANSCENDENTAL,
  },
  // Two query heads sharing the one key/value head of the causal case, both with its q and dO: dK and dV are
  // the sums over the group, twice the single-head values.
  {
    kernel: 'attentionGradKV',
    what: 'heads 2, kvHeads 1: dK and dV sum over the group',
    inputs: [
      f32([...Q, ...Q]),
      f32(K),
      f32(V),
      f32([...DO, ...DO]),
      f32([2, Math.log(4), 2, Math.log(4)]),
      f32([5, 11, 5, 11]),
      i32([2]),
      i32([0]),
      nan(8),
      nan(8),
    ],
    params: { ...att(true), heads: 2, kvHeads: 1 },
    expected: [
      [0, -3 * LN3, 0, 0, 0, 3 * LN3, 0, 0],
      [2, 0.5, 0.5, 2, 0, 1.5, 1.5, 0],
    ],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'maskedSoftmax',
    what: 'causal: the masked score 100 gets no weight',
    inputs: [f32([2, 100, 0, LN3]), i32([2]), i32([0])],
    params: { batch: 1, heads: 1, seq: 2, causal: true },
    expected: [[1, 0, 0.25, 0.75]],
    tol: TRANSCENDENTAL,
  },
  {
    kernel: 'maskedSoftmax',
    what: 'length 1: padded key and row are 0',
    inputs: [f32([2, 100, 0, LN3]), i32([1]), i32([0])],
    params: { batch: 1, heads: 1, seq: 2, causal: false },
    expected: [[1, 0, 0, 0]],
    tol: TRANSCENDENTAL,
  },
];

export const FORMULAS: FormulaCase[] = [
  ...elementwise,
  ...layout,
  ...reductions,
  ...matmul,
  ...embedding,
  ...rows,
  ...layerNorm,
  ...rmsNorm,
  ...rotary,
  ...optimizer,
  ...attention,
];
