/**
 * @file Batched matmul C[b] = op(A[b]) · op(B[b]), op = identity or transpose, chosen per operand without
 * materializing the transpose. A batch stride of 0 broadcasts an operand over the batch.
 *
 * Two variants, chosen per adapter (`chooseMatmulVariant`):
 *  - `register`: no workgroup memory; each invocation owns a TM×TN block of C in private vec4 accumulators
 *    and streams K in chunks of 4 with vec4 loads wherever the contiguous axis allows. Fast on llvmpipe,
 *    where barriers and workgroup memory are slow (RUNTIME.md).
 *  - `tiled`: the classic 64×64 workgroup tile in workgroup memory, 4×4 outputs per invocation, for real GPUs.
 * Both clamp load indices at the edges (no branches in the inner loop) and guard only the stores, so every
 * size works, including 1×N, N×1 and K = 1.
 */
import { assertInputs, defineKernel } from './kernel.ts';
import type { GpuTarget } from './kernel.ts';
import { paramsDecl } from './wgsl.ts';

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
}

export type MatmulVariant = { kind: 'register'; tm: number; tn: number } | { kind: 'tiled' };

/** The per-adapter table (measured, see docs/perf-notes.md); `target.variant` overrides it. */
export function chooseMatmulVariant(p: MatmulParams, target: GpuTarget): MatmulVariant {
  const forced = target.variant;
  if (forced === 'tiled') return { kind: 'tiled' };
  const reg = /^register(\d+)x(\d+)$/.exec(forced ?? '');
  if (reg) return { kind: 'register', tm: Number(reg[1]), tn: Number(reg[2]) };
  if (!target.isSoftware) return { kind: 'tiled' };
  if (target.backend === 'vulkan') return { kind: 'register', tm: 4, tn: 8 };
  // llvmpipe runs one workgroup per core thread: small outputs need smaller blocks to fill both cores.
  const outputs = p.batch * p.M * p.N;
  if (outputs >= 384 * 384) return { kind: 'register', tm: 16, tn: 16 };
  if (outputs >= 96 * 96) return { kind: 'register', tm: 8, tn: 8 };
  return { kind: 'register', tm: 4, tn: 4 };
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

function registerWgsl(p: MatmulParams, tm: number, tn: number, aVec: boolean, bVec: boolean, cVec: boolean) {
  const { transA, transB } = p;
  const I = range(tm);
  const J = range(tn);
  const C4 = range(tn / 4);
  const KK = range(4);
  const lines: string[] = [];
  // Loads of one K-chunk of 4 into registers, and the scalar expressions they provide.
  let aval: (i: number, kk: number) => string;
  let bval: (kk: number, c: number) => string;
  if (aVec && !transA) {
    I.forEach((i) => lines.push(`let a${i} = A[(aBase + r${i} * K + k) >> 2u];`));
    aval = (i, kk) => `a${i}[${kk}]`;
  } else if (aVec && transA) {
    KK.forEach((kk) =>
      range(tm / 4).forEach((q) =>
        lines.push(`let a${kk}_${q} = A[((aBase + (k + ${kk}u) * M) >> 2u) + min((row0 >> 2u) + ${q}u, (M >> 2u) - 1u)];`),
      ),
    );
    aval = (i, kk) => `a${kk}_${i >> 2}[${i & 3}]`;
  } else {
    I.forEach((i) => KK.forEach((kk) => lines.push(`let a${i}_${kk} = A[aBase + ${aIndex(transA, `r${i}`, `k + ${kk}u`)}];`)));
    aval = (i, kk) => `a${i}_${kk}`;
  }
  if (bVec && !transB) {
    KK.forEach((kk) =>
      C4.forEach((c) =>
        lines.push(`let b${kk}_${c} = B[((bBase + (k + ${kk}u) * N) >> 2u) + min((col0 >> 2u) + ${c}u, (N >> 2u) - 1u)];`),
      ),
    );
    bval = (kk, c) => `b${kk}_${c}`;
  } else if (bVec && transB) {
    J.forEach((j) => lines.push(`let bt${j} = B[(bBase + c${j} * K + k) >> 2u];`));
    bval = (kk, c) => `vec4<f32>(${range(4).map((e) => `bt${4 * c + e}[${kk}]`)})`;
  } else {
    KK.forEach((kk) => J.forEach((j) => lines.push(`let b${kk}_${j} = B[bBase + ${bIndex(transB, `k + ${kk}u`, `c${j}`)}];`)));
    bval = (kk, c) => `vec4<f32>(${range(4).map((e) => `b${kk}_${4 * c + e}`)})`;
  }
  const fmas = KK.flatMap((kk) =>
    I.flatMap((i) => C4.map((c) => `acc${i}_${c} = fma(vec4<f32>(${aval(i, kk)}), ${bval(kk, c)}, acc${i}_${c});`)),
  );
  const loadA = aVec ? 'A[idx >> 2u][idx & 3u]' : 'A[idx]';
  const loadB = bVec ? 'B[idx >> 2u][idx & 3u]' : 'B[idx]';
  const tail = [
    ...I.map((i) => `let ta${i} = loadA(aBase + ${aIndex(transA, `r${i}`, 'k')});`),
    ...J.map((j) => `let tb${j} = loadB(bBase + ${bIndex(transB, 'k', `c${j}`)});`),
    ...I.flatMap((i) =>
      C4.map(
        (c) => `acc${i}_${c} = fma(vec4<f32>(ta${i}), vec4<f32>(${range(4).map((e) => `tb${4 * c + e}`)}), acc${i}_${c});`,
      ),
    ),
  ];
  const stores = I.map((i) => {
    const body = C4.map((c) =>
      cVec
        ? `if (col0 + ${4 * c}u < N) { C[(cRow + col0 + ${4 * c}u) >> 2u] = acc${i}_${c}; }`
        : range(4)
            .map((e) => `if (col0 + ${4 * c + e}u < N) { C[cRow + col0 + ${4 * c + e}u] = acc${i}_${c}[${e}]; }`)
            .join('\n      '),
    ).join('\n      ');
    return `if (row0 + ${i}u < M) {\n      let cRow = cBase + (row0 + ${i}u) * N;\n      ${body}\n    }`;
  });
  const vt = (v: boolean) => (v ? 'vec4<f32>' : 'f32');
  return `
@group(0) @binding(0) var<storage, read> A: array<${vt(aVec)}>;
@group(0) @binding(1) var<storage, read> B: array<${vt(bVec)}>;
@group(0) @binding(2) var<storage, read_write> C: array<${vt(cVec)}>;
${paramsDecl(3)}
fn loadA(idx: u32) -> f32 { return ${loadA}; }
fn loadB(idx: u32) -> f32 { return ${loadB}; }

@compute @workgroup_size(${WG}, ${WG}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = pu(0u);
  let N = pu(1u);
  let K = pu(2u);
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  if (row0 >= M || col0 >= N) { return; }
  let aBase = gid.z * pu(3u);
  let bBase = gid.z * pu(4u);
  let cBase = gid.z * M * N;
  ${I.map((i) => `let r${i} = min(row0 + ${i}u, M - 1u);`).join(' ')}
  ${J.map((j) => `let c${j} = min(col0 + ${j}u, N - 1u);`).join(' ')}
  ${I.flatMap((i) => C4.map((c) => `var acc${i}_${c} = vec4<f32>(0.0);`)).join(' ')}
  let K4 = K & ~3u;
  for (var k = 0u; k < K4; k += 4u) {
    ${lines.join('\n    ')}
    ${fmas.join('\n    ')}
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
  const aCoord = transA ? `let kk = e / ${TILE}u; let m = e % ${TILE}u;` : `let m = e / ${TILE_K}u; let kk = e % ${TILE_K}u;`;
  const bCoord = transB ? `let n = e / ${TILE_K}u; let kk = e % ${TILE_K}u;` : `let kk = e / ${TILE}u; let n = e % ${TILE}u;`;
  const perThread = (TILE * TILE_K) / 256;
  return `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
${paramsDecl(3)}
var<workgroup> As: array<f32, ${TILE * TILE_K}>;
var<workgroup> Bs: array<f32, ${TILE * TILE_K}>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = pu(0u);
  let N = pu(1u);
  let K = pu(2u);
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let aBase = wid.z * pu(3u);
  let bBase = wid.z * pu(4u);
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
      if (r < M && c < N) { C[cBase + r * N + c] = acc[i][j]; }
    }
  }
}`;
}

export const matmul = defineKernel<MatmulParams>({
  name: 'matmul',
  output: (p, inputs) => {
    const aNeed = p.aBatchStride * (p.batch - 1) + p.M * p.K;
    const bNeed = p.bBatchStride * (p.batch - 1) + p.K * p.N;
    assertInputs('matmul', inputs, [
      ['f32', aNeed],
      ['f32', bNeed],
    ]);
    return { size: p.batch * p.M * p.N, dtype: 'f32' };
  },
  cpu: ([a, b], p, out) => {
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
        out.set(acc, (z * M + m) * N);
      }
    }
  },
  gpu: (p, _inputs, target) => {
    if (p.batch > target.maxWorkgroupsPerDimension) {
      throw new Error(`matmul: batch ${p.batch} exceeds maxComputeWorkgroupsPerDimension ${target.maxWorkgroupsPerDimension}`);
    }
    const uniforms = [p.M, p.N, p.K, p.aBatchStride, p.bBatchStride];
    const t = `${+p.transA}${+p.transB}`;
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
    return {
      key: `matmul:reg${v.tm}x${v.tn}:${t}:${+aVec}${+bVec}${+cVec}`,
      workgroups: [Math.ceil(p.N / (v.tn * WG)), Math.ceil(p.M / (v.tm * WG)), p.batch],
      uniforms,
      wgsl: () => registerWgsl(p, v.tm, v.tn, aVec, bVec, cVec),
    };
  },
  // f32 products summed over K: rounding error ≲ K·2^-24·max|a·b| in the worst case, ~√K typically.
  tolerance: (p) => ({ rtol: 1e-4, atol: 1e-6 * (p.K + 1) }),
  describe: (p) =>
    `matmul(batch ${p.batch}, M ${p.M}, N ${p.N}, K ${p.K}${p.transA ? ', Aᵀ' : ''}${p.transB ? ', Bᵀ' : ''})`,
});
