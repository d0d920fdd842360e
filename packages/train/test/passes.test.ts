/**
 * A batch whose activations would not fit the adapter's largest bindable buffer (SR at r = 8 with long
 * sentences) runs in several passes with the same results. On the CPU backend with a limit the test sets
 * (`cpuMaxBufferBytes`), against the same model on a CPU backend without one: the training loss and every
 * gradient agree to float64 rounding (the CPU backend computes in float64: 1e-12 relative is rounding, not a
 * tolerance for a wrong weighting, which would be off by the passes' share of labeled tokens, ≥ 10%), and
 * the predictions are the same.
 */
import { Device, tidy } from '@reprise/core';
import { SequenceLabeler, Transformer } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainBpe } from '../src/tokenizer/index.ts';
import { predictWords } from '../src/training/evaluate.ts';
import { encodeLabeled, labelVocab } from '../src/training/labeled-batches.ts';
import { batchLoss, passesOf } from '../src/training/passes.ts';
import { tinyModelConfig } from './fixtures/tiny-model.ts';

const words = 'the cat sat on the mat while the other cats watched quietly from the windowsill'.split(' ');
const tokenizer = trainBpe(
  Array.from({ length: 50 }, () => words),
  { vocabSize: 300, minFrequency: 1 },
);
const vocab = labelVocab(['A', 'B', 'C']);
// Sentences of different lengths (so that passes differ in labeled tokens), some words split into subwords.
const sentences = Array.from({ length: 7 }, (_, k) => {
  const ws = Array.from({ length: 3 + 2 * k }, (_, i) => words[(i * 7 + k) % words.length]!);
  return { words: ws, labels: ws.map((_, i) => 'ABC'[(i + k) % 3]!) };
});
const encoded = encodeLabeled(sentences, tokenizer, vocab, { maxTokens: 64 });
const config = tinyModelConfig(tokenizer.vocabSize);

let whole: Device;
let limited: Device;
beforeAll(async () => {
  whole = await Device.create({ device: 'cpu' });
  // SR r = 2 repeats the longest sentence to `seq` tokens; the widest activation is [sequences · seq, dFF = 32]:
  // a limit of 2.5 sequences' worth lets 2 sequences through per pass.
  const longest = Math.max(...encoded.map((s) => s.ids.length));
  limited = await Device.create({ device: 'cpu', cpuMaxBufferBytes: Math.floor(2.5 * 4 * 3 * longest * 32) });
});
afterAll(() => {
  whole?.destroy();
  limited?.destroy();
});

/** The same labeler (same seeds, same weights) on a device. */
const labelerOn = (device: Device) =>
  new SequenceLabeler(Transformer.create(device, config, 11), {
    numLabels: vocab.labels.length,
    r: 2,
    headDropout: 0,
    seed: 4,
  });

describe('a batch in passes', () => {
  it('is cut in order into passes the adapter can bind, and left whole when it fits', () => {
    const l = labelerOn(limited);
    const passes = passesOf(l, encoded);
    expect(passes.map((p) => p.length)).toEqual([2, 2, 2, 1]);
    expect(passes.flat()).toEqual(encoded);
    expect(passesOf(labelerOn(whole), encoded)).toEqual([encoded]);
  });

  it('gives the loss and gradients of one pass', async () => {
    const run = async (device: Device) => {
      const l = labelerOn(device);
      const params = l.params();
      const { loss, passes } = tidy(() => {
        const out = batchLoss(l, encoded);
        if (!out.backpropagated) out.loss.backward();
        return { loss: out.loss.detach(), passes: out.backpropagated };
      });
      const grads = Object.fromEntries(
        await Promise.all(
          Object.entries(params).map(async ([k, p]) => [k, await p.grad!.hostData()] as const),
        ),
      );
      return { loss: await loss.item(), passes, grads };
    };
    const [one, several] = [await run(whole), await run(limited)];
    expect(one.passes).toBe(false);
    expect(several.passes).toBe(true);
    expect(several.loss).toBeCloseTo(one.loss, 12);
    for (const [name, g] of Object.entries(one.grads)) {
      const h = several.grads[name]!;
      const scale = Math.max(...Array.from(g, Math.abs));
      const worst = Math.max(...Array.from(g, (x, i) => Math.abs(x - h[i]!)));
      expect(worst, `${name}: largest difference against its largest entry ${scale}`).toBeLessThanOrEqual(
        1e-12 * Math.max(scale, 1e-30),
      );
    }
  });

  it('predicts what one pass predicts', async () => {
    const [a, b] = await Promise.all(
      [whole, limited].map((d) => predictWords(labelerOn(d), encoded, vocab, encoded.length)),
    );
    expect(b!.predictions).toEqual(a!.predictions);
  });
});
