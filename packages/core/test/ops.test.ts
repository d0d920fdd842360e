/**
 * Op semantics and bad input: forward results of the non-differentiable ops on both backends, creation and
 * reading, and the errors users see for mismatched shapes, wrong dtypes and bad arguments.
 */
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  concat,
  crossEntropy,
  gather,
  layerNorm,
  matmul,
  rmsNorm,
  scatterAdd,
  tidy,
} from '../src/index.ts';
import { expectClose, useDevices } from './helpers.ts';

const devices = useDevices();

describe.each(['cpu', 'gpu'] as const)('forward semantics on %s', (which) => {
  const dev = () => devices[which];

  it('creates tensors from nested arrays, flat data and fills, and reads them back', async () => {
    await tidy(() =>
      dev().tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    )
      .toArray()
      .then((v) =>
        expect(v).toEqual([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      );
    expect(Array.from(await dev().full([2, 2], 3.5).data())).toEqual([3.5, 3.5, 3.5, 3.5]);
    expect(await dev().scalar(7, 'i32').item()).toBe(7);
    expect(await dev().zeros([0, 3]).toArray()).toEqual([]);
  });

  it('random creation is seeded and equal on both backends', async () => {
    const a = await dev().randn([5], { seed: 3 }).data();
    const b = await devices.cpu.randn([5], { seed: 3 }).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(await dev().randn([5], { seed: 4 }).data())).not.toEqual(Array.from(a));
  });

  it('comparisons give 0/1 floats; where and maskedFill select', async () => {
    const x = dev().tensor([1, 5, 3, -2]);
    expect(Array.from(await x.gt(2).data())).toEqual([0, 1, 1, 0]);
    expect(Array.from(await x.eq(3).data())).toEqual([0, 0, 1, 0]);
    expect(Array.from(await x.maskedFill(x.lt(0), 0).data())).toEqual([1, 5, 3, 0]);
  });

  it('integer ops stay integers; cast converts', async () => {
    const t = dev().tensor([7, -3, 2], [3], 'i32');
    const u = t.add(t).mul(dev().tensor([2, 2, 2], [3], 'i32'));
    expect(u.dtype).toBe('i32');
    expect(Array.from(await u.data())).toEqual([28, -12, 8]);
    expect(Array.from(await dev().tensor([1.9, -1.9]).cast('i32').data())).toEqual([1, -1]);
    expect(Array.from(await t.cast('f32').data())).toEqual([7, -3, 2]);
  });

  it('layout ops: transpose, slice, concat, tile vs repeat', async () => {
    const x = dev().tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(await x.transpose().toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(await x.slice([0, 1], [2, 3]).toArray()).toEqual([
      [2, 3],
      [5, 6],
    ]);
    expect(await concat([x, x.mul(10)], 0).toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [10, 20, 30],
      [40, 50, 60],
    ]);
    const v = dev().tensor([1, 2]);
    expect(await v.tile(0, 3).toArray()).toEqual([1, 2, 1, 2, 1, 2]);
    expect(await v.repeat(0, 3).toArray()).toEqual([1, 1, 1, 2, 2, 2]);
  });

  it('cross-entropy ignores ignore_index positions in the mean', async () => {
    const logits = dev().tensor([
      [0, 0],
      [10, 0],
      [0, 0],
    ]);
    const loss = crossEntropy(logits, dev().tensor([0, -100, 1], [3], 'i32'));
    expect(await loss.item()).toBeCloseTo(Math.log(2), 5);
  });
});

describe('embedding gradient', () => {
  it('host indices (sorted on the host) and device indices (scanned) give bit-identical sums', async () => {
    for (const [vocab, count] of [
      [97, 1031],
      [501, 70001],
    ] as const) {
      const idx = Array.from({ length: count }, (_, i) => (i * 31 + ((i * i) % 7)) % vocab);
      const src = devices.gpu.randn([count, 5], { seed: count });
      const host = devices.gpu.tensor(idx, [count], 'i32');
      const computed = host.add(0);
      expect(host.hostIndices).not.toBeNull();
      expect(computed.hostIndices, 'an op result has no host copy').toBeNull();
      const sorted = await scatterAdd(src, host, vocab).hostData();
      const scanned = await scatterAdd(src, computed, vocab).hostData();
      expect(Array.from(sorted)).toEqual(Array.from(scanned));
      // The same for a row block (rows 20..49 of the table).
      const block = await scatterAdd(src, host, 30, 20).hostData();
      expect(Array.from(block)).toEqual(Array.from(await scatterAdd(src, computed, 30, 20).hostData()));
      expect(Array.from(block)).toEqual(Array.from(sorted).slice(20 * 5, 50 * 5));
    }
  });
});

describe('long reductions run in chunks (llvmpipe stops loops after 65535 iterations)', () => {
  it('sum and max over 100003 elements, gather backward over 70001 indices, LayerNorm over 40000 rows', async () => {
    const { cpu, gpu } = devices;
    const n = 100003;
    const values = Array.from({ length: n }, (_, i) =>
      Math.fround(Math.sin(i) * 0.5 + ((i * 7919) % 13) / 26),
    );
    for (const [name, f] of [
      ['sum', (t: Tensor) => t.sum()],
      ['max', (t: Tensor) => t.max()],
      ['sum of rows', (t: Tensor) => t.slice([0], [100000]).reshape([2, 50000]).sum(1)],
    ] as const) {
      const g = await f(gpu.tensor(values)).hostData();
      const c = await f(cpu.tensor(values)).hostData();
      expectClose(g, c, { rtol: 1e-5, atol: 1e-3 }, name);
    }
    const count = 70001;
    const idx = Array.from({ length: count }, (_, i) => (i * 31) % 97);
    const grads = await Promise.all(
      [cpu, gpu].map(async (dev) => {
        const table = dev.ones([97, 3]).setRequiresGrad();
        gather(table, dev.tensor(idx, [count], 'i32'))
          .mul(dev.full([count, 3], 0.5))
          .sum()
          .backward();
        return table.grad!.hostData();
      }),
    );
    expectClose(grads[1]!, grads[0]!, { rtol: 1e-5, atol: 1e-3 }, 'embedding gradient over 70001 indices');
    const rows = 40000;
    const ln = await Promise.all(
      [cpu, gpu].map(async (dev) => {
        const w = dev.ones([2]).setRequiresGrad();
        const b = dev.zeros([2]).setRequiresGrad();
        const x = dev.tensor(values.slice(0, rows * 2), [rows, 2]);
        layerNorm(x, w, b)
          .mul(dev.tensor(values.slice(1, rows * 2 + 1), [rows, 2]))
          .sum()
          .backward();
        return [await w.grad!.hostData(), await b.grad!.hostData()];
      }),
    );
    expectClose(
      ln[1]![0]!,
      ln[0]![0]!,
      { rtol: 1e-4, atol: 1e-2 },
      'LayerNorm weight gradient over 40000 rows',
    );
    expectClose(
      ln[1]![1]!,
      ln[0]![1]!,
      { rtol: 1e-4, atol: 1e-2 },
      'LayerNorm bias gradient over 40000 rows',
    );
  });

  it('RMSNorm weight gradient over 70001 rows (past the limit itself, so one launch would be refused)', async () => {
    const [rows, dim] = [70001, 3];
    const x = Array.from({ length: rows * dim }, (_, i) => Math.fround(Math.sin(i * 0.37) + 0.1));
    const dy = Array.from({ length: rows * dim }, (_, i) => Math.fround(Math.cos(i * 0.11)));
    const [c, g] = await Promise.all(
      [devices.cpu, devices.gpu].map(async (dev) => {
        const w = dev.tensor([0.5, 1, 1.5]).setRequiresGrad();
        rmsNorm(dev.tensor(x, [rows, dim]), w, 1e-5)
          .mul(dev.tensor(dy, [rows, dim]))
          .sum()
          .backward();
        return w.grad!.hostData();
      }),
    );
    expectClose(g!, c!, { rtol: 1e-4, atol: 1e-2 }, 'RMSNorm weight gradient over 70001 rows');
  });
});

describe.each(['cpu', 'gpu'] as const)('bad input on %s', (which) => {
  const dev = () => devices[which];

  it('mismatched shapes name the op and both shapes', () => {
    expect(() =>
      dev()
        .ones([2, 3])
        .add(dev().ones([4])),
    ).toThrow('add: shapes [2, 3] and [4] cannot be broadcast together (axis -1: 3 vs 4)');
    expect(() => matmul(dev().ones([2, 3]), dev().ones([4, 5]))).toThrow(
      'matmul: inner dimensions differ: a [2, 3] has K=3, b [4, 5] has K=4',
    );
    expect(() => concat([dev().ones([2, 3]), dev().ones([3, 3])], 1)).toThrow(
      /concat: .*\[3, 3\].* does not match .*\[2, 3\]/,
    );
    expect(() => dev().ones([6]).reshape([4, 2])).toThrow(
      /reshape: .* has 6 elements, shape \[4, 2\] holds 8/,
    );
    expect(() => dev().ones([2, 3]).sum(2)).toThrow('sum: axis 2 is out of range for a tensor of rank 2');
    expect(() => dev().ones([2, 3]).slice([0, 1], [2, 5])).toThrow(
      /slice: range 1:5 on axis 1 is outside 0..3/,
    );
  });

  it('wrong dtypes are refused with the fix', () => {
    const ints = dev().tensor([1, 2], [2], 'i32');
    expect(() => ints.add(dev().ones([2]))).toThrow(/add: dtypes differ .*i32.*f32.*cast/);
    expect(() => ints.exp()).toThrow(/exp: expected a f32 tensor, got .*i32/);
    expect(() => gather(dev().ones([3, 2]), dev().ones([2]))).toThrow(
      /gather \(indices\): expected a i32 tensor/,
    );
    expect(() => crossEntropy(dev().ones([3, 2]), dev().ones([3]))).toThrow(
      /crossEntropy \(targets\): expected a i32/,
    );
    expect(() => dev().tensor([1.5], [1], 'i32')).toThrow(
      'tensor: i32 data holds a non-integer 1.5 at index 0',
    );
    expect(() => ints.setRequiresGrad()).toThrow(/only f32 tensors have gradients/);
  });

  it('backward needs a scalar or an explicit gradient', () => {
    const w = dev().ones([3]).setRequiresGrad();
    expect(() => w.mul(2).backward()).toThrow(/is not a scalar; pass the gradient/);
    expect(() => dev().ones([1]).backward()).toThrow(/does not require grad/);
  });
});

it('mixing devices is an error naming both tensors', () => {
  expect(() => devices.cpu.ones([2]).add(devices.gpu.ones([2]))).toThrow(
    /add: tensors on different devices .*cpu.*webgpu/,
  );
});
