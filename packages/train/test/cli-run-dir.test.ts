/**
 * A run is never overwritten by accident, and bad options are refused before anything is made: a second run into
 * the same --out is refused (nothing changes) until --resume or --overwrite says what to do, and --overwrite moves
 * the old run aside; --lr 0 and an r whose copies cannot fit a learned position table are refused and create no
 * --out; an --out that cannot be created is reported with the real reason; an experiment into a fresh --out starts
 * from the log published beside its report. CPU backend: the point is the CLI.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { reprise, smallText, tinyPretrain } from './cli-helpers.ts';
import { tinyExperimentData } from './fixtures/tiny-experiment.ts';

let dir: string;
let out: string;
let text: string;
const snapshot = (run: string) =>
  Object.fromEntries(
    ['metrics.jsonl', 'final/model.safetensors', 'final/config.json'].map((f) => [
      f,
      readFileSync(join(run, f), 'utf8'),
    ]),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reprise-rundir-'));
  out = join(dir, 'pre');
  text = smallText(dir);
  const first = await reprise(...tinyPretrain(out, text, 3), '--device', 'cpu');
  expect(first.code, first.err).toBe(0);
}, 60_000);

describe('--out that holds a run', () => {
  it('is refused, naming the directory, --resume and --overwrite; nothing in it changes', async () => {
    const before = snapshot(out);
    const again = await reprise(...tinyPretrain(out, text, 3), '--device', 'cpu');
    expect(again.code).toBe(1);
    expect(again.err).toContain(`--out ${out} already holds a run (final, loss.svg, metrics.jsonl)`);
    expect(again.err).toMatch(/--resume.*--overwrite/);
    // Refused before the device was opened.
    expect(again.err).not.toMatch(/^device:/m);
    expect(snapshot(out)).toEqual(before);
    // fine-tuning into it is refused the same way, before its data or backbone are read.
    const ft = await reprise('finetune', '--backbone', join(dir, 'missing'), '--out', out, '--device', 'cpu');
    expect(ft.code).toBe(1);
    expect(ft.err).toContain(`--out ${out} already holds a run`);
  });

  it('--resume and --overwrite together are refused', async () => {
    const r = await reprise(...tinyPretrain(out, text, 3), '--resume', '--overwrite', '--device', 'cpu');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/give one of them/);
  });

  it('--resume with no checkpoint to continue from is refused instead of starting over', async () => {
    const finished = join(dir, 'no-checkpoints');
    const first = await reprise(
      ...tinyPretrain(finished, text, 2),
      '--checkpoint-every',
      '0',
      '--device',
      'cpu',
    );
    expect(first.code, first.err).toBe(0);
    const r = await reprise(
      ...tinyPretrain(finished, text, 2),
      '--checkpoint-every',
      '0',
      '--resume',
      '--device',
      'cpu',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--resume: --out .* holds a run .* but no checkpoint to continue from/);
  }, 60_000);

  it('--overwrite moves the old run aside (never deletes it) and starts a new one', async () => {
    const run = join(dir, 'moved');
    expect((await reprise(...tinyPretrain(run, text, 2), '--device', 'cpu')).code).toBe(0);
    const before = snapshot(run);
    const r = await reprise(...tinyPretrain(run, text, 3), '--overwrite', '--device', 'cpu');
    expect(r.code, r.err).toBe(0);
    const m = /--overwrite: the old run in .* was moved to (\S+)/.exec(r.err);
    expect(m, r.err).not.toBeNull();
    expect(m![1]).toMatch(new RegExp(`^${run}\\.replaced-`));
    expect(snapshot(m![1]!)).toEqual(before);
    // The new run's log is its own: 3 steps, not 2 + 3.
    const steps = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((x) => typeof x.loss === 'number');
    expect(steps.map((x) => x.step)).toEqual([1, 2, 3]);
  }, 60_000);
});

describe('options refused before anything is made', () => {
  it('--lr 0, --clip 0 and --dropout 1', async () => {
    for (const [flag, value, want] of [
      ['--lr', '0', '--lr must be a number > 0'],
      ['--clip', '0', '--clip must be a number > 0'],
      ['--dropout', '1', '--dropout must be a number in [0, 1)'],
    ] as const) {
      const target = join(dir, `bad${flag}`);
      const r = await reprise(...tinyPretrain(target, text, 2), flag, value, '--device', 'cpu');
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(`${want}, got '${value}'`);
      expect(existsSync(target)).toBe(false);
    }
  });

  it('an r whose copies cannot fit a learned position table, with no --out left behind', async () => {
    const learned = join(dir, 'learned');
    const pre = await reprise(...tinyPretrain(learned, text, 2), '--positions', 'learned', '--device', 'cpu');
    expect(pre.code, pre.err).toBe(0);
    const conll = join(dir, 'tiny.conll');
    writeFileSync(conll, 'we X O\nmet X O\nAlice X B-PER\n\nthe X O\ncat X O\n\n');
    const target = join(dir, 'ft-r1000');
    const r = await reprise(
      'finetune',
      '--backbone',
      join(learned, 'final'),
      ...['--train', conll, '--dev', conll, '--test', conll],
      ...['--method', 'sr', '--r', '1000', '--out', target, '--device', 'cpu'],
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "--r 1000: 1001 copies of a one-subword sentence need 1001 positions, but the backbone's learned position table has 32",
    );
    expect(existsSync(target)).toBe(false);
  }, 60_000);

  it('an --out that cannot be created names the real reason and the path', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const r = await reprise(...tinyPretrain(join(file, 'run'), text, 2), '--device', 'cpu');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot create --out .*a-file\/run: not a directory \(ENOTDIR\)/);
    expect(readdirSync(dir)).not.toContain('run');
  });
});

describe('experiment into a fresh --out', () => {
  it('starts from the log published beside the report: finished runs are not run again', async () => {
    const config = join(dir, 'grid.json');
    const model = { dModel: 16, heads: 2, layers: 1, dFF: 32, maxPositions: 64, dropout: 0 };
    writeFileSync(
      config,
      JSON.stringify({
        name: 'tiny',
        seeds: [1],
        pretrain: {
          options: { model, vocabSize: 300, steps: 2, batchSize: 2, context: 16, warmupSteps: 1 },
          encoder: false,
        },
        data: tinyExperimentData(),
        finetune: { epochs: 1, batchSize: 4 },
        groups: [{ name: 'main', title: 'main', tasks: ['synthetic'], variants: [{ method: 'causal' }] }],
      }),
    );
    const report = join(dir, 'report', 'RESULTS.md');
    const first = await reprise(
      'experiment',
      config,
      '--out',
      join(dir, 'exp-a'),
      '--report',
      report,
      '--device',
      'cpu',
    );
    expect(first.code, first.err).toBe(0);
    expect(first.err).toMatch(/1 runs done, 0 already in/);
    const fresh = join(dir, 'exp-b');
    const second = await reprise('experiment', config, '--out', fresh, '--report', report, '--device', 'cpu');
    expect(second.code, second.err).toBe(0);
    expect(second.err).toContain(
      `resuming from the published log ${join(dir, 'report', 'results', 'runs.jsonl')}`,
    );
    expect(second.err).toMatch(/0 runs done, 1 already in/);
    expect(readFileSync(join(fresh, 'runs.jsonl'), 'utf8')).toBe(
      readFileSync(join(dir, 'exp-a', 'runs.jsonl'), 'utf8'),
    );
  }, 120_000);
});
