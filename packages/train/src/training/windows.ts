/**
 * @file Sliding prediction windows over a sentence longer than the subword cap, as taggers usually do: windows
 * of whole words that fit the cap, each starting about half a window (in subwords) after the previous one
 * (later when a long word needs the room), so that every word lies in one or two windows; each word takes its
 * prediction from the window where it has the most context. A sentence that fits is one window, the whole
 * sentence: windows change nothing then.
 */

export interface PredictionWindow {
  /** Subword range [start, end) of the sentence. */
  start: number;
  end: number;
  /** Words [firstWord, endWord) whose label-carrying subword the window holds. */
  firstWord: number;
  endWord: number;
  /**
   * True for a window over part of a single word longer than the cap: the word gets a real prediction (its
   * label-carrying subword is in the window) but from part of itself, so evaluation does not score it.
   */
  clipped: boolean;
}

/** Subword range [start, end) of each word and the subword that carries its label. */
export interface WordSpans {
  start: readonly number[];
  end: readonly number[];
  carrier: readonly number[];
}

/** Word-aligned windows of at most `cap` subwords covering every word; one window when the sentence fits. */
export function planWindows(words: WordSpans, subwords: number, cap: number): PredictionWindow[] {
  if (!Number.isInteger(cap) || cap < 1) throw new Error(`windows: the subword cap must be ≥ 1, got ${cap}`);
  const n = words.start.length;
  if (subwords <= cap) return [{ start: 0, end: subwords, firstWord: 0, endWord: n, clipped: false }];
  const windows: PredictionWindow[] = [];
  const stride = Math.max(1, Math.floor(cap / 2));
  let s = 0;
  while (s < n) {
    const start = words.start[s]!;
    let e = s;
    while (e < n && words.end[e]! - start <= cap) e++;
    if (e === s) {
      // One word longer than the cap: a window of `cap` of its subwords, holding its label-carrying one.
      const from = Math.max(start, Math.min(words.carrier[s]!, words.end[s]! - cap));
      windows.push({ start: from, end: from + cap, firstWord: s, endWord: s + 1, clipped: true });
      s++;
      continue;
    }
    windows.push({ start, end: words.end[e - 1]!, firstWord: s, endWord: e, clipped: false });
    if (e === n) break;
    // The next window starts at the first word about half a window on, or later if the first word left out
    // would not fit it otherwise (each window brings new words), never past that word.
    let next = s + 1;
    while (next < e && words.start[next]! - start < stride) next++;
    while (next < e && words.end[e]! - words.start[next]! > cap) next++;
    s = next;
  }
  return windows;
}

/**
 * For each word, the window to read its prediction from: the one where it has the most context. A model that
 * sees only the left (causal, no repetition) has the most context where the word is furthest from the window's
 * start; one that sees both sides (bidirectional layers, or repetition, whose last copy sees the whole first
 * copy) where the nearer window edge is furthest away. Ties go to the earlier window.
 */
export function windowOfWords(
  windows: readonly PredictionWindow[],
  carrier: readonly number[],
  leftContextOnly: boolean,
): number[] {
  const best = carrier.map(() => -1);
  const score = carrier.map(() => Number.NEGATIVE_INFINITY);
  windows.forEach((win, k) => {
    for (let w = win.firstWord; w < win.endWord; w++) {
      const left = carrier[w]! - win.start;
      const right = win.end - 1 - carrier[w]!;
      const context = leftContextOnly ? left : Math.min(left, right);
      if (context > score[w]!) {
        score[w] = context;
        best[w] = k;
      }
    }
  });
  return best;
}
