/**
 * The interrupt contract, on a real child process: the first Ctrl-C (SIGINT) finishes the step, writes a
 * loadable checkpoint, prints the command that resumes, and exits 130; a second Ctrl-C exits 130 at once without
 * saving. On the CPU backend (whose loop must yield for the signal handler to run at all) and on Dawn. A resumed
 * run logs each step once in metrics.jsonl even after a crash left steps past its checkpoint.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Device } from '@reprise/core';
import { describe, expect, it } from 'vitest';
import { latestCheckpoint } from '../src/io/index.ts';
import { loadBackbone } from '../src/training/backbone-checkpoint.ts';
import { loadLabeler } from '../src/training/labeler-checkpoint.ts';
import { lastStep, loggedSteps, reprise, root, smallText, start, tinyPretrain } from './cli-helpers.ts';
import { tinyExperimentData } from './fixtures/tiny-experiment.ts';

const testDevice = process.env.REPRISE_TEST_DEVICE ?? 'auto';

async function interruptOnce(device: string) {
  const dir = mkdtempSync(join(tmpdir(), 'reprise-int-'));
  const out = join(dir, 'run');
  const run = start(...tinyPretrain(out, smallText(dir)), '--device', device);
  await run.stepLogged(out);
  run.child.kill('SIGINT');
  const r = await run.done;
  expect(r.code, r.err).toBe(130);
  expect(r.err).toMatch(/stopping after this step and saving a checkpoint/);
  // The backend asked for is the one that ran (no silent fallback to the CPU).
  if (device !== 'cpu') expect(r.err).toMatch(/^device: (?!cpu)/m);
  const m =
    /interrupted after step (\d+) of 100000; checkpoint (\S+)\nresume with: (pnpm )?reprise pretrain .*--resume/.exec(
      r.err,
    );
  expect(m, r.err).not.toBeNull();
  const step = Number(m![1]);
  expect(step).toBeGreaterThanOrEqual(1);
  // The checkpoint it names is the latest, loads, and holds the step it says.
  const checkpoint = latestCheckpoint(join(out, 'checkpoints'))!;
  expect(resolve(root, m![2]!)).toBe(checkpoint);
  const cpu = await Device.create({ device: 'cpu' });
  const loaded = loadBackbone(checkpoint, cpu);
  expect((loaded.checkpoint.trainer as { step: number }).step).toBe(step);
  expect(loaded.checkpoint.optimizer).toBeDefined();
  loaded.model.dispose();
  // No final model: the run did not finish.
  expect(readdirSync(out)).not.toContain('final');
  return { out, step };
}

describe('Ctrl-C during training', () => {
  it('CPU backend: finishes the step, saves a loadable checkpoint, prints the resume command, exits 130', async () => {
    await interruptOnce('cpu');
  }, 60_000);

  it(`Dawn (${testDevice}): the same contract`, async () => {
    await interruptOnce(testDevice);
  }, 120_000);

  it('fine-tuning: exits 130 with a loadable last/ checkpoint and the resume command (so `&& eval` stops)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-int-ft-'));
    const pre = await reprise(...tinyPretrain(join(dir, 'pre'), smallText(dir), 2), '--device', 'cpu');
    expect(pre.code, pre.err).toBe(0);
    const conll = join(dir, 'tiny.conll');
    writeFileSync(conll, 'the X O\ncat X B-ANIMAL\nsat X O\n\na X O\ndog X B-ANIMAL\n\n'.repeat(20));
    const out = join(dir, 'ft');
    const run = start(
      ...['finetune', '--backbone', join(dir, 'pre', 'final'), '--out', out],
      ...['--train', conll, '--dev', conll, '--test', conll, '--batch-size', '2', '--epochs', '10000'],
      ...['--method', 'sr', '--device', 'cpu'],
    );
    await run.stepLogged(out);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(
      /interrupted; checkpoint \S+\/ft\/last\nresume with: (pnpm )?reprise finetune .*--resume/,
    );
    const cpu = await Device.create({ device: 'cpu' });
    const last = loadLabeler(join(out, 'last'), cpu);
    expect((last.checkpoint.trainer as { step: number }).step).toBe(loggedSteps(out).at(-1));
    last.labeler.dispose();
  }, 60_000);

  it('experiment: exits 130 with the backbone checkpoint saved and the report not written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-int-exp-'));
    const config = join(dir, 'grid.json');
    const model = { dModel: 16, heads: 2, layers: 1, dFF: 32, maxPositions: 64, dropout: 0 };
    const pretrain = { model, vocabSize: 300, steps: 100_000, batchSize: 2, context: 16, warmupSteps: 1 };
    writeFileSync(
      config,
      JSON.stringify({
        name: 'tiny',
        seeds: [1],
        pretrain: {
          options: { ...pretrain, evalEvery: 100_000, evalBatches: 1, checkpointEvery: 0 },
          encoder: false,
        },
        data: tinyExperimentData(),
        finetune: { epochs: 1, batchSize: 4 },
        groups: [{ name: 'main', title: 'main', tasks: ['synthetic'], variants: [{ method: 'causal' }] }],
      }),
    );
    const out = join(dir, 'out');
    const run = start('experiment', config, '--out', out, '--device', 'cpu');
    await run.stepLogged(join(out, 'pretrain-decoder'));
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(
      /the report was not rewritten\nresume with: (pnpm )?reprise experiment \S+grid\.json/,
    );
    expect(latestCheckpoint(join(out, 'pretrain-decoder', 'checkpoints'))).not.toBeNull();
    expect(readdirSync(out)).not.toContain('RESULTS.md');
  }, 60_000);

  it('a second Ctrl-C exits 130 at once: nothing more runs after it', async () => {
    // The handler on its own, deterministically: two signals sent together may merge into one, so the second is
    // sent only once the first was handled; the job then keeps running (as a checkpoint save would) until it.
    const job = [
      "import { installInterruptHandler, yieldToEventLoop } from './packages/train/src/training/loop.ts';",
      "installInterruptHandler({ onFirst: () => process.stderr.write('first\\n'), onSecond: () => process.stderr.write('second\\n') });",
      "process.stderr.write('ready\\n');",
      'for (;;) await yieldToEventLoop();',
    ].join('\n');
    const child = spawn('node', ['--import', 'tsx', '--input-type=module', '-e', job], { cwd: root });
    let err = '';
    child.stderr!.on('data', (b) => (err += b));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    const shows = async (line: string) => {
      while (!err.includes(line)) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await shows('ready\n');
    child.kill('SIGINT');
    await shows('first\n');
    child.kill('SIGINT');
    expect(await done).toBe(130);
    expect(err).toBe('ready\nfirst\nsecond\n');
  }, 60_000);

  it('a second Ctrl-C during training exits 130 and leaves no damaged checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-int2-'));
    const out = join(dir, 'run');
    const run = start(...tinyPretrain(out, smallText(dir)), '--checkpoint-every', '0', '--device', 'cpu');
    await run.stepLogged(out);
    run.child.kill('SIGINT');
    // On the CPU backend the handlers run between steps: the first stops the loop, whose checkpoint write may
    // finish before the second is seen. Either way: exit 130, and whatever checkpoint exists is whole.
    await run.stderrShows(/stopping after this step/);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(/quit without saving|resume with/);
    const checkpoint = latestCheckpoint(join(out, 'checkpoints'));
    if (checkpoint) loadBackbone(checkpoint, await Device.create({ device: 'cpu' })).model.dispose();
  }, 60_000);

  it('a resumed run logs each step once, even after a crash logged steps past its checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-int3-'));
    const out = join(dir, 'run');
    const args = [...tinyPretrain(out, smallText(dir)), '--checkpoint-every', '3', '--device', 'cpu'];
    // A crash (SIGKILL: no handler runs) at a moment when steps past the last checkpoint are logged: the child is
    // frozen (SIGSTOP) to look, and let go on until that is so.
    const crashed = start(...args);
    const savedStep = () => Number(/(\d+)$/.exec(latestCheckpoint(join(out, 'checkpoints')) ?? '-0')![1]);
    for (let next = 4; ; ) {
      await crashed.stepLogged(out, next);
      crashed.child.kill('SIGSTOP');
      if (savedStep() > 0 && lastStep(out) > savedStep()) break;
      next = lastStep(out) + 1;
      crashed.child.kill('SIGCONT');
    }
    crashed.child.kill('SIGKILL');
    await crashed.done;
    const before = loggedSteps(out);
    const saved = savedStep();
    expect(before.at(-1)).toBeGreaterThan(saved);

    const resumed = start(...args, '--resume');
    await resumed.stepLogged(out, before.at(-1)! + 1);
    resumed.child.kill('SIGINT');
    const r = await resumed.done;
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(new RegExp(`resuming from .* at step ${saved}`));
    expect(r.err).toMatch(/metrics\.jsonl: dropped \d+ records written after step/);
    const steps = loggedSteps(out);
    expect(steps).toEqual(steps.map((_, i) => i + 1));
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').endsWith('\n')).toBe(true);
  }, 60_000);
});
