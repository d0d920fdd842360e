/**
 * @file Test helpers for kernels: the WebGPU backend under test (required: no adapter is a failure, never a
 * skip), random inputs, and the comparison against the CPU twin.
 */
import {
  CpuBackend,
  type DType,
  type HostArray,
  type KernelBackend,
  type Storage,
  WebGpuBackend,
  compareToTwin,
  kernel,
} from '../src/index.ts';
import type { DeviceChoice } from '../src/runtime/adapter.ts';

/** REPRISE_TEST_DEVICE picks the adapter (default: auto, i.e. the best one found). */
export function testDeviceChoice(): Exclude<DeviceChoice, 'cpu'> {
  const choice = (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice;
  if (choice === 'cpu') throw new Error('REPRISE_TEST_DEVICE=cpu: the WebGPU tests need a WebGPU adapter');
  return choice;
}

export function openGpu(variants?: Record<string, string>): Promise<WebGpuBackend> {
  return WebGpuBackend.create(testDeviceChoice(), { poison: true, variants });
}

let seed = 12345;
/** Fresh pseudo-random values each call (f32-representable), in [lo, hi). */
export function randomValues(n: number, lo = -1, hi = 1): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    out[i] = Math.fround(lo + ((hi - lo) * seed) / 4294967296);
  }
  return out;
}

export function randomInts(n: number, hi: number): number[] {
  return randomValues(n, 0, 1).map((v) => Math.min(hi - 1, Math.floor(v * hi)));
}

export interface KernelCase {
  inputs: { data: number[]; dtype: DType }[];
  params: object;
}

/**
 * Runs a kernel on WebGPU and on the CPU twin (both with poisoned outputs) and compares what it writes:
 * its output, or for an in-place kernel the inputs it overwrites. Returns the first mismatch or null.
 */
export async function checkAgainstTwin(
  gpu: KernelBackend,
  name: string,
  c: KernelCase,
): Promise<string | null> {
  const cpu = new CpuBackend({ poison: true });
  const def = kernel(name);
  const run = async (b: KernelBackend): Promise<HostArray[]> => {
    const ins = c.inputs.map((x) => b.upload(x.data, x.dtype));
    let written: Storage[];
    if (def.inPlace) {
      b.runInPlace(name, ins, c.params);
      written = def.inPlace.map((i) => ins[i]!);
    } else written = [b.run(name, ins, c.params)];
    const data = await Promise.all(written.map((s) => b.read(s)));
    for (const s of new Set([...ins, ...written])) b.release(s);
    return data;
  };
  const [g, r] = [await run(gpu), await run(cpu)];
  const tol = def.tolerance(c.params);
  for (let k = 0; k < r.length; k++) {
    if (g[k]!.length !== r[k]!.length) return `length ${g[k]!.length} vs ${r[k]!.length}`;
    const problem = compareToTwin(g[k]!, r[k]!, tol.rtol, tol.atol);
    if (problem)
      return `${def.describe(c.params)}${def.inPlace ? ` (in-place input ${def.inPlace[k]})` : ''}: ${problem}`;
  }
  return null;
}
