/**
 * @file Max-priority queue of candidate merges for BPE training: highest count first, ties broken by the
 * lexicographically smaller pair of token strings, so training is deterministic whatever the input order.
 */

/** A binary heap over parallel arrays (count, left id, right id); entries may be stale, the trainer checks. */
export class MergeQueue {
  private counts: number[] = [];
  private lefts: number[] = [];
  private rights: number[] = [];

  /** `tokens` is read (not copied) to break ties; it must already hold every id pushed. */
  constructor(private readonly tokens: readonly string[]) {}

  get size(): number {
    return this.counts.length;
  }

  push(count: number, left: number, right: number): void {
    this.counts.push(count);
    this.lefts.push(left);
    this.rights.push(right);
    this.siftUp(this.counts.length - 1);
  }

  /** Removes the best entry; returns false when empty. The entry is left in `top`. */
  pop(top: { count: number; left: number; right: number }): boolean {
    const n = this.counts.length;
    if (n === 0) return false;
    top.count = this.counts[0]!;
    top.left = this.lefts[0]!;
    top.right = this.rights[0]!;
    const lastCount = this.counts.pop()!;
    const lastLeft = this.lefts.pop()!;
    const lastRight = this.rights.pop()!;
    if (n > 1) {
      this.counts[0] = lastCount;
      this.lefts[0] = lastLeft;
      this.rights[0] = lastRight;
      this.siftDown(0);
    }
    return true;
  }

  /** True when entry i should come out before entry j. */
  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    if (ci !== cj) return ci > cj;
    const li = this.tokens[this.lefts[i]!]!;
    const lj = this.tokens[this.lefts[j]!]!;
    if (li !== lj) return li < lj;
    return this.tokens[this.rights[i]!]! < this.tokens[this.rights[j]!]!;
  }

  private swap(i: number, j: number): void {
    const { counts, lefts, rights } = this;
    [counts[i], counts[j]] = [counts[j]!, counts[i]!];
    [lefts[i], lefts[j]] = [lefts[j]!, lefts[i]!];
    [rights[i], rights[j]] = [rights[j]!, rights[i]!];
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.counts.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.before(l, best)) best = l;
      if (r < n && this.before(r, best)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }
}
