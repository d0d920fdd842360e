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
 * statistics (L, D) are [B, H, Tq] in both. Queries may be fewer than keys (Tq ≤ T rows for q, o, dO, dQ): query
 * row i of sequence b sits at key position queryStart[b] + i (i32 [B], zeros for ordinary attention), which is
 * what the causal mask compares with. lengths is i32 [B] (keys j ≥ lengths[b] get no weight, query rows at
 * positions ≥ lengths[b] give zeros and no gradient). Each invocation owns R consecutive rows (R per
 * adapter: reuse of each loaded key across rows is what makes llvmpipe fast, see docs/runtime.md); head dims
 * are specialized and must be a multiple of 4 (vec4 loads).
 * Grouped-query attention (Llama 2 70B, Mistral, Qwen2): k, v, dK and dV have `kvHeads` heads (a divisor of
 * `heads`, default `heads`) and query head h reads key/value head ⌊h / (heads / kvHeads)⌋; dK and dV sum over
 * the query heads of each group (the dK/dV kernel owns key rows of one key/value head and loops over its group).
 */
import { defineKernel } from './kernel.ts';
import type { GpuTarget } from './kernel.ts';
import { grid1d, gridIndexFn } from './wgsl.ts';

export interface AttentionParams {
  batch: number;
  heads: number;
  /** Sequence length: key rows (and query rows unless `queries` is set). */
  seq: number;
  /** Query rows Tq (default `seq`); query row i of sequence b sits at key position queryStart[b] + i. */
  queries?: number;
  headDim: number;
  /** Key/value heads (default `heads`): a divisor of `heads`; k, v, dK, dV are [B, KV, T, d] or [B, T, KV, d]. */
  kvHeads?: number;
  causal: boolean;
  /** Usually 1/√headDim. */
  scale: number;
  /** Memory order of q, k, v, o and their gradients (default 'bhtd'); row statistics are [B, H, Tq] in both. */
  layout?: AttentionLayout;
}

export type AttentionLayout = 'bhtd' | 'bthd';

const queriesOf = (p: { seq: number; queries?: number }) => p.queries ?? p.seq;
const kvHeadsOf = (p: AttentionParams) => p.kvHeads ?? p.heads;

/** CPU: index of the d-vector of row i of head h of sequence b, in a tensor of `rows` rows and `heads` heads. */
function vrow(
  layout: AttentionLayout | undefined,
  b: number,
  h: number,
  heads: number,
  i: number,
  rows: number,
) {
  return layout === 'bthd' ? (b * rows + i) * heads + h : (b * heads + h) * rows + i;
}
/** CPU, as WGSL's `qrow`/`krow`: row i of query head bh (= b·H + h), and row j of the key/value head it reads. */
const qrow = (p: AttentionParams, bh: number, i: number) =>
  vrow(p.layout, Math.floor(bh / p.heads), bh % p.heads, p.heads, i, queriesOf(p));
function krow(p: AttentionParams, bh: number, j: number): number {
  const kv = kvHeadsOf(p);
  const kh = Math.floor((bh % p.heads) / (p.heads / kv));
  return vrow(p.layout, Math.floor(bh / p.heads), kh, kv, j, p.seq);
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
  const kv = kvHeadsOf(p);
  if (!Number.isInteger(kv) || kv < 1 || p.heads % kv !== 0) {
    throw new Error(`${name}: kvHeads ${kv} must be a positive divisor of heads ${p.heads}`);
  }
  checkQueries(name, p);
}

function checkQueries(name: string, p: { seq: number; queries?: number }): void {
  const tq = queriesOf(p);
  if (!Number.isInteger(tq) || tq < 1)
    throw new Error(`${name}: query rows ${tq} must be a positive integer`);
}

/** Elements of q (o, dO, dQ) and of k (v, dK, dV); rows of the statistics. */
const qSize = (p: AttentionParams) => p.batch * p.heads * queriesOf(p) * p.headDim;
const kSize = (p: AttentionParams) => p.batch * kvHeadsOf(p) * p.seq * p.headDim;
const rowCount = (p: AttentionParams) => p.batch * p.heads * queriesOf(p);

/** The inputs, by what they hold: d-vectors of q-sized (Tq rows) or k-sized (T rows) tensors as vec4s. */
type Access = 'read' | 'read_write';
const vecQ = <N extends string, A extends Access = 'read'>(name: N, access = 'read' as A) =>
  ({ name, dtype: 'f32', element: 'vec4<f32>', access, size: qSize }) as const;
const vecK = <N extends string, A extends Access = 'read'>(name: N, access = 'read' as A) =>
  ({ name, dtype: 'f32', element: 'vec4<f32>', access, size: kSize }) as const;
const perRow = <N extends string, A extends Access = 'read'>(name: N, access = 'read' as A) =>
  ({ name, dtype: 'f32', access, size: rowCount }) as const;
/** i32 [B]: each sequence's valid length and first query position. */
const spans = [
  { name: 'lengths', dtype: 'i32', size: (p: { batch: number }) => p.batch },
  { name: 'queryStart', dtype: 'i32', size: (p: { batch: number }) => p.batch },
] as const;
const uniforms = {
  /** Invocations (each owns R rows of one head). */
  count: 'u32',
  rowStride: 'u32',
  heads: 'u32',
  seq: 'u32',
  scale: 'f32',
  queries: 'u32',
  kvHeads: 'u32',
} as const;

/**
 * Common WGSL prologue: block → (head, first owned row: a query row, or a key row for dK/dV), this sequence's
 * valid length `len`, its first query position `qs` and valid query rows `qlen` (query i is valid iff i < qlen,
 * at key position qs + i), and `qrow(i)`/`krow(j)`: the index of the d-vector of the current query head in q, o,
 * dO, dQ (Tq rows) or of key/value head `kh` in k, v, dK, dV (T rows). Blocks of query rows belong to query
 * head `bh` (= b·H + h), whose statistics start at `base`; blocks of key rows to key/value head `bk` (= b·KV +
 * kh), whose dK/dV kernel points `qbase` at each query head of its group with `useQueryHead`.
 */
function prologue(p: AttentionParams, r: number, owns: 'queries' | 'keys') {
  const bthd = p.layout === 'bthd';
  const queries = owns === 'queries';
  return `${gridIndexFn}
var<private> qbase: u32;
var<private> kbase: u32;
fn qrow(i: u32) -> u32 { return ${bthd ? 'qbase + i * params.heads' : 'qbase + i'}; }
fn krow(j: u32) -> u32 { return ${bthd ? 'kbase + j * params.kvHeads' : 'kbase + j'}; }
/** Points qrow at query head h of sequence b; returns where its row statistics start. */
fn useQueryHead(b: u32, h: u32) -> u32 {
  let base = (b * params.heads + h) * params.queries;
  qbase = ${bthd ? 'b * params.queries * params.heads + h' : 'base'};
  return base;
}
const D4 = ${p.headDim / 4}u;
const R = ${r}u;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gridIndex(gid, params.rowStride);
  if (t >= params.count) { return; }
  let heads = params.heads;
  let kvHeads = params.kvHeads;
  let groupSize = heads / kvHeads;
  let T = params.seq;
  let scale = params.scale;
  let Tq = params.queries;
  let blocks = (${queries ? 'Tq' : 'T'} + R - 1u) / R;
  let ${queries ? 'bh' : 'bk'} = t / blocks;
  let row0 = (t % blocks) * R;
  let b = ${queries ? 'bh / heads' : 'bk / kvHeads'};
  let len = min(u32(max(lengths[b], 0)), T);
  let qs = min(u32(max(queryStart[b], 0)), len);
  let qlen = min(len - qs, Tq);
  let kh = ${queries ? '(bh % heads) / groupSize' : 'bk % kvHeads'};
  kbase = ${bthd ? 'b * T * kvHeads + kh' : '(b * kvHeads + kh) * T'};${
    queries ? '\n  let base = useQueryHead(b, bh % heads);' : ''
  }`;
}

function launch(
  name: string,
  p: AttentionParams,
  target: GpuTarget,
  owns: 'queries' | 'keys',
  wgsl: (r: number) => string,
) {
  const r = rowsPerInvocation(target);
  const heads = owns === 'queries' ? p.heads : kvHeadsOf(p);
  const n = p.batch * heads * Math.ceil((owns === 'queries' ? queriesOf(p) : p.seq) / r);
  const grid = grid1d(n, target.maxWorkgroupsPerDimension, WG);
  return {
    key: `${name}:d${p.headDim}:r${r}:${p.causal ? 'causal' : 'full'}:${p.layout ?? 'bhtd'}`,
    workgroups: grid.workgroups,
    uniforms: {
      count: n,
      rowStride: grid.rowStride,
      heads: p.heads,
      seq: p.seq,
      scale: p.scale,
      queries: queriesOf(p),
      kvHeads: kvHeadsOf(p),
    },
    wgsl: () => wgsl(r),
  };
}

/**
 * What the three kernels that stream over keys (or queries, for dK/dV) share: one loop iteration per streamed
 * row (for dK/dV, per query row of each query head of the group, plus the loop over the group), and the
 * tolerance of an online softmax in f32 over up to T rows followed by a weighted sum of d-vectors.
 */
function streaming(name: string, over: 'keys' | 'queries') {
  return {
    loopIterations: (p: AttentionParams) =>
      over === 'keys' ? p.seq : (p.heads / kvHeadsOf(p)) * (queriesOf(p) + 1),
    tolerance: () => ({ rtol: 1e-4, atol: 1e-5 }),
    describe: (p: AttentionParams) => describe(name, p),
  };
}

const describe = (name: string, p: AttentionParams) =>
  `${name}(B ${p.batch}, H ${p.heads}${kvHeadsOf(p) === p.heads ? '' : `, KV ${kvHeadsOf(p)}`}, T ${p.seq}${p.queries === undefined ? '' : `, Tq ${p.queries}`}, d ${p.headDim}, ${p.causal ? 'causal' : 'bidirectional'}, ${p.layout ?? 'bhtd'})`;

const dot4 = (a: string, b: string) => `dot4(${a}, ${b})`;
const dotFn = `
fn dot4(a: array<vec4<f32>, D4>, b: array<vec4<f32>, D4>) -> f32 {
  var s = vec4<f32>(0.0);
  for (var c = 0u; c < D4; c++) { s = fma(a[c], b[c], s); }
  return s.x + s.y + s.z + s.w;
}`;

/** Key positions a sequence's query rows see: valid length, first query position, valid query rows. */
interface Span {
  len: number;
  qs: number;
  qlen: number;
}

/** CPU: the span of head bh's sequence, clamped as the WGSL prologue clamps it. */
function spanOf(
  lengths: ArrayLike<number>,
  queryStart: ArrayLike<number>,
  p: { heads: number; seq: number; queries?: number },
  bh: number,
): Span {
  const b = Math.floor(bh / p.heads);
  const len = Math.min(Math.max(lengths[b]!, 0), p.seq);
  const qs = Math.min(Math.max(queryStart[b]!, 0), len);
  return { len, qs, qlen: Math.min(len - qs, queriesOf(p)) };
}

/** Is key j visible from query row i (at key position qs + i)? */
function visible(causal: boolean, sp: Span, i: number, j: number): boolean {
  return i < sp.qlen && j < sp.len && (!causal || j <= sp.qs + i);
}

/**
 * CPU backward: for every visible (query row, key row) pair, in row order, the probability p_ij and the score
 * gradient dS_ij = p_ij·(dO_i·V_j − D_i), with each row's vector offset (the twins of dQ and of dK/dV share it).
 */
function backwardPairs(
  {
    Q: q,
    K: k,
    V: v,
    dO,
    LSE: lse,
    Drow: D,
    lengths,
    queryStart,
  }: Record<'Q' | 'K' | 'V' | 'dO' | 'LSE' | 'Drow' | 'lengths' | 'queryStart', ArrayLike<number>>,
  p: AttentionParams,
  visit: (qi: number, kj: number, pij: number, ds: number) => void,
): void {
  const d = p.headDim;
  const tq = queriesOf(p);
  for (let bh = 0; bh < p.batch * p.heads; bh++) {
    const sp = spanOf(lengths!, queryStart!, p, bh);
    for (let i = 0; i < sp.qlen; i++) {
      const qi = qrow(p, bh, i) * d;
      for (let j = 0; j < sp.len; j++) {
        if (!visible(p.causal, sp, i, j)) continue;
        const kj = krow(p, bh, j) * d;
        let s = 0;
        let dp = 0;
        for (let c = 0; c < d; c++) {
          s += q![qi + c]! * k![kj + c]!;
          dp += dO![qi + c]! * v![kj + c]!;
        }
        const pij = Math.exp(s * p.scale - lse![bh * tq + i]!);
        visit(qi, kj, pij, pij * (dp - D![bh * tq + i]!));
      }
    }
  }
}

/** CPU: per (b·h, query row) the scores over visible keys, with max and logsumexp. */
function cpuScores(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  p: AttentionParams,
  bh: number,
  i: number,
  sp: Span,
) {
  const d = p.headDim;
  const qi = qrow(p, bh, i) * d;
  const s = new Float64Array(p.seq).fill(Number.NEGATIVE_INFINITY);
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < p.seq; j++) {
    if (!visible(p.causal, sp, i, j)) continue;
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[qi + c]! * k[krow(p, bh, j) * d + c]!;
    s[j] = dot * p.scale;
    max = Math.max(max, s[j]!);
  }
  let sum = 0;
  for (let j = 0; j < p.seq; j++) if (s[j]! > Number.NEGATIVE_INFINITY) sum += Math.exp(s[j]! - max);
  return { s, lse: max + Math.log(sum) };
}

// ---------------------------------------------------------------------------------------------------

/** Inputs: q, k, v, lengths, queryStart, then the outputs o [B,H,Tq,d] and lse [B,H,Tq], written in place. */
export const attentionForward = defineKernel<AttentionParams>()({
  name: 'attentionForward',
  inputs: [vecQ('Q'), vecK('K'), vecK('V'), ...spans, vecQ('O', 'read_write'), perRow('LSE', 'read_write')],
  uniforms,
  validate: (p) => checkParams('attentionForward', p),
  cpu: ({ Q: q, K: k, V: v, lengths, queryStart, O: o, LSE: lse }, p) => {
    const d = p.headDim;
    const tq = queriesOf(p);
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const sp = spanOf(lengths!, queryStart!, p, bh);
      for (let i = 0; i < tq; i++) {
        const row = qrow(p, bh, i) * d;
        if (i >= sp.qlen) {
          o!.fill(0, row, row + d);
          lse![bh * tq + i] = 0;
          continue;
        }
        const { s, lse: l } = cpuScores(q!, k!, p, bh, i, sp);
        lse![bh * tq + i] = l;
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < p.seq; j++)
            if (visible(p.causal, sp, i, j)) acc += Math.exp(s[j]! - l) * v![krow(p, bh, j) * d + c]!;
          o![row + c] = acc;
        }
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launch('attentionForward', p, target, 'queries', (r) => {
      const rows = Array.from({ length: r }, (_, i) => i);
      return `${prologue(p, r, 'queries')}
  var q: array<array<vec4<f32>, D4>, R>;
  var acc: array<array<vec4<f32>, D4>, R>;
  var m: array<f32, R>;
  var l: array<f32, R>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, Tq - 1u);
    for (var c = 0u; c < D4; c++) { q[r][c] = Q[qrow(row) * D4 + c]; }
    m[r] = -3.0e38;
  }
  // Keys beyond the last valid row of this block are invisible to all of its rows.
  let kEnd = ${p.causal ? 'min(len, qs + row0 + R)' : 'len'};
  var kj: array<vec4<f32>, D4>;
  for (var j = 0u; j < kEnd; j++) {
    for (var c = 0u; c < D4; c++) { kj[c] = K[krow(j) * D4 + c]; }
    ${rows.map((i) => `let s${i} = ${dot4(`q[${i}]`, 'kj')} * scale;`).join('\n    ')}
    for (var c = 0u; c < D4; c++) { kj[c] = V[krow(j) * D4 + c]; }
    ${rows
      .map(
        (i) => `if (row0 + ${i}u < qlen${p.causal ? ` && j <= qs + row0 + ${i}u` : ''}) {
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
    if (row >= Tq) { break; }
    let valid = row < qlen;
    let inv = select(0.0, 1.0 / l[r], valid);
    for (var c = 0u; c < D4; c++) { O[qrow(row) * D4 + c] = acc[r][c] * inv; }
    LSE[base + row] = select(0.0, m[r] + log(l[r]), valid);
  }
}
${dotFn}`;
    }),
  ...streaming('attentionForward', 'keys'),
});

// ---------------------------------------------------------------------------------------------------

/** D = rowsum(dO ∘ O) per query row (0 on padded rows). Inputs: dO, O, lengths, queryStart. */
export const attentionRowDot = defineKernel<AttentionParams>()({
  name: 'attentionRowDot',
  inputs: [vecQ('dO'), vecQ('O'), ...spans],
  output: { size: rowCount, dtype: 'f32' },
  uniforms,
  validate: (p) => checkParams('attentionRowDot', p),
  cpu: ({ dO, O: o, lengths, queryStart }, p, out) => {
    const d = p.headDim;
    const tq = queriesOf(p);
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const { qlen } = spanOf(lengths!, queryStart!, p, bh);
      for (let i = 0; i < tq; i++) {
        const row = qrow(p, bh, i) * d;
        let s = 0;
        if (i < qlen) for (let c = 0; c < d; c++) s += dO![row + c]! * o![row + c]!;
        out[bh * tq + i] = s;
      }
    }
  },
  gpu: (p, _inputs, target) =>
    launch(
      'attentionRowDot',
      p,
      { ...target, variant: 'rows1' },
      'queries',
      (r) => `${prologue(p, r, 'queries')}
  var s = vec4<f32>(0.0);
  if (row0 < qlen) {
    for (var c = 0u; c < D4; c++) { s = fma(dO[qrow(row0) * D4 + c], O[qrow(row0) * D4 + c], s); }
  }
  out[base + row0] = s.x + s.y + s.z + s.w;
}`,
    ),
  tolerance: (p) => ({ rtol: 1e-5, atol: 1e-6 * p.headDim }),
  describe: (p) => describe('attentionRowDot', p),
});

// ---------------------------------------------------------------------------------------------------

/** dQ. Inputs: q, k, v, dO, lse, D, lengths, queryStart. */
/** What the two backward kernels read, in binding order. */
const backwardInputs = [
  vecQ('Q'),
  vecK('K'),
  vecK('V'),
  vecQ('dO'),
  perRow('LSE'),
  perRow('Drow'),
  ...spans,
] as const;

export const attentionGradQ = defineKernel<AttentionParams>()({
  name: 'attentionGradQ',
  inputs: backwardInputs,
  output: { name: 'dQ', size: qSize, dtype: 'f32', element: 'vec4<f32>' },
  uniforms,
  validate: (p) => checkParams('attentionGradQ', p),
  cpu: (inputs, p, out) => {
    const k = inputs.K;
    out.fill(0);
    backwardPairs(inputs, p, (qi, kj, _pij, ds) => {
      for (let c = 0; c < p.headDim; c++) out[qi + c]! += ds * k![kj + c]! * p.scale;
    });
  },
  gpu: (p, _inputs, target) =>
    launch('attentionGradQ', p, target, 'queries', (r) => {
      const rows = Array.from({ length: r }, (_, i) => i);
      return `${prologue(p, r, 'queries')}
  var q: array<array<vec4<f32>, D4>, R>;
  var g: array<array<vec4<f32>, D4>, R>;
  var acc: array<array<vec4<f32>, D4>, R>;
  var lse: array<f32, R>;
  var dd: array<f32, R>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, Tq - 1u);
    for (var c = 0u; c < D4; c++) {
      q[r][c] = Q[qrow(row) * D4 + c];
      g[r][c] = dO[qrow(row) * D4 + c];
    }
    lse[r] = LSE[base + row];
    dd[r] = Drow[base + row];
  }
  let kEnd = ${p.causal ? 'min(len, qs + row0 + R)' : 'len'};
  var kj: array<vec4<f32>, D4>;
  var vj: array<vec4<f32>, D4>;
  for (var j = 0u; j < kEnd; j++) {
    for (var c = 0u; c < D4; c++) {
      kj[c] = K[krow(j) * D4 + c];
      vj[c] = V[krow(j) * D4 + c];
    }
    ${rows
      .map(
        (i) => `if (row0 + ${i}u < qlen${p.causal ? ` && j <= qs + row0 + ${i}u` : ''}) {
      let pj = exp(${dot4(`q[${i}]`, 'kj')} * scale - lse[${i}]);
      let ds = pj * (${dot4(`g[${i}]`, 'vj')} - dd[${i}]);
      for (var c = 0u; c < D4; c++) { acc[${i}][c] = fma(vec4<f32>(ds), kj[c], acc[${i}][c]); }
    }`,
      )
      .join('\n    ')}
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row >= Tq) { break; }
    for (var c = 0u; c < D4; c++) { dQ[qrow(row) * D4 + c] = acc[r][c] * scale; }
  }
}
${dotFn}`;
    }),
  ...streaming('attentionGradQ', 'keys'),
});

// ---------------------------------------------------------------------------------------------------

/**
 * dK and dV ([B, KV, T, d] or [B, T, KV, d]). Inputs: q, k, v, dO, lse, D, lengths, queryStart, then dK and dV
 * written in place.
 */
export const attentionGradKV = defineKernel<AttentionParams>()({
  name: 'attentionGradKV',
  inputs: [...backwardInputs, vecK('dK', 'read_write'), vecK('dV', 'read_write')],
  uniforms,
  validate: (p) => checkParams('attentionGradKV', p),
  cpu: (inputs, p) => {
    const { Q: q, dO, dK, dV } = inputs;
    dK!.fill(0);
    dV!.fill(0);
    backwardPairs(inputs, p, (qi, kj, pij, ds) => {
      for (let c = 0; c < p.headDim; c++) {
        dV![kj + c]! += pij * dO![qi + c]!;
        dK![kj + c]! += ds * q![qi + c]! * p.scale;
      }
    });
  },
  gpu: (p, _inputs, target) =>
    launch('attentionGradKV', p, target, 'keys', (r) => {
      const rows = Array.from({ length: r }, (_, i) => i);
      return `${prologue(p, r, 'keys')}
  var k: array<array<vec4<f32>, D4>, R>;
  var v: array<array<vec4<f32>, D4>, R>;
  var accK: array<array<vec4<f32>, D4>, R>;
  var accV: array<array<vec4<f32>, D4>, R>;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, T - 1u);
    for (var c = 0u; c < D4; c++) {
      k[r][c] = K[krow(row) * D4 + c];
      v[r][c] = V[krow(row) * D4 + c];
    }
  }
  // Queries at positions before this block's first key row see none of its keys (causal).
  let iStart = ${p.causal ? 'select(0u, row0 - qs, row0 > qs)' : '0u'};
  var qi: array<vec4<f32>, D4>;
  var gi: array<vec4<f32>, D4>;
  // Every query head of this key/value head's group adds to the same dK and dV rows.
  for (var g = 0u; g < groupSize; g++) {
    let base = useQueryHead(b, kh * groupSize + g);
    for (var i = iStart; i < qlen; i++) {
      for (var c = 0u; c < D4; c++) {
        qi[c] = Q[qrow(i) * D4 + c];
        gi[c] = dO[qrow(i) * D4 + c];
      }
      let lse = LSE[base + i];
      let dd = Drow[base + i];
      ${rows
        .map(
          (j) => `if (row0 + ${j}u < len${p.causal ? ` && qs + i >= row0 + ${j}u` : ''}) {
        let pij = exp(${dot4('qi', `k[${j}]`)} * scale - lse);
        let ds = pij * (${dot4('gi', `v[${j}]`)} - dd);
        for (var c = 0u; c < D4; c++) {
          accV[${j}][c] = fma(vec4<f32>(pij), gi[c], accV[${j}][c]);
          accK[${j}][c] = fma(vec4<f32>(ds), qi[c], accK[${j}][c]);
        }
      }`,
        )
        .join('\n      ')}
    }
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row >= T) { break; }
    for (var c = 0u; c < D4; c++) {
      dK[krow(row) * D4 + c] = accK[r][c] * scale;
      dV[krow(row) * D4 + c] = accV[r][c];
    }
  }
}
${dotFn}`;
    }),
  ...streaming('attentionGradKV', 'queries'),
});

// ---------------------------------------------------------------------------------------------------

export interface MaskedSoftmaxParams {
  batch: number;
  heads: number;
  /** Keys T (and query rows unless `queries` is set). */
  seq: number;
  /** Query rows Tq (default `seq`), at key positions queryStart[b] + i as in the attention kernels. */
  queries?: number;
  causal: boolean;
}

/**
 * Row softmax of scores [B, H, Tq, T] over visible keys (the attention kernels' masks); invisible entries and
 * padded rows are 0. Inputs: scores, lengths, queryStart.
 */
const scoreCount = (p: MaskedSoftmaxParams) => p.batch * p.heads * queriesOf(p) * p.seq;

export const maskedSoftmax = defineKernel<MaskedSoftmaxParams>()({
  name: 'maskedSoftmax',
  inputs: [{ name: 'S', dtype: 'f32', size: scoreCount }, ...spans],
  output: { name: 'P', size: scoreCount, dtype: 'f32' },
  uniforms: { rows: 'u32', rowStride: 'u32', heads: 'u32', seq: 'u32', queries: 'u32' },
  validate: (p) => checkQueries('maskedSoftmax', p),
  cpu: ({ S: s, lengths, queryStart }, p, out) => {
    const tq = queriesOf(p);
    for (let bh = 0; bh < p.batch * p.heads; bh++) {
      const sp = spanOf(lengths!, queryStart!, p, bh);
      const vis = (i: number, j: number) => visible(p.causal, sp, i, j);
      for (let i = 0; i < tq; i++) {
        const row = (bh * tq + i) * p.seq;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < p.seq; j++) if (vis(i, j)) max = Math.max(max, s![row + j]!);
        let sum = 0;
        for (let j = 0; j < p.seq; j++) if (vis(i, j)) sum += Math.exp(s![row + j]! - max);
        for (let j = 0; j < p.seq; j++) out[row + j] = vis(i, j) ? Math.exp(s![row + j]! - max) / sum : 0;
      }
    }
  },
  gpu: (p, _inputs, target) => {
    const rows = p.batch * p.heads * queriesOf(p);
    const grid = grid1d(rows, target.maxWorkgroupsPerDimension, WG);
    const vis = p.causal ? '(i < qlen && j < len && j <= qs + i)' : '(i < qlen && j < len)';
    return {
      key: `maskedSoftmax:${p.causal ? 'causal' : 'full'}`,
      workgroups: grid.workgroups,
      uniforms: { rows, rowStride: grid.rowStride, heads: p.heads, seq: p.seq, queries: queriesOf(p) },
      wgsl: () => `${gridIndexFn}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gridIndex(gid, params.rowStride);
  if (r >= params.rows) { return; }
  let T = params.seq;
  let Tq = params.queries;
  let i = r % Tq;
  let b = r / Tq / params.heads;
  let len = min(u32(max(lengths[b], 0)), T);
  let qs = min(u32(max(queryStart[b], 0)), len);
  let qlen = min(len - qs, Tq);
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
    `maskedSoftmax(B ${p.batch}, H ${p.heads}, T ${p.seq}${p.queries === undefined ? '' : `, Tq ${p.queries}`}, ${p.causal ? 'causal' : 'bidirectional'})`,
});
