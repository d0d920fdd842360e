/**
 * @file The metrics log of a run: `metrics.jsonl`, one JSON object per line (`{time, ...fields}`), appended
 * and flushed line by line so a crash loses at most the line being written. `time` is milliseconds since the
 * epoch. Non-finite numbers (a diverged loss) are written as the strings "NaN", "Infinity", "-Infinity",
 * which plain JSON cannot hold, and read back as numbers.
 */
import { appendFileSync, closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.ts';
import { readFileBytes } from './read-file.ts';
import { makeDir } from './run-dir.ts';
import { firstInvalidUtf8 } from './text.ts';
import { count, describeIssues, jsonDepthExceeded, quote } from './validate.ts';

/**
 * One line of the log. `time` is required; the fields every phase shares are typed; the rest are open (each
 * phase, and the experiment runner, logs its own fields), so unknown keys are kept, not refused.
 */
export const metricsRecordSchema = z.looseObject({
  time: z.number(),
  phase: z.string().optional(),
  step: count().optional(),
  epoch: count().optional(),
});
export type MetricsRecord = z.infer<typeof metricsRecordSchema>;

/** A metrics line nests at most a few levels; deeper is damage, refused before parsing. */
const MAX_LINE_DEPTH = 16;

export const METRICS_FILE = 'metrics.jsonl';

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

const writeNonFinite = (_key: string, v: unknown) =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
const readNonFinite = (_key: string, v: unknown) =>
  typeof v === 'string' && NON_FINITE.has(v) ? Number(v) : v;

/** True when the file exists, is not empty, and its last byte is not a newline. */
function endsMidLine(path: string): boolean {
  if (!existsSync(path)) return false;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

export interface MetricsLogOptions {
  /** File name inside the run directory; default `metrics.jsonl`. */
  fileName?: string;
  /** Clock, for tests. */
  now?: () => number;
}

/** Appends records to `<runDir>/metrics.jsonl`, creating the directory; continues an existing log. */
export class MetricsLog {
  readonly path: string;
  readonly #now: () => number;

  constructor(runDir: string, options: MetricsLogOptions = {}) {
    makeDir(runDir, 'the run directory');
    this.path = join(runDir, options.fileName ?? METRICS_FILE);
    this.#now = options.now ?? Date.now;
    // A crash mid-write leaves a partial last line; end it so our first record does not merge into it.
    if (endsMidLine(this.path)) appendFileSync(this.path, '\n');
  }

  /** Append `{time, ...fields}` as one line; a `time` in `fields` overrides the clock. */
  log(fields: Record<string, unknown>): void {
    const line = JSON.stringify({ time: this.#now(), ...fields }, writeNonFinite);
    appendFileSync(this.path, `${line}\n`);
  }
}

export interface ReadMetricsOptions {
  /** Skip malformed lines (e.g. one cut short by a crash) instead of throwing. */
  skipMalformed?: boolean;
}

function parseLine(bytes: Buffer, fileOffset: number): { record?: MetricsRecord; problem?: string } {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) return { problem: `invalid UTF-8 at byte offset ${fileOffset + bad} of the file` };
  const line = bytes.toString('utf8').trim();
  if (line === '') return {};
  if (jsonDepthExceeded(line, MAX_LINE_DEPTH) >= 0)
    return { problem: `nested more than ${MAX_LINE_DEPTH} levels deep` };
  let value: unknown;
  try {
    value = JSON.parse(line, readNonFinite);
  } catch (e) {
    return { problem: quote((e as Error).message) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problem: 'not a JSON object' };
  const r = metricsRecordSchema.safeParse(value, { reportInput: true });
  return r.success ? { record: value as MetricsRecord } : { problem: describeIssues(r.error) };
}

/**
 * Parse a metrics log. Blank lines are ignored; a malformed line (not JSON, not UTF-8, no numeric `time`...)
 * is refused with its 1-based number, or skipped with `skipMalformed`.
 */
export function readMetrics(path: string, options: ReadMetricsOptions = {}): MetricsRecord[] {
  const bytes = readFileBytes(path, { what: 'metrics log' });
  const records: MetricsRecord[] = [];
  // Split the bytes, not the text: a line cut short mid-character must not make the whole file undecodable.
  for (let start = 0, n = 1; start < bytes.length; n++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const { record, problem } = parseLine(bytes.subarray(start, end), start);
    if (record) records.push(record);
    else if (problem && !options.skipMalformed)
      throw new Error(`${path}:${n}: malformed metrics line (${problem})`);
    start = end + 1;
  }
  return records;
}

/**
 * Makes a log continue from a checkpoint: drops the record of the first step past `step` and everything after it
 * (written after the checkpoint, by a run that was then interrupted or killed), so that a resumed run logs each
 * step once. The log is chronological, so the records kept are exactly those the checkpoint had seen. Rewrites
 * the file atomically; returns the number of records dropped (0: the file is left as it was).
 */
export function truncateMetricsAfterStep(path: string, step: number): number {
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').split('\n');
  const cut = lines.findIndex((line) => {
    if (jsonDepthExceeded(line, MAX_LINE_DEPTH) >= 0) return false; // damage: kept as it is
    try {
      const value = JSON.parse(line, readNonFinite);
      return typeof value?.step === 'number' && value.step > step;
    } catch {
      return false; // blank or cut short: kept as it is (readers skip or report it)
    }
  });
  if (cut < 0) return 0;
  const dropped = lines.slice(cut).filter((line) => line.trim() !== '').length;
  const kept = lines.slice(0, cut).join('\n');
  writeFileAtomic(path, kept === '' ? '' : `${kept}\n`);
  return dropped;
}
