/**
 * @file The BPE model proper: vocabulary, ranked merges, and splitting one pre-tokenized word into ids with
 * byte fallback, with the same merge order as HF tokenizers (lowest rank first, leftmost first).
 */
import { byteToken } from './pretokenize.ts';

const utf8 = new TextEncoder();

export class BpeModel {
  /** id → token string (dense, ids 0..size-1). */
  readonly tokens: readonly string[];
  readonly merges: readonly (readonly [string, string])[];
  readonly ids: ReadonlyMap<string, number>;
  /** left * size + right → rank. */
  private readonly ranks = new Map<number, number>();
  private readonly mergeLeft: Int32Array;
  private readonly mergeRight: Int32Array;
  private readonly mergeResult: Int32Array;
  private readonly byteIds = new Int32Array(256);

  /** Callers validate first (see hf-json-read.ts); this only asserts what would corrupt encodings. */
  constructor(tokens: readonly string[], merges: readonly (readonly [string, string])[]) {
    this.tokens = tokens;
    this.merges = merges;
    const ids = new Map<string, number>();
    tokens.forEach((t, id) => ids.set(t, id));
    this.ids = ids;
    for (let b = 0; b < 256; b++) {
      const id = ids.get(byteToken(b));
      if (id === undefined) throw new Error(`BPE model: byte-fallback token ${byteToken(b)} missing`);
      this.byteIds[b] = id;
    }
    const n = tokens.length;
    this.mergeLeft = new Int32Array(merges.length);
    this.mergeRight = new Int32Array(merges.length);
    this.mergeResult = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const left = ids.get(a);
      const right = ids.get(b);
      const result = ids.get(a + b);
      if (left === undefined || right === undefined || result === undefined) {
        throw new Error(
          `BPE model: merge #${rank} (${JSON.stringify([a, b])}) uses a token not in the vocab`,
        );
      }
      this.mergeLeft[rank] = left;
      this.mergeRight[rank] = right;
      this.mergeResult[rank] = result;
      this.ranks.set(left * n + right, rank);
    });
  }

  get size(): number {
    return this.tokens.length;
  }

  /**
   * Appends the ids of one pre-tokenized word (already `▁`-prefixed) to `out`. Characters outside the vocab
   * take no part in merges and come out as their UTF-8 byte tokens, so no input ever fails.
   */
  encodeWord(word: string, out: number[]): void {
    const n = this.tokens.length;
    // Known characters hold their id; unknown ones hold -(index into `unknown`) - 1.
    const sym: number[] = [];
    let unknown: string[] | undefined;
    for (const ch of word) {
      const id = this.ids.get(ch);
      if (id !== undefined) sym.push(id);
      else {
        unknown ??= [];
        unknown.push(ch);
        sym.push(-unknown.length);
      }
    }
    let len = sym.length;
    while (len >= 2) {
      let best = -1;
      for (let i = 0; i + 1 < len; i++) {
        const a = sym[i]!;
        const b = sym[i + 1]!;
        if (a < 0 || b < 0) continue;
        const rank = this.ranks.get(a * n + b);
        if (rank !== undefined && (best < 0 || rank < best)) best = rank;
      }
      if (best < 0) break;
      // Every occurrence of the best pair goes before any pair containing its result (those rank later).
      const left = this.mergeLeft[best]!;
      const right = this.mergeRight[best]!;
      const result = this.mergeResult[best]!;
      let j = 0;
      for (let i = 0; i < len; ) {
        if (i + 1 < len && sym[i] === left && sym[i + 1] === right) {
          sym[j++] = result;
          i += 2;
        } else sym[j++] = sym[i++]!;
      }
      len = j;
    }
    for (let i = 0; i < len; i++) {
      const s = sym[i]!;
      if (s >= 0) out.push(s);
      else for (const byte of utf8.encode(unknown![-s - 1]!)) out.push(this.byteIds[byte]!);
    }
  }
}
