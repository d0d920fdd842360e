/**
 * Host-side training data: labels on the first (or last) subword, length-bucketed deterministic batches,
 * language-model windows and BERT masking, and the method → labeler settings mapping with its errors.
 */
import { IGNORE_LABEL, makeConfig } from '@reprise/model';
import { describe, expect, it } from 'vitest';
import { trainBpe } from '../src/tokenizer/index.ts';
import { FINETUNE_DEFAULTS } from '../src/training/finetune.ts';
import { buildLabelVocab, encodeLabeled, makeBatches } from '../src/training/labeled-batches.ts';
import { lmBatch, tokenStream } from '../src/training/lm-batches.ts';
import { labelerSettings } from '../src/training/methods.ts';

const words = 'the cat sat on the mat while the other cats watched quietly from the windowsill'.split(' ');
const tokenizer = trainBpe(
  Array.from({ length: 50 }, () => words),
  { vocabSize: 300, minFrequency: 1 },
);

describe('labeled batches', () => {
  const sentences = [
    { words: ['the', 'windowsill', 'cats'], labels: ['DET', 'NOUN', 'NOUN'] },
    { words: ['watched', 'quietly'], labels: ['VERB', 'ADV'] },
  ];
  const vocab = buildLabelVocab(sentences);

  it('label ids by frequency, one label per word on its first or last subword, the rest ignored', () => {
    expect(vocab.labels).toEqual(['NOUN', 'ADV', 'DET', 'VERB']);
    const [first] = encodeLabeled(sentences, tokenizer, vocab, { maxTokens: 256 });
    const enc = tokenizer.encodeWords(sentences[0]!.words);
    expect(enc.ids.length).toBeGreaterThan(3); // 'windowsill' is split, so the test is meaningful
    expect(first!.wordToken).toEqual(enc.firstTokenOfWord);
    expect(first!.labels.filter((l) => l !== IGNORE_LABEL)).toEqual([2, 0, 0]);
    const [last] = encodeLabeled(sentences, tokenizer, vocab, { maxTokens: 256, labelSubword: 'last' });
    expect(last!.wordToken).toEqual(enc.lastTokenOfWord);
  });

  it('truncation drops the words past maxTokens from the labels; prediction keeps them all, in windows', () => {
    const [cut] = encodeLabeled(sentences, tokenizer, vocab, { maxTokens: 2 });
    expect(cut!.ids.length).toBe(2);
    expect(cut!.wordToken.filter((t) => t < 0).length).toBeGreaterThan(0);
    const enc = tokenizer.encodeWords(sentences[0]!.words);
    expect(cut!.whole).toEqual({ ids: enc.ids, carrier: enc.firstTokenOfWord });
    expect(cut!.windows.length).toBeGreaterThan(1);
    expect(cut!.windows.every((w) => w.end - w.start <= 2)).toBe(true);
  });

  it('batches cover every sentence once, depend only on (seed, epoch), and group similar lengths', () => {
    const items = Array.from({ length: 203 }, (_, i) => ({ ids: Array(((i * 37) % 41) + 1).fill(7) }));
    const a = makeBatches(items, 16, { seed: 3, epoch: 1 });
    expect(a.flat().sort((x, y) => x - y)).toEqual(items.map((_, i) => i));
    expect(makeBatches(items, 16, { seed: 3, epoch: 1 })).toEqual(a);
    expect(makeBatches(items, 16, { seed: 3, epoch: 2 })).not.toEqual(a);
    const spread = (b: number[]) =>
      Math.max(...b.map((i) => items[i]!.ids.length)) - Math.min(...b.map((i) => items[i]!.ids.length));
    const sortedSpread = makeBatches(items, 16).map(spread);
    expect(Math.max(...sortedSpread)).toBeLessThanOrEqual(5);
  });
});

describe('language-model batches', () => {
  const sentences = Array.from({ length: 40 }, (_, i) => words.slice(i % 5, (i % 5) + 8));
  const stream = tokenStream(sentences, tokenizer, 16);

  it('causal targets are the inputs shifted by one; batches are a function of (seed, index)', () => {
    const b = lmBatch(stream, 4, 1, 7, 'clm');
    for (let r = 0; r < 4; r++) {
      expect(Array.from(b.targets.slice(r * 16, r * 16 + 15))).toEqual(
        Array.from(b.inputs.slice(r * 16 + 1, r * 16 + 16)),
      );
    }
    expect(lmBatch(stream, 4, 1, 7, 'clm').inputs).toEqual(b.inputs);
    expect(lmBatch(stream, 4, 2, 7, 'clm').inputs).not.toEqual(b.inputs);
  });

  it('masked LM: about 15% of the non-special tokens are targets, mostly replaced by [MASK]', () => {
    let targets = 0;
    let masked = 0;
    let total = 0;
    for (let i = 0; i < 40; i++) {
      const b = lmBatch(stream, 4, 1, i, 'mlm', tokenizer);
      b.targets.forEach((t, k) => {
        total++;
        if (t === IGNORE_LABEL) return;
        targets++;
        expect(t).toBeGreaterThanOrEqual(6); // specials are never targets
        if (b.inputs[k] === tokenizer.special.mask) masked++;
      });
    }
    expect(targets / total).toBeGreaterThan(0.1);
    expect(targets / total).toBeLessThan(0.2);
    expect(masked / targets).toBeGreaterThan(0.7);
    expect(masked / targets).toBeLessThan(0.9);
  });
});

describe('methods', () => {
  const decoder = makeConfig({ vocabSize: 300, dModel: 16, heads: 2, layers: 4 });
  const encoder = { ...decoder, kind: 'encoder' as const };
  const o = FINETUNE_DEFAULTS;

  it('maps each method to its labeler settings', () => {
    expect(labelerSettings({ ...o, method: 'causal' }, decoder, 4)).toMatchObject({
      r: 0,
      mask: 'causal',
      layer: 4,
      separator: null,
    });
    expect(
      labelerSettings({ ...o, method: 'sr', r: 2, separator: true, layer: 2 }, decoder, 4),
    ).toMatchObject({ r: 2, mask: 'causal', layer: 2, separator: 4 });
    expect(labelerSettings({ ...o, method: 'unmask-middle' }, decoder, 4)).toMatchObject({
      r: 0,
      mask: 'unmask-middle',
    });
    expect(labelerSettings({ ...o, method: 'unmask-layers', unmaskedLayers: [1] }, decoder, 4).mask).toEqual({
      unmaskedLayers: [1],
    });
    expect(labelerSettings({ ...o, method: 'encoder' }, encoder, 4)).toMatchObject({
      r: 0,
      mask: 'bidirectional',
    });
  });

  it('refuses combinations that make no sense, saying why', () => {
    expect(() => labelerSettings({ ...o, method: 'encoder' }, decoder, 4)).toThrow(
      /needs an encoder backbone/,
    );
    expect(() => labelerSettings({ ...o, method: 'sr' }, encoder, 4)).toThrow(/needs a decoder backbone/);
    expect(() => labelerSettings({ ...o, method: 'sr', r: 0 }, decoder, 4)).toThrow(
      /r ≥ 1 extra copies, got r = 0/,
    );
  });
});
