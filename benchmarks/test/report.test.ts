/**
 * @file The benchmark report: tables with ratios to ours from the same run, errors shown as errors, targets
 * with their verdicts, one chart per bench, the measurements as JSON lines, and a previous report replaced
 * whole.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { markdownTable } from '@reprise/train';
import { afterAll, describe, expect, it } from 'vitest';
import { type Measurement, atLeast } from '../src/report.ts';
import { writeReport } from '../src/results.ts';

const root = mkdtempSync(join(tmpdir(), 'reprise-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const results: Measurement[] = [
  {
    bench: 'matmul',
    shape: [8, 8, 8],
    label: '8³',
    impl: 'reprise-webgpu',
    adapter: 'gpu',
    median_ms: 2,
    gflops: 5,
  },
  {
    bench: 'matmul',
    shape: [8, 8, 8],
    label: '8³',
    impl: 'tfjs-wasm',
    adapter: 'cpu',
    median_ms: 5,
    gflops: 2,
  },
  {
    bench: 'matmul',
    shape: [8, 8, 8],
    label: '8³',
    impl: 'js',
    adapter: 'cpu',
    error: 'wrong result: C[0, 0] = 1',
  },
  {
    bench: 'train step',
    shape: [2, 4],
    impl: 'reprise-webgpu',
    adapter: 'gpu',
    median_ms: 100,
    tokens_per_s: 80,
  },
];
const stamp = {
  date: '2026-11-27T00:00:00.000Z',
  command: 'pnpm bench',
  adapter: 'llvmpipe',
  machine: '2 × CPU',
  versions: { node: '20' },
  wallSeconds: 90,
};

describe('writeReport', () => {
  it('writes REPORT.md, one SVG per bench and the JSON lines, replacing an old report', async () => {
    const dir = join(root, 'default');
    await writeReport(dir, [results[0]!], [], [], stamp, {});
    writeFileSync(join(dir, 'stale.svg'), '<svg/>');
    const targets = [
      { name: 'matmul vs tfjs-wasm', wanted: '≥ 0.9×', measured: '2.50×', met: true, by: '' },
      { name: 'train vs tfjs-webgpu', wanted: '≥ 3×', measured: '2.40×', met: false, by: '20% short' },
    ];
    await writeReport(dir, results, targets, ['a note'], stamp, { matmul: 'reprise-webgpu' });
    expect(readdirSync(dir).sort()).toEqual([
      'REPORT.md',
      'matmul.svg',
      'measurements.jsonl',
      'train-step.svg',
    ]);
    const md = readFileSync(join(dir, 'REPORT.md'), 'utf8');
    expect(md).toContain('- adapter: llvmpipe');
    expect(md).toContain('wall time 1.5 min');
    expect(md).toContain('| train vs tfjs-webgpu | ≥ 3× | 2.40× | **missed**, 20% short |');
    expect(md).toContain('| 8³ | tfjs-wasm | 5.00 | 2.00 |  | 2.50× | cpu |');
    expect(md).toContain('**error**: wrong result: C[0, 0] = 1');
    expect(md).toContain('**1 measurement(s) failed**');
    expect(md).toContain('| 2×4 | reprise-webgpu | 100.00 | 80 |');
    const lines = readFileSync(join(dir, 'measurements.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(results);
    const svg = readFileSync(join(dir, 'matmul.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('tfjs-wasm');
  });

  it('states targets with how far short a missed one fell', () => {
    expect(atLeast('train vs tfjs-webgpu', 3, 2.4)).toEqual({
      name: 'train vs tfjs-webgpu',
      wanted: '≥ 3×',
      measured: '2.40×',
      met: false,
      by: '20% short',
    });
    expect(atLeast('matmul', 20, 31.84, 'GFLOP/s')).toMatchObject({
      wanted: '≥ 20 GFLOP/s',
      measured: '31.8 GFLOP/s',
      met: true,
    });
  });

  it('escapes pipes in markdown cells', () => {
    expect(markdownTable(['a'], [['x | y']])).toBe('| a |\n| --- |\n| x \\| y |');
  });
});
