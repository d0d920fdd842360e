/**
 * @file Language-model batches: the training text as one token stream (sentences separated by [EOS]) cut
 * into windows of the context length, shuffled per epoch; causal LM targets (the next token) or masked-LM
 * inputs and targets (15% of tokens: 80% [MASK], 10% a random token, 10% unchanged), all from the seed.
 */
import { Rng } from '@reprise/core';
import { IGNORE_LABEL } from '@reprise/model';
import type { BpeTokenizer } from '../tokenizer/index.ts';
import { mixSeed, shuffled } from './shuffle.ts';

export interface TokenStream {
  tokens: Int32Array;
  /** Window starts; each window is context + 1 tokens (inputs and shifted targets). */
  windows: number[];
  context: number;
}

/**
 * The text as one stream of windows. With `repeat` > 0, that fraction of the sentences (chosen from `seed`) is
 * written twice in a row, as sequence repetition feeds it: a small model then learns to look up the earlier copy
 * (an induction-head pattern that web-scale pretraining gives large models), which SR fine-tuning relies on.
 */
export function tokenStream(
  sentences: readonly string[][],
  tokenizer: BpeTokenizer,
  context: number,
  repeat = { fraction: 0, seed: 0 },
): TokenStream {
  const rng = new Rng(mixSeed(repeat.seed, 5));
  const parts: number[] = [];
  for (const words of sentences) {
    const ids = tokenizer.encodeWords(words).ids;
    const copies = repeat.fraction > 0 && rng.uniform() < repeat.fraction ? 2 : 1;
    for (let c = 0; c < copies; c++) for (const id of ids) parts.push(id);
    parts.push(tokenizer.special.eos);
  }
  const tokens = Int32Array.from(parts);
  const windows: number[] = [];
  for (let start = 0; start + context + 1 <= tokens.length; start += context) windows.push(start);
  if (windows.length === 0)
    throw new Error(`pretraining text has ${tokens.length} tokens, fewer than one window of ${context + 1}`);
  return { tokens, windows, context };
}

export interface LmBatch {
  batch: number;
  context: number;
  inputs: Int32Array;
  targets: Int32Array;
}

/** Batch `index` of the whole run (epochs continue the count), a pure function of (stream, seed, index). */
export function lmBatch(
  stream: TokenStream,
  batchSize: number,
  seed: number,
  index: number,
  objective: 'clm' | 'mlm',
  tokenizer?: BpeTokenizer,
): LmBatch {
  const perEpoch = Math.max(1, Math.floor(stream.windows.length / batchSize));
  const epoch = Math.floor(index / perEpoch);
  const order = epochOrder(stream, seed, epoch);
  const { context } = stream;
  const inputs = new Int32Array(batchSize * context);
  const targets = new Int32Array(batchSize * context);
  for (let b = 0; b < batchSize; b++) {
    const start = stream.windows[order[((index % perEpoch) * batchSize + b) % order.length]!]!;
    inputs.set(stream.tokens.subarray(start, start + context), b * context);
    // Causal LM predicts the next token; masked LM the token itself (at masked positions only).
    const shift = objective === 'clm' ? 1 : 0;
    targets.set(stream.tokens.subarray(start + shift, start + shift + context), b * context);
  }
  if (objective === 'mlm') maskTokens(inputs, targets, tokenizer!, mixSeed(seed, index, 3));
  return { batch: batchSize, context, inputs, targets };
}

let cached: { stream: TokenStream; seed: number; epoch: number; order: number[] } | null = null;
function epochOrder(stream: TokenStream, seed: number, epoch: number): number[] {
  if (cached?.stream !== stream || cached.seed !== seed || cached.epoch !== epoch) {
    cached = {
      stream,
      seed,
      epoch,
      order: shuffled(
        stream.windows.map((_, i) => i),
        mixSeed(seed, epoch, 4),
      ),
    };
  }
  return cached.order;
}

/** BERT's masking, in place: targets become the original token at masked positions and IGNORE elsewhere. */
function maskTokens(inputs: Int32Array, targets: Int32Array, tokenizer: BpeTokenizer, seed: number): void {
  const rng = new Rng(seed);
  const specials = Object.values(tokenizer.special).length;
  for (let i = 0; i < inputs.length; i++) {
    const original = inputs[i]!;
    if (rng.uniform() >= 0.15 || original < specials) {
      targets[i] = IGNORE_LABEL;
      continue;
    }
    targets[i] = original;
    const roll = rng.uniform();
    if (roll < 0.8) inputs[i] = tokenizer.special.mask;
    else if (roll < 0.9) inputs[i] = specials + rng.int(tokenizer.vocabSize - specials);
  }
}
