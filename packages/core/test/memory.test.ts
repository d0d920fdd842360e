/**
 * Memory: scopes, dispose, graph release, and a leak test (a few hundred MLP training steps on WebGPU keep
 * live bytes and buffer count flat).
 */
import { describe, expect, it } from 'vitest';
import { type Device, Rng, SGD, type Tensor, crossEntropy, keep, noGrad, tidy } from '../src/index.ts';
import { useDevices } from './helpers.ts';

const devices = useDevices();

describe.each(['cpu', 'gpu'] as const)('scopes on %s', (which) => {
  it('tidy frees what it does not return, keep() survives, returned tensors survive', () => {
    const dev = devices[which];
    const before = dev.memory().liveBuffers;
    let kept: Tensor | undefined;
    const out = tidy(() => {
      const a = dev.ones([4, 4]);
      const b = a.mul(2).add(1);
      kept = keep(a.sub(1));
      return b.sum();
    });
    expect(dev.memory().liveBuffers).toBe(before + 2);
    expect(() => out.storage).not.toThrow();
    out.dispose();
    kept!.dispose();
    expect(dev.memory().liveBuffers).toBe(before);
  });

  it('a graph returned from tidy keeps what backward needs, and backward releases it', async () => {
    const dev = devices[which];
    const w = dev.randn([3, 3], { seed: 4 }).setRequiresGrad();
    const before = dev.memory().liveBuffers;
    const loss = tidy(() => w.tanh().mul(w.exp()).sum());
    expect(dev.memory().liveBuffers).toBeGreaterThan(before + 1); // intermediates held by the graph
    loss.backward();
    expect(dev.memory().liveBuffers).toBe(before + 2); // loss and w.grad
    expect(await w.grad!.data()).toHaveLength(9);
    loss.dispose();
    w.zeroGrad();
    expect(dev.memory().liveBuffers).toBe(before);
    w.dispose();
  });

  it('reading a disposed tensor is a clear error', async () => {
    const t = devices[which].ones([2]);
    t.dispose();
    await expect(t.data()).rejects.toThrow(/was disposed and cannot be used/);
    expect(() => t.add(1)).toThrow(/was disposed/);
    const inner = tidy(() => devices[which].ones([2]).mul(1) && devices[which].zeros([3]));
    expect(inner.isDisposed).toBe(false);
    inner.dispose();
  });

  it('noGrad records nothing; detach cuts the graph', () => {
    const dev = devices[which];
    const w = dev.ones([2]).setRequiresGrad();
    const y = noGrad(() => w.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    const m = w.mul(2);
    const z = m.detach();
    expect(z.requiresGrad).toBe(false);
    expect(m.node).not.toBeNull();
    for (const t of [w, y, z, m]) t.dispose();
  });

  it('disposing a graph output without backward frees what only its graph held', () => {
    const dev = devices[which];
    const w = dev.ones([5]).setRequiresGrad();
    const before = dev.memory().liveBuffers;
    const a = tidy(() => w.exp().mul(3).add(w));
    const b = tidy(() => w.exp().mul(2));
    expect(dev.memory().liveBuffers).toBeGreaterThan(before + 2);
    a.dispose();
    b.dispose();
    expect(dev.memory().liveBuffers).toBe(before);
    w.dispose();
  });

  it('a shared intermediate survives the disposal of one of two graphs', async () => {
    const dev = devices[which];
    const w = dev.full([3], 0.5).setRequiresGrad();
    const [y, z] = tidy(() => {
      const h = w.tanh();
      return [h.mul(2).sum(), h.mul(3).sum()];
    });
    z!.dispose();
    y!.backward();
    expect(Array.from(await w.grad!.data())[0]).toBeCloseTo(2 * (1 - Math.tanh(0.5) ** 2), 5);
    for (const t of [w, y!]) {
      t.zeroGrad();
      t.dispose();
    }
  });
});

describe('leak test', () => {
  it('300 SGD steps of a small MLP on WebGPU keep live bytes and buffer count flat', async () => {
    const dev = devices.gpu;
    expect(dev.memory().liveBuffers, 'buffers left by the tests above').toBe(0);
    const rng = new Rng(7);
    const [inDim, hidden, classes, batch] = [13, 32, 5, 16];
    const params = [
      dev.randn([inDim, hidden], { rng, std: 0.3 }),
      dev.zeros([hidden]),
      dev.randn([hidden, classes], { rng, std: 0.3 }),
      dev.zeros([classes]),
    ].map((p) => p.setRequiresGrad());
    const opt = new SGD(params, { lr: 0.1, momentum: 0.9 });
    const x = dev.randn([batch, inDim], { rng });
    const y = dev.randint([batch], classes, { rng });
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
        const loss = crossEntropy(x.matmul(w1).add(b1).gelu().matmul(w2).add(b2), y);
        loss.backward();
        opt.step();
        return loss.detach();
      });
    const losses: number[] = [];
    const snapshots: { liveBytes: number; liveBuffers: number }[] = [];
    for (let i = 0; i < 300; i++) {
      const loss = step();
      if (i % 50 === 49) {
        losses.push(await loss.item());
        const { liveBytes, liveBuffers } = dev.memory();
        snapshots.push({ liveBytes, liveBuffers });
      }
      loss.dispose();
    }
    // Flat after the first snapshot (optimizer state and grads exist from step 1 on).
    for (const s of snapshots) expect(s).toEqual(snapshots[0]);
    // And it learned: the loss on this fixed batch went down.
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    opt.dispose();
    for (const t of [...params, x, y]) {
      t.zeroGrad();
      t.dispose();
    }
    expect(dev.memory().liveBuffers).toBe(0);
  });
});
