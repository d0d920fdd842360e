/**
 * @file Batched matmul C[b] = op(A[b]) · op(B[b]), op = identity or transpose, chosen per operand without
 * materializing the transpose. A batch stride of 0 broadcasts an operand over the batch.
 *
 * Two variants, chosen per adapter (`chooseMatmulVariant`):
 *  - `register`: no workgroup memory; each invocation owns a TM×TN block of C in private vec4 accumulators
 *    and reads A and B as vec4s along their contiguous axes, so that few loads feed many fmas. Fast on
 *    llvmpipe, where barriers and workgroup memory are slow and loads cost more than math (docs/runtime.md).
 *  - `tiled`: the classic 64×64 workgroup tile in workgroup memory, 4×4 outputs per invocation, for real GPUs.
 * Both clamp load indices at the edges (no branches in the inner loop) and guard only the stores, so every
 * size works, including 1×N, N×1 and K = 1.
 */
import { TEXTURE_ROW_TEXELS, type TextureOperand, defineKernel } from './kernel.ts';
import type { GpuTarget } from './kernel.ts';

export interface MatmulParams {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** A is stored [K, M] per batch instead of [M, K]. */
  transA: boolean;
  /** B is stored [N, K] per batch instead of [K, N]. */
  transB: boolean;
  /** Elements between consecutive batch items (0 = broadcast). */
  aBatchStride: number;
  bBatchStride: number;
  /** Epilogue: add a bias [N] (the next input) to every row. Saves the separate add's pass. */
  bias?: boolean;
  /** Epilogue: add a residual shaped like C [batch, M, N] (the input after the bias, if any). */
  residual?: boolean;
}

/** `+ Bias[col] + Res[index]` for the enabled epilogue terms (indices in C's element type). */
function epilogueTerms(p: MatmulParams, col: string, index: string): string {
  return `${p.bias ? ` + Bias[${col}]` : ''}${p.residual ? ` + Res[${index}]` : ''}`;
}

export type MatmulVariant = { kind: 'register'; tm: number; tn: number } | { kind: 'tiled' };

/** The per-adapter table (measured, see docs/perf-notes.md); `target.variant` overrides it. */
export function chooseMatmulVariant(p: MatmulParams, target: GpuTarget): MatmulVariant {
  const forced = target.variant;
  if (forced === 'tiled') return { kind: 'tiled' };
  const reg = /^register(\d+)x(\d+)$/.exec(forced ?? '');
  if (reg) {
    const [tm, tn] = [Number(reg[1]), Number(reg[2])];
    if (tm % 4 || tn % 4 || !tm || !tn)
      throw new Error(`matmul variant ${forced}: block sides must be multiples of 4`);
    return { kind: 'register', tm, tn };
  }
  if (!target.isSoftware) return { kind: 'tiled' };
  // lavapipe (Vulkan): 4×4 measured as fast as 16×16 at 512–1024 and compiles in ~0.4 s instead of ~9 s.
  if (target.backend === 'vulkan') return { kind: 'register', tm: 4, tn: 4 };
  // llvmpipe: bigger blocks load less per flop (32×32: ~1.3× 16×16 at 512–1024), but need enough outputs to fill
  // both cores (llvmpipe runs one workgroup per core thread) and take longer to compile (32×32: ~7 s cold).
  const outputs = p.batch * p.M * p.N;
  const [tm, tn] =
    outputs >= 512 * 512 ? [32, 32] : outputs >= 160 * 160 ? [32, 16] : outputs >= 80 * 80 ? [8, 16] : [8, 8];
  // Thin operands: no block taller than M (clamped rows are wasted work), and N wide enough for the 8 SIMD lanes
  // that run neighbouring invocations along x.
  const shrink = (t: number, ok: (t: number) => boolean) => [32, 16, 8].find((c) => c <= t && ok(c)) ?? 4;
  return { kind: 'register', tm: shrink(tm, (c) => c <= p.M), tn: shrink(tn, (c) => 8 * c <= p.N) };
}

const vt = (vec4: boolean) => (vec4 ? 'vec4<f32>' : 'f32');

/**
 * The texture an operand is read through, where the adapter gains from it (`target.maxTextureSide`) and the
 * operand fits one: rows of `rowLength` floats (its contiguous axis) a multiple of 64 (copies need 256-byte
 * rows), batch items starting on whole rows, both sides within the limit.
 */
function textureOperand(
  rowLength: number,
  itemSize: number,
  batchStride: number,
  batch: number,
  target: GpuTarget,
): TextureOperand | null {
  if (rowLength % (4 * TEXTURE_ROW_TEXELS) !== 0 || batchStride % rowLength !== 0) return null;
  const width = rowLength / 4;
  const height = (batchStride * (batch - 1) + itemSize) / rowLength;
  return width <= target.maxTextureSide && height <= target.maxTextureSide ? { width, height } : null;
}

const WG = 8; // register variant: 8×8 invocations per workgroup
const TILE = 64; // tiled variant
const TILE_K = 16;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** WGSL index of element (m, k) of A, and (k, n) of B, relative to the batch base. */
const aIndex = (t: boolean, m: string, k: string) => (t ? `(${k}) * M + (${m})` : `(${m}) * K + (${k})`);
const bIndex = (t: boolean, k: string, n: string) => (t ? `(${n}) * K + (${k})` : `(${k}) * N + (${n})`);

/**
 * The register kernel. llvmpipe runs one invocation per SIMD lane, and every storage-buffer load becomes a per-lane
 * loop with a bounds check whose cost grows with the number of loads more than with their width. So each operand is
 * read as vec4s along its contiguous axis, every loaded value feeds a whole row or column of the TM×TN block, and
 * values are loaded just before use (every private value costs a SIMD register or a spill slot).
 * Edge indices are clamped once, before the K loop; only the stores are guarded.
 */
function registerWgsl(
  p: MatmulParams,
  tm: number,
  tn: number,
  aVec: boolean,
  bVec: boolean,
  cVec: boolean,
  aTex = false,
  bTex = false,
) {
  const { transA, transB } = p;
  // A texture operand (vec4 operands only) holds the operand's rows (over all batch items) as rows of texels:
  // texel (x, y) is elements 4x .. 4x + 3 of row y, its contiguous axis. Each batch item starts at row
  // `aRows`/`bRows` (its batch stride over the row length).
  const texel = (t: string, x: string, y: string) => `textureLoad(${t}, vec2<i32>(i32(${x}), i32(${y})), 0)`;
  const I = range(tm);
  const J = range(tn);
  const C4 = range(tn / 4);
  // An operand stored K-contiguous (A as [M, K], B as [N, K]) gives 4 values of k per vec4 load: then K advances
  // in chunks of 4. Otherwise one vec4 holds 4 rows of A (Aᵀ) or 4 columns of B, and K advances by 1.
  const aAlongK = aVec && !transA;
  const bAlongK = bVec && transB;
  const step = aAlongK || bAlongK ? 4 : 1;
  const KK = range(step);
  const kAt = (kk: number) => (kk ? `k + ${kk}u` : 'k');

  // Per-invocation bases, clamped once so that edge invocations read valid (ignored) values.
  const setup: string[] = [];
  if (aTex) setup.push(`let aRows = gid.z * (params.aBatchStride / ${transA ? 'M' : 'K'});`);
  if (bTex) setup.push(`let bRows = gid.z * (params.bBatchStride / ${transB ? 'K' : 'N'});`);
  if (transA && aVec)
    range(tm / 4).forEach((q) => setup.push(`let aq${q} = min((row0 >> 2u) + ${q}u, (M >> 2u) - 1u);`));
  else if (transA) I.forEach((i) => setup.push(`let ar${i} = min(row0 + ${i}u, M - 1u);`));
  else if (aTex) I.forEach((i) => setup.push(`let ar${i} = aRows + min(row0 + ${i}u, M - 1u);`));
  else I.forEach((i) => setup.push(`let ar${i} = aBase + min(row0 + ${i}u, M - 1u) * K;`));
  if (!transB && bVec)
    C4.forEach((c) => setup.push(`let bq${c} = min((col0 >> 2u) + ${c}u, (N >> 2u) - 1u);`));
  else if (!transB) J.forEach((j) => setup.push(`let bc${j} = min(col0 + ${j}u, N - 1u);`));
  else if (bTex) J.forEach((j) => setup.push(`let bc${j} = bRows + min(col0 + ${j}u, N - 1u);`));
  else J.forEach((j) => setup.push(`let bc${j} = bBase + min(col0 + ${j}u, N - 1u) * K;`));

  // B for the whole step is loaded first (tn/4 vec4s per k); bv(kk, c) is B[k + kk, col0 + 4c .. + 3].
  const body: string[] = [];
  let bv: (kk: number, c: number) => string;
  if (bAlongK) {
    J.forEach((j) =>
      body.push(`let bt${j} = ${bTex ? texel('B', 'k >> 2u', `bc${j}`) : `B[(bc${j} + k) >> 2u]`};`),
    );
    bv = (kk, c) => `vec4<f32>(${range(4).map((e) => `bt${4 * c + e}[${kk}]`)})`;
  } else if (bVec) {
    const load = (kk: number, c: number) =>
      bTex ? texel('B', `bq${c}`, `bRows + ${kAt(kk)}`) : `B[((bBase + (${kAt(kk)}) * N) >> 2u) + bq${c}]`;
    KK.forEach((kk) => C4.forEach((c) => body.push(`let b${kk}_${c} = ${load(kk, c)};`)));
    bv = (kk, c) => `b${kk}_${c}`;
  } else {
    KK.forEach((kk) =>
      J.forEach((j) =>
        body.push(
          `let b${kk}_${j} = B[${transB ? `bc${j} + ${kAt(kk)}` : `bBase + (${kAt(kk)}) * N + bc${j}`}];`,
        ),
      ),
    );
    bv = (kk, c) => `vec4<f32>(${range(4).map((e) => `b${kk}_${4 * c + e}`)})`;
  }
  // Then A, one value (or vec4) at a time, each followed by the fmas that use it.
  const fmaRow = (i: number, kk: number, a: string) =>
    C4.map((c) => `acc${i}_${c} = fma(vec4<f32>(${a}), ${bv(kk, c)}, acc${i}_${c});`).join(' ');
  if (aAlongK) {
    I.forEach((i) => {
      body.push(`{ let a = ${aTex ? texel('A', 'k >> 2u', `ar${i}`) : `A[(ar${i} + k) >> 2u]`};`);
      KK.forEach((kk) => body.push(`  ${fmaRow(i, kk, `a[${kk}]`)}`));
      body.push('}');
    });
  } else {
    KK.forEach((kk) => {
      if (aVec) {
        const load = (q: number) =>
          aTex
            ? texel('A', `aq${q}`, `aRows + ${kAt(kk)}`)
            : `A[((aBase + (${kAt(kk)}) * M) >> 2u) + aq${q}]`;
        range(tm / 4).forEach((q) => body.push(`let a${kk}_${q} = ${load(q)};`));
        I.forEach((i) => body.push(fmaRow(i, kk, `a${kk}_${i >> 2}[${i & 3}]`)));
      } else {
        I.forEach((i) => {
          const idx = transA ? `aBase + (${kAt(kk)}) * M + ar${i}` : `ar${i} + ${kAt(kk)}`;
          body.push(`{ let a = A[${idx}]; ${fmaRow(i, kk, 'a')} }`);
        });
      }
    });
  }

  // The last K % 4 steps, one k at a time, with scalar loads. (Never run with a texture operand: its vec4 axis
  // makes K a multiple of the step. Compiled all the same: a texture's element idx is in texel idx / 4.)
  const scalar = (name: string, vec: boolean, tex: boolean) =>
    tex
      ? `${texel(name, `(idx >> 2u) % textureDimensions(${name}).x`, `(idx >> 2u) / textureDimensions(${name}).x`)}[idx & 3u]`
      : vec
        ? `${name}[idx >> 2u][idx & 3u]`
        : `${name}[idx]`;
  const loadA = scalar('A', aVec, aTex);
  const loadB = scalar('B', bVec, bTex);
  // Element indices (a texture operand's ar/bc are rows, not offsets).
  const aTail = (i: number) =>
    transA
      ? `aBase + k * M + ${aVec ? `min(row0 + ${i}u, M - 1u)` : `ar${i}`}`
      : aTex
        ? `aBase + min(row0 + ${i}u, M - 1u) * K + k`
        : `ar${i} + k`;
  const bTail = (j: number) =>
    transB
      ? bTex
        ? `bBase + min(col0 + ${j}u, N - 1u) * K + k`
        : `bc${j} + k`
      : `bBase + k * N + ${bVec ? `min(col0 + ${j}u, N - 1u)` : `bc${j}`}`;
  const tail = [
    ...J.map((j) => `let tb${j} = loadB(${bTail(j)});`),
    ...I.map(
      (i) =>
        `{ let a = loadA(${aTail(i)}); ${C4.map((c) => `acc${i}_${c} = fma(vec4<f32>(a), vec4<f32>(${range(4).map((e) => `tb${4 * c + e}`)}), acc${i}_${c});`).join(' ')} }`,
    ),
  ];
  const stores = I.map((i) => {
    const row = C4.map((c) =>
      cVec
        ? `if (col0 + ${4 * c}u < N) { C[(cRow + col0 + ${4 * c}u) >> 2u] = acc${i}_${c}${epilogueTerms(p, `(col0 + ${4 * c}u) >> 2u`, `(cRow + col0 + ${4 * c}u) >> 2u`)}; }`
        : range(4)
            .map(
              (e) =>
                `if (col0 + ${4 * c + e}u < N) { C[cRow + col0 + ${4 * c + e}u] = acc${i}_${c}[${e}]${epilogueTerms(p, `col0 + ${4 * c + e}u`, `cRow + col0 + ${4 * c + e}u`)}; }`,
            )
            .join('\n      '),
    ).join('\n      ');
    return `if (row0 + ${i}u < M) {\n      let cRow = cBase + (row0 + ${i}u) * N;\n      ${row}\n    }`;
  });
  return `
fn loadA(idx: u32) -> f32 { return ${loadA}; }
fn loadB(idx: u32) -> f32 { return ${loadB}; }

@compute @workgroup_size(${WG}, ${WG}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= M || col0 >= N) { return; }
  let aBase = gid.z * params.aBatchStride;
  let bBase = gid.z * params.bBatchStride;
  let cBase = gid.z * M * N;
  ${setup.join('\n  ')}
  ${I.flatMap((i) => C4.map((c) => `var acc${i}_${c} = vec4<f32>(0.0);`)).join(' ')}
  let K4 = K - K % ${step}u;
  for (var k = 0u; k < K4; k += ${step}u) {
    ${body.join('\n    ')}
  }
  for (var k = K4; k < K; k++) {
    ${tail.join('\n    ')}
  }
  ${stores.join('\n  ')}
}`;
}

function tiledWgsl(p: MatmulParams) {
  const { transA, transB } = p;
  // Loads run along each operand's contiguous axis, so neighbouring invocations read neighbouring addresses.
  const aCoord = transA
    ? `let kk = e / ${TILE}u; let m = e % ${TILE}u;`
    : `let m = e / ${TILE_K}u; let kk = e % ${TILE_K}u;`;
  const bCoord = transB
    ? `let n = e / ${TILE_K}u; let kk = e % ${TILE_K}u;`
    : `let kk = e / ${TILE}u; let n = e % ${TILE}u;`;
  const perThread = (TILE * TILE_K) / 256;
  return `
var<workgroup> As: array<f32, ${TILE * TILE_K}>;
var<workgroup> Bs: array<f32, ${TILE * TILE_K}>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let aBase = wid.z * params.aBatchStride;
  let bBase = wid.z * params.bBatchStride;
  let tid = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < K; k0 += ${TILE_K}u) {
    for (var l = 0u; l < ${perThread}u; l++) {
      let e = tid + l * 256u;
      {
        ${aCoord}
        let gm = row0 + m;
        let gk = k0 + kk;
        var v = 0.0;
        if (gm < M && gk < K) { v = A[aBase + ${aIndex(transA, 'gm', 'gk')}]; }
        As[kk * ${TILE}u + m] = v;
      }
      {
        ${bCoord}
        let gn = col0 + n;
        let gk = k0 + kk;
        var v = 0.0;
        if (gn < N && gk < K) { v = B[bBase + ${bIndex(transB, 'gk', 'gn')}]; }
        Bs[kk * ${TILE}u + n] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TILE_K}u; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = As[kk * ${TILE}u + lid.y * 4u + i];
        b[i] = Bs[kk * ${TILE}u + lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  let cBase = wid.z * M * N;
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + lid.x * 4u + j;
      if (r < M && c < N) { C[cBase + r * N + c] = acc[i][j]${epilogueTerms(p, 'c', 'cBase + r * N + c')}; }
    }
  }
}`;
}

const outSize = (p: MatmulParams) => p.batch * p.M * p.N;

export const matmul = defineKernel<MatmulParams>()({
  name: 'matmul',
  inputs: [
    { name: 'A', dtype: 'f32', size: (p) => p.aBatchStride * (p.batch - 1) + p.M * p.K },
    { name: 'B', dtype: 'f32', size: (p) => p.bBatchStride * (p.batch - 1) + p.K * p.N },
    { name: 'Bias', dtype: 'f32', size: (p) => p.N, when: (p) => !!p.bias },
    { name: 'Res', dtype: 'f32', size: outSize, when: (p) => !!p.residual },
  ],
  output: { name: 'C', size: outSize, dtype: 'f32' },
  uniforms: { M: 'u32', N: 'u32', K: 'u32', aBatchStride: 'u32', bBatchStride: 'u32' },
  cpu: ({ A: a, B: b, Bias: bias, Res: res }, p, out) => {
    const { M, N, K } = p;
    const acc = new Float64Array(N);
    for (let z = 0; z < p.batch; z++) {
      const aB = z * p.aBatchStride;
      const bB = z * p.bBatchStride;
      for (let m = 0; m < M; m++) {
        acc.fill(0);
        for (let k = 0; k < K; k++) {
          const av = a![aB + (p.transA ? k * M + m : m * K + k)]!;
          if (p.transB) for (let n = 0; n < N; n++) acc[n]! += av * b![bB + n * K + k]!;
          else for (let n = 0; n < N; n++) acc[n]! += av * b![bB + k * N + n]!;
        }
        const row = (z * M + m) * N;
        for (let n = 0; n < N; n++) out[row + n] = acc[n]! + (bias?.[n] ?? 0) + (res?.[row + n] ?? 0);
      }
    }
  },
  gpu: (p, _inputs, target) => {
    if (p.batch > target.maxWorkgroupsPerDimension) {
      throw new Error(
        `matmul: batch ${p.batch} exceeds maxComputeWorkgroupsPerDimension ${target.maxWorkgroupsPerDimension}`,
      );
    }
    const { M, N, K, aBatchStride, bBatchStride } = p;
    const uniforms = { M, N, K, aBatchStride, bBatchStride };
    const t = `${+p.transA}${+p.transB}${p.bias ? 'b' : ''}${p.residual ? 'r' : ''}`;
    const v = chooseMatmulVariant(p, target);
    if (v.kind === 'tiled') {
      return {
        key: `matmul:tiled:${t}`,
        workgroups: [Math.ceil(p.N / TILE), Math.ceil(p.M / TILE), p.batch],
        uniforms,
        wgsl: () => tiledWgsl(p),
      };
    }
    // vec4 access needs the operand's contiguous axis (and its batch stride) to be a multiple of 4.
    const aVec = (p.transA ? p.M : p.K) % 4 === 0 && p.aBatchStride % 4 === 0 && v.tm % 4 === 0;
    const bVec = (p.transB ? p.K : p.N) % 4 === 0 && p.bBatchStride % 4 === 0;
    const cVec = p.N % 4 === 0;
    const aTex = aVec
      ? textureOperand(p.transA ? p.M : p.K, p.M * p.K, p.aBatchStride, p.batch, target)
      : null;
    const bTex = bVec
      ? textureOperand(p.transB ? p.K : p.N, p.K * p.N, p.bBatchStride, p.batch, target)
      : null;
    return {
      key: `matmul:reg${v.tm}x${v.tn}:${t}:${+aVec}${+bVec}${+cVec}:${+!!aTex}${+!!bTex}`,
      workgroups: [Math.ceil(p.N / (v.tn * WG)), Math.ceil(p.M / (v.tm * WG)), p.batch],
      uniforms,
      elements: { A: vt(aVec), B: vt(bVec), C: vt(cVec), Bias: vt(cVec), Res: vt(cVec) },
      textures: { ...(aTex && { A: aTex }), ...(bTex && { B: bTex }) },
      wgsl: () => registerWgsl(p, v.tm, v.tn, aVec, bVec, cVec, !!aTex, !!bTex),
    };
  },
  // The K loop (chunks of 4 or single steps, plus the tail) or, tiled, K/16 tiles.
  loopIterations: (p) => p.K + 4,
  // f32 products summed over K: rounding error ≲ K·2^-24·max|a·b| in the worst case, ~√K typically.
  tolerance: (p) => ({ rtol: 1e-4, atol: 1e-6 * (p.K + 1) }),
  describe: (p) =>
    `matmul(batch ${p.batch}, M ${p.M}, N ${p.N}, K ${p.K}${p.transA ? ', Aᵀ' : ''}${p.transB ? ', Bᵀ' : ''}${p.bias ? ', +bias' : ''}${p.residual ? ', +residual' : ''})`,
});
