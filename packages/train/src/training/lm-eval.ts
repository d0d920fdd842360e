/**
 * @file The language-model loss of a backbone on held-out text: the same fixed windows every time (batches
 * 0 … n−1 of the stream in the order seeded by `VALIDATION_SEED`, masks too for a masked LM), in eval mode. The
 * validation curve of pretraining, the loss recorded beside a shipped backbone and the test that reproduces it
 * all read it here.
 */
import { type Device, tidy } from '@reprise/core';
import type { Transformer } from '@reprise/model';
import type { BpeTokenizer } from '../tokenizer/index.ts';
import { type TokenStream, lmBatch } from './lm-batches.ts';
import { yieldToEventLoop } from './loop.ts';

/** The seed of the validation windows' order (and masks): fixed, so every evaluation sees the same text. */
export const VALIDATION_SEED = 12345;

/** The inputs every LM batch of one shape shares: full lengths and positions 0 … context − 1 per row. */
export function lmBatchFrame(device: Device, batchSize: number, context: number) {
  return {
    lengths: device.full([batchSize], context, 'i32'),
    positions: device.tensor(
      Int32Array.from({ length: batchSize * context }, (_, i) => i % context),
      [batchSize, context],
      'i32',
    ),
  };
}

/** Mean loss over the first `batches` batches of `stream` (objective from the model's kind), in eval mode. */
export async function lmEvalLoss(
  model: Transformer,
  tokenizer: BpeTokenizer,
  stream: TokenStream,
  o: { batchSize: number; batches: number },
): Promise<number> {
  const device = model.device;
  const objective = model.config.kind === 'encoder' ? 'mlm' : 'clm';
  const frame = lmBatchFrame(device, o.batchSize, stream.context);
  let total = 0;
  try {
    for (let i = 0; i < o.batches; i++) {
      const loss = tidy(() => {
        const b = lmBatch(stream, o.batchSize, VALIDATION_SEED, i, objective, tokenizer);
        const shape = [b.batch, b.context];
        return model
          .lmLoss(device.tensor(b.inputs, shape, 'i32'), device.tensor(b.targets, shape, 'i32'), {
            ...frame,
            train: false,
          })
          .detach();
      });
      total += await loss.item();
      loss.dispose();
      await yieldToEventLoop(); // the CPU backend never waits: let a Ctrl-C in
    }
  } finally {
    frame.lengths.dispose();
    frame.positions.dispose();
  }
  return total / o.batches;
}
