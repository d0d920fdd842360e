/**
 * Optimizers and schedules: AdamW against a plain float64 reference (decay, no-decay set, clipping), WebGPU
 * against the CPU, and the schedules' shapes.
 */
import { describe, expect, it } from 'vitest';
import { AdamW, type Device, globalGradNorm, warmupCosine, warmupLinear } from '../src/index.ts';
import { expectClose, useDevices } from './helpers.ts';

const devices = useDevices();

/** AdamW as PyTorch defines it, in float64. */
function referenceAdamW(
  p0: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; maxNorm?: number },
) {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g0, t0) => {
    const t = t0 + 1;
    const norm = Math.sqrt(g0.reduce((a, x) => a + x * x, 0));
    const scale = o.maxNorm === undefined ? 1 : Math.min(1, o.maxNorm / (norm + 1e-6));
    for (let i = 0; i < p.length; i++) {
      const g = g0[i]! * scale;
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g * g;
      p[i] =
        p[i]! * (1 - o.lr * o.wd) -
        (o.lr * (m[i]! / (1 - o.b1 ** t))) / (Math.sqrt(v[i]! / (1 - o.b2 ** t)) + o.eps);
    }
  });
  return p;
}

async function runAdamW(dev: Device, p0: number[], grads: number[][], maxGradNorm?: number, noDecay = false) {
  const p = dev.tensor(p0).setRequiresGrad();
  const opt = new AdamW([p], {
    lr: 0.05,
    betas: [0.9, 0.99],
    eps: 1e-8,
    weightDecay: 0.1,
    maxGradNorm,
    noDecay: noDecay ? [p] : [],
  });
  for (const g of grads) {
    p.grad = dev.tensor(g);
    opt.step();
    p.zeroGrad();
  }
  const out = Array.from(await p.hostData());
  opt.dispose();
  p.dispose();
  return out;
}

describe('AdamW', () => {
  const p0 = [0.5, -1, 2, 0.25, -0.75];
  const grads = [
    [0.1, -0.2, 0.3, 0, 1],
    [3, 1, -2, 0.5, -0.1],
    [-0.4, 0.2, 0.1, 0.9, 0.3],
  ];
  const o = { lr: 0.05, b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0.1 };

  it.each(['cpu', 'gpu'] as const)(
    'matches a float64 reference on %s (decay, no-decay, clipping)',
    async (which) => {
      const tol = which === 'cpu' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 };
      const dev = devices[which];
      expectClose(await runAdamW(dev, p0, grads), referenceAdamW(p0, grads, o), tol, 'adamw');
      expectClose(
        await runAdamW(dev, p0, grads, undefined, true),
        referenceAdamW(p0, grads, { ...o, wd: 0 }),
        tol,
        'no decay',
      );
      expectClose(
        await runAdamW(dev, p0, grads, 0.5),
        referenceAdamW(p0, grads, { ...o, maxNorm: 0.5 }),
        tol,
        'clipped',
      );
    },
  );

  it('exported state resumes the same trajectory (3 steps = 1 step, save, load into a new optimizer, 2 steps)', async () => {
    const dev = devices.gpu;
    const make = () => dev.tensor(p0).setRequiresGrad();
    const options = { lr: 0.05, betas: [0.9, 0.99] as [number, number], weightDecay: 0.1 };
    const straight = make();
    const a = new AdamW([straight], options);
    for (const g of grads) {
      straight.grad = dev.tensor(g);
      a.step();
    }
    const resumed = make();
    const first = new AdamW([resumed], options);
    resumed.grad = dev.tensor(grads[0]!);
    first.step();
    const saved = await first.exportState();
    expect(saved.step).toBe(1);
    const second = new AdamW([resumed], options);
    second.loadState(saved);
    for (const g of grads.slice(1)) {
      resumed.grad = dev.tensor(g);
      second.step();
    }
    expect(Array.from(await resumed.hostData())).toEqual(Array.from(await straight.hostData()));
    expect(() => second.loadState({ step: 1, moments: [null, null] })).toThrow(
      /state has 2 parameters, the optimizer 1/,
    );
  });

  it('global gradient norm', async () => {
    const dev = devices.gpu;
    const a = dev.ones([3]).setRequiresGrad();
    const b = dev.ones([2, 2]).setRequiresGrad();
    a.grad = dev.tensor([1, 2, 2]);
    b.grad = dev.tensor([
      [4, 0],
      [0, 0],
    ]);
    expect(await globalGradNorm([a, b]).item()).toBeCloseTo(5, 5);
  });
});

describe('schedules', () => {
  it('warmup then linear or cosine decay', () => {
    const lin = warmupLinear(1, 10, 110);
    expect([lin(1), lin(10), lin(60), lin(110), lin(200)]).toEqual([0.1, 1, 0.5, 0, 0]);
    const cos = warmupCosine(1, 0, 100, 0.1);
    expect(cos(0)).toBeCloseTo(1);
    expect(cos(50)).toBeCloseTo(0.55);
    expect(cos(100)).toBeCloseTo(0.1);
    expect(() => warmupLinear(1, 20, 10)).toThrow(/warmup \(20\) ≤ total \(10\)/);
  });
});
