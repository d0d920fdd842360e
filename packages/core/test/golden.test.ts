/**
 * The golden end-to-end test, in the spirit of llm.c: a tiny 2-layer pre-LN transformer built from core ops,
 * where logits, loss, every parameter gradient and 10 AdamW steps agree between WebGPU and the CPU reference;
 * and determinism: the same seed on the same adapter gives a bit-identical 20-step loss trajectory.
 */
import { describe, expect, it } from 'vitest';
import {
  AdamW,
  type Device,
  Rng,
  type Tensor,
  attention,
  crossEntropy,
  gather,
  keep,
  layerNorm,
  tidy,
} from '../src/index.ts';
import { expectClose, useDevices } from './helpers.ts';

const devices = useDevices();
const cfg = { vocab: 11, dim: 16, heads: 2, layers: 2, seq: 7, batch: 2 };

type Params = Record<string, Tensor>;

function initParams(dev: Device, seed: number): Params {
  const rng = new Rng(seed);
  const { vocab, dim, layers, seq } = cfg;
  const p: Params = {
    wte: dev.randn([vocab, dim], { rng, std: 0.3 }),
    wpe: dev.randn([seq, dim], { rng, std: 0.1 }),
    lnfW: dev.randn([dim], { rng, mean: 1, std: 0.1 }),
    lnfB: dev.randn([dim], { rng, std: 0.1 }),
  };
  for (let l = 0; l < layers; l++) {
    Object.assign(p, {
      [`ln1W${l}`]: dev.randn([dim], { rng, mean: 1, std: 0.1 }),
      [`ln1B${l}`]: dev.randn([dim], { rng, std: 0.1 }),
      [`qkvW${l}`]: dev.randn([dim, 3 * dim], { rng, std: 0.3 }),
      [`qkvB${l}`]: dev.randn([3 * dim], { rng, std: 0.1 }),
      [`projW${l}`]: dev.randn([dim, dim], { rng, std: 0.3 }),
      [`projB${l}`]: dev.randn([dim], { rng, std: 0.1 }),
      [`ln2W${l}`]: dev.randn([dim], { rng, mean: 1, std: 0.1 }),
      [`ln2B${l}`]: dev.randn([dim], { rng, std: 0.1 }),
      [`fcW${l}`]: dev.randn([dim, 4 * dim], { rng, std: 0.3 }),
      [`fcB${l}`]: dev.randn([4 * dim], { rng, std: 0.1 }),
      [`outW${l}`]: dev.randn([4 * dim, dim], { rng, std: 0.2 }),
      [`outB${l}`]: dev.randn([dim], { rng, std: 0.1 }),
    });
  }
  for (const t of Object.values(p)) t.setRequiresGrad();
  return p;
}

function forward(p: Params, tokens: Tensor, targets: Tensor) {
  const { dim, heads, layers, seq, batch } = cfg;
  const headDim = dim / heads;
  let x = gather(p.wte!, tokens).add(p.wpe!);
  for (let l = 0; l < layers; l++) {
    const h = layerNorm(x, p[`ln1W${l}`]!, p[`ln1B${l}`]!);
    const qkv = h
      .matmul(p[`qkvW${l}`]!)
      .add(p[`qkvB${l}`]!)
      .reshape([batch, seq, 3, heads, headDim])
      .permute([2, 0, 3, 1, 4]);
    const part = (i: number) => qkv.slice([i], [i + 1]).reshape([batch, heads, seq, headDim]);
    const a = attention(part(0), part(1), part(2), { causal: true });
    const merged = a.permute([0, 2, 1, 3]).reshape([batch, seq, dim]);
    x = merged.matmul(p[`projW${l}`]!, { bias: p[`projB${l}`]!, residual: x });
    const h2 = layerNorm(x, p[`ln2W${l}`]!, p[`ln2B${l}`]!);
    const hidden = h2.matmul(p[`fcW${l}`]!, { bias: p[`fcB${l}`]! }).gelu();
    x = hidden.matmul(p[`outW${l}`]!, { bias: p[`outB${l}`]!, residual: x });
  }
  const logits = layerNorm(x, p.lnfW!, p.lnfB!).matmul(p.wte!, { transB: true });
  return { logits, loss: crossEntropy(logits, targets) };
}

function batchData(dev: Device) {
  const rng = new Rng(99);
  const n = cfg.batch * cfg.seq;
  const tokens = dev.tensor(
    Array.from({ length: n }, () => rng.int(cfg.vocab)),
    [cfg.batch, cfg.seq],
    'i32',
  );
  const targets = dev.tensor(
    Array.from({ length: n }, (_, i) => (i % 5 === 4 ? -100 : rng.int(cfg.vocab))),
    [cfg.batch, cfg.seq],
    'i32',
  );
  return { tokens, targets };
}

/** Logits, loss and gradients of one step, then the losses of `steps` AdamW steps. */
async function run(dev: Device, steps: number) {
  const params = initParams(dev, 5);
  const { tokens, targets } = batchData(dev);
  const first = tidy(() => {
    const { logits, loss } = forward(params, tokens, targets);
    loss.backward();
    return { logits, loss };
  });
  const logits = await first.logits.hostData();
  const grads = Object.fromEntries(
    await Promise.all(Object.entries(params).map(async ([k, t]) => [k, await t.grad!.hostData()])),
  );
  const opt = new AdamW(Object.values(params), { lr: 1e-2, weightDecay: 0.01, maxGradNorm: 1 });
  const losses = [await first.loss.item()];
  opt.step();
  for (let s = 1; s < steps; s++) {
    const loss = tidy(() => {
      opt.zeroGrad();
      const { loss } = forward(params, tokens, targets);
      loss.backward();
      opt.step();
      return keep(loss.detach());
    });
    losses.push(await loss.item());
    loss.dispose();
  }
  opt.dispose();
  for (const t of [...Object.values(params), tokens, targets, first.logits, first.loss]) {
    t.zeroGrad();
    t.dispose();
  }
  return { logits, grads, losses };
}

describe('golden: a 2-layer transformer on WebGPU equals the CPU reference', () => {
  it('logits, loss, every parameter gradient and 10 AdamW steps', async () => {
    const cpu = await run(devices.cpu, 10);
    const gpu = await run(devices.gpu, 10);
    // f32 kernels against a float64 reference through ~40 ops: relative 1e-4 on values, 1e-3 on gradients.
    expectClose(gpu.logits, cpu.logits, { rtol: 1e-4, atol: 1e-4 }, 'logits');
    for (const name of Object.keys(cpu.grads)) {
      expectClose(gpu.grads[name]!, cpu.grads[name]!, { rtol: 1e-3, atol: 1e-4 }, `gradient of ${name}`);
    }
    expectClose(gpu.losses, cpu.losses, { rtol: 1e-4, atol: 1e-5 }, 'loss trajectory');
    expect(cpu.losses.at(-1)!).toBeLessThan(cpu.losses[0]!); // and it learns
  });

  it('is deterministic: the same seed on the same adapter gives bit-identical losses over 20 steps', async () => {
    const a = await run(devices.gpu, 20);
    const b = await run(devices.gpu, 20);
    expect(b.losses).toEqual(a.losses);
  });
});
