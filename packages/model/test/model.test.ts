/**
 * Model tests: bidirectionality measured by gradients, equivalences (SR r = 0 vs the plain decoder, early exit
 * at ℓ = L vs the full model, last-copy-only vs the full last layer, a padded batch vs sentences alone, WebGPU vs
 * the CPU reference), rotary positions, mask policies and configuration errors.
 */
import { type Device, matmul, tidy } from '@reprise/core';
import { describe, expect, it } from 'vitest';
import { expectClose, useDevices } from '../../core/test/helpers.ts';
import {
  IGNORE_LABEL,
  type LabelerOptions,
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  applyRotary,
  causalLayers,
  middleBand,
  noDecayNames,
  paramShapes,
  paramSpecs,
  parameterCount,
  repeatBatch,
  rotaryTables,
} from '../src/index.ts';
import { influence, smallConfig } from './helpers.ts';

const at0 = (dev: Device) => dev.tensor([0], [1, 1], 'i32');

const devices = useDevices();
const small = smallConfig;
/** f32 WebGPU vs float64 CPU through four blocks: a few ulps of f32 per op, compounded. */
const GPU_TOL = { rtol: 2e-3, atol: 2e-4 };
/** Two float64 computations of the same function in a different order. */
const F64_TOL = { rtol: 1e-9, atol: 1e-10 };

function labeler(dev: Device, cfg: TransformerConfig, options: Partial<LabelerOptions> = {}) {
  // Larger weights than GPT-2's 0.02 so that every path carries signal the checks can see.
  const backbone = Transformer.create(dev, cfg, 7);
  for (const [name, t] of Object.entries(backbone.params)) {
    if (name.endsWith('.weight') && t.rank === 2) t.assign(tidy(() => t.mul(10)));
  }
  return new SequenceLabeler(backbone, { numLabels: 5, headDropout: 0, seed: 3, ...options });
}

const sentence = [4, 9, 2, 17, 11, 6];
/** Weights of the 5 labels' logits in the influence measure. */
const LABEL_WEIGHTS = [-1.7, -0.7, 0.3, 1.3, 2.3];

async function logitsOf(l: SequenceLabeler, seqs: number[][]): Promise<Float64Array | Float32Array> {
  const out = l.forward(l.layout(seqs));
  const values = await out.hostData();
  out.dispose();
  return values as Float64Array;
}

describe('bidirectionality, measured by gradients', () => {
  const i = 2;
  const variants: [string, Partial<TransformerConfig>, Partial<LabelerOptions>, boolean][] = [
    ['causal decoder, r = 0', {}, { r: 0 }, false],
    ['SR r = 1', {}, { r: 1 }, true],
    ['SR r = 2, full last layer', {}, { r: 2, lastCopyOnly: false }, true],
    ['SR r = 1, learned positions, separator', { positions: 'learned' }, { r: 1, separator: 1 }, true],
    ['full unmasking', {}, { mask: 'unmask-full' }, true],
    ['middle unmasking', {}, { mask: 'unmask-middle' }, true],
    ['encoder', { kind: 'encoder' }, {}, true],
  ];
  for (const [name, cfg, opts, sees] of variants) {
    it(`${name}: the word at ${i} ${sees ? 'sees' : 'does not see'} the words to its right`, async () => {
      for (const dev of [devices.cpu, devices.gpu]) {
        const g = await influence(labeler(dev, small(cfg), opts), sentence, i, LABEL_WEIGHTS);
        for (let j = 0; j <= i; j++) expect(g[j], `${dev.name}: left word ${j}`).toBeGreaterThan(1e-12);
        for (let j = i + 1; j < sentence.length; j++) {
          if (sees) expect(g[j], `${dev.name}: right word ${j}`).toBeGreaterThan(1e-12);
          else expect(g[j], `${dev.name}: right word ${j}`).toBe(0);
        }
      }
    });
  }
});

describe('equivalences', () => {
  it('SR with r = 0 is the plain decoder (embeddings → blocks → norm → head)', async () => {
    const dev = devices.cpu;
    const l = labeler(dev, small(), { r: 0 });
    const direct = tidy(() => {
      const tokens = dev.tensor(sentence, [1, sentence.length], 'i32');
      const h = l.backbone.hidden(l.backbone.embedTokens(tokens), {
        lengths: dev.tensor([sentence.length], [1], 'i32'),
        positions: dev.tensor(
          sentence.map((_, t) => t),
          [1, sentence.length],
          'i32',
        ),
      });
      return matmul(h, l.head['head.weight']!, { bias: l.head['head.bias']! });
    });
    expectClose(await logitsOf(l, [sentence]), await direct.hostData(), F64_TOL, 'r = 0 vs plain');
    direct.dispose();
  });

  it('early exit at ℓ = L equals the full model; ℓ < L leaves later blocks uncomputed', async () => {
    for (const dev of [devices.cpu, devices.gpu]) {
      const full = labeler(dev, small(), { r: 1 });
      const exit = new SequenceLabeler(full.backbone, { ...full.options, layer: 4 }, full.head);
      expectClose(await logitsOf(exit, [sentence]), await logitsOf(full, [sentence]), F64_TOL, 'ℓ = L');
      const early = new SequenceLabeler(full.backbone, { ...full.options, layer: 2 }, full.head);
      tidy(() => early.loss(early.layout([sentence]), Int32Array.from([0, 1, 2, 3, 4, 0])).backward());
      const p = full.backbone.params;
      expect(p['blocks.1.mlp.fc.weight']!.grad, 'block 2 gets a gradient').not.toBeNull();
      expect(p['blocks.2.mlp.fc.weight']!.grad, 'block 3 is not computed').toBeNull();
      expect(Object.keys(early.params()).some((n) => n.startsWith('blocks.2.'))).toBe(false);
    }
  });

  const lastCopyCases: [string, Partial<TransformerConfig>, Partial<LabelerOptions>][] = [
    ['r = 1', {}, { r: 1 }],
    ['r = 2, exit at ℓ = 3 without final norm', {}, { r: 2, layer: 3, finalNorm: false }],
    [
      'r = 2, unmask-middle, exit at ℓ = 2 (an unmasked layer)',
      {},
      { r: 2, mask: 'unmask-middle', layer: 2 },
    ],
    ['r = 1, separator, positions reset', {}, { r: 1, separator: 1, positions: 'reset' }],
    ['r = 1, learned positions', { positions: 'learned' }, { r: 1 }],
  ];
  for (const [name, cfg, opts] of lastCopyCases) {
    it(`last-copy-only equals the full last layer (${name}), outputs and gradients`, async () => {
      const batch = [sentence, [3, 8, 1], [5, 5, 12, 20, 7, 2, 9, 14]];
      for (const dev of [devices.cpu, devices.gpu]) {
        const tol = dev === devices.cpu ? F64_TOL : GPU_TOL;
        const fast = labeler(dev, small(cfg), { ...opts, lastCopyOnly: true });
        const slow = new SequenceLabeler(fast.backbone, { ...fast.options, lastCopyOnly: false }, fast.head);
        const layout = fast.layout(batch);
        // Padding rows of the last copy carry no output (the fused attention gives them zeros): sentences only.
        const isToken = (k: number) =>
          k % layout.baseSeq < layout.baseLengths[Math.floor(k / layout.baseSeq)]!;
        const tokensOnly = (logits: ArrayLike<number>) =>
          Array.from(logits).filter((_, k) => isToken(Math.floor(k / 5)));
        expectClose(
          tokensOnly(await logitsOf(fast, batch)),
          tokensOnly(await logitsOf(slow, batch)),
          tol,
          `${dev.name} logits`,
        );
        const labels = Int32Array.from({ length: layout.batch * layout.baseSeq }, (_, k) =>
          isToken(k) ? k % 5 : IGNORE_LABEL,
        );
        const gradOf = async (l: SequenceLabeler) => {
          const w = l.backbone.params['blocks.0.attn.k.weight']!;
          w.zeroGrad();
          tidy(() => l.loss(layout, labels, false).backward());
          return w.grad!.hostData();
        };
        expectClose(await gradOf(fast), await gradOf(slow), tol, `${dev.name} gradient`);
      }
    });
  }

  it('a padded batch of different lengths gives each sentence its outputs alone', async () => {
    const batch = [[3, 8, 1], sentence, [5, 5, 12, 20, 7, 2, 9, 14]];
    for (const opts of [{ r: 0 }, { r: 2 }, { mask: 'unmask-full' as const }]) {
      for (const dev of [devices.cpu, devices.gpu]) {
        const l = labeler(dev, small(), opts);
        const together = await logitsOf(l, batch);
        const n = 8;
        for (const [b, s] of batch.entries()) {
          const alone = await logitsOf(l, [s]);
          const rows = together.slice(b * n * 5, (b * n + s.length) * 5);
          expectClose(rows, alone, dev === devices.cpu ? F64_TOL : GPU_TOL, `${dev.name} sentence ${b}`);
        }
      }
    }
  });

  it('rotary tables grow on demand: r+1 copies past maxPositions give what a larger table gives', async () => {
    const long = Array.from({ length: 40 }, (_, i) => (i * 7) % 23);
    for (const dev of [devices.cpu, devices.gpu]) {
      const grown = await logitsOf(labeler(dev, small(), { r: 2 }), [long]); // 120 positions, table of 64
      const ample = await logitsOf(labeler(dev, small({ maxPositions: 128 }), { r: 2 }), [long]);
      expectClose(grown, ample, F64_TOL, `${dev.name}: grown vs built-large rotary tables`);
    }
  });

  it('WebGPU matches the CPU reference with padding, positions and every mask policy', async () => {
    const batch = [[3, 8, 1], sentence];
    for (const opts of [
      { r: 1 },
      { r: 2, positions: 'reset' as const },
      { mask: 'unmask-middle' as const },
    ]) {
      const cpu = await logitsOf(labeler(devices.cpu, small(), opts), batch);
      const gpu = await logitsOf(labeler(devices.gpu, small(), opts), batch);
      expectClose(gpu, cpu, GPU_TOL, `WebGPU vs CPU ${JSON.stringify(opts)}`);
    }
  });
});

describe('repetition layout', () => {
  it('repeats the unpadded sequence, pads once at the end, continues or resets positions', () => {
    const l = repeatBatch([[7, 8, 9], [5]], { r: 1 }, { maxPositions: 16 });
    expect([...l.tokens]).toEqual([7, 8, 9, 7, 8, 9, 5, 5, 0, 0, 0, 0]);
    expect([...l.positions.slice(0, 6)]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...l.lengths]).toEqual([6, 2]);
    expect([...l.lastCopyRows]).toEqual([3, 4, 5, 7, 6, 6]);
    const sep = repeatBatch([[7, 8]], { r: 2, separator: 1, positions: 'reset' }, { maxPositions: 16 });
    expect([...sep.tokens]).toEqual([7, 8, 1, 7, 8, 1, 7, 8]);
    expect([...sep.positions]).toEqual([0, 1, 2, 0, 1, 2, 0, 1]);
    expect([...sep.lastCopyRows]).toEqual([6, 7]);
  });

  it('a sequence too long after repetition is refused, saying by how much', () => {
    expect(() => repeatBatch([Array(20).fill(3)], { r: 3 }, { maxPositions: 64 })).toThrow(
      /20 tokens repeated 4 times needs 80 positions, but the model has 64 \(16 too many\)/,
    );
    expect(() => repeatBatch([[1]], { r: -1 }, { maxPositions: 64 })).toThrow(
      /r must be an integer ≥ 0, got -1/,
    );
  });
});

describe('positions and masks', () => {
  it('rotary scores depend on the distance between positions only, in every head', async () => {
    const dev = devices.cpu;
    const [dim, heads] = [16, 2];
    const tables = rotaryTables(dev, 32, dim, heads);
    const q = dev.randn([1, 1, dim], { seed: 1 });
    const k = dev.randn([1, 1, dim], { seed: 2 });
    const scores = async (pq: number, pk: number) => {
      const at = (p: number) => dev.tensor([p], [1, 1], 'i32');
      const prod = applyRotary(q, tables, at(pq)).mul(applyRotary(k, tables, at(pk)));
      return Array.from(
        await prod
          .reshape([heads, dim / heads])
          .sum(1)
          .hostData(),
      );
    };
    // The tables are f32 (rounding ~1e-7 relative), hence 5 digits.
    const [a, b, c] = [await scores(9, 4), await scores(25, 20), await scores(9, 5)];
    for (let h = 0; h < heads; h++) {
      expect(a[h]).toBeCloseTo(b[h]!, 5);
      expect(a[h]).not.toBeCloseTo(c[h]!, 3);
    }
    // Position 0 is the identity.
    expect(Array.from(await applyRotary(q, tables, at0(dev)).hostData())).toEqual(
      Array.from(await q.hostData()),
    );
  });

  it('middle unmasking follows the paper’s band', () => {
    expect(middleBand(32)).toEqual([10, 21]);
    expect(middleBand(28)).toEqual([9, 18]);
    expect(causalLayers('unmask-middle', 4)).toEqual([true, false, false, true]);
    expect(causalLayers({ unmaskedLayers: [0, 3] }, 4)).toEqual([false, true, true, false]);
    expect(() => causalLayers({ unmaskedLayers: [4] }, 4)).toThrow(/unmasked layer 4 is outside 0..3/);
  });
});

describe('configuration', () => {
  it('the parameter count is the closed form of a GPT-2 block stack', () => {
    for (const cfg of [small(), small({ positions: 'learned', tieEmbeddings: false })]) {
      const { vocabSize: v, dModel: d, dFF: f, layers, maxPositions } = cfg;
      // Per block: 2 LayerNorms (2d each), q/k/v/out projections (d² + d each), MLP up (df + f) and down (fd + d).
      const block = 2 * 2 * d + 4 * (d * d + d) + (d * f + f) + (f * d + d);
      const positions = cfg.positions === 'learned' ? maxPositions * d : 0;
      const head = cfg.tieEmbeddings ? 0 : v * d;
      expect(parameterCount(cfg)).toBe(v * d + positions + layers * block + 2 * d + head);
      const total = Object.values(paramShapes(cfg)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
      expect(parameterCount(cfg)).toBe(total);
    }
  });

  it('each parameter is declared once: its init and weight decay follow from its spec', async () => {
    const cfg = small({ positions: 'learned', tieEmbeddings: false });
    const specs = paramSpecs(cfg);
    // Weight decay on the linear layers' matrices only: never on embeddings, biases or LayerNorm parameters.
    expect([...noDecayNames(cfg)].every((n) => /(^embed\.|\.bias$|(ln\d|norm)\.weight$)/.test(n))).toBe(true);
    expect(Object.keys(specs).filter((n) => !noDecayNames(cfg).has(n))).toEqual(
      Object.keys(specs).filter((n) =>
        /(attn\.(q|k|v|proj)|mlp\.(fc|proj))\.weight$|^lmHead\.weight$/.test(n),
      ),
    );
    const model = Transformer.create(devices.cpu, cfg, 3);
    const std = async (name: string) => {
      const x = Array.from(await model.params[name]!.hostData());
      return Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
    };
    expect(Array.from(await model.params['blocks.0.ln1.weight']!.hostData()).every((v) => v === 1)).toBe(
      true,
    );
    expect(Array.from(await model.params['blocks.1.mlp.fc.bias']!.hostData()).every((v) => v === 0)).toBe(
      true,
    );
    // Residual output projections are scaled by 1/√(2L) (GPT-2); the rest draw N(0, 0.02).
    expect(specs['blocks.0.mlp.proj.weight']!.init).toEqual({
      kind: 'normal',
      std: 0.02 / Math.sqrt(2 * cfg.layers),
    });
    expect(await std('embed.tokens')).toBeCloseTo(0.02, 2);
    expect(await std('blocks.0.attn.proj.weight')).toBeLessThan(0.7 * 0.02);
    model.dispose();
  });

  it('clear errors for bad shapes and options', () => {
    expect(() => small({ heads: 3 })).toThrow(/config.heads \(3\) must divide config.dModel \(16\)/);
    const l = labeler(devices.cpu, small());
    expect(() => new SequenceLabeler(l.backbone, { numLabels: 3, layer: 5 })).toThrow(
      /ℓ must be in 1..4.*got 5/,
    );
    expect(() => new SequenceLabeler(l.backbone, { numLabels: 3, layer: 0 })).toThrow(
      /ℓ must be in 1..4.*got 0/,
    );
    expect(() => new SequenceLabeler(l.backbone, { numLabels: 3, r: -2 })).toThrow(
      /r must be an integer ≥ 0/,
    );
    expect(() => l.layout([Array(40).fill(2)])).not.toThrow();
    // A learned position table is fixed: r+1 copies must fit it. Rotary tables grow to the length needed.
    const learned = labeler(devices.cpu, small({ positions: 'learned' }));
    const sr = new SequenceLabeler(learned.backbone, { numLabels: 3, r: 1 });
    expect(() => sr.layout([Array(40).fill(2)])).toThrow(
      /needs 80 positions, but the model has 64 \(16 too many\)/,
    );
    expect(() =>
      new SequenceLabeler(l.backbone, { numLabels: 3, r: 1 }).layout([Array(40).fill(2)]),
    ).not.toThrow();
    const params = { ...l.backbone.params };
    params['norm.weight'] = devices.cpu.zeros([15]);
    expect(() => new Transformer(devices.cpu, l.backbone.config, params)).toThrow(
      /'norm.weight' must be \[16\], got \[15\]/,
    );
  });
});
