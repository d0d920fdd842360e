/**
 * @file Sequence repetition, host side: lays a batch of token sequences out as r+1 copies each (an optional
 * separator between copies), padded once at the end, with the position of every token and the index of every
 * last-copy token. Everything the device needs is a few small i32/f32 arrays built here.
 */

export interface RepetitionOptions {
  /** Extra copies: the model sees r+1 copies; r = 0 is the plain model. */
  r: number;
  /** A token placed between copies (not after the last); null for none (the paper's setting). */
  separator?: number | null;
  /** Positions keep counting across copies (the paper) or restart at 0 in each copy. */
  positions?: 'continue' | 'reset';
}

export interface RepeatedBatch {
  batch: number;
  /** Padded length of the repeated sequences. */
  seq: number;
  /** Padded length of the original sequences (the rows the head sees per sentence). */
  baseSeq: number;
  /** Original lengths n_b. */
  baseLengths: number[];
  /** Valid length of each repeated sequence: (r+1)·n_b, plus r separators. */
  lengths: Int32Array;
  /** [batch·baseSeq] original tokens, 0 past the end. */
  baseTokens: Int32Array;
  /** [batch·seq] repeated tokens, `padToken` past the end. */
  tokens: Int32Array;
  /** [batch·seq] position of each token. */
  positions: Int32Array;
  /**
   * [batch·seq] row of each repeated token in the flattened [batch·baseSeq (+1)] base rows; the separator is
   * row batch·baseSeq. Lets the embeddings be looked up once per sentence and copied, so that a gradient with
   * respect to a sentence's input embedding sums over its copies.
   */
  repeatIndex: Int32Array;
  /** [batch·baseSeq] flat row (b·seq + t) of each last-copy token; row b·seq for padding. */
  lastCopyRows: Int32Array;
  r: number;
  separator: number | null;
}

/** Separators in one repeated sequence: r, or none. */
const separatorCount = (o: RepetitionOptions) => ((o.separator ?? null) === null ? 0 : o.r);

/** Positions a sequence of `n` tokens needs once repeated: the check `repeatBatch` makes. */
export function repeatedPositions(n: number, options: RepetitionOptions): number {
  const sepCount = separatorCount(options);
  return (options.positions ?? 'continue') === 'reset'
    ? n + (sepCount > 0 ? 1 : 0)
    : (options.r + 1) * n + sepCount;
}

/** The longest sequence whose repetition fits `maxPositions` positions; 0 when not even one token fits. */
export function longestRepeatable(maxPositions: number, options: RepetitionOptions): number {
  const sepCount = separatorCount(options);
  const longest =
    (options.positions ?? 'continue') === 'reset'
      ? maxPositions - (sepCount > 0 ? 1 : 0)
      : Math.floor((maxPositions - sepCount) / (options.r + 1));
  return Math.max(0, longest);
}

export function repeatBatch(
  sequences: readonly (readonly number[])[],
  options: RepetitionOptions,
  limits: { maxPositions: number; padToken?: number },
): RepeatedBatch {
  const { r } = options;
  if (!Number.isInteger(r) || r < 0) throw new Error(`repetition: r must be an integer ≥ 0, got ${r}`);
  if (sequences.length === 0) throw new Error('repetition: the batch is empty');
  const separator = options.separator ?? null;
  const reset = (options.positions ?? 'continue') === 'reset';
  const sepCount = separatorCount(options);
  const baseLengths = sequences.map((s, b) => {
    if (s.length === 0) throw new Error(`repetition: sequence ${b} of the batch is empty`);
    return s.length;
  });
  const baseSeq = Math.max(...baseLengths);
  const lengths = Int32Array.from(baseLengths, (n) => (r + 1) * n + sepCount);
  const seq = Math.max(...lengths);
  const longestPosition = repeatedPositions(baseSeq, options);
  if (longestPosition > limits.maxPositions) {
    const n = baseSeq;
    throw new Error(
      `repetition: a sequence of ${n} tokens repeated ${r + 1} times${sepCount ? ' with separators' : ''} needs ${longestPosition} positions, but the model has ${limits.maxPositions} (${longestPosition - limits.maxPositions} too many); shorten the input to ${longestRepeatable(limits.maxPositions, options)} tokens or lower r`,
    );
  }
  const batch = sequences.length;
  const baseTokens = new Int32Array(batch * baseSeq);
  const tokens = new Int32Array(batch * seq).fill(limits.padToken ?? 0);
  const positions = new Int32Array(batch * seq);
  const repeatIndex = new Int32Array(batch * seq);
  const lastCopyRows = new Int32Array(batch * baseSeq);
  const sepRow = batch * baseSeq;
  sequences.forEach((s, b) => {
    const n = s.length;
    baseTokens.set(s, b * baseSeq);
    let t = 0;
    for (let copy = 0; copy <= r; copy++) {
      for (let i = 0; i < n; i++, t++) {
        tokens[b * seq + t] = s[i]!;
        positions[b * seq + t] = reset ? i : t;
        repeatIndex[b * seq + t] = b * baseSeq + i;
        if (copy === r) lastCopyRows[b * baseSeq + i] = b * seq + t;
      }
      if (separator !== null && copy < r) {
        tokens[b * seq + t] = separator;
        positions[b * seq + t] = reset ? n : t;
        repeatIndex[b * seq + t] = sepRow;
        t++;
      }
    }
    // Padding: any valid row will do, its keys are masked and its outputs ignored.
    for (let i = n; i < baseSeq; i++) lastCopyRows[b * baseSeq + i] = b * seq;
  });
  return {
    batch,
    seq,
    baseSeq,
    baseLengths,
    lengths,
    baseTokens,
    tokens,
    positions,
    repeatIndex,
    lastCopyRows,
    r,
    separator,
  };
}

/**
 * Row of each sequence's first last-copy token ((r+1)·n_b + separators − n_b): the last copy is contiguous under
 * every option (separators sit between copies, positions do not move rows), so row i of it is this + i.
 */
export function lastCopyStart(layout: RepeatedBatch): Int32Array {
  return Int32Array.from(layout.lengths, (len, b) => len - layout.baseLengths[b]!);
}

/**
 * Additive attention bias [batch, 1, baseSeq, seq] for queries at the last-copy rows only: 0 where the query may
 * see the key (inside the sequence, and at or before it when causal), −1e9 elsewhere.
 */
export function lastCopyBias(layout: RepeatedBatch, causal: boolean): Float32Array {
  const { batch, seq, baseSeq, lastCopyRows, lengths } = layout;
  const bias = new Float32Array(batch * baseSeq * seq).fill(-1e9);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < baseSeq; i++) {
      const row = lastCopyRows[b * baseSeq + i]! - b * seq;
      const end = causal ? Math.min(row + 1, lengths[b]!) : lengths[b]!;
      bias.fill(0, (b * baseSeq + i) * seq, (b * baseSeq + i) * seq + end);
    }
  }
  return bias;
}
