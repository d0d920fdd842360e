/**
 * Attention probabilities for analysis: the model's `onAttention` tap plus the host softmax reproduce the fused
 * attention output of every layer (causal, bidirectional, padded, last-copy rows only), and attention to the
 * twin / twin + 1 under SR matches hand-computed values on two models built to attend in a known way.
 */
import { Device, type Tensor, keep, noGrad, tidy } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import {
  type AttentionTap,
  Transformer,
  type TransformerConfig,
  initParams,
  lastCopyStart,
  makeConfig,
  repeatBatch,
} from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostAttention, attentionRow } from '../src/analysis/attention-probs.ts';
import { attentionToTwin } from '../src/analysis/attention-to-twin.ts';
import { tinyModelConfig } from './fixtures/tiny-model.ts';

let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => device?.destroy());

const config = (over: Partial<TransformerConfig> = {}) => tinyModelConfig(30, over);

/** Larger weights than GPT-2's 0.02 so that attention is far from even and the check means something. */
function sharpModel(cfg: TransformerConfig, seed: number): Transformer {
  const params = initParams(device, cfg, seed);
  for (const [name, t] of Object.entries(params))
    if (/attn\.[qk]\.weight$|embed\.tokens/.test(name)) params[name] = t.mul(25).detach().setRequiresGrad();
  return new Transformer(device, cfg, params);
}

interface Kept {
  tap: AttentionTap;
}

/** Runs hidden() on [B, T] tokens with the tap on, keeping every layer's q, k, v and attention output. */
function tapped(model: Transformer, tokens: number[], shape: [number, number], lengths: number[]): Kept[] {
  const kept: Kept[] = [];
  const [b, t] = shape;
  tidy(() =>
    noGrad(() => {
      model.hidden(model.embedTokens(device.tensor(tokens, shape, 'i32')), {
        lengths: device.tensor(lengths, [b], 'i32'),
        positions: device.tensor(
          Array.from({ length: b * t }, (_, i) => i % t),
          shape,
          'i32',
        ),
        onAttention: keepTap(kept),
      });
    }),
  );
  return kept;
}

/** An onAttention callback that keeps the tap's tensors past the forward pass's scope. */
const keepTap = (kept: Kept[]) => (tap: AttentionTap) => {
  for (const x of [tap.q, tap.k, tap.v, tap.attended]) keep(x);
  kept.push({ tap });
};

/** Largest |Σ_j p_j v_j − attended| over the valid query rows of every layer, with p from attentionRow. */
async function worstMismatch(
  kept: Kept[],
  model: Transformer,
  lengths: number[],
  queryStart?: number[],
): Promise<{ worst: number; rows: number }> {
  const { heads, dModel } = model.config;
  const headDim = dModel / heads;
  let worst = 0;
  let rows = 0;
  for (const { tap } of kept) {
    const [batch, queries] = tap.q.shape as [number, number];
    const seq = tap.k.shape[1]!;
    const a: HostAttention = {
      q: (await tap.q.data()) as Float32Array,
      k: (await tap.k.data()) as Float32Array,
      batch,
      queries,
      seq,
      heads,
      dim: dModel,
      lengths,
      causal: tap.causal,
      queryStart,
    };
    const v = await tap.v.data();
    const out = await tap.attended.data();
    for (const x of [tap.q, tap.k, tap.v, tap.attended]) x.dispose();
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < queries; i++) {
        if ((queryStart?.[b] ?? 0) + i >= lengths[b]!) continue;
        rows++;
        for (let h = 0; h < heads; h++) {
          const p = attentionRow(a, b, h, i);
          for (let c = 0; c < headDim; c++) {
            let sum = 0;
            for (let j = 0; j < seq; j++) sum += p[j]! * v[(b * seq + j) * dModel + h * headDim + c]!;
            const got = out[(b * queries + i) * dModel + h * headDim + c]!;
            worst = Math.max(worst, Math.abs(sum - got));
          }
        }
      }
  }
  return { worst, rows };
}

const softmaxSpread = async (kept: Kept[], lengths: number[]) => {
  // The largest probability any query gives one key: near 1 means the check exercises a peaked softmax.
  const { tap } = kept[0]!;
  const [batch, seq] = tap.k.shape as [number, number];
  const a: HostAttention = {
    q: (await tap.q.data()) as Float32Array,
    k: (await tap.k.data()) as Float32Array,
    batch,
    queries: tap.q.shape[1]!,
    seq,
    heads: 2,
    dim: tap.k.shape[2]!,
    lengths,
    causal: tap.causal,
  };
  let peak = 0;
  for (let i = 0; i < lengths[0]!; i++) peak = Math.max(peak, ...attentionRow(a, 0, 0, i));
  return peak;
};

describe('attention probabilities from the tap', () => {
  const tokens = [3, 7, 1, 9, 4, 4, 12, 5, 2, 8, 11, 6, 0, 0];
  const lengths = [7, 4]; // the second sequence is padded: its keys past 4 must get no weight

  it('reproduce the fused attention output of every layer of a decoder (causal, padded)', async () => {
    const model = sharpModel(config(), 1);
    const kept = tapped(model, tokens, [2, 7], lengths);
    expect(kept.map((k) => [k.tap.layer, k.tap.causal])).toEqual([
      [0, true],
      [1, true],
    ]);
    expect(await softmaxSpread(kept, lengths)).toBeGreaterThan(0.6);
    const { worst, rows } = await worstMismatch(kept, model, lengths);
    expect(rows).toBe(2 * (7 + 4));
    expect(worst).toBeLessThan(2e-4);
    model.dispose();
  });

  it('reproduce it for an encoder (bidirectional)', async () => {
    const model = sharpModel(config({ kind: 'encoder' }), 2);
    const kept = tapped(model, tokens, [2, 7], lengths);
    expect(kept.every((k) => !k.tap.causal)).toBe(true);
    const { worst } = await worstMismatch(kept, model, lengths);
    expect(worst).toBeLessThan(2e-4);
    model.dispose();
  });

  it('reproduce it when the last block computes the last copy only (queries offset by queryStart)', async () => {
    const model = sharpModel(config(), 3);
    const layout = repeatBatch(
      [
        [5, 9, 2, 7],
        [8, 3],
      ],
      { r: 1 },
      { maxPositions: 64 },
    );
    const starts = [...lastCopyStart(layout)];
    const kept: Kept[] = [];
    tidy(() =>
      noGrad(() => {
        const { batch, seq, baseSeq } = layout;
        model.hidden(model.embedTokens(device.tensor(layout.tokens, [batch, seq], 'i32')), {
          lengths: device.tensor(layout.lengths, [batch], 'i32'),
          positions: device.tensor(layout.positions, [batch, seq], 'i32'),
          outputRows: {
            rows: device.tensor(layout.lastCopyRows, [batch, baseSeq], 'i32'),
            positions: device.tensor(
              Int32Array.from(layout.lastCopyRows, (row) => layout.positions[row]!),
              [batch, baseSeq],
              'i32',
            ),
            queryStart: device.tensor(starts, [batch], 'i32'),
          },
          onAttention: keepTap(kept),
        });
      }),
    );
    expect(kept[1]!.tap.q.shape).toEqual([2, 4, 16]); // last block: the last copy's rows only
    const last = await worstMismatch([kept[1]!], model, [...layout.lengths], starts);
    expect(last.rows).toBe(4 + 2);
    expect(last.worst).toBeLessThan(2e-4);
    const first = await worstMismatch([kept[0]!], model, [...layout.lengths]);
    expect(first.worst).toBeLessThan(2e-4);
    model.dispose();
  });
});

describe('attention to the twin and twin + 1 under SR', () => {
  it('a head that attends evenly: 1 / (visible keys), computed by hand', async () => {
    // q and k weights zero → every score 0 → even attention over the keys a query sees.
    const cfg = config();
    const params = initParams(device, cfg, 4);
    for (const l of [0, 1])
      for (const name of ['q', 'k'])
        for (const part of ['weight', 'bias']) {
          const key = `blocks.${l}.attn.${name}.${part}`;
          params[key] = device.zeros(params[key]!.shape).setRequiresGrad();
        }
    const model = new Transformer(device, cfg, params);
    // Sentence of 3, r = 1: last-copy token i sits at row 3 + i and sees 4 + i keys.
    // twin: mean(1/4, 1/5, 1/6) = 37/180; twin + 1 (tokens 0 and 1 only): mean(1/4, 1/5) = 9/40.
    // Sentence of 2: rows 2, 3 see 3, 4 keys; twin: mean(1/3, 1/4); twin + 1 (token 0 only): 1/3.
    const t = await attentionToTwin(model, [
      [4, 8, 15],
      [16, 23],
    ]);
    expect(t.tokens).toEqual({ twin: 5, twinNext: 3 });
    const twin = (1 / 4 + 1 / 5 + 1 / 6 + 1 / 3 + 1 / 4) / 5;
    const twinNext = (1 / 4 + 1 / 5 + 1 / 3) / 3;
    for (const layer of [0, 1])
      for (const head of [0, 1]) {
        expect(t.twin[layer]![head]).toBeCloseTo(twin, 5);
        expect(t.twinNext[layer]![head]).toBeCloseTo(twinNext, 5);
      }
    expect(t.uniform.twin).toBeCloseTo(twin, 10);
    expect(t.uniform.twinNext).toBeCloseTo(twinNext, 10);
    expect(t.mask).toBe('causal');
    model.dispose();
  });

  it('a head that attends to equal tokens: the twin gets its hand-computed share, twin + 1 little', async () => {
    // One layer, one head of width 8, one-hot token embeddings, no position signal (a zero learned table), q = k =
    // LayerNorm(one-hot): the score of two equal tokens is 8/√8, of two different ones −(8/7)/√8.
    const cfg = makeConfig({
      vocabSize: 8,
      dModel: 8,
      heads: 1,
      layers: 1,
      dFF: 8,
      maxPositions: 16,
      dropout: 0,
      positions: 'learned',
    });
    const params = initParams(device, cfg, 5);
    const eye = Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 1 : 0));
    const set = (name: string, t: Tensor) => {
      params[name] = t.setRequiresGrad();
    };
    set('embed.tokens', device.tensor(eye, [8, 8]));
    set('embed.positions', device.zeros([16, 8]));
    set('blocks.0.attn.q.weight', device.tensor(eye, [8, 8]));
    set('blocks.0.attn.k.weight', device.tensor(eye, [8, 8]));
    const model = new Transformer(device, cfg, params);
    // Tokens 1 2 3 | 1 2 3: last-copy token i (row 3 + i) sees 2 equal keys (twin, itself) and 2 + i others.
    const gap = (8 + 8 / 7) / Math.sqrt(8); // score(equal) − score(different)
    const e = Math.exp(-gap);
    const twinAt = (i: number) => 1 / (2 + (2 + i) * e);
    const nextAt = (i: number) => e / (2 + (2 + i) * e);
    const t = await attentionToTwin(model, [[1, 2, 3]]);
    // LayerNorm's ε (1e-5 against a variance of 7/64) moves the scores by ~1e-4.
    expect(t.twin[0]![0]).toBeCloseTo((twinAt(0) + twinAt(1) + twinAt(2)) / 3, 3);
    expect(t.twinNext[0]![0]).toBeCloseTo((nextAt(0) + nextAt(1)) / 2, 3);
    expect(t.twin[0]![0]).toBeGreaterThan(0.45);
    model.dispose();
  });
});
