/**
 * @file Test helpers for kernels: the WebGPU backend under test (required: no adapter is a failure, never a
 * skip), random inputs seeded per test, running one kernel on a backend, and the comparison against the CPU twin.
 */
import {
  CpuBackend,
  type DType,
  type HostArray,
  type KernelBackend,
  POISON_I32,
  type Storage,
  WebGpuBackend,
  compareToTwin,
  kernel,
  runByName,
  runInPlaceByName,
} from '../src/index.ts';
import type { DeviceChoice } from '../src/runtime/adapter.ts';
import { nextUniform, seedNote } from './seed.ts';

/** REPRISE_TEST_DEVICE picks the adapter (default: auto, i.e. the best one found). */
export function testDeviceChoice(): Exclude<DeviceChoice, 'cpu'> {
  const choice = (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice;
  if (choice === 'cpu') throw new Error('REPRISE_TEST_DEVICE=cpu: the WebGPU tests need a WebGPU adapter');
  return choice;
}

export function openGpu(variants?: Record<string, string>): Promise<WebGpuBackend> {
  return WebGpuBackend.create(testDeviceChoice(), { poison: true, variants });
}

/** Pseudo-random values (f32-representable) in [lo, hi), from this test's own seeded stream (seed.ts). */
export function randomValues(n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * nextUniform()));
}

export function randomInts(n: number, hi: number): number[] {
  return randomValues(n, 0, 1).map((v) => Math.min(hi - 1, Math.floor(v * hi)));
}

export interface KernelCase {
  inputs: { data: number[]; dtype: DType }[];
  params: object;
}

/**
 * Runs one kernel on a backend and reads back what it writes: its output, or for an in-place kernel the
 * inputs it overwrites (in `inPlace` order).
 */
export async function runKernel(b: KernelBackend, name: string, c: KernelCase): Promise<HostArray[]> {
  const def = kernel(name);
  const ins = c.inputs.map((x) => b.upload(x.data, x.dtype));
  let written: Storage[];
  if (def.inPlace) {
    runInPlaceByName(b, name, ins, c.params);
    written = def.inPlace.map((i) => ins[i]!);
  } else written = [runByName(b, name, ins, c.params)];
  const data = await Promise.all(written.map((s) => b.read(s)));
  for (const s of new Set([...ins, ...written])) b.release(s);
  return data;
}

/**
 * The first element that is NaN, ±Inf or the i32 poison sentinel, described, or null. Poisoned outputs hold
 * exactly these where a kernel forgot to write, so neither side of a comparison may contain them.
 */
export function firstPoison(a: HostArray): string | null {
  const int = a instanceof Int32Array;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (int ? v === POISON_I32 : !Number.isFinite(v))
      return `element ${i} is ${int ? 'the i32 poison sentinel' : v}`;
  }
  return null;
}

/**
 * Compares what the kernel wrote on WebGPU with what the twin wrote: both must be free of NaN, Inf and poison
 * (a twin that forgot an element, or computes NaN, must not pass by agreeing with an equally broken kernel),
 * then equal within the kernel's tolerance. Returns the first problem, or null.
 */
export function compareWritten(name: string, c: KernelCase, g: HostArray[], r: HostArray[]): string | null {
  const def = kernel(name);
  const where = (k: number) =>
    `${def.describe(c.params)}${def.inPlace ? ` (in-place input ${def.inPlace[k]})` : ''}`;
  const tol = def.tolerance(c.params);
  for (let k = 0; k < r.length; k++) {
    const bad = firstPoison(r[k]!);
    if (bad) return `${where(k)}: the CPU twin's output is not a valid reference: ${bad}; ${seedNote()}`;
    const badGpu = firstPoison(g[k]!);
    if (badGpu) return `${where(k)}: the WebGPU output ${badGpu}; ${seedNote()}`;
    if (g[k]!.length !== r[k]!.length) return `${where(k)}: length ${g[k]!.length} vs ${r[k]!.length}`;
    const problem = compareToTwin(g[k]!, r[k]!, tol.rtol, tol.atol);
    if (problem) return `${where(k)}: ${problem}; ${seedNote()}`;
  }
  return null;
}

/**
 * Runs a kernel on WebGPU and on the CPU twin (both with poisoned outputs) and compares what it writes
 * (see `compareWritten`). Returns the first mismatch or null.
 */
export async function checkAgainstTwin(
  gpu: KernelBackend,
  name: string,
  c: KernelCase,
): Promise<string | null> {
  const g = await runKernel(gpu, name, c);
  const r = await runKernel(new CpuBackend({ poison: true }), name, c);
  return compareWritten(name, c, g, r);
}
