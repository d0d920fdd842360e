/**
 * The subword cap never passes silently: the same cap (and the same words kept for training) for every r with
 * rotary positions; sentences longer than the cap predicted whole in overlapping windows, every word with a real
 * prediction; a word longer than the cap on its own left out of scoring and counted. On the CPU backend, with
 * tiny random models: seconds.
 */
import { Device } from '@reprise/core';
import { SequenceLabeler, Transformer } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainBpe } from '../src/tokenizer/index.ts';
import { coverageNotes, evaluate, predictWords, scoreWords } from '../src/training/evaluate.ts';
import { FINETUNE_DEFAULTS, subwordCap } from '../src/training/finetune.ts';
import { countCut, encodeLabeled, labelVocab } from '../src/training/labeled-batches.ts';
import { labelerSettings } from '../src/training/methods.ts';
import { planWindows, windowOfWords } from '../src/training/windows.ts';
import { tinyModelConfig } from './fixtures/tiny-model.ts';

const words = 'the cat sat on the mat while the other cats watched quietly from the windowsill'.split(' ');
const tokenizer = trainBpe(
  Array.from({ length: 50 }, () => words),
  { vocabSize: 300, minFrequency: 1 },
);
const vocab = labelVocab(['A', 'B', 'C']);
const tag = (ws: string[]) => ({ words: ws, labels: ws.map((_, i) => 'ABC'[i % 3]!) });
/** A sentence of `n` words drawn from the corpus (with some split words), deterministic. */
const sentenceOf = (n: number) => tag(Array.from({ length: n }, (_, i) => words[(i * 7) % words.length]!));

let cpu: Device;
beforeAll(async () => {
  cpu = await Device.create({ device: 'cpu' });
});
afterAll(() => cpu?.destroy());

const backboneConfig = (positions: 'rotary' | 'learned') =>
  tinyModelConfig(tokenizer.vocabSize, { positions });

/** A tiny random labeler that never predicts label 0 (the old default for cut words), so a default shows. */
function labeler(options: { r?: number } = {}): SequenceLabeler {
  const l = new SequenceLabeler(Transformer.create(cpu, backboneConfig('rotary'), 11), {
    numLabels: vocab.labels.length,
    headDropout: 0,
    seed: 4,
    ...options,
  });
  l.head['head.bias']!.assign(cpu.tensor([-1e3, 0, 0], [3]));
  return l;
}

describe('the subword cap is the same for every r', () => {
  it('r = 8 keeps exactly the words r = 0 keeps (rotary); learned positions lower the cap, explicitly', () => {
    const sentences = [sentenceOf(5), sentenceOf(30), sentenceOf(12), sentenceOf(60)];
    const encodedFor = (positions: 'rotary' | 'learned', r: number) => {
      const backbone = Transformer.create(cpu, backboneConfig(positions));
      const o = { ...FINETUNE_DEFAULTS, method: r === 0 ? ('causal' as const) : ('sr' as const), r };
      const settings = labelerSettings(o, backbone.config, tokenizer.special.sep);
      const cap = subwordCap(24, backbone, settings);
      backbone.dispose();
      return { cap, encoded: encodeLabeled(sentences, tokenizer, vocab, { ...o, maxTokens: cap }) };
    };
    const plain = encodedFor('rotary', 0);
    const sr8 = encodedFor('rotary', 8);
    expect(plain.cap).toBe(24);
    expect(sr8.cap).toBe(24);
    expect(countCut(plain.encoded).words).toBeGreaterThan(0); // the cap does cut: the comparison means something
    expect(sr8.encoded.map((s) => [s.ids, s.wordToken, s.labels])).toEqual(
      plain.encoded.map((s) => [s.ids, s.wordToken, s.labels]),
    );
    expect(countCut(sr8.encoded)).toEqual(countCut(plain.encoded));
    // A fixed position table of 64 rows holds 9 copies of 7 subwords: finetune lowers the cap and says so.
    expect(encodedFor('learned', 8).cap).toBe(7);
    expect(encodedFor('learned', 0).cap).toBe(24);
  });

  it('an r = 8 labeler runs a sentence at the full cap past maxPositions (rotary tables grow)', async () => {
    const [s] = encodeLabeled([sentenceOf(60)], tokenizer, vocab, { maxTokens: 24 });
    const l = labeler({ r: 8 });
    const [labels] = await l.predict(l.layout([s!.ids])); // 9 × 24 = 216 positions, maxPositions 64
    expect(labels).toHaveLength(24);
    l.dispose();
  });
});

describe('prediction windows', () => {
  it('word-aligned windows within the cap cover every word, overlap by about half, clip only a giant word', () => {
    // Word lengths in subwords: 2,1,3,1,2,9,1,1,2,2 (the 9-subword word exceeds a cap of 6).
    const lengths = [2, 1, 3, 1, 2, 9, 1, 1, 2, 2];
    const start: number[] = [];
    let t = 0;
    for (const n of lengths) {
      start.push(t);
      t += n;
    }
    const spans = { start, end: start.map((s, w) => s + lengths[w]!), carrier: start };
    const windows = planWindows(spans, t, 6);
    for (const w of windows) {
      expect(w.end - w.start).toBeLessThanOrEqual(6);
      if (!w.clipped) expect([w.start, w.end]).toEqual([start[w.firstWord], spans.end[w.endWord - 1]]);
    }
    expect(windows.filter((w) => w.clipped)).toEqual([
      { start: 9, end: 15, firstWord: 5, endWord: 6, clipped: true },
    ]);
    expect(windows.map((w) => [w.firstWord, w.endWord])).toEqual([
      [0, 3],
      [2, 5],
      [5, 6],
      [6, 10],
    ]);
    expect(planWindows(spans, t, t)).toEqual([
      { start: 0, end: t, firstWord: 0, endWord: 10, clipped: false },
    ]);
  });

  it('each word reads the window where it has the most context: left only, or both sides', () => {
    const one = Array.from({ length: 10 }, (_, i) => i); // ten one-subword words, cap 4: windows at 0, 2, 4, 6
    const spans = { start: one, end: one.map((i) => i + 1), carrier: one };
    const windows = planWindows(spans, 10, 4);
    expect(windows.map((w) => w.start)).toEqual([0, 2, 4, 6]);
    // Causal: the word furthest from the window's start (the earliest window holding it).
    expect(windowOfWords(windows, one, true)).toEqual([0, 0, 0, 0, 1, 1, 2, 2, 3, 3]);
    // Both sides: the window whose nearer edge is furthest from the word.
    expect(windowOfWords(windows, one, false)).toEqual([0, 0, 0, 1, 1, 2, 2, 3, 3, 3]);
  });

  it('a sentence several times the cap: every word gets a real prediction; one that fits is unchanged', async () => {
    const cap = 16;
    const long = sentenceOf(60);
    const short = sentenceOf(6);
    for (const r of [0, 1]) {
      const l = labeler({ r });
      const encoded = encodeLabeled([long, short], tokenizer, vocab, { maxTokens: cap });
      expect(encoded[0]!.whole.ids.length).toBeGreaterThan(3 * cap);
      expect(encoded[1]!.whole.ids.length).toBeLessThanOrEqual(cap);
      const out = await predictWords(l, encoded, vocab, 8);
      expect(out.windowedSentences).toBe(1);
      expect(out.unscored).toEqual({ words: 0, sentences: 0 });
      expect(out.predictions[0]).toHaveLength(long.words.length);
      // Label 0 is never a real prediction here (its bias is −1000): a defaulted word would show it.
      expect(out.predictions.flat().filter((p) => p === 'A')).toEqual([]);
      // The sentence that fits: exactly the labeler's own prediction of the whole sentence.
      const [whole] = await l.predict(l.layout([encoded[1]!.ids]));
      expect(out.predictions[1]).toEqual(encoded[1]!.whole.carrier.map((t) => vocab.labels[whole![t]!]));
      if (r === 0) {
        // Causal: a word of the first window sees the same left context as in the whole sentence.
        const [all] = await l.predict(l.layout([encoded[0]!.whole.ids]));
        const first = encoded[0]!.windows[0]!;
        const inFirst = encoded[0]!.whole.carrier.slice(first.firstWord, first.endWord);
        expect(out.predictions[0]!.slice(0, inFirst.length)).toEqual(
          inFirst.map((t) => vocab.labels[all![t]!]),
        );
      }
      l.dispose();
    }
  });
});

describe('evaluation never scores a cut word', () => {
  it('words left out are removed from gold and prediction alike (hand-computed)', () => {
    const gold = [
      ['A', 'B', 'C'],
      ['A', 'A'],
    ];
    const pred = [
      ['A', 'C', 'C'],
      ['A', 'B'],
    ];
    const scored = [
      [true, false, true],
      [true, true],
    ];
    expect(scoreWords(gold, pred, scored, { spansOnLabels: false }).accuracy).toBe(3 / 4);
    const spans = scoreWords([['B-PER', 'I-PER', 'O']], [['B-PER', 'O', 'O']], [[true, false, true]], {
      spansOnLabels: true,
    }).spans!;
    expect(spans.f1).toBe(1);
  });

  it('a word longer than a tiny cap is predicted, not scored, and counted', async () => {
    const cap = 3;
    const giant = 'qwertyuiopzxcv'; // unseen letters: one subword each, far past the cap
    const sentence = { words: ['the', 'cat', giant, 'sat', 'on', 'the', 'mat'], labels: [] as string[] };
    const encoded = encodeLabeled(
      [{ ...sentence, labels: sentence.words.map(() => 'B') }],
      tokenizer,
      vocab,
      {
        maxTokens: cap,
      },
    );
    const l = labeler();
    const { predictions } = await predictWords(l, encoded, vocab, 8);
    // Gold: the model's own predictions, except one scored word made wrong and the giant word made wrong too.
    const labels = [...predictions[0]!];
    const flip = (x: string) => (x === 'B' ? 'C' : 'B');
    labels[0] = flip(labels[0]!);
    labels[2] = flip(labels[2]!);
    const result = await evaluate(l, [{ ...sentence, labels }], encoded, vocab, { batchSize: 8 });
    expect(result.unscored).toEqual({ words: 1, sentences: 1 });
    expect(result.windowedSentences).toBe(1);
    expect(result.accuracy).toBe(5 / 6); // 6 scored words, 1 wrong; scoring the giant word would give 5/7
    expect(coverageNotes(result, cap, { scoring: true })).toEqual([
      '1 sentence longer than the 3-subword cap was read in overlapping windows (every word predicted)',
      '1 word (in 1 sentence) is longer than the 3-subword cap by itself: predicted from 3 of its subwords, not scored',
    ]);
    expect(
      coverageNotes({ windowedSentences: 4, unscored: { words: 3, sentences: 2 } }, 256, { scoring: false }),
    ).toEqual([
      '4 sentences longer than the 256-subword cap were read in overlapping windows (every word predicted)',
      '3 words (in 2 sentences) are each longer than the 256-subword cap by themselves: predicted from 256 of their subwords',
    ]);
    l.dispose();
  });
});
