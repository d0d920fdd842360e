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
  /** A human label for the shape. */
  label?: string;
  /** Set instead of a time when the result was wrong or the run failed. */
  error?: string;
}

export interface SuiteOptions {
  mode: 'quick' | 'default' | 'full';
  /** Called after each measurement (live output). */
  progress?: (m: Measurement) => void;
  /** A one-line conclusion, such as a target met or missed. */
  note?: (line: string) => void;
}

export function renderTable(results: readonly Measurement[], baselineImpl: string): string {
  const table = new Table({
    head: ['bench', 'shape', 'impl', 'median ms', 'GFLOP/s', `× ${baselineImpl}`],
    style: { head: [], border: [], compact: true },
  });
  for (const r of results) {
    const base = results.find(
      (b) => b.bench === r.bench && b.shape.join() === r.shape.join() && b.impl === baselineImpl,
    );
    const ratio = r.gflops && base?.gflops ? (r.gflops / base.gflops).toFixed(2) : '';
    table.push([
      r.bench,
      r.label ?? r.shape.join('×'),
      r.impl,
      r.error ? `ERROR: ${r.error}` : (r.median_ms?.toFixed(2) ?? ''),
      r.gflops?.toFixed(1) ?? '',
      ratio,
    ]);
  }
  return table.toString();
}
