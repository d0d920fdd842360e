import { writeFileSync } from 'node:fs';
/**
 * @file The report of a run under `benchmarks/results/<name>/`: REPORT.md (stamp, targets, one table and one
 * chart per bench), one SVG chart per bench and measurements.jsonl (the `--json` records), all written
 * together (a temporary directory swapped in), so an interrupted run never leaves half a report.
 */
import { join } from 'node:path';
import { type GroupedBarRow, groupedBarChartSvg, markdownTable, writeDirAtomic } from '@reprise/train';
import type { Measurement, TargetResult } from './report.ts';

export interface ReportStamp {
  date: string;
  command: string;
  adapter: string;
  machine: string;
  versions: Record<string, string>;
  wallSeconds: number;
}

interface Metric {
  key: 'gflops' | 'gbps' | 'tokens_per_s' | 'ms_per_sentence' | 'median_ms';
  title: string;
  /** Larger is better (throughputs) or not (times). */
  higherIsBetter: boolean;
}

const METRICS: Metric[] = [
  { key: 'tokens_per_s', title: 'tokens/s', higherIsBetter: true },
  { key: 'gflops', title: 'GFLOP/s', higherIsBetter: true },
  { key: 'gbps', title: 'GB/s', higherIsBetter: true },
  { key: 'ms_per_sentence', title: 'ms/sentence', higherIsBetter: false },
  { key: 'median_ms', title: 'median ms', higherIsBetter: false },
];

/** The headline metric of a bench: the first one all its successful measurements have. */
function metricOf(rows: Measurement[]): Metric {
  const ok = rows.filter((r) => !r.error);
  return METRICS.find((m) => ok.length > 0 && ok.every((r) => r[m.key] !== undefined)) ?? METRICS.at(-1)!;
}

const fileName = (bench: string) => `${bench.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.svg`;
const fmt = (v: number | undefined, digits = 2) => (v === undefined ? '' : v.toFixed(digits));

/** "time ÷ ours" against the baseline impl of the same bench and shape (above 1: slower than ours). */
function versusBaseline(r: Measurement, all: Measurement[], baseline: string | undefined): string {
  if (!baseline || r.median_ms === undefined) return '';
  const base = all.find(
    (b) =>
      b.bench === r.bench && b.label === r.label && b.shape.join() === r.shape.join() && b.impl === baseline,
  );
  return base?.median_ms ? `${(r.median_ms / base.median_ms).toFixed(2)}×` : '';
}

function benchSection(bench: string, rows: Measurement[], baseline: string | undefined): string {
  const metric = metricOf(rows);
  const table = markdownTable(
    ['shape', 'impl', 'median ms', metric.title, 'peak MiB', baseline ? `time ÷ ${baseline}` : '', 'adapter'],
    rows.map((r) => [
      r.label ?? r.shape.join('×'),
      r.impl,
      r.error ? `**error**: ${r.error}` : fmt(r.median_ms),
      metric.key === 'median_ms' ? '' : fmt(r[metric.key], metric.key === 'tokens_per_s' ? 0 : 2),
      r.peak_bytes === undefined ? '' : fmt(r.peak_bytes / 2 ** 20, 1),
      versusBaseline(r, rows, baseline),
      r.adapter,
    ]),
  );
  return `## ${bench}\n\n![${bench}](${fileName(bench)})\n\n${table}\n`;
}

async function benchChart(bench: string, rows: Measurement[]): Promise<string> {
  const metric = metricOf(rows);
  const bars: GroupedBarRow[] = rows
    .filter((r) => !r.error && r[metric.key] !== undefined)
    .map((r) => ({ group: r.label ?? r.shape.join('×'), series: r.impl, value: r[metric.key]! }));
  const values = bars.map((b) => b.value);
  const spread = Math.max(...values) / Math.max(Math.min(...values), 1e-12);
  return groupedBarChartSvg(bars, {
    title: `${bench} (${metric.higherIsBetter ? 'higher' : 'lower'} is better)`,
    yLabel: metric.title + (spread > 20 ? ' (log scale)' : ''),
    logY: spread > 20,
    width: Math.max(480, 40 * bars.length),
  });
}

/** Per bench and shape with a baseline (ours): our headline number against the fastest peer's. */
export function summaryTable(results: Measurement[], baselines: Record<string, string>): string {
  const rows: string[][] = [];
  for (const r of results) {
    if (r.impl !== baselines[r.bench] || r.median_ms === undefined) continue;
    const metric = metricOf(results.filter((x) => x.bench === r.bench));
    const peers = results.filter(
      (p) =>
        p.bench === r.bench &&
        p.label === r.label &&
        !p.impl.startsWith('reprise') &&
        p.median_ms !== undefined,
    );
    if (peers.length === 0) continue;
    const fastest = peers.reduce((a, b) => (b.median_ms! < a.median_ms! ? b : a));
    const value = (m: Measurement) =>
      `${fmt(m[metric.key], metric.key === 'tokens_per_s' ? 0 : 1)} ${metric.title}`;
    rows.push([
      r.bench,
      r.label ?? r.shape.join('×'),
      value(r),
      `${fastest.impl}: ${value(fastest)}`,
      `${(fastest.median_ms! / r.median_ms).toFixed(2)}×`,
    ]);
  }
  return markdownTable(['bench', 'shape', 'ours', 'fastest peer', 'ours faster by (peer time ÷ ours)'], rows);
}

export function targetsTable(targets: TargetResult[]): string {
  return markdownTable(
    ['target', 'wanted', 'measured', 'verdict'],
    targets.map((t) => [t.name, t.wanted, t.measured, t.met ? 'met' : `**missed**, ${t.by}`]),
  );
}

/** Writes REPORT.md, the charts and measurements.jsonl into `dir` (replacing what was there). */
export async function writeReport(
  dir: string,
  results: Measurement[],
  targets: TargetResult[],
  notes: string[],
  stamp: ReportStamp,
  baselines: Record<string, string>,
): Promise<void> {
  const benches = [...new Set(results.map((r) => r.bench))];
  const charts = await Promise.all(
    benches.map((b) =>
      benchChart(
        b,
        results.filter((r) => r.bench === b),
      ),
    ),
  );
  const versions = Object.entries(stamp.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const errors = results.filter((r) => r.error).length;
  const markdown = [
    '# reprise benchmark report',
    '',
    `- date: ${stamp.date}`,
    `- command: \`${stamp.command}\` (wall time ${(stamp.wallSeconds / 60).toFixed(1)} min)`,
    `- adapter: ${stamp.adapter}`,
    `- machine: ${stamp.machine}`,
    `- versions: ${versions}`,
    '',
    'Medians after warm-up; every result was checked against our CPU twin (or a twin-checked reference) before',
    'it was timed, and a wrong result is listed as an error, never as a time. Times include reading the results',
    'back to the host, for every implementation. Compare numbers within one report only: this machine moves',
    '±15–30% between runs.',
    '',
    ...(errors ? [`**${errors} measurement(s) failed** (errors in the tables below).`, ''] : []),
    '## Targets',
    '',
    targets.length ? targetsTable(targets) : 'None evaluated in this run (their benches did not run).',
    '',
    '## Ours against the fastest peer',
    '',
    summaryTable(results, baselines),
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
    ...benches.map((b) =>
      benchSection(
        b,
        results.filter((r) => r.bench === b),
        baselines[b],
      ),
    ),
  ].join('\n');
  writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, 'REPORT.md'), markdown);
    writeFileSync(join(tmp, 'measurements.jsonl'), results.map((r) => JSON.stringify(r)).join('\n') + '\n');
    benches.forEach((b, i) => writeFileSync(join(tmp, fileName(b)), charts[i]!));
  });
}
