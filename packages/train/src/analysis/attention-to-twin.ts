/**
 * @file Where a backbone attends under sequence repetition: for each token of the last copy, the attention mass
 * its query puts on its twin (the same token in the copy before) and on the twin's successor ("twin + 1", the
 * key an induction head reads: it holds the token that comes next), per layer and head, averaged over tokens.
 * The model runs unchanged; its `onAttention` tap hands over q and k, and the probabilities are computed on the
 * host (attention-probs.ts).
 */
import { type Tensor, keep, noGrad, tidy } from '@reprise/core';
import { type Transformer, lastCopyStart, repeatBatch } from '@reprise/model';
import { attentionRow } from './attention-probs.ts';

export interface TwinAttentionOptions {
  /** Extra copies (≥ 1, default 1); the twin is in the copy just before the last. */
  r?: number;
  /** Positions continue across copies (default, as in the paper) or restart in each copy. */
  positions?: 'continue' | 'reset';
  /** Sentences per forward pass (default 16). */
  batchSize?: number;
}

export interface TwinAttention {
  r: number;
  positions: 'continue' | 'reset';
  /** The backbone's own mask: causal for a decoder, bidirectional for an encoder. */
  mask: 'causal' | 'bidirectional';
  sentences: number;
  /** Last-copy tokens averaged over for `twin` (every token), and for `twinNext` (all but each last token). */
  tokens: { twin: number; twinNext: number };
  /** [layer][head]: mean attention on the twin + 1 key. */
  twinNext: number[][];
  /** [layer][head]: mean attention on the twin. */
  twin: number[][];
  /** Mean of 1 / (keys the query sees) over the same tokens: what a head attending evenly puts on any one key. */
  uniform: { twin: number; twinNext: number };
}

/** Attention to twin and twin + 1 over `sentences` (token ids, no special tokens needed). */
export async function attentionToTwin(
  model: Transformer,
  sentences: readonly (readonly number[])[],
  options: TwinAttentionOptions = {},
): Promise<TwinAttention> {
  const r = options.r ?? 1;
  const positions = options.positions ?? 'continue';
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(r) || r < 1) throw new Error(`attention to twin: r must be an integer ≥ 1, got ${r}`);
  if (sentences.length === 0) throw new Error('attention to twin: no sentences given');
  const { layers, heads, dModel } = model.config;
  const zeros = () => Array.from({ length: layers }, () => new Array<number>(heads).fill(0));
  const sums = { twin: zeros(), twinNext: zeros(), uniformTwin: 0, uniformNext: 0, nTwin: 0, nNext: 0 };
  let causal = model.config.kind === 'decoder';
  for (let start = 0; start < sentences.length; start += batchSize) {
    const layout = repeatBatch(
      sentences.slice(start, start + batchSize),
      { r, positions },
      { maxPositions: model.positionLimit },
    );
    const { batch, seq } = layout;
    const dev = model.device;
    const taps: { q: Tensor; k: Tensor; causal: boolean }[] = [];
    tidy(() =>
      noGrad(() => {
        model.hidden(model.embedTokens(dev.tensor(layout.tokens, [batch, seq], 'i32')), {
          lengths: dev.tensor(layout.lengths, [batch], 'i32'),
          positions: dev.tensor(layout.positions, [batch, seq], 'i32'),
          finalNorm: false,
          onAttention: (t) => taps.push({ q: keep(t.q), k: keep(t.k), causal: t.causal }),
        });
      }),
    );
    const lastStart = lastCopyStart(layout);
    for (const [layer, tap] of taps.entries()) {
      const a = {
        q: (await tap.q.data()) as Float32Array,
        k: (await tap.k.data()) as Float32Array,
        batch,
        queries: seq,
        seq,
        heads,
        dim: dModel,
        lengths: layout.lengths,
        causal: tap.causal,
      };
      tap.q.dispose();
      tap.k.dispose();
      causal = tap.causal;
      for (let b = 0; b < batch; b++) {
        const n = layout.baseLengths[b]!;
        const last = lastStart[b]!;
        const previous = last - n; // no separator: copies sit back to back
        for (let i = 0; i < n; i++) {
          const row = last + i;
          for (let h = 0; h < heads; h++) {
            const p = attentionRow(a, b, h, row);
            sums.twin[layer]![h]! += p[previous + i];
            if (i < n - 1) sums.twinNext[layer]![h]! += p[previous + i + 1];
          }
          if (layer > 0) continue; // token counts and the even baseline once, not per layer
          const visible = tap.causal ? row + 1 : layout.lengths[b]!;
          sums.uniformTwin += 1 / visible;
          sums.nTwin++;
          if (i < n - 1) {
            sums.uniformNext += 1 / visible;
            sums.nNext++;
          }
        }
      }
    }
  }
  const mean = (m: number[][], n: number) => m.map((row) => row.map((x) => x / n));
  return {
    r,
    positions,
    mask: causal ? 'causal' : 'bidirectional',
    sentences: sentences.length,
    tokens: { twin: sums.nTwin, twinNext: sums.nNext },
    twinNext: mean(sums.twinNext, sums.nNext),
    twin: mean(sums.twin, sums.nTwin),
    uniform: { twin: sums.uniformTwin / sums.nTwin, twinNext: sums.uniformNext / sums.nNext },
  };
}
