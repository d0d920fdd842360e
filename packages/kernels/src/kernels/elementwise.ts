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
import { defineKernel } from './kernel.ts';
import {
  MAX_RANK,
  WORKGROUP_1D,
  f32bits,
  grid1d,
  gridIndexFn,
  i32bits,
  padRank,
  product,
  stridedOffset,
  stridedOffsetFn,
  wgslType,
} from './wgsl.ts';

/** The entry point of a kernel with one invocation per output element `i` (uniforms `size` and `rowStride`). */
const entry = (body: string) => `${gridIndexFn}
@compute @workgroup_size(${WORKGROUP_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gridIndex(gid, params.rowStride);
  if (i >= params.size) { return; }
  ${body}
}`;

const grid = { size: 'u32', rowStride: 'u32' } as const;

// ---------------------------------------------------------------------------------------------------

export interface FillParams {
  size: number;
  value: number;
  dtype: DType;
}

export const fill = defineKernel<FillParams>()({
  name: 'fill',
  inputs: [],
  output: { size: (p) => p.size, dtype: (p) => p.dtype },
  /** bits: the value's bit pattern in the output dtype. */
  uniforms: { ...grid, bits: 'u32' },
  cpu: (_inputs, p, out) => out.fill(p.value),
  gpu: (p, _inputs, target) => {
    const g = grid1d(p.size, target.maxWorkgroupsPerDimension);
    const t = wgslType(p.dtype);
    return {
      key: `fill:${p.dtype}`,
      workgroups: g.workgroups,
      uniforms: {
        size: p.size,
        rowStride: g.rowStride,
        bits: p.dtype === 'f32' ? f32bits(p.value) : i32bits(p.value),
      },
      wgsl: () => entry(`out[i] = bitcast<${t}>(params.bits);`),
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

export const cast = defineKernel<CastParams>()({
  name: 'cast',
  inputs: [{ name: 'x', dtype: 'any', size: (p) => p.size }],
  output: { size: (p) => p.size, dtype: (p) => p.to },
  uniforms: grid,
  cpu: ({ x }, p, out) => {
    for (let i = 0; i < p.size; i++) out[i] = p.to === 'i32' ? Math.trunc(x![i]!) | 0 : x![i]!;
  },
  gpu: (p, { x }, target) => {
    const g = grid1d(p.size, target.maxWorkgroupsPerDimension);
    const from = wgslType(x.dtype);
    const to = wgslType(p.to);
    return {
      key: `cast:${from}:${to}`,
      workgroups: g.workgroups,
      uniforms: { size: p.size, rowStride: g.rowStride },
      wgsl: () => entry(`out[i] = ${to}(x[i]);`),
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

export const unary = defineKernel<UnaryParams>()({
  name: 'unary',
  inputs: [{ name: 'xs', dtype: 'f32', size: (p) => p.size }],
  output: { size: (p) => p.size, dtype: 'f32' },
  uniforms: grid,
  validate: (p) => {
    if (!(p.op in UNARY_OPS)) throw new Error(`unary: unknown op '${p.op}'`);
  },
  cpu: ({ xs: x }, p, out) => {
    const f = UNARY_OPS[p.op].cpu;
    for (let i = 0; i < p.size; i++) out[i] = f(x![i]!);
  },
  gpu: (p, _inputs, target) => {
    const g = grid1d(p.size, target.maxWorkgroupsPerDimension);
    return {
      key: `unary:${p.op}`,
      workgroups: g.workgroups,
      uniforms: { size: p.size, rowStride: g.rowStride },
      wgsl: () => `${unaryHelpers}${entry(`let x = xs[i]; out[i] = ${UNARY_OPS[p.op].wgsl};`)}`,
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

const rankArray = { array: 'u32', length: MAX_RANK } as const;
/** The output shape and one stride list per input, each input read at `offsetOf_<strides>(i)`. */
const broadcast = { ...grid, rank: 'u32', shape: rankArray } as const;

/** WGSL for input index `i`'s element offset in an input read through the array uniform `strides`. */
function offsetExpr(access: Access, strides: string): string {
  if (access === 'same') return 'i';
  if (access === 'scalar') return '0u';
  return `offsetOf_${strides}(i, params.rank)`;
}

const offsetFns = (...strides: string[]) =>
  strides.map((s) => stridedOffsetFn(`offsetOf_${s}`, 'shape', s)).join('');

function broadcastUniforms(size: number, rowStride: number, shape: readonly number[]) {
  return { size, rowStride, rank: shape.length, shape: padRank(shape, 1) };
}

export interface BinaryParams {
  op: BinaryOpName;
  /** Output shape; each input is read through its strides over this shape (0 on broadcast axes). */
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

export const binary = defineKernel<BinaryParams>()({
  name: 'binary',
  inputs: [
    { name: 'lhs', dtype: 'any', size: () => 0 },
    { name: 'rhs', dtype: 'any', size: () => 0 },
  ],
  output: {
    size: (p) => product(p.shape),
    dtype: (p, { lhs }) => (BINARY_OPS[p.op].compare ? 'f32' : lhs.dtype),
  },
  uniforms: { ...broadcast, aStrides: rankArray, bStrides: rankArray },
  validate: (p, { lhs: a, rhs: b }) => {
    const op = BINARY_OPS[p.op];
    if (!op) throw new Error(`binary: unknown op '${p.op}'`);
    if (a.dtype !== b.dtype) {
      throw new Error(`binary ${p.op}: both inputs must have one dtype, got ${a.dtype} and ${b.dtype}`);
    }
    if (a.dtype === 'i32' && !op.int) throw new Error(`binary ${p.op}: not defined for i32 inputs`);
  },
  cpu: ({ lhs: a, rhs: b }, p, out) => {
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
  gpu: (p, { lhs: a }, target) => {
    const n = product(p.shape);
    const g = grid1d(n, target.maxWorkgroupsPerDimension);
    const op = BINARY_OPS[p.op];
    const t = wgslType(a.dtype);
    const accA = accessOf(p.shape, p.aStrides);
    const accB = accessOf(p.shape, p.bStrides);
    const value = op.compare ? `select(0.0, 1.0, ${op.wgsl})` : op.wgsl;
    return {
      key: `binary:${p.op}:${t}:${accA}:${accB}`,
      workgroups: g.workgroups,
      uniforms: {
        ...broadcastUniforms(n, g.rowStride, p.shape),
        aStrides: padRank(p.aStrides),
        bStrides: padRank(p.bStrides),
      },
      wgsl: () =>
        `${offsetFns('aStrides', 'bStrides')}${t === 'f32' ? binaryHelpers : ''}${entry(`
  let a = lhs[${offsetExpr(accA, 'aStrides')}];
  let b = rhs[${offsetExpr(accB, 'bStrides')}];
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
export const where = defineKernel<WhereParams>()({
  name: 'where',
  inputs: [
    { name: 'cond', dtype: 'any', size: () => 0 },
    { name: 'x', dtype: 'any', size: () => 0 },
    { name: 'y', dtype: 'any', size: () => 0 },
  ],
  output: { size: (p) => product(p.shape), dtype: (_p, { x }) => x.dtype },
  uniforms: { ...broadcast, condStrides: rankArray, aStrides: rankArray, bStrides: rankArray },
  validate: (_p, { x: a, y: b }) => {
    if (a.dtype !== b.dtype) {
      throw new Error(`where: the two value inputs must share a dtype, got ${a.dtype} and ${b.dtype}`);
    }
  },
  cpu: ({ cond: c, x: a, y: b }, p, out) => {
    const n = product(p.shape);
    for (let i = 0; i < n; i++) {
      const take = c![stridedOffset(i, p.shape, p.condStrides)] !== 0;
      out[i] = take ? a![stridedOffset(i, p.shape, p.aStrides)]! : b![stridedOffset(i, p.shape, p.bStrides)]!;
    }
  },
  gpu: (p, { cond: c, x: a }, target) => {
    const n = product(p.shape);
    const g = grid1d(n, target.maxWorkgroupsPerDimension);
    const ct = wgslType(c.dtype);
    const t = wgslType(a.dtype);
    const acc = [
      accessOf(p.shape, p.condStrides),
      accessOf(p.shape, p.aStrides),
      accessOf(p.shape, p.bStrides),
    ];
    return {
      key: `where:${ct}:${t}:${acc.join(':')}`,
      workgroups: g.workgroups,
      uniforms: {
        ...broadcastUniforms(n, g.rowStride, p.shape),
        condStrides: padRank(p.condStrides),
        aStrides: padRank(p.aStrides),
        bStrides: padRank(p.bStrides),
      },
      wgsl: () =>
        `${offsetFns('condStrides', 'aStrides', 'bStrides')}${entry(`
  let c = cond[${offsetExpr(acc[0]!, 'condStrides')}];
  out[i] = select(y[${offsetExpr(acc[2]!, 'bStrides')}], x[${offsetExpr(acc[1]!, 'aStrides')}], c != ${ct}(0));`)}`,
    };
  },
  tolerance: () => ({ rtol: 0, atol: 0 }),
  describe: (p) => `where(out shape [${p.shape}])`,
});
