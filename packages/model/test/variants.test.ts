/**
 * The block's variants for the Llama family and Qwen2 (RMSNorm, SwiGLU, grouped-query attention, biases per
 * projection, rotary base and pair convention): the parameters each declares (names and a hand-written count,
 * today's GPT-2 block unchanged), whole-model gradients against central differences in float64 and WebGPU
 * against the CPU forward and backward, grouped-query attention against the same model with its key/value heads
 * repeated, the interleaved rotary convention against the half-split one permuted, and the config's checks.
 */
import { type Device, type Tensor, tidy } from '@reprise/core';
import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, useDevices } from '../../core/test/helpers.ts';
import {
  ARCHITECTURE_DEFAULTS,
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  applyRotary,
  architecture,
  configBytes,
  makeConfig,
  noDecayNames,
  paramShapes,
  paramSpecs,
  parameterCount,
  rotaryTables,
} from '../src/index.ts';
import { LLAMA_FIELDS, QWEN2_FIELDS, smallConfig } from './helpers.ts';

const devices = useDevices();
/** f32 WebGPU vs float64 CPU through a few blocks (as model.test.ts). */
const GPU_TOL = { rtol: 2e-3, atol: 2e-4 };
const F64_TOL = { rtol: 1e-9, atol: 1e-10 };

const llama = (over: Partial<TransformerConfig> = {}) => smallConfig({ ...LLAMA_FIELDS, dFF: 22, ...over });
const qwen2 = (over: Partial<TransformerConfig> = {}) => smallConfig({ ...QWEN2_FIELDS, dFF: 22, ...over });

describe('parameters of each variant', () => {
  it('Llama-shaped: gains only, no biases, narrower k and v, gate/up/down, an untied head; count by hand', () => {
    const cfg = llama();
    const { vocabSize: v, dModel: d, dFF: f, layers } = cfg;
    const kv = 2 * (d / 4); // 2 key/value heads of size d/4
    expect(Object.keys(paramSpecs(cfg)).filter((n) => n.startsWith('blocks.0.'))).toEqual([
      'blocks.0.ln1.weight',
      'blocks.0.attn.q.weight',
      'blocks.0.attn.k.weight',
      'blocks.0.attn.v.weight',
      'blocks.0.attn.proj.weight',
      'blocks.0.ln2.weight',
      'blocks.0.mlp.gate.weight',
      'blocks.0.mlp.up.weight',
      'blocks.0.mlp.down.weight',
    ]);
    const shapes = paramShapes(cfg);
    expect(shapes['blocks.1.attn.k.weight']).toEqual([d, kv]);
    expect(shapes['blocks.1.mlp.gate.weight']).toEqual([d, f]);
    expect(shapes['blocks.1.mlp.down.weight']).toEqual([f, d]);
    expect(Object.keys(shapes).filter((n) => !n.startsWith('blocks.'))).toEqual([
      'embed.tokens',
      'norm.weight',
      'lmHead.weight',
    ]);
    // Per block: 2 RMSNorm gains (d each), q and out (d² each), k and v (d·kv each), gate, up, down (d·f each).
    const block = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * f;
    expect(parameterCount(cfg)).toBe(v * d + layers * block + d + v * d);
    // The down projection is a residual branch's output: scaled as GPT-2's; gains are exempt from decay.
    expect(paramSpecs(cfg)['blocks.0.mlp.down.weight']!.init).toEqual({
      kind: 'normal',
      std: 0.02 / Math.sqrt(2 * layers),
    });
    expect([...noDecayNames(cfg)].sort()).toEqual(
      [
        'embed.tokens',
        'norm.weight',
        ...[0, 1, 2, 3].flatMap((l) => [`blocks.${l}.ln1.weight`, `blocks.${l}.ln2.weight`]),
      ].sort(),
    );
  });

  it('Qwen2-shaped: biases on q, k and v only, a tied head; count by hand', () => {
    const cfg = qwen2();
    const { vocabSize: v, dModel: d, dFF: f, layers } = cfg;
    const kv = 2 * (d / 4);
    const biases = Object.keys(paramSpecs(cfg)).filter(
      (n) => n.startsWith('blocks.0.') && n.endsWith('.bias'),
    );
    expect(biases).toEqual(['blocks.0.attn.q.bias', 'blocks.0.attn.k.bias', 'blocks.0.attn.v.bias']);
    expect(paramShapes(cfg)['blocks.0.attn.v.bias']).toEqual([kv]);
    const block = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * f + (d + 2 * kv);
    expect(parameterCount(cfg)).toBe(v * d + layers * block + d);
  });

  it("today's block: the defaults written out give the same parameters, names, order and initialization", async () => {
    for (const over of [{}, { positions: 'learned' as const, tieEmbeddings: false }]) {
      const plain = smallConfig(over);
      const explicit = smallConfig({ ...over, ...ARCHITECTURE_DEFAULTS, kvHeads: plain.heads });
      expect(paramSpecs(explicit)).toEqual(paramSpecs(plain));
      expect(architecture(plain)).toEqual(architecture(explicit));
      expect(Object.keys(plain).some((k) => k in ARCHITECTURE_DEFAULTS)).toBe(false);
      const [a, b] = [plain, explicit].map((c) => Transformer.create(devices.cpu, c, 3));
      for (const name of Object.keys(a!.params))
        expect(Array.from(await b!.params[name]!.hostData()), name).toEqual(
          Array.from(await a!.params[name]!.hostData()),
        );
      a!.dispose();
      b!.dispose();
    }
  });
});

/** A model on `xs`' device whose parameters are `xs` (in paramShapes order). */
function modelOf(cfg: TransformerConfig, xs: Tensor[]): Transformer {
  const names = Object.keys(paramShapes(cfg));
  return new Transformer(xs[0]!.device, cfg, Object.fromEntries(names.map((n, i) => [n, xs[i]!])));
}

/** Logits of two padded sequences (lengths 5 and 3 of 5). */
function logitsOf(model: Transformer): Tensor {
  const dev = model.device;
  const tokens = dev.tensor([3, 1, 4, 1, 5, 9, 2, 6, 0, 0], [2, 5], 'i32');
  const positions = dev.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], [2, 5], 'i32');
  return model.logits(
    model.hidden(model.embedTokens(tokens), { lengths: dev.tensor([5, 3], [2], 'i32'), positions }),
  );
}

describe('whole-model gradients: central differences (float64, CPU), then WebGPU against the CPU', () => {
  // Tiny enough to difference every parameter: width 8, 2 heads of 4 (the fused kernels' smallest head).
  const tiny = { vocabSize: 11, dModel: 8, layers: 1, dFF: 6, maxPositions: 8, heads: 2 };
  it.each([
    [
      'Llama-shaped (RMSNorm, SwiGLU, 1 key/value head for 2, no biases, untied head)',
      { ...LLAMA_FIELDS, kvHeads: 1 },
    ],
    ['Qwen2-shaped (q, k, v biases, tied head)', { ...QWEN2_FIELDS, kvHeads: 1 }],
    [
      'GPT-J-style interleaved rotary pairs, LayerNorm, GELU, no attention output bias',
      { rotary: 'interleaved', attnOutBias: false },
    ],
  ] as const)('%s', async (_, fields) => {
    const cfg = makeConfig({ ...tiny, dropout: 0, ...fields, heads: 2 });
    const specs = Object.values(paramShapes(cfg)).map((shape) => ({ shape, lo: -1, hi: 1 }));
    await gradCheck(devices, (xs) => logitsOf(modelOf(cfg, xs)), specs, GPU_TOL);
  });
});

describe('WebGPU against the CPU reference, larger models', () => {
  it.each([
    ['Llama-shaped', llama()],
    ['Qwen2-shaped', qwen2()],
  ] as const)('%s: LM loss and every parameter gradient; SR labeler logits', async (_, cfg) => {
    const run = async (dev: Device) => {
      const model = Transformer.create(dev, cfg, 7);
      for (const t of Object.values(model.params)) if (t.rank === 2) t.assign(tidy(() => t.mul(10)));
      const loss = tidy(() => {
        const tokens = dev.tensor([4, 9, 2, 17, 11, 6, 3, 8, 1, 0, 0, 0], [2, 6], 'i32');
        const targets = dev.tensor([9, 2, 17, 11, 6, -100, 8, 1, -100, -100, -100, -100], [2, 6], 'i32');
        const positions = dev.tensor([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5], [2, 6], 'i32');
        const l = model.lmLoss(tokens, targets, { lengths: dev.tensor([6, 3], [2], 'i32'), positions });
        l.backward();
        return l;
      });
      const grads = await Promise.all(Object.values(model.params).map((t) => t.grad!.hostData()));
      const labeler = new SequenceLabeler(model, { numLabels: 5, r: 1, headDropout: 0, seed: 3 });
      const logits = tidy(() =>
        labeler.forward(
          labeler.layout([
            [4, 9, 2, 17],
            [3, 8, 1],
          ]),
        ),
      );
      const out = { loss: await loss.item(), grads, logits: await logits.hostData() };
      logits.dispose();
      loss.dispose();
      model.dispose();
      return out;
    };
    const [cpu, gpu] = [await run(devices.cpu), await run(devices.gpu)];
    expectClose([gpu.loss], [cpu.loss], GPU_TOL, 'loss');
    const names = Object.keys(paramShapes(cfg));
    cpu.grads.forEach((g, i) => {
      expect(
        g.some((x) => x !== 0),
        `${names[i]}: a gradient flows`,
      ).toBe(true);
      expectClose(gpu.grads[i]!, g, GPU_TOL, `gradient of ${names[i]}`);
    });
    expectClose(
      gpu.logits,
      cpu.logits,
      GPU_TOL,
      'SR labeler logits (last copy only, fused attention at an offset)',
    );
  });
});

describe('grouped-query attention = the same model with each key/value head repeated for its group', () => {
  it.each(['cpu', 'gpu'] as const)('%s: logits', async (which) => {
    const dev: Device = devices[which];
    const grouped = Transformer.create(dev, qwen2(), 5); // q, k, v biases: the biases are repeated too
    for (const t of Object.values(grouped.params)) if (t.rank === 2) t.assign(tidy(() => t.mul(10)));
    const cfg = grouped.config;
    const { headDim, kvHeads } = architecture(cfg);
    const group = cfg.heads / kvHeads;
    // Columns of query head h come from key/value head ⌊h/group⌋ (Hugging Face's repeat_kv).
    const widen = async (t: Tensor) => {
      const rows = t.rank === 2 ? t.shape[0]! : 1;
      const src = await t.hostData();
      const width = cfg.heads * headDim;
      const out = new Float64Array(rows * width);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < width; c++) {
          const kvHead = Math.floor(Math.floor(c / headDim) / group);
          out[r * width + c] = src[r * kvHeads * headDim + kvHead * headDim + (c % headDim)]!;
        }
      return dev.tensor(out, t.rank === 2 ? [rows, width] : [width]);
    };
    const params: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(grouped.params))
      params[name] = /attn\.[kv]\./.test(name) ? await widen(t) : t;
    const { kvHeads: _, ...rest } = cfg;
    const repeated = new Transformer(dev, rest, params);
    const [a, b] = [grouped, repeated].map((m) => logitsOf(m));
    expectClose(
      await a!.hostData(),
      await b!.hostData(),
      which === 'cpu' ? F64_TOL : { rtol: 1e-4, atol: 1e-5 },
      'logits',
    );
    a!.dispose();
    b!.dispose();
    grouped.dispose();
    for (const [name, t] of Object.entries(params)) if (/attn\.[kv]\./.test(name)) t.dispose();
  });
});

describe('rotary conventions', () => {
  it('interleaved pairs (2i, 2i + 1) are the half-split pairs (i, i + d/2) with the columns permuted', async () => {
    const dev = devices.cpu;
    const [dim, heads] = [12, 2];
    const headDim = dim / heads;
    // Column of the half-split layout that interleaved column c moves to.
    const toHalf = (c: number) => {
      const [h, j] = [Math.floor(c / headDim), c % headDim];
      return h * headDim + (j % 2 === 0 ? j / 2 : headDim / 2 + (j - 1) / 2);
    };
    const x = Array.from({ length: dim }, (_, i) => Math.sin(1 + i * 1.7));
    const permuted = new Array<number>(dim);
    for (let c = 0; c < dim; c++) permuted[toHalf(c)] = x[c]!;
    const half = rotaryTables(dev, 16, dim, heads, 500, 'half');
    const interleaved = rotaryTables(dev, 16, dim, heads, 500, 'interleaved');
    for (const p of [0, 3, 11]) {
      const at = dev.tensor([p], [1, 1], 'i32');
      const yi = await applyRotary(dev.tensor(x, [1, 1, dim]), interleaved, at).hostData();
      const yh = await applyRotary(dev.tensor(permuted, [1, 1, dim]), half, at).hostData();
      const back = Array.from({ length: dim }, (_, c) => yh[toHalf(c)]!);
      expectClose(yi, back, F64_TOL, `position ${p}`);
      if (p > 0) expect(Array.from(yi)).not.toEqual(x);
    }
  });

  it('the base frequency θ comes from the config (the rotary pattern differs with it)', async () => {
    const run = async (ropeTheta: number) => {
      const m = Transformer.create(devices.cpu, llama({ ropeTheta }), 2);
      const out = logitsOf(m);
      const v = await out.hostData();
      out.dispose();
      m.dispose();
      return Array.from(v);
    };
    const [a, b, c] = [await run(10000), await run(10000), await run(500000)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('configuration of the variants', () => {
  it('clear errors for bad variant fields', () => {
    expect(() => llama({ kvHeads: 3 })).toThrow(
      /config.kvHeads \(3\) must divide config.heads \(4\); 4 % 3 = 1/,
    );
    expect(() => llama({ kvHeads: 0 })).toThrow(/config.kvHeads must be a positive integer, got 0/);
    expect(() => llama({ kvHeads: 4096 })).toThrow(/config.kvHeads must be at most 1024, got 4096/);
    const bad = (over: object) => () => llama(over as Partial<TransformerConfig>);
    expect(bad({ norm: 'batch' })).toThrow(/config.norm must be 'layer' or 'rms', got "batch"/);
    expect(bad({ mlp: 'relu' })).toThrow(/config.mlp must be 'gelu' or 'swiglu', got "relu"/);
    expect(bad({ rotary: 'spiral' })).toThrow(/config.rotary must be 'half' or 'interleaved', got "spiral"/);
    expect(bad({ normEps: -1e-6 })).toThrow(/config.normEps must be a finite number > 0, got -0.000001/);
    expect(bad({ ropeTheta: 0 })).toThrow(/config.ropeTheta must be a finite number > 0, got 0/);
    expect(bad({ qkvBias: 'yes' })).toThrow(/config.qkvBias must be true or false, got yes/);
    expect(bad({ dModel: 12, heads: 4, kvHeads: 2 })).toThrow(
      /rotary positions need an even head size, got dModel\/heads = 3/,
    );
  });

  it('the size budget counts the keys’ own rotary tables', () => {
    const cfg = llama();
    const { dModel: d, maxPositions: p } = cfg;
    const kv = architecture(cfg).kvDim;
    expect(configBytes(cfg)).toBe(4 * (parameterCount(cfg) + 2 * p * d + 2 * p * kv));
    const plain = smallConfig();
    expect(configBytes(plain)).toBe(4 * (parameterCount(plain) + 2 * p * d));
  });
});
