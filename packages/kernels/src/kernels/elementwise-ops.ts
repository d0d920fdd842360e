/**
 * @file The elementwise op table: each op's WGSL expression and its float64 twin, side by side,
 * so that the GPU and CPU can never drift apart silently.
 */

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

export interface UnaryOp {
  /** WGSL expression in `x` (f32). */
  wgsl: string;
  cpu: (x: number) => number;
  /** True when the GPU result is a correctly rounded (or nearly) function of the input. */
  exact: boolean;
}

function geluCpu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
}
function sigmoidCpu(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
function geluGradCpu(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
}

export const UNARY_OPS = {
  /** A plain copy: the bandwidth baseline of the benchmarks. */
  copy: { wgsl: 'x', cpu: (x) => x, exact: true },
  neg: { wgsl: '-x', cpu: (x) => -x, exact: true },
  abs: { wgsl: 'abs(x)', cpu: Math.abs, exact: true },
  exp: { wgsl: 'exp(x)', cpu: Math.exp, exact: false },
  log: { wgsl: 'log(x)', cpu: Math.log, exact: false },
  sqrt: { wgsl: 'sqrt(x)', cpu: Math.sqrt, exact: false },
  // tanh is evaluated through exp on some backends: clamp so that large |x| cannot overflow into NaN.
  tanh: { wgsl: 'tanh(clamp(x, -20.0, 20.0))', cpu: Math.tanh, exact: false },
  relu: { wgsl: 'max(x, 0.0)', cpu: (x) => Math.max(x, 0), exact: true },
  /** 1 where x > 0, else 0: the derivative of relu. */
  step: { wgsl: 'select(0.0, 1.0, x > 0.0)', cpu: (x) => (x > 0 ? 1 : 0), exact: true },
  /**
   * The tanh approximation, which is what GPT-2 (Hugging Face's `gelu_new`) and Gemma (`gelu_pytorch_tanh`)
   * use; formulas.test.ts pins this form against the erf one.
   */
  gelu: {
    wgsl: `0.5 * x * (1.0 + tanh(clamp(${SQRT_2_OVER_PI} * (x + ${GELU_C} * x * x * x), -20.0, 20.0)))`,
    cpu: geluCpu,
    exact: false,
  },
  /** d gelu / dx, tanh form. */
  gelu_grad: {
    wgsl: 'gelu_grad(x)',
    cpu: geluGradCpu,
    exact: false,
  },
  /** x·σ(x) (Llama's `silu`, the gate of SwiGLU). */
  silu: { wgsl: 'silu(x)', cpu: (x) => x * sigmoidCpu(x), exact: false },
  /** d silu / dx = σ(x)·(1 + x·(1 − σ(x))). */
  silu_grad: {
    wgsl: 'silu_grad(x)',
    cpu: (x) => {
      const s = sigmoidCpu(x);
      return s * (1 + x * (1 - s));
    },
    exact: false,
  },
} satisfies Record<string, UnaryOp>;

export type UnaryOpName = keyof typeof UNARY_OPS;

/**
 * d gelu/dx with tanh(u) written through e = exp(−2|u|): 1 − tanh² = 4e/(1 + e)² and (1 + tanh)/2 = 1/(1 + e) or
 * e/(1 + e). Forming 1 − t·t from an f32 tanh instead loses it entirely once t rounds to ±1 (|x| ≳ 3.4), an
 * absolute error up to 2e-6 against the float64 twin, beyond the transcendental tolerance.
 * SiLU the same way: σ(x) and σ(x)·(1 − σ(x)) = e/(1 + e)² through e = exp(−|x|), which cannot overflow
 * (exp(−x) does below x = −88, and WGSL leaves an overflowing exp undefined); d silu/dx = σ + x·σ(1 − σ).
 */
export const unaryHelpers = `
fn gelu_grad(x: f32) -> f32 {
  let u = ${SQRT_2_OVER_PI} * (x + ${GELU_C} * x * x * x);
  let e = exp(-2.0 * abs(u));
  let sech2 = 4.0 * e / ((1.0 + e) * (1.0 + e));
  let half_one_plus_t = select(e / (1.0 + e), 1.0 / (1.0 + e), u >= 0.0);
  return half_one_plus_t + 0.5 * x * sech2 * ${SQRT_2_OVER_PI} * (1.0 + ${3 * GELU_C} * x * x);
}
fn sigmoid_parts(x: f32) -> vec2<f32> {
  let e = exp(-abs(x));
  return vec2<f32>(select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0), e / ((1.0 + e) * (1.0 + e)));
}
fn silu(x: f32) -> f32 { return x * sigmoid_parts(x).x; }
fn silu_grad(x: f32) -> f32 {
  let s = sigmoid_parts(x);
  return s.x + x * s.y;
}
`;

export interface BinaryOp {
  /** WGSL expression in `a`, `b` of type T; for comparisons a bool. */
  wgsl: string;
  cpu: (a: number, b: number) => number;
  compare: boolean;
  /** Allowed on i32 inputs. */
  int: boolean;
  exact: boolean;
}

/** pow as torch defines it for negative bases with integral exponents. */
function powCpu(a: number, b: number): number {
  return a ** b;
}

export const BINARY_OPS = {
  add: { wgsl: 'a + b', cpu: (a, b) => a + b, compare: false, int: true, exact: true },
  sub: { wgsl: 'a - b', cpu: (a, b) => a - b, compare: false, int: true, exact: true },
  mul: { wgsl: 'a * b', cpu: (a, b) => a * b, compare: false, int: true, exact: true },
  div: { wgsl: 'a / b', cpu: (a, b) => a / b, compare: false, int: false, exact: true },
  pow: { wgsl: 'pow_signed(a, b)', cpu: powCpu, compare: false, int: false, exact: false },
  max: { wgsl: 'max(a, b)', cpu: Math.max, compare: false, int: true, exact: true },
  min: { wgsl: 'min(a, b)', cpu: Math.min, compare: false, int: true, exact: true },
  eq: { wgsl: 'a == b', cpu: (a, b) => +(a === b), compare: true, int: true, exact: true },
  ne: { wgsl: 'a != b', cpu: (a, b) => +(a !== b), compare: true, int: true, exact: true },
  lt: { wgsl: 'a < b', cpu: (a, b) => +(a < b), compare: true, int: true, exact: true },
  le: { wgsl: 'a <= b', cpu: (a, b) => +(a <= b), compare: true, int: true, exact: true },
  gt: { wgsl: 'a > b', cpu: (a, b) => +(a > b), compare: true, int: true, exact: true },
  ge: { wgsl: 'a >= b', cpu: (a, b) => +(a >= b), compare: true, int: true, exact: true },
} satisfies Record<string, BinaryOp>;

export type BinaryOpName = keyof typeof BINARY_OPS;

/**
 * WGSL's pow is undefined for negative bases; match torch for integral exponents. NaN comes from a `var`
 * because WGSL has no NaN literal and rejects a constant-folded NaN.
 */
export const binaryHelpers = `
fn pow_signed(a: f32, b: f32) -> f32 {
  if (a >= 0.0) { return pow(a, b); }
  var nan_bits = 0x7fc00000u;
  if (b != floor(b)) { return bitcast<f32>(nan_bits); }
  let m = pow(-a, b);
  return select(m, -m, (i32(b) & 1) == 1);
}
`;

/** Integer ops the CPU twin must wrap like WGSL i32 does. */
export function intResult(x: number): number {
  return x | 0;
}

/**
 * Tolerances. Exact ops: the f32 result is the correctly rounded f64 result (≤ 0.5 ulp = 6e-8 relative),
 * 2.5 ulp for division per the WGSL spec; rtol 1e-6 covers both. Transcendentals: the WGSL spec allows exp
 * 3 + 2|x| ulp, log 2^-21 absolute near 1, tanh and pow inherit exp/log errors; rtol 1e-5 with atol 1e-6.
 */
export const EXACT_TOL = { rtol: 1e-6, atol: 0 };
export const TRANSCENDENTAL_TOL = { rtol: 1e-5, atol: 1e-6 };
