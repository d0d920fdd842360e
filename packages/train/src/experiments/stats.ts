/**
 * @file Means and 95% confidence intervals over seeds (Student's t, n − 1 degrees of freedom), and paired
 * differences between two methods run with the same seeds (same data order and head initialization per seed,
 * so the pairing removes the seed's share of the variance).
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); NaN for n < 2. */
  sd: number;
  /** Half-width of the 95% confidence interval of the mean; NaN for n < 2. */
  ci95: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n, mean: Number.NaN, sd: Number.NaN, ci95: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, sd: Number.NaN, ci95: Number.NaN };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { n, mean, sd, ci95: tQuantile(0.975, n - 1) * (sd / Math.sqrt(n)) };
}

/**
 * Mean of a − b over the seeds both have, with its 95% CI. `excludesZero` says whether the interval lies
 * wholly on one side of zero (the difference is then called significant at this level).
 */
export function pairedDifference(
  a: ReadonlyMap<number, number>,
  b: ReadonlyMap<number, number>,
): Summary & { excludesZero: boolean } {
  const diffs = [...a].filter(([seed]) => b.has(seed)).map(([seed, v]) => v - b.get(seed)!);
  const s = summarize(diffs);
  return { ...s, excludesZero: Number.isFinite(s.ci95) && Math.abs(s.mean) > s.ci95 };
}

/** "84.26 ± 0.52" (points, from fractions), or "84.26 (n=1)" when there is no interval. */
export function formatPoints(s: Summary, digits = 2): string {
  if (!Number.isFinite(s.mean)) return '—';
  const mean = (100 * s.mean).toFixed(digits);
  return Number.isFinite(s.ci95) ? `${mean} ± ${(100 * s.ci95).toFixed(digits)}` : `${mean} (n=${s.n})`;
}
