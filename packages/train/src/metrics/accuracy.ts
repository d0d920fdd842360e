/**
 * @file Token-level accuracy of predicted label sequences against gold ones.
 */

export type AccuracyResult = { accuracy: number; correct: number; total: number };

/** Fraction of tokens whose predicted label equals the gold one; 0 (not NaN) when there are no tokens. */
export function tokenAccuracy(
  gold: readonly (readonly string[])[],
  pred: readonly (readonly string[])[],
): AccuracyResult {
  checkAligned(gold, pred);
  let correct = 0;
  let total = 0;
  for (let s = 0; s < gold.length; s++) {
    for (let i = 0; i < gold[s].length; i++) if (gold[s][i] === pred[s][i]) correct++;
    total += gold[s].length;
  }
  return { accuracy: total === 0 ? 0 : correct / total, correct, total };
}

/** Throws unless `pred` has as many sentences as `gold` and each as many labels, naming the first mismatch. */
export function checkAligned(
  gold: readonly (readonly string[])[],
  pred: readonly (readonly string[])[],
): void {
  if (gold.length !== pred.length) {
    throw new Error(`expected ${gold.length} predicted sentences (as gold), found ${pred.length}`);
  }
  for (let s = 0; s < gold.length; s++) {
    if (gold[s].length !== pred[s].length) {
      throw new Error(
        `sentence ${s}: expected ${gold[s].length} predicted labels (as gold), found ${pred[s].length}`,
      );
    }
  }
}
