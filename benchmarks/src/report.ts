/**
 * @file Measurement records (the JSON format every bench shares) and the terminal table.
 */
import Table from 'cli-table3';

export interface Measurement {
  bench: string;
  shape: number[];
  impl: string;
  adapter: string;
  median_ms?: number;
  gflops?: number;
  gbps?: number;
  tokens_per_s?: number;
  /** For model benches: median time divided by the sentences in the batch. */
  ms_per_sentence?: number;
  /** For memory-bound kernels: GB/s as a fraction of a plain copy of the same size, same run. */
  vs_copy?: number;
  /** Peak bytes of GPU buffers held during one run, above what was live before it. */
  peak_bytes?: number;
  /** A human label for the shape. */
  label?: string;
  /** Set instead of a time when the result was wrong or the run failed. */
  error?: string;
}

/** A target from the issues, evaluated on this run's numbers. */
export interface TargetResult {
  name: string;
  wanted: string;
  measured: string;
  met: boolean;
  /** How far short, when missed. */
  by: string;
}

/** A target "at least `wanted`" on a measured value (a ratio or a rate), with how far short it fell. */
export function atLeast(name: string, wanted: number, measured: number, unit = '×'): TargetResult {
  const met = measured >= wanted;
  const fmt = (v: number) => (unit === '×' ? `${v.toFixed(2)}×` : `${v.toFixed(1)} ${unit}`);
  return {
    name,
    wanted: `≥ ${unit === '×' ? `${wanted}×` : `${wanted} ${unit}`}`,
    measured: fmt(measured),
    met,
    by: met ? '' : `${((1 - measured / wanted) * 100).toFixed(0)}% short`,
  };
}

export interface SuiteOptions {
  mode: 'quick' | 'default' | 'full';
  /** Called after each measurement (live output). */
  progress?: (m: Measurement) => void;
  /** A one-line conclusion, such as a target met or missed. */
  note?: (line: string) => void;
  /** A target met or missed (for the report's summary). */
  target?: (t: TargetResult) => void;
}

/**
 * The terminal table. `baselines` maps a bench name to the impl it is compared with in the same run; the last
 * column is this impl's time divided by the baseline's (above 1: slower than the baseline, i.e. ours).
 */
export function renderTable(results: readonly Measurement[], baselines: Record<string, string>): string {
  const table = new Table({
    head: [
      'bench',
      'shape',
      'impl',
      'median ms',
      'GFLOP/s',
      'GB/s',
      'tokens/s',
      'peak MiB',
      'time vs baseline',
    ],
    style: { head: [], border: [], compact: true },
  });
  for (const r of results) {
    const baseImpl = baselines[r.bench];
    const base = results.find(
      (b) =>
        b.bench === r.bench &&
        b.label === r.label &&
        b.shape.join() === r.shape.join() &&
        b.impl === baseImpl,
    );
    const ratio =
      r.ms_per_sentence !== undefined
        ? `${r.ms_per_sentence.toFixed(2)} ms/sentence`
        : r.vs_copy !== undefined
          ? `${(100 * r.vs_copy).toFixed(0)}% of copy GB/s`
          : r.median_ms && base?.median_ms
            ? `${(r.median_ms / base.median_ms).toFixed(2)}× ${baseImpl}`
            : '';
    table.push([
      r.bench,
      r.label ?? r.shape.join('×'),
      r.impl,
      r.error
        ? `ERROR: ${r.error.length > 70 ? `${r.error.slice(0, 70)}…` : r.error}`
        : (r.median_ms?.toFixed(2) ?? ''),
      r.gflops?.toFixed(1) ?? '',
      r.gbps?.toFixed(2) ?? '',
      r.tokens_per_s?.toFixed(0) ?? '',
      r.peak_bytes === undefined ? '' : (r.peak_bytes / 2 ** 20).toFixed(2),
      ratio,
    ]);
  }
  return table.toString();
}
