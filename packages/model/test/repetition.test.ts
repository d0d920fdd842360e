/**
 * Sequence repetition's copy map, asserted literally: the exact token, position, repeat-index (the rows
 * `gather(table, repeatIndex)` copies the input from) and last-copy arrays for a small padded batch; and SR
 * logits and gradients equal to the backbone run on the literally written-out sequence `[s, s]` (or
 * `[s, sep, s, sep, s]`) read at its last copy. The other SR tests compare runs built from the same layout, so
 * a wrong map would pass them; these build the reference without repeatBatch.
 */
import { Device, type Tensor, concat, crossEntropy, gather, matmul, tidy } from '@reprise/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '../../core/test/helpers.ts';
import type { OutputRows } from '../src/block.ts';
import {
  type LabelerOptions,
  SequenceLabeler,
  Transformer,
  type TransformerConfig,
  causalLayers,
  lastCopyBias,
  lastCopyStart,
  makeConfig,
  repeatBatch,
} from '../src/index.ts';
import { LLAMA_FIELDS } from './helpers.ts';

// Two sentences of lengths 3 and 2 (padded to 3), tokens chosen distinct from the separator S and padding 0.
const [a, b, c, d, e] = [11, 12, 13, 14, 15];
const S = 1;
const pair = [
  [a, b, c],
  [d, e],
];
const layoutOf = (options: Parameters<typeof repeatBatch>[1]) =>
  repeatBatch(pair, options, { maxPositions: 64 });
const arrays = (l: ReturnType<typeof layoutOf>) => ({
  seq: l.seq,
  lengths: [...l.lengths],
  tokens: [...l.tokens],
  positions: [...l.positions],
  repeatIndex: [...l.repeatIndex],
  lastCopyRows: [...l.lastCopyRows],
});

describe('the copy map, literally (sentences of 3 and 2 tokens, padded to 3)', () => {
  // Padding (after each sentence's valid length) reads base row 0 at position 0: any valid row will do, its
  // keys are masked and its outputs ignored. The separator is base row batch·baseSeq = 6 (after the 6 rows of
  // the two padded sentences). The labels of a padded sentence b are read at row b·seq (ignored by the loss).
  it('r = 1, no separator, positions continue', () => {
    const l = layoutOf({ r: 1 });
    expect([...l.baseTokens]).toEqual([a, b, c, d, e, 0]);
    expect(arrays(l)).toEqual({
      seq: 6,
      lengths: [6, 4],
      tokens: [a, b, c, a, b, c, d, e, d, e, 0, 0],
      positions: [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 0],
      repeatIndex: [0, 1, 2, 0, 1, 2, 3, 4, 3, 4, 0, 0],
      lastCopyRows: [3, 4, 5, 8, 9, 6],
    });
  });

  it('r = 1, no separator, positions reset', () => {
    expect(arrays(layoutOf({ r: 1, positions: 'reset' }))).toEqual({
      seq: 6,
      lengths: [6, 4],
      tokens: [a, b, c, a, b, c, d, e, d, e, 0, 0],
      positions: [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 0, 0],
      repeatIndex: [0, 1, 2, 0, 1, 2, 3, 4, 3, 4, 0, 0],
      lastCopyRows: [3, 4, 5, 8, 9, 6],
    });
  });

  it('r = 1 with a separator, positions continue and reset (the separator takes position n)', () => {
    const expected = {
      seq: 7,
      lengths: [7, 5],
      tokens: [a, b, c, S, a, b, c, d, e, S, d, e, 0, 0],
      repeatIndex: [0, 1, 2, 6, 0, 1, 2, 3, 4, 6, 3, 4, 0, 0],
      lastCopyRows: [4, 5, 6, 10, 11, 7],
    };
    expect(arrays(layoutOf({ r: 1, separator: S }))).toEqual({
      ...expected,
      positions: [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 0, 0],
    });
    expect(arrays(layoutOf({ r: 1, separator: S, positions: 'reset' }))).toEqual({
      ...expected,
      positions: [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 0, 1, 0, 0],
    });
  });

  it('r = 2, no separator, positions continue and reset', () => {
    const expected = {
      seq: 9,
      lengths: [9, 6],
      tokens: [a, b, c, a, b, c, a, b, c, d, e, d, e, d, e, 0, 0, 0],
      repeatIndex: [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 3, 4, 3, 4, 0, 0, 0],
      lastCopyRows: [6, 7, 8, 13, 14, 9],
    };
    expect(arrays(layoutOf({ r: 2 }))).toEqual({
      ...expected,
      positions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 0, 0, 0],
    });
    expect(arrays(layoutOf({ r: 2, positions: 'reset' }))).toEqual({
      ...expected,
      positions: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 0, 1, 0, 0, 0],
    });
  });

  it('r = 2 with a separator, positions continue and reset', () => {
    const expected = {
      seq: 11,
      lengths: [11, 8],
      tokens: [a, b, c, S, a, b, c, S, a, b, c, d, e, S, d, e, S, d, e, 0, 0, 0],
      repeatIndex: [0, 1, 2, 6, 0, 1, 2, 6, 0, 1, 2, 3, 4, 6, 3, 4, 6, 3, 4, 0, 0, 0],
      lastCopyRows: [8, 9, 10, 17, 18, 11],
    };
    expect(arrays(layoutOf({ r: 2, separator: S }))).toEqual({
      ...expected,
      positions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0],
    });
    expect(arrays(layoutOf({ r: 2, separator: S, positions: 'reset' }))).toEqual({
      ...expected,
      positions: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0, 0, 0],
    });
  });

  it('the last-copy attention bias lets each label row see exactly its keys (causal and not)', () => {
    const l = layoutOf({ r: 1 });
    const visible = (bias: Float32Array) =>
      Array.from({ length: l.batch * l.baseSeq }, (_, q) =>
        Array.from({ length: l.seq }, (_, k) => (bias[q * l.seq + k] === 0 ? 1 : 0)).join(''),
      );
    // Rows 3, 4, 5 of sentence 0 and rows 2, 3 (flat 8, 9) of sentence 1; its padding row reads row 0.
    expect(visible(lastCopyBias(l, true))).toEqual([
      '111100',
      '111110',
      '111111',
      '111000',
      '111100',
      '100000',
    ]);
    expect(visible(lastCopyBias(l, false))).toEqual([
      '111111',
      '111111',
      '111111',
      '111100',
      '111100',
      '111100',
    ]);
  });

  it('the last copy is contiguous under every option: row i of sentence b is b·seq + lastCopyStart[b] + i', () => {
    for (const r of [0, 1, 2]) {
      for (const separator of [null, S]) {
        for (const positions of ['continue', 'reset'] as const) {
          const l = layoutOf({ r, separator, positions });
          const start = lastCopyStart(l);
          l.baseLengths.forEach((len, bi) => {
            const rows = [...l.lastCopyRows.slice(bi * l.baseSeq, bi * l.baseSeq + len)];
            expect(rows, `r ${r}, separator ${separator}, ${positions}, sentence ${bi}`).toEqual(
              range(bi * l.seq + start[bi]!, bi * l.seq + start[bi]! + len),
            );
            expect(start[bi]! + len, 'the last copy ends the sequence').toBe(l.lengths[bi]);
          });
        }
      }
    }
  });
});

// Float64 on the CPU twin: the labeler and the literal run compute the same function with the same ops, but
// the labeler's last-copy-only layer runs its attention over fewer query rows, so the sums may run in a
// different order: agreement to ~1e-12 relative is expected, 1e-9 leaves margin.
const F64_TOL = { rtol: 1e-9, atol: 1e-10 };

let cpu: Device;
beforeAll(async () => {
  cpu = await Device.create({ device: 'cpu', poison: true });
});
afterAll(() => cpu?.destroy());

const config = (over: Partial<TransformerConfig> = {}) =>
  makeConfig({
    vocabSize: 23,
    dModel: 16,
    heads: 2,
    layers: 3,
    dFF: 32,
    maxPositions: 64,
    dropout: 0,
    ...over,
  });

function labeler(cfg: TransformerConfig, options: Partial<LabelerOptions>): SequenceLabeler {
  // Weights 10× GPT-2's 0.02 so that attention is far from uniform and every position carries signal.
  const backbone = Transformer.create(cpu, cfg, 5);
  for (const [name, t] of Object.entries(backbone.params)) {
    if (name.endsWith('.weight') && t.rank === 2) t.assign(tidy(() => t.mul(10)));
  }
  return new SequenceLabeler(backbone, { numLabels: 5, headDropout: 0, seed: 2, ...options });
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** The head on the backbone's hidden states of one literally written sequence, at `rows`: [rows, C]. */
function literalLogits(l: SequenceLabeler, tokens: number[], positions: number[], rows: number[]): Tensor {
  const t = tokens.length;
  const h = l.backbone.hidden(l.backbone.embedTokens(cpu.tensor(tokens, [1, t], 'i32')), {
    lengths: cpu.tensor([t], [1], 'i32'),
    positions: cpu.tensor(positions, [1, t], 'i32'),
    mask: l.options.mask,
    layers: l.options.layer,
    finalNorm: l.options.finalNorm,
  });
  const picked = gather(h.reshape([t, l.backbone.config.dModel]), cpu.tensor(rows, [rows.length], 'i32'));
  return matmul(picked, l.head['head.weight']!, { bias: l.head['head.bias']! });
}

const s = [4, 9, 2, 17, 11, 6];
const t3 = [3, 8, 1];
const n = s.length;
/** Each case: labeler options, and per sentence the literal sequence, its positions and its label rows. */
const literalCases: {
  name: string;
  cfg?: Partial<TransformerConfig>;
  options: Partial<LabelerOptions>;
  literal: (x: number[]) => { tokens: number[]; positions: number[]; rows: number[] };
}[] = [
  {
    name: 'r = 1: [s, s] read at rows n … 2n−1',
    options: { r: 1 },
    literal: (x) => ({
      tokens: [...x, ...x],
      positions: range(0, 2 * x.length),
      rows: range(x.length, 2 * x.length),
    }),
  },
  {
    name: 'r = 1, learned positions, exit at ℓ = 2 without final norm: [s, s] at rows n … 2n−1',
    cfg: { positions: 'learned' },
    options: { r: 1, layer: 2, finalNorm: false },
    literal: (x) => ({
      tokens: [...x, ...x],
      positions: range(0, 2 * x.length),
      rows: range(x.length, 2 * x.length),
    }),
  },
  {
    name: 'r = 2 with separator 1: [s, 1, s, 1, s] at rows 2n+2 … 3n+1',
    options: { r: 2, separator: 1 },
    literal: (x) => ({
      tokens: [...x, 1, ...x, 1, ...x],
      positions: range(0, 3 * x.length + 2),
      rows: range(2 * x.length + 2, 3 * x.length + 2),
    }),
  },
  {
    name: 'r = 1, positions reset: [s, s] at positions 0 … n−1 twice',
    options: { r: 1, positions: 'reset' },
    literal: (x) => ({
      tokens: [...x, ...x],
      positions: [...range(0, x.length), ...range(0, x.length)],
      rows: range(x.length, 2 * x.length),
    }),
  },
];

describe('SR equals the backbone on the literally repeated sequence', () => {
  for (const { name, cfg, options, literal } of literalCases) {
    it(`${name}: logits of a padded batch, last-copy-only and full last layer`, async () => {
      const fast = labeler(config(cfg), { ...options, lastCopyOnly: true });
      const slow = new SequenceLabeler(fast.backbone, { ...fast.options, lastCopyOnly: false }, fast.head);
      for (const l of [fast, slow]) {
        const layout = l.layout([s, t3]);
        const out = tidy(() => l.forward(layout));
        const logits = await out.hostData();
        out.dispose();
        for (const [bi, x] of [s, t3].entries()) {
          const { tokens, positions, rows } = literal(x);
          const want = tidy(() => literalLogits(l, tokens, positions, rows));
          const got = logits.slice(bi * n * 5, (bi * n + x.length) * 5);
          expectClose(
            got,
            await want.hostData(),
            F64_TOL,
            `lastCopyOnly ${l.options.lastCopyOnly}, sentence ${bi}`,
          );
          want.dispose();
        }
      }
      fast.dispose();
    });
  }

  it('r = 1: the gradients of the loss equal those of the literal [s, s] (embeddings sum over the copies)', async () => {
    const l = labeler(config(), { r: 1 });
    const labels = [0, 3, 1, 4, 2, 2];
    const watched = ['embed.tokens', 'blocks.0.attn.q.weight', 'blocks.2.mlp.proj.weight', 'norm.weight'];
    const grads = async (loss: () => Tensor) => {
      const params = { ...l.backbone.params, ...l.head };
      for (const p of Object.values(params)) p.zeroGrad();
      tidy(() => loss().backward());
      const out = await Promise.all([...watched, 'head.weight'].map((k) => params[k]!.grad!.hostData()));
      // A gradient that is identically zero would make the comparison vacuous.
      for (const [i, g] of out.entries())
        expect(
          g.some((v) => v !== 0),
          `${watched[i] ?? 'head'} ≠ 0`,
        ).toBe(true);
      return out;
    };
    const viaLabeler = await grads(() => l.loss(l.layout([s]), Int32Array.from(labels), false));
    const viaLiteral = await grads(() =>
      crossEntropy(
        literalLogits(l, [...s, ...s], range(0, 2 * n), range(n, 2 * n)),
        cpu.tensor(labels, [n], 'i32'),
      ),
    );
    for (const [i, g] of viaLabeler.entries())
      expectClose(g, viaLiteral[i]!, F64_TOL, `gradient of ${[...watched, 'head.weight'][i]}`);
    l.dispose();
  });
});

describe('the last-copy-only layer: fused attention at queryStart = explicit scores under lastCopyBias', () => {
  // The explicit path is the former implementation (gathered queries, scores + additive mask + softmax); the
  // labeler now takes the fused one. Padding rows differ by design (zeros vs a copy of row 0), so tokens only.
  it.each([
    ['r = 1', {}, { r: 1 }],
    ['r = 2, separator, positions reset', {}, { r: 2, separator: S, positions: 'reset' as const }],
    ['r = 1, unmask-full (bidirectional exit layer)', {}, { r: 1, mask: 'unmask-full' as const }],
    ['r = 1, learned positions', { positions: 'learned' as const }, { r: 1 }],
    ['r = 1, Llama-shaped (RMSNorm, SwiGLU, 2 key/value heads of 4, no biases)', LLAMA_FIELDS, { r: 1 }],
  ] as const)('%s: hidden states and gradients', async (_, cfg, options) => {
    const l = labeler(config(cfg), options);
    const layout = l.layout([s, t3, [5, 5, 12, 20]]);
    const { batch, seq, baseSeq } = layout;
    const exitCausal = causalLayers(l.options.mask, l.backbone.config.layers).at(-1)!;
    const run = async (rows: Omit<OutputRows, 'rows' | 'positions'>) => {
      const w = l.backbone.params['blocks.2.attn.q.weight']!;
      const k = l.backbone.params['blocks.1.attn.k.weight']!;
      w.zeroGrad();
      k.zeroGrad();
      const h = tidy(() => {
        const x = l.embed(layout);
        let table = x.reshape([batch * baseSeq, x.shape[2]!]);
        if (layout.separator !== null)
          table = concat([table, l.backbone.embedTokens(cpu.tensor([S], [1], 'i32'))], 0);
        const input = gather(table, cpu.tensor(layout.repeatIndex, [batch, seq], 'i32'));
        const out = l.backbone.hidden(input, {
          lengths: cpu.tensor(layout.lengths, [batch], 'i32'),
          positions: cpu.tensor(layout.positions, [batch, seq], 'i32'),
          mask: l.options.mask,
          outputRows: {
            rows: cpu.tensor(layout.lastCopyRows, [batch, baseSeq], 'i32'),
            positions: cpu.tensor(
              Int32Array.from(layout.lastCopyRows, (row) => layout.positions[row]!),
              [batch, baseSeq],
              'i32',
            ),
            ...rows,
          },
        });
        // Tokens only: a weighted sum over each sentence's rows, so that every row reaches the gradients.
        const mask = Array.from({ length: batch * baseSeq }, (_, k) =>
          k % baseSeq < layout.baseLengths[Math.floor(k / baseSeq)]! ? 1 + (k % 3) : 0,
        );
        const kept = out.mul(cpu.tensor(mask, [batch, baseSeq, 1]));
        kept.mul(kept).sum().backward();
        return kept;
      });
      const values = await h.hostData();
      h.dispose();
      return [values, await w.grad!.hostData(), await k.grad!.hostData()];
    };
    const fused = await run({ queryStart: cpu.tensor(lastCopyStart(layout), [batch], 'i32') });
    const explicit = await run({
      bias: cpu.tensor(lastCopyBias(layout, exitCausal), [batch, 1, baseSeq, seq]),
    });
    ['hidden states', 'gradient of the exit q weight', 'gradient of an earlier k weight'].forEach(
      (name, i) => {
        expect(
          fused[i]!.some((v) => v !== 0),
          `${name} ≠ 0`,
        ).toBe(true);
        expectClose(fused[i]!, explicit[i]!, F64_TOL, name);
      },
    );
    l.dispose();
  });
});
