/**
 * The shipped backbones (backbones/decoder, backbones/encoder): each loads, is the kind it says, and reproduces
 * the validation loss recorded beside it when it was shipped (`pretraining.json`), on the same fixed windows of
 * the Brown dev documents. Tolerance 2e-3 nats: the same float32 computation summed in another order (the other
 * software adapter, another machine) moves the mean loss by ~1e-5; checkpoints 250 steps apart differ by ~0.02.
 */
import { Device } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainingText } from '../src/data/index.ts';
import { loadBackbone } from '../src/training/backbone-checkpoint.ts';
import { tokenStream } from '../src/training/lm-batches.ts';
import { lmEvalLoss } from '../src/training/lm-eval.ts';
import { readPretrainingFacts } from '../src/training/pretraining-facts.ts';
import { SHIPPED_BACKBONES } from '../src/training/shipped.ts';

let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => device?.destroy());

/** The backbones committed in backbones/ (each gets its test the day it ships). */
const SHIPPED = ['decoder', 'encoder', 'decoder-norepeat'] as const;

describe('the shipped backbones', () => {
  for (const kind of SHIPPED) {
    it(`${kind}: loads and reproduces its recorded validation loss`, async () => {
      const dir = SHIPPED_BACKBONES[kind];
      const facts = readPretrainingFacts(dir);
      expect(facts, `${dir}/pretraining.json`).not.toBeNull();
      const { model, tokenizer, config } = loadBackbone(dir, device);
      try {
        expect(facts!.kind).toBe(kind === 'encoder' ? 'encoder' : 'decoder');
        expect(config.objective).toBe(kind === 'encoder' ? 'mlm' : 'clm');
        expect(model.parameterCount).toBe(facts!.parameters);
        const { context, batchSize, batches } = facts!.validationSlice;
        const dev = tokenStream(pretrainingText().dev, tokenizer, context);
        const loss = await lmEvalLoss(model, tokenizer, dev, { batchSize, batches });
        expect(Math.abs(loss - facts!.validationLoss)).toBeLessThan(2e-3);
        // The last point of the curve is the same measurement, taken during pretraining.
        expect(Math.abs(loss - facts!.validation.at(-1)!.loss)).toBeLessThan(2e-3);
      } finally {
        model.dispose();
      }
    }, 120_000);
  }
});
