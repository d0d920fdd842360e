/**
 * LoRA (src/lora.ts): a fresh adapter leaves the logits exactly as they were; the adapters' gradients against
 * central differences in float64 (and WebGPU against the CPU), with the α/r scale and the input dropout on;
 * frozen weights get no gradient, no optimizer state and do not move; merging gives the unmerged logits; and the
 * configuration's refusals.
 */
import { AdamW, type Device, type Tensor, tidy } from '@reprise/core';
import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, useDevices } from '../../core/test/helpers.ts';
import {
  LoraAdapters,
  type LoraConfig,
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  attachLora,
  loraShapes,
  makeConfig,
  makeLoraConfig,
  mergeLora,
  paramShapes,
} from '../src/index.ts';
import { LLAMA_FIELDS, smallConfig } from './helpers.ts';

const devices = useDevices();
/** f32 WebGPU vs float64 CPU through a few blocks (as model.test.ts). */
const GPU_TOL = { rtol: 2e-3, atol: 2e-4 };

const batch = [
  [4, 9, 2, 17, 11, 6],
  [3, 8, 1],
];

/** A backbone with weights large enough (×10 GPT-2's) that every path carries signal. */
function backbone(dev: Device, cfg: TransformerConfig): Transformer {
  const model = Transformer.create(dev, cfg, 7);
  for (const [name, t] of Object.entries(model.params))
    if (name.endsWith('.weight') && t.rank === 2) t.assign(tidy(() => t.mul(10)));
  return model;
}

const labelerOn = (model: Transformer, r = 1) =>
  new SequenceLabeler(model, { numLabels: 5, r, headDropout: 0, seed: 3 });

async function logits(l: SequenceLabeler, train = false): Promise<number[]> {
  const out = tidy(() => l.forward(l.layout(batch), train));
  const values = Array.from(await out.hostData());
  out.dispose();
  return values;
}

/** B drawn at random (a trained adapter's), so that the adapters change the output. */
function randomizeB(lora: LoraAdapters, seed: number): void {
  let s = seed;
  for (const [name, t] of Object.entries(lora.params))
    if (name.endsWith('lora_B')) t.assign(t.device.randn(t.shape, { seed: s++, std: 0.5 }));
}

describe('a fresh adapter', () => {
  it.each([
    ['GPT-2 block, q, k, v, o', {}, {}],
    ['Llama block, every projection, dropout on while training', LLAMA_FIELDS, { dropout: 0.3 }],
  ] as const)('%s: leaves the logits unchanged (exactly)', async (_, fields, over) => {
    const targets: LoraConfig['targets'] =
      'mlp' in fields ? ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] : ['q', 'k', 'v', 'o'];
    for (const dev of [devices.cpu, devices.gpu]) {
      const cfg = smallConfig({ ...fields, dFF: 24 });
      const l = labelerOn(backbone(dev, cfg));
      // Training mode draws the adapters' dropout masks; the model's own dropout is 0, the head's too.
      const before = [await logits(l), await logits(l, true)];
      attachLora(l.backbone, LoraAdapters.create(dev, cfg, makeLoraConfig({ rank: 2, targets, ...over }), 1));
      expect(await logits(l), `${dev.name}: eval`).toEqual(before[0]);
      expect(await logits(l, true), `${dev.name}: train`).toEqual(before[1]);
      l.dispose();
    }
  });

  it("A is U(±1/√in) as PEFT's kaiming_uniform_(a=√5) draws it, B is 0; names and shapes follow the weight", async () => {
    const cfg = smallConfig({ ...LLAMA_FIELDS, dFF: 24 });
    const lora = LoraAdapters.create(
      devices.cpu,
      cfg,
      makeLoraConfig({ rank: 3, targets: ['k', 'down'] }),
      0,
    );
    expect(loraShapes(cfg, lora.config)).toMatchObject({
      'blocks.0.attn.k.lora_A': [16, 3],
      'blocks.0.attn.k.lora_B': [3, 8], // 2 key/value heads of 4
      'blocks.3.mlp.down.lora_A': [24, 3],
      'blocks.3.mlp.down.lora_B': [3, 16],
    });
    expect(Object.keys(lora.params)).toHaveLength(4 * 2 * 2);
    for (const [name, t] of Object.entries(lora.params)) {
      const v = Array.from(await t.hostData());
      if (name.endsWith('lora_B'))
        expect(
          v.every((x) => x === 0),
          name,
        ).toBe(true);
      else {
        const bound = 1 / Math.sqrt(t.shape[0]!);
        expect(Math.max(...v.map(Math.abs)), name).toBeLessThanOrEqual(bound);
        // Uniform on ±bound: the largest of 48+ draws is close to the bound, the mean close to 0.
        expect(Math.max(...v.map(Math.abs)), name).toBeGreaterThan(0.8 * bound);
      }
    }
    lora.dispose();
  });
});

/** The logits of `model`'s LM head on two padded sequences, in training mode (adapter dropout on). */
function lmLogits(model: Transformer): Tensor {
  const dev = model.device;
  const tokens = dev.tensor([3, 1, 4, 1, 5, 9, 2, 6, 0, 0], [2, 5], 'i32');
  const positions = dev.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], [2, 5], 'i32');
  const lengths = dev.tensor([5, 3], [2], 'i32');
  return model.logits(model.hidden(model.embedTokens(tokens), { lengths, positions, train: true }));
}

describe('adapter gradients: central differences (float64, CPU), then WebGPU against the CPU', () => {
  // Width 8, 2 heads of 4 (the fused kernels' smallest head), one block: small enough to difference every
  // adapter element.
  const tiny = { vocabSize: 11, dModel: 8, layers: 1, dFF: 6, maxPositions: 8, heads: 2, dropout: 0 };
  it.each([
    ['GPT-2 block: q, k, v, o, up, down; α/r = 1.5', {}, ['q', 'k', 'v', 'o', 'up', 'down'], 0],
    [
      'Llama block (1 key/value head for 2): all seven projections; α/r = 1.5, input dropout 0.25',
      { ...LLAMA_FIELDS, heads: 2, kvHeads: 1 },
      ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
      0.25,
    ],
  ] as const)('%s', async (_, fields, targets, dropout) => {
    const cfg = makeConfig({ ...tiny, ...fields });
    const lora = makeLoraConfig({ rank: 2, alpha: 3, dropout, targets: [...targets] });
    const names = Object.keys(loraShapes(cfg, lora));
    const specs = Object.values(loraShapes(cfg, lora)).map((shape) => ({ shape, lo: -1, hi: 1 }));
    // The same frozen weights on every call (seeded), the adapters from the checked inputs; a new model per
    // call starts its dropout counter at 0, so each call draws the same masks.
    await gradCheck(
      devices,
      (xs) => {
        const model = Transformer.create(xs[0]!.device, cfg, 7);
        for (const t of Object.values(model.params)) if (t.rank === 2) t.assign(tidy(() => t.mul(20)));
        attachLora(model, new LoraAdapters(cfg, lora, Object.fromEntries(names.map((n, i) => [n, xs[i]!]))));
        return lmLogits(model);
      },
      specs,
      GPU_TOL,
    );
  });
});

describe('frozen weights', () => {
  it('get no gradient and no optimizer state, and do not change over steps; adapters and head do', async () => {
    for (const dev of [devices.cpu, devices.gpu]) {
      const cfg = smallConfig();
      const l = labelerOn(backbone(dev, cfg));
      attachLora(l.backbone, LoraAdapters.create(dev, cfg, makeLoraConfig({ rank: 2 }), 1));
      const base = Object.values(l.backbone.params);
      const trainable = l.params();
      expect(Object.keys(trainable)).toEqual([
        ...Object.keys(l.backbone.lora!.params),
        'head.weight',
        'head.bias',
      ]);
      const snapshot = async (ts: Tensor[]) =>
        Promise.all(ts.map(async (t) => Array.from(await t.hostData())));
      const [base0, trainable0] = [await snapshot(base), await snapshot(Object.values(trainable))];
      // Weight decay on: a frozen weight given to the optimizer would shrink even without a gradient.
      const opt = new AdamW(Object.values(trainable), { lr: 1e-2, weightDecay: 0.1, noDecay: l.noDecay() });
      for (let step = 0; step < 3; step++)
        tidy(() => {
          opt.zeroGrad();
          l.loss(l.layout(batch), Int32Array.from([0, 1, 2, 3, 4, 1, 2, 3, 4, -100, -100, -100])).backward();
          for (const t of base) expect(t.grad, `${dev.name}: a frozen weight's gradient`).toBeNull();
          opt.step();
        });
      // A frozen weight cannot even be handed to the optimizer by mistake.
      expect(() => new AdamW([base[0]!], { lr: 1e-2 })).toThrow(/must be an f32 tensor that requires grad/);
      const state = await opt.exportState();
      expect(state.moments).toHaveLength(Object.keys(trainable).length);
      expect(state.moments.every((m) => m !== null)).toBe(true);
      expect(await snapshot(base), `${dev.name}: frozen weights`).toEqual(base0);
      const after = await snapshot(Object.values(trainable));
      Object.keys(trainable).forEach((name, i) =>
        expect(after[i], `${dev.name}: ${name} is trained`).not.toEqual(trainable0[i]),
      );
      opt.dispose();
      l.dispose();
    }
  });

  it('a head on block ℓ < L trains only the adapters of blocks 1..ℓ', () => {
    const cfg = smallConfig();
    const model = backbone(devices.cpu, cfg);
    attachLora(model, LoraAdapters.create(devices.cpu, cfg, makeLoraConfig({ rank: 2 }), 1));
    const l = new SequenceLabeler(model, { numLabels: 5, layer: 2 });
    const blocks = new Set(Object.keys(l.params()).map((n) => n.split('.')[1]));
    expect([...blocks]).toEqual(['0', '1', 'weight', 'bias']);
    l.dispose();
  });
});

describe('merge', () => {
  it('W + (α/r)·A·B gives the adapted logits (float64: 1e-9; WebGPU f32: 1e-5 relative), a plain backbone', async () => {
    for (const dev of [devices.cpu, devices.gpu]) {
      const cfg = smallConfig({ ...LLAMA_FIELDS, dFF: 24 });
      const l = labelerOn(backbone(dev, cfg), 2);
      const lora = LoraAdapters.create(
        dev,
        cfg,
        makeLoraConfig({ rank: 4, alpha: 6, targets: ['q', 'v', 'o', 'gate', 'down'] }),
        1,
      );
      attachLora(l.backbone, lora);
      const plain = await logits(l);
      randomizeB(lora, 11);
      const adapted = await logits(l);
      // The adapters matter: the check below could not pass by ignoring them.
      expect(Math.max(...adapted.map((x, i) => Math.abs(x - plain[i]!)))).toBeGreaterThan(0.05);
      mergeLora(l.backbone);
      expect(l.backbone.lora).toBeNull();
      expect(Object.values(l.backbone.params).every((t) => t.requiresGrad)).toBe(true);
      expect(Object.keys(l.params())).toEqual([
        ...Object.keys(l.backbone.usedParams(4, false)),
        'head.weight',
        'head.bias',
      ]);
      // Merged: one f32 rounding per weight element and a different summation order than x·W + x·A·B.
      const tol = dev === devices.cpu ? { rtol: 1e-9, atol: 1e-10 } : { rtol: 1e-5, atol: 1e-5 };
      expectClose(await logits(l), adapted, tol, `${dev.name}: merged vs adapted`);
      l.dispose();
    }
  });
});

describe('configuration', () => {
  const cfg = smallConfig();
  const make = (over: Partial<LoraConfig>) =>
    LoraAdapters.create(devices.cpu, cfg, { ...makeLoraConfig({ rank: 2 }), ...over }, 0);
  it.each([
    [{ targets: ['gate'] }, /no 'gate' projection.*needs SwiGLU/],
    [{ targets: ['q', 'x'] }, /'x' is not a projection \(expected some of q, k, v, o, gate, up, down\)/],
    [{ targets: ['q', 'q'] }, /'q' is listed twice/],
    [{ targets: [] }, /at least one/],
    [{ rank: 0 }, /rank must be an integer in 1\.\.16384, got 0/],
    [{ rank: 1.5 }, /rank must be an integer in 1\.\.16384, got 1\.5/],
    [{ alpha: -1 }, /alpha must be a finite number > 0, got -1/],
    [{ dropout: 1 }, /dropout must be in \[0, 1\), got 1/],
  ] as const)('%j is refused', (over, message) => {
    expect(() => make(over as Partial<LoraConfig>)).toThrow(message);
  });

  it("the paper's defaults: α = rank (scale 1), dropout 0.1, q, k, v, o", () => {
    expect(makeLoraConfig({ rank: 16 })).toEqual({
      rank: 16,
      alpha: 16,
      dropout: 0.1,
      targets: ['q', 'k', 'v', 'o'],
    });
  });

  it('adapters for another model, a second set, a missing or misshapen tensor are refused', () => {
    const model = backbone(devices.cpu, cfg);
    const other = smallConfig({ layers: 2 });
    expect(() => attachLora(model, make({}))).not.toThrow();
    expect(() => attachLora(model, make({}))).toThrow(/already has LoRA adapters/);
    const fresh = backbone(devices.cpu, cfg);
    expect(() =>
      attachLora(fresh, LoraAdapters.create(devices.cpu, other, makeLoraConfig({ rank: 2 }), 0)),
    ).toThrow(/made for the model/);
    const lora = make({});
    const { 'blocks.0.attn.q.lora_A': _, ...missing } = lora.params;
    expect(() => new LoraAdapters(cfg, lora.config, missing)).toThrow(
      "LoRA: adapter 'blocks.0.attn.q.lora_A' [16, 2] is missing",
    );
    expect(
      () =>
        new LoraAdapters(cfg, lora.config, {
          ...lora.params,
          'blocks.0.attn.q.lora_A': devices.cpu.zeros([2, 16]),
        }),
    ).toThrow("LoRA: adapter 'blocks.0.attn.q.lora_A' must be [16, 2], got [2, 16]");
    expect(paramShapes(cfg)['blocks.0.attn.q.weight']).toEqual([16, 16]);
    model.dispose();
    fresh.dispose();
  });
});
