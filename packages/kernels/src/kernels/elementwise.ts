/**
 * @file Elementwise kernels: fill, cast, unary, binary (NumPy broadcasting through strides, 0 for a broadcast
 * axis) and where. One invocation per output element.
 */
import type { DType } from '../types.ts';
import {
  BINARY_OPS,
  type BinaryOpName,
  EXACT_TOL,
  TRANSCENDENTAL_TOL,
  UNARY_OPS,
  type UnaryOpName,
  binaryHelpers,
  unaryHelpers,
} from './elementwise-ops.ts';
import { assertInputs, defineKernel } from './kernel.ts';
import {
  MAX_RANK,
  WORKGROUP_1D,
  f32bits,
  grid1d,
  gridIndexFn,
  i32bits,
  padRank,
  paramsDecl,
  product,
  stridedOffset,
  stridedOffsetFn,
  wgslType,
} from './wgsl.ts';

const entry = (body: string) => `
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, pu(1u));
  if (i >= pu(0u)) { return; }
  ${body}
}`;

// ---------------------------------------------------------------------------------------------------

export interface FillParams {
  size: number;
  value: number;
  dtype: DType;
}

export const fill = defineKernel<FillParams>({
  name: 'fill',
  output: (p) => ({ size: p.size, dtype: p.dtype }),
  cpu: (_inputs, p, out) => out.fill(p.value),
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.size, target.maxWorkgroupsPerDimension);
    const t = wgslType(p.dtype);
    return {
      key: `fill:${p.dtype}`,
      workgroups: grid.workgroups,
      uniforms: [p.size, grid.rowStride, p.dtype === 'f32' ? f32bits(p.value) : i32bits(p.value)],
      wgsl: () => `
@group(0) @binding(0) var<storage, read_write> out: array<${t}>;
${paramsDecl(1)}${gridIndexFn}${entry(`out[i] = bitcast<${t}>(pu(2u));`)}`,
    };
  },
  tolerance: () => ({ rtol: 0, atol: 0 }),
  describe: (p) => `fill(size=${p.size}, value=${p.value}, ${p.dtype})`,
});

// ---------------------------------------------------------------------------------------------------

export interface CastParams {
  size: number;
  to: DType;
}

export const cast = defineKernel<CastParams>({
  name: 'cast',
  output: (p, inputs) => {
    assertInputs('cast', inputs, [['*', p.size]]);
    return { size: p.size, dtype: p.to };
  },
  cpu: ([x], p, out) => {
    for (let i = 0; i < p.size; i++) out[i] = p.to === 'i32' ? Math.trunc(x![i]!) | 0 : x![i]!;
  },
  gpu: (p, [x], target) => {
    const grid = grid1d(p.size, target.maxWorkgroupsPerDimension);
    const from = wgslType(x!.dtype);
    const to = wgslType(p.to);
    return {
      key: `cast:${from}:${to}`,
      workgroups: grid.workgroups,
      uniforms: [p.size, grid.rowStride],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> x: array<${from}>;
@group(0) @binding(1) var<storage, read_write> out: array<${to}>;
${paramsDecl(2)}${gridIndexFn}${entry(`out[i] = ${to}(x[i]);`)}`,
    };
  },
  tolerance: () => EXACT_TOL,
  describe: (p) => `cast(size=${p.size}, to=${p.to})`,
});

// ---------------------------------------------------------------------------------------------------

export interface UnaryParams {
  op: UnaryOpName;
  size: number;
}

export const unary = defineKernel<UnaryParams>({
  name: 'unary',
  output: (p, inputs) => {
    assertInputs(`unary(${p.op})`, inputs, [['f32', p.size]]);
    if (!(p.op in UNARY_OPS)) throw new Error(`unary: unknown op '${p.op}'`);
    return { size: p.size, dtype: 'f32' };
  },
  cpu: ([x], p, out) => {
    const f = UNARY_OPS[p.op].cpu;
    for (let i = 0; i < p.size; i++) out[i] = f(x![i]!);
  },
  gpu: (p, _inputs, target) => {
    const grid = grid1d(p.size, target.maxWorkgroupsPerDimension);
    return {
      key: `unary:${p.op}`,
      workgroups: grid.workgroups,
      uniforms: [p.size, grid.rowStride],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${paramsDecl(2)}${gridIndexFn}${unaryHelpers}${entry(`let x = xs[i]; out[i] = ${UNARY_OPS[p.op].wgsl};`)}`,
    };
  },
  tolerance: (p) => (UNARY_OPS[p.op].exact ? EXACT_TOL : TRANSCENDENTAL_TOL),
  describe: (p) => `unary ${p.op}(size=${p.size})`,
});

// ---------------------------------------------------------------------------------------------------

/** How an input is addressed: same index as the output, a single scalar, or general strides. */
type Access = 'same' | 'scalar' | 'strided';

function accessOf(shape: readonly number[], strides: readonly number[]): Access {
  let expected = 1;
  let same = true;
  let scalar = true;
  for (let k = shape.length - 1; k >= 0; k--) {
    if (shape[k] === 1) continue;
    if (strides[k] !== 0) scalar = false;
    if (strides[k] !== expected) same = false;
    expected *= shape[k]!;
  }
  return scalar ? 'scalar' : same ? 'same' : 'strided';
}

const SHAPE_SLOT = 4;
const strideSlot = (input: number) => SHAPE_SLOT + MAX_RANK * (input + 1);

function offsetExpr(access: Access, input: number): string {
  if (access === 'same') return 'i';
  if (access === 'scalar') return '0u';
  return `stridedOffset(i, pu(2u), ${SHAPE_SLOT}u, ${strideSlot(input)}u)`;
}

function broadcastUniforms(size: number, rowStride: number, shape: readonly number[], strides: number[][]) {
  return [size, rowStride, shape.length, 0, ...padRank(shape, 1), ...strides.flatMap((s) => padRank(s))];
}

export interface BinaryParams {
  op: BinaryOpName;
  /** Output shape; each input is read through its strides over this shape (0 on broadcast axes). */
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

export const binary = defineKernel<BinaryParams>({
  name: 'binary',
  output: (p, inputs) => {
    const op = BINARY_OPS[p.op];
    if (!op) throw new Error(`binary: unknown op '${p.op}'`);
    const [a, b] = inputs;
    if (!a || !b || a.dtype !== b.dtype) {
      throw new Error(`binary ${p.op}: both inputs must have one dtype, got ${a?.dtype} and ${b?.dtype}`);
    }
    if (a.dtype === 'i32' && !op.int) throw new Error(`binary ${p.op}: not defined for i32 inputs`);
    return { size: product(p.shape), dtype: op.compare ? 'f32' : a.dtype };
  },
  cpu: ([a, b], p, out) => {
    const f = BINARY_OPS[p.op].cpu;
    const n = product(p.shape);
    const int = a instanceof Int32Array && !BINARY_OPS[p.op].compare;
    const mulInt = int && p.op === 'mul';
    for (let i = 0; i < n; i++) {
      const x = a![stridedOffset(i, p.shape, p.aStrides)]!;
      const y = b![stridedOffset(i, p.shape, p.bStrides)]!;
      out[i] = mulInt ? Math.imul(x, y) : int ? f(x, y) | 0 : f(x, y);
    }
  },
  gpu: (p, [a], target) => {
    const n = product(p.shape);
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    const op = BINARY_OPS[p.op];
    const t = wgslType(a!.dtype);
    const accA = accessOf(p.shape, p.aStrides);
    const accB = accessOf(p.shape, p.bStrides);
    const outT = op.compare ? 'f32' : t;
    const value = op.compare ? `select(0.0, 1.0, ${op.wgsl})` : op.wgsl;
    return {
      key: `binary:${p.op}:${t}:${accA}:${accB}`,
      workgroups: grid.workgroups,
      uniforms: broadcastUniforms(n, grid.rowStride, p.shape, [p.aStrides, p.bStrides]),
      wgsl: () => `
@group(0) @binding(0) var<storage, read> as_: array<${t}>;
@group(0) @binding(1) var<storage, read> bs_: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${outT}>;
${paramsDecl(3)}${gridIndexFn}${stridedOffsetFn}${t === 'f32' ? binaryHelpers : ''}${entry(`
  let a = as_[${offsetExpr(accA, 0)}];
  let b = bs_[${offsetExpr(accB, 1)}];
  out[i] = ${value};`)}`,
    };
  },
  tolerance: (p) => (BINARY_OPS[p.op].exact ? EXACT_TOL : TRANSCENDENTAL_TOL),
  describe: (p) => `binary ${p.op}(out shape [${p.shape}])`,
});

// ---------------------------------------------------------------------------------------------------

export interface WhereParams {
  shape: number[];
  condStrides: number[];
  aStrides: number[];
  bStrides: number[];
}

/** out = cond != 0 ? a : b, all three broadcast to `shape`. */
export const where = defineKernel<WhereParams>({
  name: 'where',
  output: (p, inputs) => {
    const [c, a, b] = inputs;
    if (!c || !a || !b || a.dtype !== b.dtype) {
      throw new Error(`where: the two value inputs must share a dtype, got ${a?.dtype} and ${b?.dtype}`);
    }
    return { size: product(p.shape), dtype: a.dtype };
  },
  cpu: ([c, a, b], p, out) => {
    const n = product(p.shape);
    for (let i = 0; i < n; i++) {
      const take = c![stridedOffset(i, p.shape, p.condStrides)] !== 0;
      out[i] = take ? a![stridedOffset(i, p.shape, p.aStrides)]! : b![stridedOffset(i, p.shape, p.bStrides)]!;
    }
  },
  gpu: (p, [c, a], target) => {
    const n = product(p.shape);
    const grid = grid1d(n, target.maxWorkgroupsPerDimension);
    const ct = wgslType(c!.dtype);
    const t = wgslType(a!.dtype);
    const acc = [
      accessOf(p.shape, p.condStrides),
      accessOf(p.shape, p.aStrides),
      accessOf(p.shape, p.bStrides),
    ];
    return {
      key: `where:${ct}:${t}:${acc.join(':')}`,
      workgroups: grid.workgroups,
      uniforms: broadcastUniforms(n, grid.rowStride, p.shape, [p.condStrides, p.aStrides, p.bStrides]),
      wgsl: () => `
@group(0) @binding(0) var<storage, read> cs_: array<${ct}>;
@group(0) @binding(1) var<storage, read> as_: array<${t}>;
@group(0) @binding(2) var<storage, read> bs_: array<${t}>;
@group(0) @binding(3) var<storage, read_write> out: array<${t}>;
${paramsDecl(4)}${gridIndexFn}${stridedOffsetFn}${entry(`
  let c = cs_[${offsetExpr(acc[0]!, 0)}];
  out[i] = select(bs_[${offsetExpr(acc[2]!, 2)}], as_[${offsetExpr(acc[1]!, 1)}], c != ${ct}(0));`)}`,
    };
  },
  tolerance: () => ({ rtol: 0, atol: 0 }),
  describe: (p) => `where(out shape [${p.shape}])`,
});
