/**
 * Helpers for tests that run the `reprise` command as a child process: a tiny pretraining command, a run that
 * can be waited on (until a step is logged) and signalled, and a small text file so no tokenizer training on
 * the Brown corpus slows the start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '../../..');
const MAIN = 'packages/train/src/cli/main.ts';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** A toy CoNLL file of n sentences: "we met <Name> Smith ." with the name and surname as a PER span. */
export function toyNameConll(n: number, seed: number): string {
  const names = ['Alice', 'Bob', 'Carol', 'Dave'];
  const lines = ['-DOCSTART- -X- O', ''];
  for (let i = 0; i < n; i++) {
    const a = names[(i + seed) % 4]!;
    lines.push('we X O', 'met X O', `${a} X B-PER`, 'Smith X I-PER', '. X O', '');
  }
  return lines.join('\n');
}

/** A command that outlives this is killed (and reported by its signal). */
const COMMAND_TIMEOUT_MS = 300_000;

/**
 * Runs `reprise …args` to the end. Asynchronous on purpose: a synchronous wait blocks the vitest worker, whose
 * RPC to the main process then times out under load ("Timeout calling onTaskUpdate").
 */
export async function reprise(...args: string[]): Promise<Finished> {
  const { child, done } = start(...args);
  const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/** The adapter the tests run on (REPRISE_TEST_DEVICE, default auto). */
export const testDevice = process.env.REPRISE_TEST_DEVICE ?? 'auto';

/** `reprise …args --device <the tests' adapter>`. */
export const repriseOnTestDevice = (...args: string[]) => reprise(...args, '--device', testDevice);

/** A running `reprise …args`. */
export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  /** Resolves once metrics.jsonl in `runDir` holds a step record with step ≥ `step`. */
  stepLogged(runDir: string, step?: number): Promise<number>;
  /** Resolves once the command's stderr so far matches `pattern`. */
  stderrShows(pattern: RegExp): Promise<void>;
}

export function start(...args: string[]): Running {
  const child = spawn('node', ['--import', 'tsx', MAIN, ...args], { cwd: root });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, out, err })),
  );
  let exited = false;
  void done.then(() => (exited = true));
  const stepLogged = (runDir: string, step = 1) =>
    new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const last = lastStep(runDir);
        if (last >= step) {
          clearInterval(timer);
          resolve(last);
        } else if (exited) {
          clearInterval(timer);
          reject(new Error(`the command ended before step ${step} was logged:\n${err}`));
        }
      }, 20);
    });
  const stderrShows = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (pattern.test(err)) {
          clearInterval(timer);
          resolve();
        } else if (exited) {
          clearInterval(timer);
          reject(new Error(`the command ended before its stderr showed ${pattern}:\n${err}`));
        }
      }, 10);
    });
  return { child, done, stepLogged, stderrShows };
}

/** The highest training step in a run's metrics.jsonl (0 when none yet). */
export function lastStep(runDir: string): number {
  return Math.max(0, ...loggedSteps(runDir));
}

/** The `step` of every training-step record (one with a loss) in a run's metrics.jsonl, in order. */
export function loggedSteps(runDir: string): number[] {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l))
    .filter((r) => typeof r.loss === 'number')
    .map((r) => r.step as number);
}

/** A small pretraining text (one sentence per line) in `dir`; returns its path. */
export function smallText(dir: string): string {
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'far', 'away', 'home'];
  const lines = Array.from({ length: 120 }, (_, i) =>
    Array.from({ length: 6 + (i % 5) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '),
  );
  const path = join(dir, 'text.txt');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** `pretrain` options for a tiny decoder on `text`: many steps, so that a run cannot end before a signal. */
export function tinyPretrain(out: string, text: string, steps = 100_000): string[] {
  return [
    'pretrain',
    '--out',
    out,
    '--text',
    text,
    '--d-model',
    '16',
    '--heads',
    '2',
    '--layers',
    '1',
    '--context',
    '16',
    '--batch-size',
    '2',
    '--vocab-size',
    '300',
    '--max-positions',
    '32',
    '--steps',
    String(steps),
    '--eval-every',
    String(steps),
  ];
}
