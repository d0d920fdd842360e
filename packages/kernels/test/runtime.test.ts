/**
 * The WebGPU runtime: adapter choice and its errors, buffer pooling, pipeline caching, command batching,
 * debug mode and timestamp profiling.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CpuBackend,
  DebugBackend,
  KERNELS,
  WebGpuBackend,
  createBackend,
  deviceChoiceFromEnv,
} from '../src/index.ts';
import { sizeClass } from '../src/runtime/buffer-pool.ts';
import { checkAgainstTwin, openGpu, randomValues, testDeviceChoice } from './helpers.ts';

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.destroy());

describe('adapter', () => {
  it('reports the adapter it chose', () => {
    const a = gpu.adapter;
    expect(['vulkan', 'opengles']).toContain(a.backend);
    expect(a.description.length).toBeGreaterThan(0);
    expect(['core', 'compatibility']).toContain(a.featureLevel);
    expect(typeof a.isSoftware).toBe('boolean');
  });

  it('rejects an unknown REPRISE_DEVICE, naming the choices', () => {
    const before = process.env.REPRISE_DEVICE;
    process.env.REPRISE_DEVICE = 'cuda';
    try {
      expect(() => deviceChoiceFromEnv()).toThrow(
        /REPRISE_DEVICE=cuda is not a device: expected one of auto, cpu, vulkan, opengles/,
      );
    } finally {
      if (before === undefined) Reflect.deleteProperty(process.env, 'REPRISE_DEVICE');
      else process.env.REPRISE_DEVICE = before;
    }
  });

  it('refuses a limit the adapter lacks, naming the limit and both values', async () => {
    await expect(
      WebGpuBackend.create(testDeviceChoice(), {
        requiredLimits: { maxComputeWorkgroupStorageSize: 2 ** 30 },
      }),
    ).rejects.toThrow(
      /limit maxComputeWorkgroupStorageSize: requested 1073741824, but the .* adapter .* offers at most \d+/,
    );
  });

  it('without any adapter, lists what it tried and names the setup command', () => {
    // A child process whose Vulkan loader finds no driver.
    const script = `import('./packages/kernels/src/index.ts').then((k) => k.createBackend({ device: 'vulkan' })).then(() => console.log('found'), (e) => console.log(e.message))`;
    const out = execFileSync('npx', ['tsx', '-e', script], {
      env: { ...process.env, VK_DRIVER_FILES: '/nonexistent.json', VK_ICD_FILENAMES: '/nonexistent.json' },
      encoding: 'utf8',
    });
    expect(out).toMatch(
      /no WebGPU adapter found \(device 'vulkan'\)\. Tried: vulkan: .*bash scripts\/setup\.sh.*'cpu'/s,
    );
  });
});

describe('buffer pool, pipeline cache, batching', () => {
  it('size classes step by at most 25%', () => {
    for (const bytes of [1, 255, 256, 257, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1]) {
      const c = sizeClass(bytes);
      expect(c).toBeGreaterThanOrEqual(bytes);
      expect(c).toBeLessThanOrEqual(Math.max(256, bytes * 1.25 + 16));
    }
  });

  it('reuses released buffers and reports live and pooled bytes', () => {
    const before = gpu.memory();
    const a = gpu.upload(randomValues(1000), 'f32');
    const mid = gpu.memory();
    expect(mid.liveBuffers).toBe(before.liveBuffers + 1);
    expect(mid.liveBytes).toBe(before.liveBytes + sizeClass(4000));
    gpu.release(a);
    const after = gpu.memory();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.pooledBytes).toBeGreaterThanOrEqual(sizeClass(4000));
    const b = gpu.upload(randomValues(999), 'f32'); // same class: taken from the pool
    expect(gpu.memory().pooledBuffers).toBe(after.pooledBuffers - 1);
    gpu.release(b);
    expect(() => gpu.release(b)).toThrow(/used after release/);
  });

  it('batches many dispatches into few submits and compiles each pipeline once', async () => {
    const x = gpu.upload(randomValues(4096), 'f32');
    let y = gpu.run('unary', { xs: x }, { op: 'exp', size: 4096 });
    await gpu.read(y);
    const start = gpu.counters;
    for (let i = 0; i < 200; i++) {
      const next = gpu.run('unary', { xs: y }, { op: 'tanh', size: 4096 });
      gpu.release(y);
      y = next;
    }
    await gpu.read(y);
    const end = gpu.counters;
    // poisoned outputs add one fill per op; 400 dispatches fit in one batch (plus the read's flush)
    expect(end.dispatches - start.dispatches).toBe(400);
    expect(end.submits - start.submits).toBeLessThanOrEqual(2);
    expect(end.pipelines - start.pipelines).toBe(1); // the tanh pipeline, once
    gpu.release(x);
    gpu.release(y);
  });

  it('an upload into a buffer that queued work still reads does not overwrite that work', async () => {
    const x = gpu.upload([1, 2, 3, 4], 'f32');
    const y = gpu.run('unary', { xs: x }, { op: 'neg', size: 4 }); // queued, not yet submitted
    gpu.release(x); // x's buffer goes back to the pool while the queued neg still reads it
    const z = gpu.upload([9, 9, 9, 9], 'f32'); // takes the same buffer from the pool
    expect(Array.from(await gpu.read(y))).toEqual([-1, -2, -3, -4]);
    expect(Array.from(await gpu.read(z))).toEqual([9, 9, 9, 9]);
    gpu.release(y);
    gpu.release(z);
  });

  it('warms pipelines ahead of a run', async () => {
    const before = gpu.counters.pipelines;
    await gpu.warmup([
      { name: 'unary', inputs: [{ dtype: 'f32', size: 8 }], params: { op: 'sqrt', size: 8 } },
    ]);
    expect(gpu.counters.pipelines).toBe(before + 1);
  });
});

describe('debug mode', () => {
  it('names the op and shapes where WebGPU and the CPU twin first disagree', async () => {
    const debug = await createBackend({ device: testDeviceChoice(), debug: true });
    expect(debug).toBeInstanceOf(DebugBackend);
    const unary = KERNELS.unary!;
    const original = unary.cpu;
    // Make the twin of `exp` wrong for this test only.
    unary.cpu = (inputs, params, out) => {
      original(inputs, params, out);
      if (params.op === 'exp') out[3] = out[3]! + 1;
    };
    try {
      const x = debug.upload(randomValues(7), 'f32');
      const ok = debug.run('unary', { xs: x }, { op: 'tanh', size: 7 }, 'tanh');
      await debug.read(ok);
      const bad = debug.run('unary', { xs: x }, { op: 'exp', size: 7 }, 'exp (in my model)');
      await expect(debug.read(bad)).rejects.toThrow(
        /debug mode: op #2 exp \(in my model\): kernel unary exp\(size=7\).*element 3/,
      );
    } finally {
      unary.cpu = original;
      debug.destroy();
    }
  });

  it('reports an out-of-range gather index that the GPU would silently read as zeros', async () => {
    const debug = await createBackend({ device: testDeviceChoice(), debug: true });
    try {
      const table = debug.upload(randomValues(12), 'f32');
      const idx = debug.upload([0, 5], 'i32');
      const out = debug.run('gather', { table, idx }, { vocab: 4, dim: 3, count: 2 }, 'embedding');
      await expect(debug.read(out)).rejects.toThrow(
        /embedding.*index 5 at position 1 is outside the table's 4 rows/,
      );
    } finally {
      debug.destroy();
    }
  });

  it('flags NaN produced from finite inputs', async () => {
    const debug = await createBackend({ device: testDeviceChoice(), debug: true });
    try {
      const x = debug.upload([-1, 4], 'f32');
      const out = debug.run('unary', { xs: x }, { op: 'log', size: 2 }, 'log');
      await expect(debug.read(out)).rejects.toThrow(/log: kernel unary log\(size=2\).*NaN\/Inf at element 0/);
    } finally {
      debug.destroy();
    }
  });
});

describe('timestamp profiling', () => {
  it('times each kernel where the adapter has timestamp-query, and says so where it has not', async () => {
    const prof = await WebGpuBackend.create(testDeviceChoice(), { profile: true });
    try {
      if (!prof.context.device.features.has('timestamp-query')) {
        expect(prof.profiling).toBe(false);
        await expect(prof.profile()).rejects.toThrow(/profiling is off/);
        return;
      }
      const a = prof.upload(randomValues(64 * 64), 'f32');
      const p = {
        batch: 1,
        M: 64,
        N: 64,
        K: 64,
        transA: false,
        transB: false,
        aBatchStride: 0,
        bBatchStride: 0,
      };
      for (let i = 0; i < 3; i++) prof.release(prof.run('matmul', { A: a, B: a }, p));
      const report = await prof.profile();
      const mm = report.find((r) => r.kernel === 'matmul');
      expect(mm?.count).toBe(3);
      expect(mm!.totalMs).toBeGreaterThan(0);
    } finally {
      prof.destroy();
    }
  });
});

describe('limits', () => {
  it('a buffer beyond maxStorageBufferBindingSize is refused before any dispatch, naming the limit', () => {
    const limit = gpu.context.device.limits.maxStorageBufferBindingSize;
    const size = Math.floor(limit / 4) + 1;
    expect(() => gpu.run('fill', [], { size, value: 0, dtype: 'f32' })).toThrow(
      new RegExp(
        `buffer of ${size} elements \\(${size * 4} bytes\\) exceeds this adapter's limit maxStorageBufferBindingSize \\(${limit} bytes\\)`,
      ),
    );
  });
});

describe("llvmpipe's loop limit", () => {
  it('a launch whose invocation would loop past the adapter limit is refused on GLES and correct elsewhere', async () => {
    // LayerNorm statistics of one row of 40000 values: two passes, 80000 loop iterations in one invocation.
    const p = { rows: 1, dim: 40000, eps: 1e-5 };
    const values = randomValues(40000);
    const x = gpu.upload(values, 'f32');
    if (gpu.adapter.backend === 'opengles' && gpu.adapter.isSoftware) {
      expect(() => gpu.run('layerNormStats', { xs: x }, p)).toThrow(
        /one invocation would run 80000 loop iterations, more than the 65535 .*use the vulkan device/,
      );
    } else {
      const [mean, rstd] = Array.from(await gpu.read(gpu.run('layerNormStats', { xs: x }, p)));
      const cpu = new CpuBackend();
      const [refMean, refRstd] = Array.from(
        await cpu.read(cpu.run('layerNormStats', { xs: cpu.upload(values, 'f32') }, p)),
      );
      // f32 sums of 40000 values in [-1, 1): each add rounds by ≤ ½ ulp of the running sum. Even if all those
      // errors aligned, the mean moves by < 4e-6 (sum ≲ 128 → ½ ulp 3.8e-6, divided back by n); the sum of
      // squares (≈ 13300, ½ ulp 4.9e-4) drifts like a random walk, √40000·4.9e-4 / 13300 ≈ 7e-6 relative, and
      // rstd by half that (measured on lavapipe: 3e-10 and 4e-7). atol 1e-5 on the mean and rtol 1e-4 on rstd
      // leave a wide margin and still catch a pass that skips a chunk of the row or stops early (the adapter
      // limit this test is about); eps and the divisor n are pinned exactly by formulas.test.ts.
      expect(Math.abs(mean! - refMean!), `mean ${mean} vs twin ${refMean}`).toBeLessThan(1e-5);
      expect(Math.abs(rstd! - refRstd!) / refRstd!, `rstd ${rstd} vs twin ${refRstd}`).toBeLessThan(1e-4);
    }
    gpu.release(x);
  });

  it('row kernels switch to a workgroup per row for long rows, so they stay correct on every adapter', async () => {
    expect(
      await checkAgainstTwin(gpu, 'crossEntropyGrad', {
        inputs: [
          { data: randomValues(2 * 30000, -4, 4), dtype: 'f32' },
          { data: [123, 29999], dtype: 'i32' },
          { data: [1, -0.5], dtype: 'f32' },
        ],
        params: { rows: 2, cols: 30000, ignoreIndex: -100 },
      }),
    ).toBeNull();
  });
});
