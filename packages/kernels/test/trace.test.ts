/**
 * @file The dispatch recorder and its replay (runtime/trace.ts, runtime/replay.ts): what a trace captures for a
 * tiny known graph, that replaying a recorded dispatch into fresh buffers gives the same values, and that a
 * backend without a trace records nothing and dispatches exactly as many kernels as with one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DispatchReplayer, type Storage, type TracedDispatch, type WebGpuBackend } from '../src/index.ts';
import { openGpu, randomValues } from './helpers.ts';

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await openGpu(); // poison on: every output is filled first, one `fill` dispatch per allocation
});
afterAll(() => gpu?.destroy());

const [M, K, N] = [5, 7, 3];

/** C = A·B, D = C + bias (broadcast over rows), s = sum(D): three kernels (plus three poison fills). */
function graph(b: WebGpuBackend, a: Storage, w: Storage, bias: Storage): Storage[] {
  const c = b.run(
    'matmul',
    { A: a, B: w },
    {
      batch: 1,
      M,
      N,
      K,
      transA: false,
      transB: false,
      aBatchStride: 0,
      bBatchStride: 0,
    },
  );
  const d = b.run(
    'binary',
    { lhs: c, rhs: bias },
    { op: 'add', shape: [M, N], aStrides: [N, 1], bStrides: [0, 1] },
  );
  const s = b.run(
    'reduce',
    { xs: d },
    {
      op: 'sum',
      outShape: [],
      outStrides: [],
      redShape: [M * N],
      redStrides: [1],
    },
  );
  return [c, d, s];
}

async function readBuffer(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  const device = gpu.context.device;
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

describe('dispatch trace', () => {
  const inputs = () => [
    gpu.upload(randomValues(M * K), 'f32'),
    gpu.upload(randomValues(K * N), 'f32'),
    gpu.upload(randomValues(N), 'f32'),
  ];

  it('records each dispatch of a matmul + add + sum, in order, with its buffers and uploads', async () => {
    const before = gpu.counters;
    const trace = gpu.startTrace();
    const ins = inputs();
    const outs = graph(gpu, ins[0]!, ins[1]!, ins[2]!);
    gpu.stopTrace();
    await gpu.sync();
    const after = gpu.counters;
    const kernels = trace.dispatches.map((d) => d.kernel);
    expect(kernels).toEqual(['fill', 'matmul', 'fill', 'binary', 'fill', 'reduce']);
    expect(after.dispatches - before.dispatches).toBe(kernels.length);
    expect(after.allocations - before.allocations).toBe(6); // three uploads, three outputs
    expect(trace.events.filter((e) => e.kind === 'upload')).toHaveLength(3);
    const [, mm, , add, , sum] = trace.dispatches as TracedDispatch[];
    // The matmul's output buffer is what the add reads, and the add's output what the sum reads.
    expect(add!.buffers[0]).toBe(mm!.buffers[2]);
    expect(sum!.buffers[0]).toBe(add!.buffers[2]);
    expect(mm!.written).toEqual([2]);
    expect(mm!.describe).toContain('matmul');
    for (const s of [...ins, ...outs]) gpu.release(s);
  });

  it('replaying a recorded dispatch into fresh buffers reproduces its output exactly', async () => {
    const trace = gpu.startTrace();
    const ins = inputs();
    const outs = graph(gpu, ins[0]!, ins[1]!, ins[2]!);
    gpu.stopTrace();
    const want = await Promise.all(outs.map((s) => gpu.read(s)));
    const replayer = new DispatchReplayer(gpu.context.device);
    const recorded = trace.dispatches.filter((d) => d.kernel !== 'fill');
    for (const [i, d] of recorded.entries()) {
      const fresh = replayer.cloneBuffers(d);
      const out = fresh.length - 1;
      // Poison the clone of the output so that a replay that writes nothing cannot pass.
      gpu.context.device.queue.writeBuffer(
        fresh[out]!,
        0,
        new Float32Array(fresh[out]!.size / 4).fill(Number.NaN),
      );
      replayer.run(d, fresh);
      const got = await readBuffer(fresh[out]!, want[i]!.length * 4);
      expect(Array.from(got), d.describe).toEqual(Array.from(want[i]!));
      for (const b of fresh) b.destroy();
    }
    replayer.destroy();
    for (const s of [...ins, ...outs]) gpu.release(s);
  });

  it('timing a whole trace gives a positive time for every dispatch and leaves the results as they were', async () => {
    const trace = gpu.startTrace();
    const ins = inputs();
    const outs = graph(gpu, ins[0]!, ins[1]!, ins[2]!);
    gpu.stopTrace();
    const want = await gpu.read(outs[2]!);
    const replayer = new DispatchReplayer(gpu.context.device);
    const timings = await replayer.timeTrace(trace.events, 2);
    expect(timings.map((t) => t.dispatch.kernel)).toEqual(trace.dispatches.map((d) => d.kernel));
    for (const t of timings) expect(t.medianMs).toBeGreaterThan(0);
    expect(await replayer.roundTripMs(3)).toBeGreaterThan(0);
    expect(Array.from(await gpu.read(outs[2]!))).toEqual(Array.from(want));
    replayer.destroy();
    for (const s of [...ins, ...outs]) gpu.release(s);
  });

  it('replaying an in-place kernel restores its inputs before each repetition', async () => {
    const size = 300;
    const start = [randomValues(size), randomValues(size), randomValues(size), randomValues(size, 0, 1)];
    const params = { size, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
    /** AdamW traced, then its trace replayed with `reps` repetitions: the parameter as replay leaves it. */
    const replayed = async (reps: number) => {
      const trace = gpu.startTrace();
      const ins = [...start.map((x) => gpu.upload(x, 'f32')), gpu.upload([1], 'f32')];
      gpu.runInPlace(
        'adamw',
        { param: ins[0]!, grad: ins[1]!, m: ins[2]!, v: ins[3]!, scale: ins[4]! },
        params,
      );
      gpu.stopTrace();
      const once = await gpu.read(ins[0]!);
      const replayer = new DispatchReplayer(gpu.context.device);
      await replayer.timeTrace(trace.events, reps);
      replayer.destroy();
      const after = await gpu.read(ins[0]!);
      for (const s of ins) gpu.release(s);
      return { once, after };
    };
    const one = await replayed(1);
    const four = await replayed(4);
    expect(Array.from(four.once)).toEqual(Array.from(one.once));
    // Uploads are replayed too, so either way the replay ends one AdamW update after the start, as recorded.
    expect(Array.from(four.after)).toEqual(Array.from(one.once));
    expect(Array.from(one.after)).toEqual(Array.from(one.once));
  });

  it('with no trace on, nothing is recorded and the same dispatches run', async () => {
    const trace = gpu.startTrace();
    gpu.stopTrace();
    const before = gpu.counters;
    const ins = inputs();
    const outs = graph(gpu, ins[0]!, ins[1]!, ins[2]!);
    await gpu.sync();
    expect(gpu.counters.dispatches - before.dispatches).toBe(6);
    expect(trace.events).toHaveLength(0);
    expect(() => gpu.stopTrace()).toThrow(/no trace is recording/);
    for (const s of [...ins, ...outs]) gpu.release(s);
  });
});
