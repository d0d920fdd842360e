/**
 * The repeated-sequence (induction) score: at chance on a freshly initialized decoder, high on a tiny decoder
 * trained here (a few seconds) on random token sequences written twice, and refused for an encoder.
 */
import { AdamW, Device, tidy } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import { Transformer, makeConfig } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inductionScore, repeatedRandomSequences } from '../src/analysis/induction.ts';

let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => device?.destroy());

describe('repeated random sequences', () => {
  it('are two equal halves of tokens drawn from the candidates, the same for the same seed', () => {
    const seqs = repeatedRandomSequences([6, 7, 8, 9], 5, 3, 42);
    expect(seqs).toHaveLength(3);
    for (const s of seqs) {
      expect(s).toHaveLength(10);
      expect(s.slice(5)).toEqual(s.slice(0, 5));
      for (const id of s) expect([6, 7, 8, 9]).toContain(id);
    }
    expect(repeatedRandomSequences([6, 7, 8, 9], 5, 3, 42)).toEqual(seqs);
    expect(repeatedRandomSequences([6, 7, 8, 9], 5, 3, 43)).not.toEqual(seqs);
  });
});

describe('induction score', () => {
  it('is at chance on a freshly initialized decoder: loss ≈ ln V on both halves, accuracy ≈ 1/V', async () => {
    const model = Transformer.create(
      device,
      makeConfig({ vocabSize: 300, dModel: 32, heads: 2, layers: 2, maxPositions: 128 }),
      0,
    );
    const s = await inductionScore(model, { length: 50, count: 32, seed: 0, exclude: [0, 1, 2, 3, 4, 5] });
    expect(s.candidates).toBe(294);
    expect(s.first.targets).toBe(32 * 49);
    expect(s.second.targets).toBe(32 * 49);
    // GPT-2 initialization gives logits of order 0.01: the loss is ln 300 = 5.70 to within 0.05 nats.
    for (const half of [s.first, s.second]) {
      expect(Math.abs(half.loss - Math.log(300))).toBeLessThan(0.05);
      // 1568 targets at p = 1/294: the mean number of hits is 5.3; 3% would be ~30.
      expect(half.accuracy).toBeLessThan(0.03);
    }
    expect(Math.abs(s.second.loss - s.first.loss)).toBeLessThan(0.02);
    model.dispose();
  });

  it('is high on a tiny decoder trained on repeated random sequences', async () => {
    const vocab = 64;
    const length = 10;
    const cfg = makeConfig({
      vocabSize: vocab,
      dModel: 32,
      heads: 2,
      layers: 2,
      dFF: 64,
      maxPositions: 64,
      dropout: 0,
    });
    const model = Transformer.create(device, cfg, 1);
    const opt = new AdamW(Object.values(model.params), { lr: 3e-3, weightDecay: 0, maxGradNorm: 1 });
    const candidates = Array.from({ length: vocab }, (_, i) => i);
    const [batch, seq] = [16, 2 * length];
    // 250 steps of causal LM on fresh sequences (seeds never used by the score below): ~15 s on llvmpipe.
    for (let step = 0; step < 250; step++) {
      const seqs = repeatedRandomSequences(candidates, length, batch, 1000 + step);
      const inputs = Int32Array.from(seqs.flat());
      const targets = Int32Array.from(inputs, (_, i) => (i % seq === seq - 1 ? -100 : inputs[i + 1]!));
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = model.lmLoss(
          device.tensor(inputs, [batch, seq], 'i32'),
          device.tensor(targets, [batch, seq], 'i32'),
          {
            lengths: device.tensor(new Int32Array(batch).fill(seq), [batch], 'i32'),
            positions: device.tensor(
              Int32Array.from({ length: batch * seq }, (_, i) => i % seq),
              [batch, seq],
              'i32',
            ),
            train: true,
          },
        );
        l.backward();
        opt.step();
        return l.detach();
      });
      // Wait for each step: queued without a read, 250 steps of work pile up on Vulkan (lavapipe) until the
      // worker dies; GLES runs each submit synchronously and never shows it.
      await loss.item();
      loss.dispose();
    }
    const s = await inductionScore(model, { length, count: 32, seed: 7 });
    // The first half stays unpredictable (no better than chance); the second is copied from the first.
    expect(s.first.accuracy).toBeLessThan(0.06);
    expect(s.first.loss).toBeGreaterThan(Math.log(vocab) - 0.1);
    expect(s.second.accuracy).toBeGreaterThan(0.8);
    expect(s.second.loss).toBeLessThan(0.5 * Math.log(vocab));
    model.dispose();
  }, 120_000);

  it('is refused for an encoder, with the reason', async () => {
    const model = Transformer.create(
      device,
      makeConfig({ vocabSize: 40, dModel: 16, heads: 2, layers: 1, kind: 'encoder' }),
    );
    await expect(inductionScore(model, { length: 5, count: 2, seed: 0 })).rejects.toThrow(
      /defined for decoders.*encoder/,
    );
    model.dispose();
  });
});
