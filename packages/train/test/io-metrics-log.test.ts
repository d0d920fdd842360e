/**
 * @file Metrics log and atomic file writes: JSONL round trip (non-finite numbers included), malformed lines
 * reported by number, recovery from a line cut short, and temp files never left behind.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MetricsLog,
  readMetrics,
  truncateMetricsAfterStep,
  writeFileAtomic,
  writeJsonAtomic,
} from '../src/io/index.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'reprise-io-log-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('MetricsLog', () => {
  it('appends one object per line and reads them back', () => {
    let clock = 1000;
    const log = new MetricsLog(join(root, 'run'), { now: () => clock++ });
    log.log({ step: 1, loss: 3.5, split: 'train' });
    log.log({
      step: 2,
      loss: Number.NaN,
      grad: { norm: Number.POSITIVE_INFINITY, min: Number.NEGATIVE_INFINITY },
    });
    log.log({ event: 'eval', time: 5 });
    expect(log.path).toBe(join(root, 'run', 'metrics.jsonl'));

    const lines = readFileSync(log.path, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(JSON.parse(lines[0])).toEqual({ time: 1000, step: 1, loss: 3.5, split: 'train' });
    expect(lines[1]).toContain('"loss":"NaN"');

    expect(readMetrics(log.path)).toEqual([
      { time: 1000, step: 1, loss: 3.5, split: 'train' },
      {
        time: 1001,
        step: 2,
        loss: Number.NaN,
        grad: { norm: Number.POSITIVE_INFINITY, min: Number.NEGATIVE_INFINITY },
      },
      { time: 5, event: 'eval' },
    ]);
  });

  it('continues an existing log, and stamps real time by default', () => {
    const before = Date.now();
    new MetricsLog(root).log({ step: 1 });
    new MetricsLog(root).log({ step: 2 });
    const records = readMetrics(join(root, 'metrics.jsonl'));
    expect(records.map((r) => r.step)).toEqual([1, 2]);
    expect(records[0].time).toBeGreaterThanOrEqual(before);
    expect(records[1].time).toBeLessThanOrEqual(Date.now());
  });

  it('reports the line number of a malformed line', () => {
    const path = join(root, 'metrics.jsonl');
    writeFileSync(path, '{"time":1,"step":1}\n\n{"time":2,"st\n{"time":3}\n');
    expect(() => readMetrics(path)).toThrow(/metrics\.jsonl:3: malformed metrics line/);
    writeFileSync(path, '{"time":1}\r\n[1,2]\r\n');
    expect(() => readMetrics(path)).toThrow(/metrics\.jsonl:2: malformed metrics line \(not a JSON object\)/);
    expect(readMetrics(path, { skipMalformed: true })).toEqual([{ time: 1 }]);
  });

  it('keeps a line cut short by a crash separate from the next record', () => {
    const path = join(root, 'metrics.jsonl');
    writeFileSync(path, '{"time":1,"step":1}\n{"time":2,"lo');
    new MetricsLog(root, { now: () => 3 }).log({ step: 3 });
    expect(() => readMetrics(path)).toThrow(/metrics\.jsonl:2:/);
    expect(readMetrics(path, { skipMalformed: true })).toEqual([
      { time: 1, step: 1 },
      { time: 3, step: 3 },
    ]);
  });
});

describe('truncateMetricsAfterStep (resume)', () => {
  it('drops the first record past the checkpoint and everything after it, keeping the rest byte for byte', () => {
    let clock = 0;
    const log = new MetricsLog(root, { now: () => clock++ });
    for (let step = 1; step <= 4; step++) log.log({ phase: 'pretrain', step, loss: 5 - step });
    log.log({ phase: 'pretrain', step: 4, val_loss: 1.5 }); // validation at the checkpoint's step: kept
    log.log({ phase: 'finetune', epoch: 1, dev_accuracy: 0.5 }); // no step, before the cut: kept
    const kept = readFileSync(log.path, 'utf8');
    for (let step = 5; step <= 6; step++) log.log({ phase: 'pretrain', step, loss: 1 });
    log.log({ phase: 'finetune', epoch: 2, dev_accuracy: 0.6 }); // no step, after the cut: dropped
    expect(truncateMetricsAfterStep(log.path, 4)).toBe(3);
    expect(readFileSync(log.path, 'utf8')).toBe(kept);
    // A resumed run appends after it: each step once.
    const resumed = new MetricsLog(root, { now: () => clock++ });
    resumed.log({ phase: 'pretrain', step: 5, loss: 0.9 });
    expect(
      readMetrics(log.path)
        .filter((r) => typeof r.loss === 'number')
        .map((r) => r.step),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(readdirSync(root)).toEqual(['metrics.jsonl']);
  });

  it('leaves a log with nothing past the checkpoint (or no log) untouched', () => {
    expect(truncateMetricsAfterStep(join(root, 'metrics.jsonl'), 3)).toBe(0);
    const log = new MetricsLog(root, { now: () => 7 });
    log.log({ step: 1, loss: 2 });
    writeFileSync(log.path, `${readFileSync(log.path, 'utf8')}{"time":8,"st`); // a line cut short by a crash
    const before = readFileSync(log.path, 'utf8');
    expect(truncateMetricsAfterStep(log.path, 1)).toBe(0);
    expect(readFileSync(log.path, 'utf8')).toBe(before);
  });

  it('drops everything when the checkpoint precedes the first step', () => {
    const log = new MetricsLog(root, { now: () => 7 });
    log.log({ step: 1, loss: 2 });
    log.log({ step: 2, loss: 1 });
    expect(truncateMetricsAfterStep(log.path, 0)).toBe(2);
    expect(readFileSync(log.path, 'utf8')).toBe('');
  });
});

describe('atomic writes', () => {
  it('writes and replaces files, leaving no temp files', () => {
    const path = join(root, 'a.json');
    writeJsonAtomic(path, { a: 1 });
    expect(readFileSync(path, 'utf8')).toBe('{\n  "a": 1\n}\n');
    writeFileAtomic(path, new Uint8Array([104, 105]));
    expect(readFileSync(path, 'utf8')).toBe('hi');
    expect(readdirSync(root)).toEqual(['a.json']);
  });

  it('removes the temp file when the final rename fails', () => {
    const path = join(root, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'x'), 'x');
    expect(() => writeFileAtomic(path, 'data')).toThrow();
    expect(readdirSync(root)).toEqual(['taken']);
    expect(readdirSync(path)).toEqual(['x']);
  });

  it('refuses values JSON cannot hold', () => {
    expect(() => writeJsonAtomic(join(root, 'u.json'), undefined)).toThrow(/not JSON-serializable/);
    expect(readdirSync(root)).toEqual([]);
  });
});
