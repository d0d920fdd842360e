/**
 * @file The PyTorch peer: benchmarks/torch/peer.py run as a subprocess by whichever python can import torch
 * ($REPRISE_TORCH_PYTHON, else /usr/bin/python3 (Debian's python3-torch), else `python3` on PATH). Inputs go
 * through a temporary directory (raw little-endian files and a manifest); the bench then sends one command
 * per step on stdin and reads one JSON line back, so it times PyTorch with the same loop as every other
 * implementation (a pipe round trip is tens of µs, next to steps of tens of ms). The peer uses every core
 * ($REPRISE_TORCH_THREADS to change) for PyTorch and OpenBLAS alike, with OMP_WAIT_POLICY=PASSIVE unless the
 * environment sets it (spinning OpenMP workers starve OpenBLAS's threads: see benchmarks/torch/env.py).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Job } from '../job.ts';

const SCRIPTS = join(import.meta.dirname, '..', '..', 'torch');
export const TORCH_IMPL = 'torch-cpu';

/** What the peer runs on, as benchmarks/torch/env.py reports it. */
export interface TorchEnv {
  torch: string;
  blas: string;
  blasPath: string | null;
  /** OpenBLAS's own thread pool, when OpenBLAS is the BLAS. */
  blasThreads: number | null;
  /** torch.get_num_threads() after the peer set it. */
  threads: number;
  /** $OMP_WAIT_POLICY when set (PASSIVE stops idle OpenMP workers spinning). */
  ompWaitPolicy?: string | null;
}

export type TorchAvailability = { python: string; env: TorchEnv } | { skipped: string };

/** Pythons to try, in order. */
export function torchPythons(): string[] {
  const chosen = process.env.REPRISE_TORCH_PYTHON;
  return chosen ? [chosen] : ['/usr/bin/python3', 'python3'];
}

let probed: TorchAvailability | null = null;

/** The first python that imports torch (and numpy) and what it runs on, or why none did. Probed once. */
export function findTorch(): TorchAvailability {
  if (probed) return probed;
  const failures: string[] = [];
  for (const python of torchPythons()) {
    const r = spawnSync(python, ['-B', join(SCRIPTS, 'env.py')], { encoding: 'utf8', timeout: 120_000 });
    const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';
    if (r.status === 0) {
      probed = { python, env: JSON.parse(lastLine(r.stdout)) as TorchEnv };
      return probed;
    }
    failures.push(`${python}: ${r.error ? r.error.message : lastLine(r.stderr) || `exit ${r.status}`}`);
  }
  probed = {
    skipped: `no python could import torch (${failures.join('; ')}); install it with scripts/setup.sh --with-torch, or set REPRISE_TORCH_PYTHON`,
  };
  return probed;
}

/** Forgets the probe (tests switch REPRISE_TORCH_PYTHON). */
export function resetTorchProbe(): void {
  probed = null;
}

/** "PyTorch 1.13.1 CPU · OpenBLAS pthread · 2 threads" (OpenBLAS's pool named when it differs). */
export function torchAdapter(env: TorchEnv): string {
  const pool =
    env.blasThreads !== null && env.blasThreads !== env.threads ? ` (${env.blasThreads} threads)` : '';
  const wait = env.ompWaitPolicy ? ` · OMP_WAIT_POLICY=${env.ompWaitPolicy}` : '';
  return `PyTorch ${env.torch} CPU · ${env.blas}${pool} · ${env.threads} thread${env.threads === 1 ? '' : 's'}${wait}`;
}

export type RawArray = Float32Array | Int32Array;

/** The job's inputs: a JSON manifest whose values may be arrays, written next to it as raw files. */
export type Manifest = { kind: 'gpt' | 'labeler' | 'matmul' } & Record<string, unknown>;

/** Writes typed arrays found anywhere in `manifest` to files and replaces them by the file names. */
function writeJobDir(manifest: Manifest): string {
  if (endianness() !== 'LE')
    throw new Error('the PyTorch peer reads little-endian files; this host is big-endian');
  const dir = mkdtempSync(join(tmpdir(), 'reprise-torch-'));
  let files = 0;
  const replace = (value: unknown): unknown => {
    if (value instanceof Float32Array || value instanceof Int32Array) {
      const name = `${files++}.${value instanceof Float32Array ? 'f32' : 'i32'}`;
      writeFileSync(join(dir, name), new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      return name;
    }
    if (Array.isArray(value)) return value.map(replace);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replace(v)]));
    return value;
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(replace(manifest)));
  return dir;
}

/** A running peer.py: one command at a time, each answered by one JSON line. */
export class TorchProcess {
  readonly #dir: string;
  readonly #child: ReturnType<typeof spawn>;
  readonly #lines: AsyncIterator<string>;
  #stderr = '';

  private constructor(python: string, dir: string) {
    this.#dir = dir;
    // -B: no __pycache__ left in the source tree.
    this.#child = spawn(python, ['-B', join(SCRIPTS, 'peer.py'), dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    this.#lines = createInterface({ input: this.#child.stdout! })[Symbol.asyncIterator]();
  }

  /** Starts the peer on `manifest` and waits for its description of itself. */
  static async start(python: string, manifest: Manifest): Promise<TorchProcess> {
    const p = new TorchProcess(python, writeJobDir(manifest));
    try {
      await p.#next();
      return p;
    } catch (e) {
      p.close();
      throw e;
    }
  }

  async #next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) {
      const last = this.#stderr.trim().split('\n').at(-1);
      throw new Error(`the PyTorch peer exited${last ? `: ${last}` : ''}`);
    }
    const answer = JSON.parse(value) as Record<string, unknown>;
    if (typeof answer.error === 'string') throw new Error(`PyTorch peer: ${answer.error}`);
    return answer;
  }

  async request(cmd: 'step' | 'output' | 'peak'): Promise<Record<string, unknown>> {
    this.#child.stdin!.write(`${JSON.stringify({ cmd })}\n`);
    return this.#next();
  }

  /** A file the peer wrote, as float32. */
  readF32(path: string): Float32Array {
    const bytes = readFileSync(path);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  }

  close(): void {
    this.#child.stdin!.end();
    this.#child.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A training job (gpt or labeler manifest): outputs = the losses of two steps, run = one more step. */
export async function torchTrainingJob(python: string, manifest: Manifest): Promise<Job> {
  const p = await TorchProcess.start(python, manifest);
  const loss = async () => (await p.request('step')).loss as number;
  return {
    outputs: async () => [Float32Array.of(await loss(), await loss())],
    run: async () => void (await loss()),
    peakBytes: async () => (await p.request('peak')).peak_bytes as number,
    dispose: () => p.close(),
  };
}

/** A matmul job: run = one product, outputs = the product read back through a file. */
export async function torchMatmulJob(python: string, manifest: Manifest): Promise<Job> {
  const p = await TorchProcess.start(python, manifest);
  return {
    run: async () => void (await p.request('step')),
    outputs: async () => [p.readF32((await p.request('output')).path as string)],
    dispose: () => p.close(),
  };
}

/** The torch-cpu implementation (its name, adapter line and python), or null when no python imports torch. */
export function torchPeer(): { impl: string; adapter: string; python: string } | null {
  const found = findTorch();
  if ('skipped' in found) return null;
  return { impl: TORCH_IMPL, adapter: torchAdapter(found.env), python: found.python };
}

/** Notes (for the report) why the PyTorch peer is skipped, if it is. */
export function noteTorchSkipped(note?: (line: string) => void): void {
  const found = findTorch();
  if ('skipped' in found) note?.(`${TORCH_IMPL} skipped: ${found.skipped}`);
}
