/**
 * @file Runs the PyTorch reference of Hugging Face models (reference.py beside this file) from vitest. The python
 * is the one the benchmarks' PyTorch peer uses ($REPRISE_TORCH_PYTHON, else /usr/bin/python3, else `python3`),
 * found by the same probe; when none imports torch, `torchMissing` says why, for `it.skipIf` and a warning.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findTorch } from '../../../../benchmarks/src/peers/torch.ts';

const SCRIPT = join(import.meta.dirname, 'reference.py');

const found = findTorch();
/** The python that imports torch, or '' when none does. */
export const torchPython = 'python' in found ? found.python : '';
/** Why the reference cannot run ('' when it can): the tests skip with this reason printed. */
export const torchMissing = 'skipped' in found ? found.skipped : '';

type Arg = string | number | undefined | string[];

/** Runs one subcommand (`--key value` per defined arg; arrays repeat the flag) and parses its JSON answer. */
const run = promisify(execFile);

export async function runReference<T>(command: string, args: Record<string, Arg>): Promise<T> {
  if (!torchPython) throw new Error(`the PyTorch reference cannot run: ${torchMissing}`);
  const argv = ['-B', SCRIPT, command];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) argv.push(`--${key}`, String(v));
  }
  const shown = `${torchPython} ${argv.slice(1).join(' ').slice(0, 300)}`;
  // Asynchronous: a test that waits on python synchronously blocks its vitest worker, whose RPC then times out.
  let r: { stdout: string; stderr: string };
  try {
    r = await run(torchPython, argv, { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, timeout: 120_000 });
  } catch (e) {
    const err = e as Error & { code?: number | string; stderr?: string };
    const tail = (err.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    throw new Error(`${shown} failed (${err.code ?? err.message}):\n${tail}`);
  }
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(
      `${shown}: expected one JSON object on stdout, found ${JSON.stringify(r.stdout.slice(0, 200))} (${e})`,
    );
  }
}

export type Arch = 'gpt2' | 'llama' | 'mistral' | 'qwen2';
export type Dtype = 'f32' | 'f16' | 'bf16';

/** A tiny random model directory at `out` (which must not exist or be empty); its tensors' names and shapes. */
export async function makeModel(opts: {
  arch: Arch;
  out: string;
  dtype?: Dtype;
  shards?: number;
  seed?: number;
  tinyConfig?: Record<string, unknown>;
  numLabels?: number;
}): Promise<{ tensors: Record<string, number[]> }> {
  return runReference('make', {
    arch: opts.arch,
    out: opts.out,
    dtype: opts.dtype,
    shards: opts.shards,
    seed: opts.seed,
    'tiny-config': opts.tinyConfig && JSON.stringify(opts.tinyConfig),
    'num-labels': opts.numLabels,
  });
}

/** The model at `dir` written again at `out` in another dtype or sharding. */
export async function resaveModel(dir: string, out: string, dtype: Dtype, shards = 1): Promise<void> {
  await runReference('resave', { dir, out, dtype, shards });
}

/** Float32 logits [batch, T, vocab or labels], row-major. */
export async function referenceLogits(
  dir: string,
  ids: number[][],
): Promise<{ shape: number[]; data: Float32Array }> {
  const r = await runReference<{ shape: number[]; logits: number[] }>('logits', {
    dir,
    ids: JSON.stringify(ids),
  });
  return { shape: r.shape, data: Float32Array.from(r.logits) };
}

export interface NamedTensor {
  shape: number[];
  data: number[];
}

export interface LoraGrads {
  loss: number;
  scaling: number;
  /** Every trainable tensor (LoRA A and B by PEFT-style module names, the head) as it was initialized. */
  params: Record<string, NamedTensor>;
  grads: Record<string, NamedTensor>;
}

/** Loss and gradients of LoRA adapters and a token-classification head (see reference.py `lora-grads`). */
export async function referenceLoraGrads(opts: {
  dir: string;
  ids: number[][];
  labels: number[][];
  rank?: number;
  alpha?: number;
  targets?: string[];
  seed?: number;
  bInit?: 'zeros' | 'normal';
  numLabels?: number;
  init?: Record<string, NamedTensor>;
  /** [name, flat index, delta] added to one element before the forward. */
  perturb?: [string, number, number][];
  precision?: 'f32' | 'f64';
}): Promise<LoraGrads> {
  // The initial tensors go through a file: a command-line argument is limited to 128 KiB.
  const dir = opts.init ? mkdtempSync(join(tmpdir(), 'reprise-lora-init-')) : '';
  if (opts.init) writeFileSync(join(dir, 'init.json'), JSON.stringify(opts.init));
  try {
    return await runLoraGrads(opts, opts.init ? join(dir, 'init.json') : undefined);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

function runLoraGrads(
  opts: Parameters<typeof referenceLoraGrads>[0],
  init: string | undefined,
): Promise<LoraGrads> {
  return runReference('lora-grads', {
    dir: opts.dir,
    ids: JSON.stringify(opts.ids),
    labels: JSON.stringify(opts.labels),
    rank: opts.rank,
    alpha: opts.alpha,
    targets: opts.targets?.join(','),
    seed: opts.seed,
    'b-init': opts.bInit,
    'num-labels': opts.numLabels,
    init,
    perturb: opts.perturb?.map(([name, index, delta]) => `${name}:${index}:${delta}`),
    precision: opts.precision,
  });
}
