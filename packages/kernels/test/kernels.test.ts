/**
 * Every kernel on WebGPU against its CPU twin, on random inputs (seeded from each test's name) at odd sizes,
 * with outputs poisoned (NaN) before each run so that an element a kernel forgets to write fails the comparison.
 * Tolerances are each kernel's own (see `tolerance` in its file, with the reasoning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGpuBackend } from '../src/index.ts';
import { BINARY_OPS, CpuBackend, UNARY_OPS, kernel, sortIndices } from '../src/index.ts';
import { type KernelCase, checkAgainstTwin, openGpu, randomInts, randomValues } from './helpers.ts';

const SIZES = [1, 7, 33, 129, 1031];
const f32 = (data: number[]) => ({ data, dtype: 'f32' as const });
const i32 = (data: number[]) => ({ data, dtype: 'i32' as const });
const contiguous = (shape: number[]) => {
  let s = 1;
  return shape.map((_, k) => shape.slice(k + 1).reduce((a, d) => a * d, 1)).map((x) => (s = x));
};

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.destroy());

async function expectCases(name: string, cases: KernelCase[]) {
  for (const c of cases) expect(await checkAgainstTwin(gpu, name, c)).toBeNull();
}

describe('elementwise kernels', () => {
  it('fill and cast', async () => {
    await expectCases(
      'fill',
      SIZES.flatMap((size) => [
        { inputs: [], params: { size, value: -2.5, dtype: 'f32' } },
        { inputs: [], params: { size, value: 7, dtype: 'i32' } },
      ]),
    );
    await expectCases(
      'cast',
      SIZES.flatMap((size) => [
        { inputs: [i32(randomInts(size, 1000))], params: { size, to: 'f32' } },
        { inputs: [f32(randomValues(size, -50, 50))], params: { size, to: 'i32' } },
      ]),
    );
  });

  it.each(Object.keys(UNARY_OPS))('unary %s', async (op) => {
    const positive = op === 'log' || op === 'sqrt';
    await expectCases(
      'unary',
      SIZES.map((size) => ({
        inputs: [f32(randomValues(size, positive ? 0.01 : -4, 4))],
        params: { op, size },
      })),
    );
  });

  // exp(−x) overflows f32 below x = −88: the WGSL forms go through exp(−|x|) and must stay finite and match there.
  it.each(['silu', 'silu_grad', 'gelu', 'gelu_grad'])('unary %s far into both tails', async (op) => {
    await expectCases('unary', [{ inputs: [f32(randomValues(257, -120, 120))], params: { op, size: 257 } }]);
  });

  it.each(Object.keys(BINARY_OPS))('binary %s with broadcasting', async (op) => {
    const shapes: [number[], number[], number[]][] = [
      [[7], [7], [7]],
      [
        [33, 5],
        [33, 5],
        [1, 5],
      ],
      [
        [3, 7, 5],
        [3, 1, 5],
        [7, 1],
      ],
      [[129], [129], []],
      [
        [2, 1031],
        [1, 1031],
        [2, 1],
      ],
    ];
    const cases = shapes.map(([out, a, b]) => {
      const n = (s: number[]) => s.reduce((x, d) => x * d, 1);
      const lo = op === 'pow' ? 0.1 : -3;
      const strides = (s: number[]) => {
        const own = contiguous(s);
        return out.map((_, k) => {
          const i = k - (out.length - s.length);
          return i < 0 || s[i] === 1 ? 0 : own[i]!;
        });
      };
      // Small integers make comparisons take both branches and hit equality.
      const values = (s: number[]) =>
        ['eq', 'ne', 'le', 'ge'].includes(op) ? randomInts(n(s), 3) : randomValues(n(s), lo, 3);
      return {
        inputs: [f32(values(a)), f32(op === 'div' ? values(b).map((v) => v + 4) : values(b))],
        params: { op, shape: out, aStrides: strides(a), bStrides: strides(b) },
      };
    });
    await expectCases('binary', cases);
  });

  it('binary on i32 inputs', async () => {
    for (const op of ['add', 'sub', 'mul', 'max', 'min', 'eq', 'lt']) {
      await expectCases('binary', [
        {
          inputs: [i32(randomInts(33, 50)), i32(randomInts(33, 50))],
          params: { op, shape: [33], aStrides: [1], bStrides: [1] },
        },
      ]);
    }
  });

  it('where with broadcasting', async () => {
    await expectCases('where', [
      {
        inputs: [f32(randomInts(7 * 33, 2)), f32(randomValues(33)), f32(randomValues(7 * 33))],
        params: { shape: [7, 33], condStrides: [33, 1], aStrides: [0, 1], bStrides: [33, 1] },
      },
      {
        inputs: [i32(randomInts(129, 2)), f32(randomValues(1)), f32(randomValues(129))],
        params: { shape: [129], condStrides: [1], aStrides: [0], bStrides: [1] },
      },
    ]);
  });
});

describe('layout kernels', () => {
  it('strided copies: permute, slice, expand, pad', async () => {
    const x = randomValues(3 * 7 * 33);
    await expectCases('strided', [
      // permute [3,7,33] -> [33,3,7]
      { inputs: [f32(x)], params: { shape: [33, 3, 7], strides: [1, 231, 33], offset: 0 } },
      // slice [1:3, 2:7, 5:32]
      { inputs: [f32(x)], params: { shape: [2, 5, 27], strides: [231, 33, 1], offset: 231 + 66 + 5 } },
      // expand [1, 33] -> [129, 33]
      { inputs: [f32(x.slice(0, 33))], params: { shape: [129, 33], strides: [0, 1], offset: 0 } },
      // pad [3, 7] into [5, 12] at (1, 4)
      {
        inputs: [f32(x.slice(0, 21))],
        params: { shape: [5, 12], strides: [7, 1], offset: 0, lo: [1, 4], extent: [3, 7] },
      },
      { inputs: [i32(randomInts(1031, 9))], params: { shape: [1031], strides: [1], offset: 0 } },
    ]);
  });

  it('concat', async () => {
    await expectCases(
      'concat',
      [1, 7, 33].map((outer) => ({
        inputs: [f32(randomValues(outer * 5)), f32(randomValues(outer * 129))],
        params: { outer, aInner: 5, bInner: 129 },
      })),
    );
  });
});

describe('reduce kernel', () => {
  it.each(['sum', 'max'])('%s over various axes', async (op) => {
    const cases: KernelCase[] = [
      // [7, 33] over the last axis, the first axis, and everything
      { outShape: [7], outStrides: [33], redShape: [33], redStrides: [1] },
      { outShape: [33], outStrides: [1], redShape: [7], redStrides: [33] },
      { outShape: [], outStrides: [], redShape: [7, 33], redStrides: [33, 1] },
      // [3, 7, 33] over axes 0 and 2 (a non-contiguous reduced set)
      { outShape: [7], outStrides: [33], redShape: [3, 33], redStrides: [231, 1] },
    ].map((p) => ({ inputs: [f32(randomValues(3 * 7 * 33))], params: { op, ...p } }));
    cases.push({
      inputs: [f32(randomValues(1031 * 3))],
      params: { op, outShape: [3], outStrides: [1031], redShape: [1031], redStrides: [1] },
    });
    // Chunked partials: 1031 elements per output in chunks of 129 (the last one shorter).
    cases.push({
      inputs: [f32(randomValues(1031 * 3))],
      params: { op, outShape: [3], outStrides: [1031], redShape: [1031], redStrides: [1], chunkSize: 129 },
    });
    await expectCases('reduce', cases);
  });
});

describe('matmul kernel', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 33, 7],
    [33, 1, 7],
    [7, 9, 1],
    [33, 129, 65],
    [129, 33, 12],
    [64, 64, 64],
    [200, 136, 68],
  ];
  // Each variant's generator paths (transposes × vec4/scalar operands) at every shape. The big llvmpipe blocks
  // (32×16, 32×32) take 3–15 s each to compile cold, so they run on two shapes that cover the vec4 and the scalar
  // paths; the smaller blocks (same generator, same paths) and `auto` run everything. On lavapipe, whose compiler
  // is slower still, only the adapter's own choice, the smallest block and the tiled variant run.
  const lavapipe = process.env.REPRISE_TEST_DEVICE === 'vulkan';
  const variants = lavapipe
    ? ['auto', 'register4x4', 'tiled']
    : [
        'auto',
        'register4x4',
        'register8x8',
        'register8x16',
        'register16x16',
        'register32x16',
        'register32x32',
        'tiled',
      ];
  const bigBlock = (variant: string) => variant === 'register32x16' || variant === 'register32x32';
  // One device per variant, shared by the two tests below (and its compiled pipelines with them).
  const opened = new Map<string, Promise<WebGpuBackend>>();
  const backendFor = (variant: string): Promise<WebGpuBackend> => {
    if (variant === 'auto') return Promise.resolve(gpu);
    if (!opened.has(variant)) opened.set(variant, openGpu({ matmul: variant }));
    return opened.get(variant)!;
  };
  afterAll(async () => {
    for (const b of opened.values()) (await b).destroy();
  });
  const covering: [number, number, number][] = [
    [33, 129, 65],
    [64, 64, 64],
  ];

  it.each(variants)(
    'variant %s: every transpose, odd and edge sizes, broadcast batch',
    { timeout: 600_000 },
    async (variant) => {
      const backend = await backendFor(variant);
      // 32×32 blocks compile in ~20 s each on a cold llvmpipe: the vec4 path only (the scalar path is the
      // same generator code, covered by every smaller block).
      const sizes = variant === 'register32x32' ? covering.slice(1) : bigBlock(variant) ? covering : shapes;
      for (const [M, N, K] of sizes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const batch = M * N * K < 50000 ? 3 : 1;
            const params = { batch, M, N, K, transA, transB, aBatchStride: M * K, bBatchStride: 0 };
            const c = { inputs: [f32(randomValues(batch * M * K)), f32(randomValues(K * N))], params };
            expect(await checkAgainstTwin(backend, 'matmul', c)).toBeNull();
          }
        }
      }
    },
  );

  // The epilogue is the same store code for every register block: the small blocks and tiled cover it.
  it.each(variants.filter((v) => !bigBlock(v)))(
    'variant %s: fused bias and residual epilogue',
    async (variant) => {
      const backend = await backendFor(variant);
      for (const [M, N, K] of covering) {
        for (const [bias, residual] of [
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          const params = {
            batch: 2,
            M,
            N,
            K,
            transA: false,
            transB: false,
            aBatchStride: M * K,
            bBatchStride: 0,
            bias,
            residual,
          };
          const inputs = [f32(randomValues(2 * M * K)), f32(randomValues(K * N))];
          if (bias) inputs.push(f32(randomValues(N)));
          if (residual) inputs.push(f32(randomValues(2 * M * N)));
          expect(await checkAgainstTwin(backend, 'matmul', { inputs, params })).toBeNull();
        }
      }
    },
  );
});

describe('matmul: operands through textures (llvmpipe)', () => {
  // Row lengths (the contiguous axis) that are multiples of 64 are read through rgba32float textures on llvmpipe:
  // each shape below gives at least one operand that qualifies, with odd other sides, batches with their own
  // rows and broadcast ones, and the epilogue. On other adapters the same cases run from buffers.
  const cases: { M: number; N: number; K: number; batch: number; bBatch: boolean }[] = [
    { M: 67, N: 128, K: 192, batch: 3, bBatch: false },
    { M: 128, N: 64, K: 131, batch: 2, bBatch: true },
    { M: 64, N: 37, K: 256, batch: 1, bBatch: false },
    { M: 192, N: 192, K: 64, batch: 2, bBatch: true },
  ];
  const texturesPay = () => gpu.adapter.isSoftware && gpu.adapter.backend === 'opengles';
  it.each(cases)('M $M, N $N, K $K, batch $batch (B per item: $bBatch), every transpose', async (c) => {
    const { M, N, K, batch } = c;
    let textured = 0;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const bBatchStride = c.bBatch ? K * N : 0;
        const params = { batch, M, N, K, transA, transB, aBatchStride: M * K, bBatchStride, bias: true };
        const inputs = [
          f32(randomValues(batch * M * K)),
          f32(randomValues((c.bBatch ? batch : 1) * K * N)),
          f32(randomValues(N)),
        ];
        const shapes = inputs.map((x) => ({ size: x.data.length, dtype: x.dtype }));
        const launch = kernel('matmul').gpu(params, shapes, gpu.target);
        textured += launch.textures.filter((t) => t !== null).length;
        expect(await checkAgainstTwin(gpu, 'matmul', { inputs, params })).toBeNull();
      }
    }
    // Not vacuous: where the adapter gains from textures, some operand of each shape went through one.
    if (texturesPay()) expect(textured).toBeGreaterThan(0);
  });
});

describe('rotary', () => {
  // Odd row counts, heads of 2, 6 and 32 columns, positions anywhere in the tables, both pairings, forward and
  // adjoint; random tables (the kernel does not need a pair's columns to share an angle).
  it.each([
    [1, 2, 2, 3],
    [37, 12, 6, 50],
    [301, 96, 32, 129],
  ])('%i rows of %i, heads of %i, tables of %i positions', async (rows, dim, headDim, tableRows) => {
    for (const pairing of ['half', 'interleaved'] as const) {
      for (const adjoint of [false, true]) {
        await expectCases('rotary', [
          {
            inputs: [
              f32(randomValues(rows * dim)),
              i32(randomInts(rows, tableRows)),
              f32(randomValues(tableRows * dim)),
              f32(randomValues(tableRows * dim)),
            ],
            params: { rows, dim, headDim, tableRows, pairing, adjoint },
          },
        ]);
      }
    }
  });
});

describe('gather and scatter-add', () => {
  it.each([
    [1, 1, 1],
    [7, 33, 5],
    [129, 7, 1031],
  ])('vocab %i, dim %i, count %i', async (vocab, dim, count) => {
    const idx = randomInts(count, vocab);
    await expectCases('gather', [
      { inputs: [f32(randomValues(vocab * dim)), i32(idx)], params: { vocab, dim, count } },
    ]);
    await expectCases('scatterAdd', [
      { inputs: [f32(randomValues(count * dim)), i32(idx)], params: { vocab, dim, count } },
    ]);
    const sorted = sortIndices(idx, vocab);
    await expectCases('scatterAddSorted', [
      {
        inputs: [f32(randomValues(count * dim)), i32([...sorted.order]), i32([...sorted.starts])],
        params: { vocab, dim, count, maxRun: sorted.maxRun },
      },
    ]);
  });

  // A row block (model/src/row-blocks.ts): rows offset .. offset + vocab − 1 of a table of 3·vocab + 2 rows;
  // indices outside it read as zeros and add nothing.
  it.each([
    [1, 3, 5, 0],
    [7, 33, 41, 7],
    [129, 7, 1031, 260],
  ])('row block of %i rows (dim %i, count %i) at row %i', async (vocab, dim, count, offset) => {
    const idx = randomInts(count, 3 * vocab + 2);
    const params = { vocab, dim, count, offset };
    await expectCases('gather', [{ inputs: [f32(randomValues(vocab * dim)), i32(idx)], params }]);
    await expectCases('scatterAdd', [{ inputs: [f32(randomValues(count * dim)), i32(idx)], params }]);
    const sorted = sortIndices(idx, vocab, offset);
    await expectCases('scatterAddSorted', [
      {
        inputs: [f32(randomValues(count * dim)), i32([...sorted.order]), i32([...sorted.starts])],
        params: { ...params, maxRun: sorted.maxRun },
      },
    ]);
  });

  it('sortIndices groups positions by row, stable, and refuses an index outside the table', () => {
    const s = sortIndices([2, 0, 2, 1, 2], 4);
    expect([...s.order]).toEqual([1, 3, 0, 2, 4]);
    expect([...s.starts]).toEqual([0, 1, 2, 5, 5]);
    expect(s.maxRun).toBe(3);
    expect(() => sortIndices([0, 4], 4)).toThrow(/index 4 at position 1 is outside the table's 4 rows/);
    // A block of rows 10..12: positions of indices outside it follow the block's, unread.
    const b = sortIndices([11, 3, 10, 11, 12, 13], 3, 10);
    expect([...b.starts]).toEqual([0, 1, 3, 4]);
    expect([...b.order]).toEqual([2, 0, 3, 4, 1, 5]);
    expect(b.maxRun).toBe(2);
    expect(() => sortIndices([11, -1], 3, 10)).toThrow(/index -1 at position 1 is outside/);
  });
});

describe('row kernels', () => {
  // One device per variant for every shape (row kernels only: the other kernels keep the adapter's choice).
  const rowBackends: Record<string, WebGpuBackend> = {};
  beforeAll(async () => {
    for (const variant of ['thread', 'workgroup'])
      rowBackends[variant] = await openGpu({
        softmax: variant,
        crossEntropy: variant,
        crossEntropyGrad: variant,
      });
  });
  afterAll(() => {
    for (const b of Object.values(rowBackends)) b.destroy();
  });

  it.each([
    [1, 1],
    [7, 33],
    [129, 7],
    [3, 1031],
  ])(
    'softmax, log-softmax and cross-entropy on [%i, %i], a thread and a workgroup per row',
    async (rows, cols) => {
      for (const variant of ['thread', 'workgroup']) await rowCases(rowBackends[variant]!, rows, cols);
    },
  );
});

async function rowCases(backend: WebGpuBackend, rows: number, cols: number) {
  const expectCases = async (name: string, cases: KernelCase[]) => {
    for (const c of cases) expect(await checkAgainstTwin(backend, name, c)).toBeNull();
  };
  {
    const x = f32(randomValues(rows * cols, -6, 6));
    await expectCases('softmax', [
      { inputs: [x], params: { rows, cols, log: false } },
      { inputs: [x], params: { rows, cols, log: true } },
    ]);
    const targets = randomInts(rows, cols).map((t, r) => (r % 3 === 1 ? -100 : t));
    const p = { rows, cols, ignoreIndex: -100 };
    await expectCases('crossEntropy', [{ inputs: [x, i32(targets)], params: p }]);
    const smoothed = { ...p, smoothing: 0.1 };
    await expectCases('crossEntropy', [{ inputs: [x, i32(targets)], params: smoothed }]);
    await expectCases('crossEntropyGrad', [
      { inputs: [x, i32(targets), f32(randomValues(rows))], params: p },
      { inputs: [x, i32(targets), f32(randomValues(rows))], params: smoothed },
    ]);
  }
}

describe('layerNorm kernels', () => {
  it.each([
    [1, 1],
    [7, 33],
    [129, 7],
    [3, 1031],
  ])('[%i, %i]: stats, apply, input and parameter gradients', async (rows, dim) => {
    const p = { rows, dim, eps: 1e-5 };
    const x = f32(randomValues(rows * dim, -3, 3).map((v, i) => v + (i % 5)));
    const cpu = new CpuBackend();
    const stats = f32(
      Array.from(await cpu.read(cpu.run('layerNormStats', { xs: cpu.upload(x.data, 'f32') }, p))),
    );
    const w = f32(randomValues(dim));
    const dy = f32(randomValues(rows * dim));
    await expectCases('layerNormStats', [{ inputs: [x], params: p }]);
    await expectCases('layerNormApply', [{ inputs: [x, stats, w, f32(randomValues(dim))], params: p }]);
    await expectCases('layerNormGradInput', [{ inputs: [x, stats, w, dy], params: p }]);
    await expectCases('layerNormGradParams', [{ inputs: [x, stats, dy], params: p }]);
  });
});

describe('RMSNorm kernels', () => {
  it.each([
    [1, 1, 1e-5],
    [7, 33, 1e-6],
    [37, 53, 1e-5],
    [129, 7, 1e-6],
    [3, 1031, 1e-5],
  ])('[%i, %i], eps %f: forward with its 1/rms, input and weight gradients', async (rows, dim, eps) => {
    const p = { rows, dim, eps };
    const n = rows * dim;
    // Offsets of 0..4 by position move rows off zero mean, where RMSNorm and LayerNorm differ most.
    const x = f32(randomValues(n, -3, 3).map((v, i) => v + (i % 5)));
    const w = f32(randomValues(dim));
    const dy = f32(randomValues(n));
    await expectCases('rmsNorm', [
      {
        inputs: [x, w, f32(new Array(n).fill(Number.NaN)), f32(new Array(rows).fill(Number.NaN))],
        params: p,
      },
    ]);
    // The backward kernels take 1/rms from the twin's forward (the values the GPU forward matched).
    const cpu = new CpuBackend();
    const [y, rstd] = [cpu.alloc(n, 'f32'), cpu.alloc(rows, 'f32')];
    cpu.runInPlace('rmsNorm', { xs: cpu.upload(x.data, 'f32'), w: cpu.upload(w.data, 'f32'), Y: y, rstd }, p);
    const r = f32(Array.from(await cpu.read(rstd)));
    await expectCases('rmsNormGradInput', [{ inputs: [x, r, w, dy], params: p }]);
    await expectCases('rmsNormGradWeight', [{ inputs: [x, r, dy], params: p }]);
  });
});

describe('dropout and AdamW', () => {
  it.each(SIZES)('dropout on %i elements: same mask as the twin, about p dropped', async (size) => {
    await expectCases('dropout', [
      { inputs: [f32(randomValues(size))], params: { size, p: 0.1, seed: 42 } },
      { inputs: [f32(randomValues(size))], params: { size, p: 0.5, seed: 7 } },
    ]);
    if (size > 1000) {
      const x = gpu.upload(new Array(size).fill(1), 'f32');
      const y = Array.from(await gpu.read(gpu.run('dropout', { xs: x }, { size, p: 0.3, seed: 3 })));
      const dropped = y.filter((v) => v === 0).length / size;
      expect(dropped).toBeGreaterThan(0.25);
      expect(dropped).toBeLessThan(0.35);
    }
  });

  it.each(SIZES)('adamw on %i elements updates the parameter and both moments in place', async (size) => {
    for (const step of [1, 10]) {
      await expectCases('adamw', [
        {
          inputs: [
            f32(randomValues(size)),
            f32(randomValues(size)),
            f32(randomValues(size, -0.1, 0.1)),
            f32(randomValues(size, 0, 0.01)),
            f32([0.5]),
          ],
          params: { size, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step },
        },
      ]);
    }
  });
});

describe('attention kernels', () => {
  // [batch, heads, seq, headDim, lengths, layout]; lengths shorter than seq exercise key padding and padded
  // rows. 'bthd' needs B and H above 1 to differ from 'bhtd'; its index math does not depend on d, so its
  // shapes keep d small (each layout is its own pipeline, and big-d compiles are slow).
  const shapes: [number, number, number, number, number[], 'bhtd' | 'bthd'][] = [
    [1, 1, 1, 16, [1], 'bhtd'],
    [1, 2, 7, 16, [7], 'bhtd'],
    [2, 1, 65, 32, [65, 40], 'bhtd'],
    [1, 2, 130, 64, [130], 'bhtd'],
    [2, 2, 33, 128, [1, 20], 'bhtd'],
    [2, 3, 9, 16, [9, 4], 'bthd'],
    [3, 2, 37, 32, [37, 1, 20], 'bthd'],
  ];
  const poisoned = (n: number) => f32(new Array(n).fill(Number.NaN));

  /**
   * The five kernels against their twins; queries [B·H·Tq·d] at key positions queryStart[b] + i, keys and values
   * [B·KV·T·d] (KV key/value heads; undefined: the parameter is left out, as every caller before GQA did).
   */
  async function checkAll(
    [B, H, T, d]: number[],
    lengths: number[],
    layout: 'bhtd' | 'bthd',
    Tq: number,
    starts: number[],
    KV?: number,
  ) {
    for (const causal of [true, false]) {
      const base = { batch: B!, heads: H!, seq: T!, headDim: d!, causal, scale: 1 / Math.sqrt(d!), layout };
      const p = KV === undefined ? base : { ...base, kvHeads: KV };
      const pq = Tq === T ? p : { ...p, queries: Tq };
      const [nq, nk] = [B! * H! * Tq * d!, B! * (KV ?? H!) * T! * d!];
      const rows = B! * H! * Tq;
      const [q, dO] = [0, 1].map(() => f32(randomValues(nq, -2, 2)));
      const [k, v] = [0, 1].map(() => f32(randomValues(nk, -2, 2)));
      const [len, qs] = [i32(lengths), i32(starts)];
      await expectCases('attentionForward', [
        { inputs: [q!, k!, v!, len, qs, poisoned(nq), poisoned(rows)], params: pq },
      ]);
      // The backward kernels take O and L from the twin's forward (same values the GPU forward matched).
      const cpu = new CpuBackend();
      const up = (x: { data: number[]; dtype: 'f32' | 'i32' }) => cpu.upload(x.data, x.dtype);
      const [o, lse] = [cpu.alloc(nq, 'f32'), cpu.alloc(rows, 'f32')];
      cpu.runInPlace(
        'attentionForward',
        { Q: up(q!), K: up(k!), V: up(v!), lengths: up(len), queryStart: up(qs), O: o, LSE: lse },
        pq,
      );
      const O = f32(Array.from(await cpu.read(o)));
      const L = f32(Array.from(await cpu.read(lse)));
      const D = f32(
        Array.from(
          await cpu.read(
            cpu.run('attentionRowDot', { dO: up(dO!), O: up(O), lengths: up(len), queryStart: up(qs) }, pq),
          ),
        ),
      );
      await expectCases('attentionRowDot', [{ inputs: [dO!, O, len, qs], params: pq }]);
      await expectCases('attentionGradQ', [{ inputs: [q!, k!, v!, dO!, L, D, len, qs], params: pq }]);
      await expectCases('attentionGradKV', [
        { inputs: [q!, k!, v!, dO!, L, D, len, qs, poisoned(nk), poisoned(nk)], params: pq },
      ]);
      // The masked softmax of the unfused path sees scores [B, H, Tq, T]: no layout, head dim or key/value heads.
      const sp = { batch: B!, heads: H!, seq: T!, causal, ...(Tq === T ? {} : { queries: Tq }) };
      await expectCases('maskedSoftmax', [
        { inputs: [f32(randomValues(B! * H! * Tq * T!, -4, 4)), len, qs], params: sp },
      ]);
    }
  }

  // Cold llvmpipe compiles of the d = 64 and d = 128 kernels take 100–190 s on a loaded 2-core machine (the
  // default 180 s timeout was hit), as the big matmul blocks do.
  it.each(shapes)(
    'B %i, H %i, T %i, d %i, lengths %j, layout %s: forward and backward kernels, causal and not',
    { timeout: 600_000 },
    (B, H, T, d, lengths, layout) => checkAll([B, H, T, d], lengths, layout, T, new Array(B).fill(0)),
  );

  // Fewer queries than keys, at per-sequence offsets: [batch, heads, seq, queries, lengths, queryStart, layout].
  // Odd sizes; rows past a sequence's length are padding (sequence 1 of the first, all of sequence 2 of the
  // second); d = 16 reuses the pipelines above (Tq is a uniform, not part of the pipeline key).
  const offsets: [number, number, number, number, number[], number[], 'bhtd' | 'bthd'][] = [
    [2, 2, 13, 5, [13, 9], [8, 6], 'bthd'],
    [3, 1, 11, 4, [11, 7, 2], [7, 3, 2], 'bhtd'],
    [1, 3, 70, 9, [70], [61], 'bhtd'],
    [2, 3, 9, 9, [9, 4], [0, 1], 'bthd'],
  ];
  it.each(offsets)(
    'B %i, H %i, T %i, Tq %i, lengths %j, queryStart %j, layout %s: queries at an offset, causal and not',
    { timeout: 600_000 },
    (B, H, T, Tq, lengths, starts, layout) => checkAll([B, H, T, 16], lengths, layout, Tq, starts),
  );

  // Grouped-query attention: [batch, heads, kvHeads, seq, queries, d, lengths, queryStart, layout]. Odd T and Tq,
  // padding, offsets; KV = H (a group of 1, given explicitly) must match the cases above. d = 16 and 32 reuse
  // the pipelines above (kvHeads is a uniform).
  const grouped: [number, number, number, number, number, number, number[], number[], 'bhtd' | 'bthd'][] = [
    [2, 6, 2, 37, 37, 16, [37, 20], [0, 0], 'bhtd'],
    [2, 6, 2, 33, 33, 32, [33, 1], [0, 0], 'bthd'],
    [1, 3, 1, 13, 13, 16, [13], [0], 'bhtd'],
    [3, 3, 1, 11, 11, 16, [11, 7, 2], [0, 0, 0], 'bthd'],
    [2, 6, 3, 13, 5, 16, [13, 9], [8, 4], 'bthd'],
    [2, 2, 2, 9, 9, 16, [9, 4], [0, 0], 'bthd'],
  ];
  it.each(grouped)(
    'B %i, H %i, KV %i, T %i, Tq %i, d %i, lengths %j, queryStart %j, layout %s: grouped-query heads',
    { timeout: 600_000 },
    (B, H, KV, T, Tq, d, lengths, starts, layout) => checkAll([B, H, T, d], lengths, layout, Tq, starts, KV),
  );

  it('rejects a kvHeads that does not divide heads', () => {
    const p = { batch: 1, heads: 6, kvHeads: 4, seq: 4, headDim: 4, causal: true, scale: 1 };
    expect(() =>
      gpu.run(
        'attentionRowDot',
        {
          dO: gpu.alloc(96, 'f32'),
          O: gpu.alloc(96, 'f32'),
          lengths: gpu.alloc(1, 'i32'),
          queryStart: gpu.alloc(1, 'i32'),
        },
        p,
      ),
    ).toThrow(/kvHeads 4 must be a positive divisor of heads 6/);
  });

  it('rejects head dims that are not a multiple of 4', () => {
    const p = { batch: 1, heads: 1, seq: 4, headDim: 6, causal: true, scale: 1 };
    expect(() =>
      gpu.run(
        'attentionRowDot',
        {
          dO: gpu.alloc(24, 'f32'),
          O: gpu.alloc(24, 'f32'),
          lengths: gpu.alloc(1, 'i32'),
          queryStart: gpu.alloc(1, 'i32'),
        },
        p,
      ),
    ).toThrow(/head dim 6 must be a multiple of 4/);
  });
});
