/**
 * @file Multi-head attention for training, in the FlashAttention style: no T×T buffer anywhere.
 *  - `attentionForward` streams keys/values with an online max and denominator and writes O and the row
 *    logsumexp L (both passed in as outputs: the kernel writes them in place).
 *  - Backward, by recomputation: `attentionRowDot` gives D = rowsum(dO∘O); `attentionGradQ` loops over keys
 *    for a block of query rows; `attentionGradKV` loops over queries for a block of key rows and writes dK
 *    and dV. No atomics: every output element has exactly one writer.
 *  - `maskedSoftmax` is the unfused path's middle step (scores → probabilities under the same masks).
 * Layout: q, k, v, o, dO and their gradients are [B, H, T, d] contiguous (`layout: 'bhtd'`, the default) or
 * [B, T, H, d] (`'bthd'`: a [B, T, H·d] activation reshaped, so no head split/merge copies are needed); the row
 * statistics (L, D) are [B, H, T] in both. lengths is i32 [B] (keys j ≥ lengths[b] get no weight,
 * query rows i ≥ lengths[b] give zeros and no gradient). Each invocation owns R consecutive rows (R per
 * adapter: reuse of each loaded key across rows is what makes llvmpipe fast, see docs/runtime.md); head dims
 * are specialized and must be a multiple of 4 (vec4 loads).
 */
import { assertInputs, defineKernel } from './kernel.ts';
import type { GpuTarget } from './kernel.ts';
import { f32bits, grid1d, gridIndexFn, paramsDecl } from './wgsl.ts';

export interface AttentionParams {
  batch: number;
  heads: number;
  /** Sequence length (queries and keys). */
  seq: number;
  headDim: number;
  causal: boolean;
  /** Usually 1/√headDim. */
  scale: number;
  /** Memory order of q, k, v, o and their gradients (default 'bhtd'); row statistics are [B, H, T] in both. */
  layout?: AttentionLayout;
}

export type AttentionLayout = 'bhtd' | 'bthd';

/** CPU: index of the d-vector of query/key row i of head bh (= b·H + h), as WGSL's `vrow`. */
function vrow(p: AttentionParams, bh: number, i: number): number {
  if (p.layout !== 'bthd') return bh * p.seq + i;
  return (Math.floor(bh / p.heads) * p.seq + i) * p.heads + (bh % p.heads);
}

const WG = 64;

/**
 * Rows per invocation: more reuse of each loaded key on llvmpipe (GLES), more parallelism on real GPUs, and 1
 * on lavapipe (Vulkan), whose compiler takes minutes on the larger kernels (dK/dV at d=128 cold: 26 s with 1 row,
 * 60 s with 2, 177 s with 4; docs/perf-notes.md).
 */
function rowsPerInvocation(target: GpuTarget): number {
  const forced = /^rows(\d+)$/.exec(target.variant ?? '');
  if (forced) return Number(forced[1]);
  if (!target.isSoftware) return 2;
  return target.backend === 'vulkan' ? 1 : 4;
}

function checkParams(name: string, p: AttentionParams): void {
  if (p.layout !== undefined && p.layout !== 'bhtd' && p.layout !== 'bthd') {
    throw new Error(`${name}: layout ${String(p.layout)} must be 'bhtd' or 'bthd'`);
  }
  if (p.headDim % 4 !== 0 || p.headDim < 4 || p.headDim > 256) {
    throw new Error(
      `${name}: head dim ${p.headDim} must be a multiple of 4 in 4..256 (use the unfused path)`,
    );
  }
}

const qkvSize = (p: AttentionParams) => p.batch * p.heads * p.seq * p.headDim;
const rowCount = (p: AttentionParams) => p.batch * p.heads * p.seq;

/**
 * Common WGSL prologue: block → (b·h, first row), this sequence's valid length, and `vrow(row)`: the index of
 * row's d-vector of head b·h in q, k, v, o and their gradients (`base + row` indexes the row statistics).
 */
function prologue(p: AttentionParams, r: number, bindings: string) {
  const bthd = p.layout === 'bthd';
  return `
${bindings}
${paramsDecl(bindings.split('\n').filter((l) => l.includes('@binding')).length)}${gridIndexFn}
var<private> vbase: u32;
fn vrow(row: u32) -> u32 { return ${bthd ? 'vbase + row * pu(2u)' : 'vbase + row'}; }
const D4 = ${p.headDim / 4}u;
const R = ${r}u;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gridIndex(gid, pu(1u));
  if (t >= pu(0u)) { return; }
  let heads = pu(2u);
  let T = pu(3u);
  let scale = pf(4u);
  let blocks = (T + R - 1u) / R;
  let bh = t / blocks;
  let row0 = (t % blocks) * R;
  let len = min(u32(max(lengths[bh / heads], 0)), T);
  let base = bh * T;
  vbase = ${bthd ? '(bh / heads) * T * heads + bh % heads' : 'base'};`;
}

function launch(name: string, p: AttentionParams, target: GpuTarget, wgsl: (r: number) => string) {
  const r = rowsPerInvocation(target);
  const n = p.batch * p.heads * Math.ceil(p.seq / r);
  const grid = grid1d(n, target.maxWorkgroupsPerDimension, WG);
  return {
    key: `${name}:d${p.headDim}:r${r}:${p.causal ? 'causal' : 'full'}:${p.layout ?? 'bhtd'}`,
    workgroups: grid.workgroups,
    uniforms: [n, grid.rowStride, p.heads, p.seq, f32bits(p.scale)],
    wgsl: () => wgsl(r),
  };
}

/**
 * What the three kernels that stream over keys (or queries) share: one loop iteration per streamed row, and the
 * tolerance of an online softmax in f32 over up to T rows followed by a weighted sum of d-vectors.
 */
function streaming(name: string) {
  return {
    loopIterations: (p: AttentionParams) => p.seq,
    tolerance: () => ({ rtol: 1e-4, atol: 1e-5 }),
    describe: (p: AttentionParams) =>
      `${name}(B ${p.batch}, H ${p.heads}, T ${p.seq}, d ${p.headDim}, ${p.causal ? 'causal' : 'bidirectional'}, ${p.layout ?? 'bhtd'})`,
  };
}

const dot4 = (a: string, b: string) => `dot4(${a}, ${b})`;
const dotFn = `
fn dot4(a: array<vec4<f32>, D4>, b: array<vec4<f32>, D4>) -> f32 {
  var s = vec4<f32>(0.0);
  for (var c = 0u; c < D4; c++) { s = fma(a[c], b[c], s); }
  return s.x + s.y + s.z + s.w;
}`;

/** Is key j visible from query i of a sequence of valid length len? */
function visible(p: AttentionParams, i: number, j: number, len: number): boolean {
  return i < len && j < len && (!p.causal || j <= i);
}

/** CPU: per (b·h, query row) the scores over visible keys, with max and logsumexp. */
function cpuScores(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  p: AttentionParams,
  bh: number,
  i: number,
  len: number,
) {
  const d = p.headDim;
  const qi = vrow(p, bh, i) * d;
  const s = new Float64Array(p.seq).fill(Number.NEGATIVE_INFINITY);
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < p.seq; j++) {
    if (!visible(p, i, j, len)) continue;
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[qi + c]! * k[vrow(p, bh, j) * d + c]!;
    s[j] = dot * p.scale;
    max = Math.max(max, s[j]!);
  }
  let sum = 0;
  for (let j = 0; j < p.seq; j++) if (s[j]! > Number.NEGATIVE_INFINITY) sum += Math.exp(s[j]! - max);
  return { s, lse: max + Math.log(sum) };
}

const lengthOf = (lengths: ArrayLike<number>, p: AttentionParams, bh: number) =>
  Math.min(Math.max(lengths[Math.floor(bh / p.heads)]!, 0), p.seq);

// ---------------------------------------------------------------------------------------------------

/** Inputs: q, k, v, lengths, then the outputs o [B,H,T,d] and lse [B,H,T], written in place. */
export const attentionForward = defineKernel<AttentionParams>({
  name: 'attentionForward',
  inPlace: [4, 5],
  output: (p, inputs) => {
    checkParams('attentionForward', p);
    const n = qkvSize(p);
    assertInputs('attentionForward', inputs, [
      ['f32', n],
      ['f32', n],
      ['f32', n],
      ['i32', p.batch],
      ['f32', n],
      ['f32', rowCount(p)],
    ]);
    return { size: 0, dtype: 'f32' };
  },
  cpu: ([q, k, v, lengths, o, lse], p) => {
    const d = p.headDim;
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const len = lengthOf(lengths!, p, bh);
      for (let i = 0; i < p.seq; i++) {
        const row = vrow(p, bh, i) * d;
        if (i >= len) {
          o!.fill(0, row, row + d);
          lse![bh * p.seq + i] = 0;
          continue;
        }
        const { s, lse: l } = cpuScores(q!, k!, p, bh, i, len);
        lse![bh * p.seq + i] = l;
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < p.seq; j++)
            if (visible(p, i, j, len)) acc += Math.exp(s[j]! - l) * v![vrow(p, bh, j) * d + c]!;
          o![row + c] = acc;
        }
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launch('attentionForward', p, target, (r) => {
      const rows = Array.from({ length: r }, (_, i) => i);
      return `${prologue(
        p,
        r,
        `@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> K: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> lengths: array<i32>;
@group(0) @binding(4) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;`,
      )}
  var q: array<array<vec4<f32>, D4>, R>;
  var acc: array<array<vec4<f32>, D4>, R>;
  var m: array<f32, R>;
  var l: array<f32, R>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, T - 1u);
    for (var c = 0u; c < D4; c++) { q[r][c] = Q[vrow(row) * D4 + c]; }
    m[r] = -3.0e38;
  }
  // Keys beyond the last valid row of this block are invisible to all of its rows.
  let kEnd = ${p.causal ? 'min(len, row0 + R)' : 'len'};
  var kj: array<vec4<f32>, D4>;
  for (var j = 0u; j < kEnd; j++) {
    for (var c = 0u; c < D4; c++) { kj[c] = K[vrow(j) * D4 + c]; }
    ${rows.map((i) => `let s${i} = ${dot4(`q[${i}]`, 'kj')} * scale;`).join('\n    ')}
    for (var c = 0u; c < D4; c++) { kj[c] = V[vrow(j) * D4 + c]; }
    ${rows
      .map(
        (i) => `if (row0 + ${i}u < len${p.causal ? ` && j <= row0 + ${i}u` : ''}) {
      let mNew = max(m[${i}], s${i});
      let corr = exp(m[${i}] - mNew);
      let pj = exp(s${i} - mNew);
      l[${i}] = l[${i}] * corr + pj;
      for (var c = 0u; c < D4; c++) { acc[${i}][c] = fma(vec4<f32>(pj), kj[c], acc[${i}][c] * corr); }
      m[${i}] = mNew;
    }`,
      )
      .join('\n    ')}
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row >= T) { break; }
    let valid = row < len;
    let inv = select(0.0, 1.0 / l[r], valid);
    for (var c = 0u; c < D4; c++) { O[vrow(row) * D4 + c] = acc[r][c] * inv; }
    LSE[base + row] = select(0.0, m[r] + log(l[r]), valid);
  }
}
${dotFn}`;
    }),
  ...streaming('attentionForward'),
});

// ---------------------------------------------------------------------------------------------------

/** D = rowsum(dO ∘ O) per query row (0 on padded rows). Inputs: dO, O, lengths. */
export const attentionRowDot = defineKernel<AttentionParams>({
  name: 'attentionRowDot',
  output: (p, inputs) => {
    checkParams('attentionRowDot', p);
    assertInputs('attentionRowDot', inputs, [
      ['f32', qkvSize(p)],
      ['f32', qkvSize(p)],
      ['i32', p.batch],
    ]);
    return { size: rowCount(p), dtype: 'f32' };
  },
  cpu: ([dO, o, lengths], p, out) => {
    const d = p.headDim;
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const len = lengthOf(lengths!, p, bh);
      for (let i = 0; i < p.seq; i++) {
        const row = vrow(p, bh, i) * d;
        let s = 0;
        if (i < len) for (let c = 0; c < d; c++) s += dO![row + c]! * o![row + c]!;
        out[bh * p.seq + i] = s;
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launch(
      'attentionRowDot',
      p,
      { ...target, variant: 'rows1' },
      (r) => `${prologue(
        p,
        r,
        `@group(0) @binding(0) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> O: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> lengths: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`,
      )}
  var s = vec4<f32>(0.0);
  if (row0 < len) {
    for (var c = 0u; c < D4; c++) { s = fma(dO[vrow(row0) * D4 + c], O[vrow(row0) * D4 + c], s); }
  }
  out[base + row0] = s.x + s.y + s.z + s.w;
}`,
    ),
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-6 * p.headDim }),
  describe: (p) =>
    `attentionRowDot(B ${p.batch}, H ${p.heads}, T ${p.seq}, d ${p.headDim}, ${p.layout ?? 'bhtd'})`,
});

// ---------------------------------------------------------------------------------------------------

/** dQ. Inputs: q, k, v, dO, lse, D, lengths. */
export const attentionGradQ = defineKernel<AttentionParams>({
  name: 'attentionGradQ',
  output: (p, inputs) => {
    checkParams('attentionGradQ', p);
    const n = qkvSize(p);
    assertInputs('attentionGradQ', inputs, [
      ['f32', n],
      ['f32', n],
      ['f32', n],
      ['f32', n],
      ['f32', rowCount(p)],
      ['f32', rowCount(p)],
      ['i32', p.batch],
    ]);
    return { size: n, dtype: 'f32' };
  },
  cpu: ([q, k, v, dO, lse, D, lengths], p, out) => {
    const d = p.headDim;
    out.fill(0);
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const len = lengthOf(lengths!, p, bh);
      for (let i = 0; i < len; i++) {
        const qi = vrow(p, bh, i) * d;
        for (let j = 0; j < len; j++) {
          if (!visible(p, i, j, len)) continue;
          const kj = vrow(p, bh, j) * d;
          let s = 0;
          let dp = 0;
          for (let c = 0; c < d; c++) {
            s += q![qi + c]! * k![kj + c]!;
            dp += dO![qi + c]! * v![kj + c]!;
          }
          const ds = Math.exp(s * p.scale - lse![bh * p.seq + i]!) * (dp - D![bh * p.seq + i]!);
          for (let c = 0; c < d; c++) out[qi + c]! += ds * k![kj + c]! * p.scale;
        }
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launch('attentionGradQ', p, target, (r) => {
      const rows = Array.from({ length: r }, (_, i) => i);
      return `${prologue(
        p,
        r,
        `@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> K: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> LSE: array<f32>;
@group(0) @binding(5) var<storage, read> Drow: array<f32>;
@group(0) @binding(6) var<storage, read> lengths: array<i32>;
@group(0) @binding(7) var<storage, read_write> dQ: array<vec4<f32>>;`,
      )}
  var q: array<array<vec4<f32>, D4>, R>;
  var g: array<array<vec4<f32>, D4>, R>;
  var acc: array<array<vec4<f32>, D4>, R>;
  var lse: array<f32, R>;
  var dd: array<f32, R>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, T - 1u);
    for (var c = 0u; c < D4; c++) {
      q[r][c] = Q[vrow(row) * D4 + c];
      g[r][c] = dO[vrow(row) * D4 + c];
    }
    lse[r] = LSE[base + row];
    dd[r] = Drow[base + row];
  }
  let kEnd = ${p.causal ? 'min(len, row0 + R)' : 'len'};
  var kj: array<vec4<f32>, D4>;
  var vj: array<vec4<f32>, D4>;
  for (var j = 0u; j < kEnd; j++) {
    for (var c = 0u; c < D4; c++) {
      kj[c] = K[vrow(j) * D4 + c];
      vj[c] = V[vrow(j) * D4 + c];
    }
    ${rows
      .map(
        (i) => `if (row0 + ${i}u < len${p.causal ? ` && j <= row0 + ${i}u` : ''}) {
      let pj = exp(${dot4(`q[${i}]`, 'kj')} * scale - lse[${i}]);
      let ds = pj * (${dot4(`g[${i}]`, 'vj')} - dd[${i}]);
      for (var c = 0u; c < D4; c++) { acc[${i}][c] = fma(vec4<f32>(ds), kj[c], acc[${i}][c]); }
    }`,
      )
      .join('\n    ')}
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row >= T) { break; }
    for (var c = 0u; c < D4; c++) { dQ[vrow(row) * D4 + c] = acc[r][c] * scale; }
  }
}
${dotFn}`;
    }),
  ...streaming('attentionGradQ'),
});

// ---------------------------------------------------------------------------------------------------

/** dK and dV. Inputs: q, k, v, dO, lse, D, lengths, then dK and dV written in place. */
export const attentionGradKV = defineKernel<AttentionParams>({
  name: 'attentionGradKV',
  inPlace: [7, 8],
  output: (p, inputs) => {
    checkParams('attentionGradKV', p);
    const n = qkvSize(p);
    assertInputs('attentionGradKV', inputs, [
      ['f32', n],
      ['f32', n],
      ['f32', n],
      ['f32', n],
      ['f32', rowCount(p)],
      ['f32', rowCount(p)],
      ['i32', p.batch],
      ['f32', n],
      ['f32', n],
    ]);
    return { size: 0, dtype: 'f32' };
  },
  cpu: ([q, k, v, dO, lse, D, lengths, dK, dV], p) => {
    const d = p.headDim;
    dK!.fill(0);
    dV!.fill(0);
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const len = lengthOf(lengths!, p, bh);
      for (let i = 0; i < len; i++) {
        const qi = vrow(p, bh, i) * d;
        for (let j = 0; j < len; j++) {
          if (!visible(p, i, j, len)) continue;
          const kj = vrow(p, bh, j) * d;
          let s = 0;
          let dp = 0;
          for (let c = 0; c < d; c++) {
            s += q![qi + c]! * k![kj + c]!;
            dp += dO![qi + c]! * v![kj + c]!;
          }
          const pij = Math.exp(s * p.scale - lse![bh * p.seq + i]!);
          const ds = pij * (dp - D![bh * p.seq + i]!);
          for (let c = 0; c < d; c++) {
            dV![kj + c]! += pij * dO![qi + c]!;
            dK![kj + c]! += ds * q![qi + c]! * p.scale;
          }
        }
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launch('attentionGradKV', p, target, (r) => {
      const rows = Array.from({ length: r }, (_, i) => i);
      return `${prologue(
        p,
        r,
        `@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> K: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> LSE: array<f32>;
@group(0) @binding(5) var<storage, read> Drow: array<f32>;
@group(0) @binding(6) var<storage, read> lengths: array<i32>;
@group(0) @binding(7) var<storage, read_write> dK: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dV: array<vec4<f32>>;`,
      )}
  var k: array<array<vec4<f32>, D4>, R>;
  var v: array<array<vec4<f32>, D4>, R>;
  var accK: array<array<vec4<f32>, D4>, R>;
  var accV: array<array<vec4<f32>, D4>, R>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, T - 1u);
    for (var c = 0u; c < D4; c++) {
      k[r][c] = K[vrow(row) * D4 + c];
      v[r][c] = V[vrow(row) * D4 + c];
    }
  }
  // Queries before this block's first key row see none of its keys (causal).
  let iStart = ${p.causal ? 'row0' : '0u'};
  var qi: array<vec4<f32>, D4>;
  var gi: array<vec4<f32>, D4>;
  for (var i = iStart; i < len; i++) {
    for (var c = 0u; c < D4; c++) {
      qi[c] = Q[vrow(i) * D4 + c];
      gi[c] = dO[vrow(i) * D4 + c];
    }
    let lse = LSE[base + i];
    let dd = Drow[base + i];
    ${rows
      .map(
        (j) => `if (row0 + ${j}u < len${p.causal ? ` && i >= row0 + ${j}u` : ''}) {
      let pij = exp(${dot4('qi', `k[${j}]`)} * scale - lse);
      let ds = pij * (${dot4('gi', `v[${j}]`)} - dd);
      for (var c = 0u; c < D4; c++) {
        accV[${j}][c] = fma(vec4<f32>(pij), gi[c], accV[${j}][c]);
        accK[${j}][c] = fma(vec4<f32>(ds), qi[c], accK[${j}][c]);
      }
    }`,
      )
      .join('\n    ')}
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row >= T) { break; }
    for (var c = 0u; c < D4; c++) {
      dK[vrow(row) * D4 + c] = accK[r][c] * scale;
      dV[vrow(row) * D4 + c] = accV[r][c];
    }
  }
}
${dotFn}`;
    }),
  ...streaming('attentionGradKV'),
});

// ---------------------------------------------------------------------------------------------------

export interface MaskedSoftmaxParams {
  batch: number;
  heads: number;
  seq: number;
  causal: boolean;
}

/** Row softmax of scores [B, H, T, T] over visible keys; invisible entries and padded rows are 0. Inputs: scores, lengths. */
export const maskedSoftmax = defineKernel<MaskedSoftmaxParams>({
  name: 'maskedSoftmax',
  output: (p, inputs) => {
    const n = p.batch * p.heads * p.seq * p.seq;
    assertInputs('maskedSoftmax', inputs, [
      ['f32', n],
      ['i32', p.batch],
    ]);
    return { size: n, dtype: 'f32' };
  },
  cpu: ([s, lengths], p, out) => {
    const ap = { ...p, headDim: 4, scale: 1 };
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const len = lengthOf(lengths!, ap, bh);
      for (let i = 0; i < p.seq; i++) {
        const row = (bh * p.seq + i) * p.seq;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < p.seq; j++) if (visible(ap, i, j, len)) max = Math.max(max, s![row + j]!);
        let sum = 0;
        for (let j = 0; j < p.seq; j++) if (visible(ap, i, j, len)) sum += Math.exp(s![row + j]! - max);
        for (let j = 0; j < p.seq; j++)
          out[row + j] = visible(ap, i, j, len) ? Math.exp(s![row + j]! - max) / sum : 0;
      }
    }
  },
  gpu: (p, _inputs, target) => {
    const rows = p.batch * p.heads * p.seq;
    const grid = grid1d(rows, target.maxWorkgroupsPerDimension, WG);
    const vis = p.causal ? '(i < len && j < len && j <= i)' : '(i < len && j < len)';
    return {
      key: `maskedSoftmax:${p.causal ? 'causal' : 'full'}`,
      workgroups: grid.workgroups,
      uniforms: [rows, grid.rowStride, p.heads, p.seq],
      wgsl: () => `
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> lengths: array<i32>;
@group(0) @binding(2) var<storage, read_write> P: array<f32>;
${paramsDecl(3)}${gridIndexFn}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gridIndex(gid, pu(1u));
  if (r >= pu(0u)) { return; }
  let T = pu(3u);
  let i = r % T;
  let len = min(u32(max(lengths[r / T / pu(2u)], 0)), T);
  let row = r * T;
  var m = -3.0e38;
  for (var j = 0u; j < T; j++) { if ${vis} { m = max(m, S[row + j]); } }
  var sum = 0.0;
  for (var j = 0u; j < T; j++) { if ${vis} { sum += exp(S[row + j] - m); } }
  for (var j = 0u; j < T; j++) { P[row + j] = select(0.0, exp(S[row + j] - m) / sum, ${vis}); }
}`,
    };
  },
  loopIterations: (p) => 3 * p.seq,
  tolerance: () => ({ rtol: 1e-5, atol: 1e-6 }),
  describe: (p) =>
    `maskedSoftmax(B ${p.batch}, H ${p.heads}, T ${p.seq}, ${p.causal ? 'causal' : 'bidirectional'})`,
});
