/**
 * @file The repeated-sequence (induction) score of a decoder: sequences of N random tokens, each written twice in
 * a row; next-token loss and top-1 accuracy on the second half against the first. The first half is random, so
 * no model can beat chance there (loss ln V for a model that knows nothing); on the second half a model that
 * looks the current token up in the first copy and copies the token after it (an induction head) does.
 */
import { Rng, noGrad, tidy } from '@reprise/core';
import type { Transformer } from '@reprise/model';

export interface InductionOptions {
  /** Random tokens per half (N). */
  length: number;
  /** Sequences. */
  count: number;
  seed: number;
  /** Token ids never drawn (the tokenizer's special tokens). */
  exclude?: readonly number[];
  /** Sequences per forward pass (memory: batch · 2N · V logits are read back). */
  batchSize?: number;
}

export interface HalfScore {
  /** Mean next-token cross-entropy (nats). */
  loss: number;
  /** Top-1 accuracy of the next token over the whole vocabulary. */
  accuracy: number;
  /** Predictions scored. */
  targets: number;
}

export interface InductionScore {
  length: number;
  count: number;
  seed: number;
  vocabSize: number;
  /** Token ids the sequences are drawn from. */
  candidates: number;
  /** A model that knows nothing: loss ln V (uniform over the vocabulary), accuracy 1 / candidates. */
  chance: { loss: number; accuracy: number };
  /** Targets 1 … N−1 (token 0 has no context). */
  first: HalfScore;
  /** Targets N+1 … 2N−1, each the twin of a first-half target (target N, the restart, is left out). */
  second: HalfScore;
}

/** `count` sequences of 2·length tokens: `length` tokens drawn uniformly from `candidates`, then the same again. */
export function repeatedRandomSequences(
  candidates: readonly number[],
  length: number,
  count: number,
  seed: number,
): number[][] {
  if (candidates.length === 0) throw new Error('induction: no token ids to draw from');
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const half = Array.from({ length }, () => candidates[rng.int(candidates.length)]!);
    return [...half, ...half];
  });
}

/** The score of a decoder backbone (causal LM); an encoder is refused: it sees the token it should predict. */
export async function inductionScore(model: Transformer, options: InductionOptions): Promise<InductionScore> {
  const cfg = model.config;
  const { length, count, seed } = options;
  if (cfg.kind !== 'decoder')
    throw new Error(
      `induction score: defined for decoders (causal LM), but this backbone is an ${cfg.kind} (masked LM)`,
    );
  if (!Number.isInteger(length) || length < 2)
    throw new Error(`induction score: length must be an integer ≥ 2, got ${length}`);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`induction score: count must be a positive integer, got ${count}`);
  const seq = 2 * length;
  if (seq > model.positionLimit)
    throw new Error(
      `induction score: 2 × length = ${seq} tokens exceed the model's ${model.positionLimit} positions; use length ≤ ${Math.floor(model.positionLimit / 2)}`,
    );
  const excluded = new Set(options.exclude ?? []);
  const candidates = Array.from({ length: cfg.vocabSize }, (_, i) => i).filter((i) => !excluded.has(i));
  const sequences = repeatedRandomSequences(candidates, length, count, seed);
  const sums = { first: { loss: 0, hits: 0, n: 0 }, second: { loss: 0, hits: 0, n: 0 } };
  const batchSize = options.batchSize ?? 8;
  const vocab = cfg.vocabSize;
  for (let start = 0; start < count; start += batchSize) {
    const chunk = sequences.slice(start, start + batchSize);
    const b = chunk.length;
    const dev = model.device;
    const logits = tidy(() =>
      noGrad(() => {
        const tokens = dev.tensor(Int32Array.from(chunk.flat()), [b, seq], 'i32');
        const h = model.hidden(model.embedTokens(tokens), {
          lengths: dev.tensor(new Int32Array(b).fill(seq), [b], 'i32'),
          positions: dev.tensor(
            Int32Array.from({ length: b * seq }, (_, i) => i % seq),
            [b, seq],
            'i32',
          ),
        });
        return model.logits(h);
      }),
    );
    const values = await logits.data();
    logits.dispose();
    chunk.forEach((tokens, i) => {
      // Row t predicts token t + 1.
      for (let t = 0; t < seq - 1; t++) {
        const target = t + 1;
        if (target === length) continue; // the second copy's first token: nothing before it predicts it
        const half = target < length ? sums.first : sums.second;
        const row = values.subarray((i * seq + t) * vocab, (i * seq + t + 1) * vocab);
        const { logSumExp, argmax } = rowStats(row);
        half.loss += logSumExp - row[tokens[target]!]!;
        half.hits += argmax === tokens[target] ? 1 : 0;
        half.n++;
      }
    });
  }
  const score = (s: { loss: number; hits: number; n: number }): HalfScore => ({
    loss: s.loss / s.n,
    accuracy: s.hits / s.n,
    targets: s.n,
  });
  return {
    length,
    count,
    seed,
    vocabSize: vocab,
    candidates: candidates.length,
    chance: { loss: Math.log(vocab), accuracy: 1 / candidates.length },
    first: score(sums.first),
    second: score(sums.second),
  };
}

/** log Σ exp(row) (in float64) and the index of the largest entry. */
function rowStats(row: ArrayLike<number>): { logSumExp: number; argmax: number } {
  let argmax = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[argmax]!) argmax = j;
  const max = row[argmax]!;
  let sum = 0;
  for (let j = 0; j < row.length; j++) sum += Math.exp(row[j]! - max);
  return { logSumExp: max + Math.log(sum), argmax };
}
