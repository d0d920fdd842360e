/**
 * @file Debug mode (REPRISE_DEBUG=1): every kernel's WebGPU output is checked against its CPU twin and for
 * NaN/Inf. Ops stay synchronous: each op snapshots its inputs and output (copies encoded at once), the check
 * runs when the copies land, and the first disagreement is thrown from the next `read()` or `check()`,
 * naming the op, the kernel and the shapes.
 */
import { kernel } from '../kernels/registry.ts';
import type { HostArray, KernelBackend, MemoryStats, Storage } from '../types.ts';
import { allocHost } from './cpu.ts';
import type { WebGpuBackend } from './webgpu.ts';

export function compareToTwin(gpu: HostArray, cpu: HostArray, rtol: number, atol: number): string | null {
  for (let i = 0; i < cpu.length; i++) {
    const g = gpu[i]!;
    const c = cpu[i]!;
    if (!Number.isFinite(g) && Number.isFinite(c))
      return `element ${i} is ${g} on webgpu but ${c} on the cpu twin`;
    if (Number.isNaN(g) !== Number.isNaN(c)) return `element ${i}: webgpu ${g}, cpu ${c}`;
    if (!Number.isFinite(c)) {
      if (g !== c && !Number.isNaN(c)) return `element ${i}: webgpu ${g}, cpu ${c}`;
      continue;
    }
    if (Math.abs(g - c) > atol + rtol * Math.abs(c)) {
      return `element ${i}: webgpu ${g}, cpu ${c} (|diff| ${Math.abs(g - c).toExponential(2)} > atol ${atol} + rtol ${rtol}·|cpu|)`;
    }
  }
  return null;
}

export class DebugBackend implements KernelBackend {
  readonly kind = 'webgpu';
  readonly inner: WebGpuBackend;
  #pending: Promise<void>[] = [];
  #failure: Error | null = null;
  #ops = 0;

  constructor(inner: WebGpuBackend) {
    this.inner = inner;
  }

  get adapter() {
    return this.inner.adapter;
  }

  upload(data: ArrayLike<number>, dtype: 'f32' | 'i32'): Storage {
    return this.inner.upload(data, dtype);
  }

  run(name: string, inputs: readonly Storage[], params: object, label?: string): Storage {
    const out = this.inner.run(name, inputs, params);
    const index = ++this.#ops;
    const snapshots = Promise.all([...inputs, out].map((s) => this.inner.read(s)));
    this.#pending.push(
      snapshots.then((arrays) => {
        if (this.#failure) return;
        const def = kernel(name);
        const gpuOut = arrays.pop()!;
        const what = `op #${index} ${label ?? name}: kernel ${def.describe(params)}, inputs ${inputs
          .map((s) => `${s.dtype}[${s.size}]`)
          .join(', ')}`;
        const inputsAreFinite = arrays.every((a) => a.every(Number.isFinite));
        let problem: string | null;
        if (inputsAreFinite && !gpuOut.every(Number.isFinite)) {
          problem = `output has NaN/Inf at element ${gpuOut.findIndex((v) => !Number.isFinite(v))} from finite inputs`;
        } else {
          const reference = allocHost(out.dtype, out.size);
          try {
            def.cpu(
              arrays.map((a) => (a instanceof Float32Array ? Float64Array.from(a) : a)),
              params,
              reference,
            );
            const tol = def.tolerance(params);
            problem = compareToTwin(gpuOut, reference, tol.rtol, tol.atol);
          } catch (e) {
            problem = `the cpu twin rejected the inputs: ${(e as Error).message}`;
          }
        }
        if (problem) this.#failure = new Error(`debug mode: ${what}: ${problem}`);
      }),
    );
    return out;
  }

  /** Waits for every pending check; throws the first failure. */
  async check(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    await Promise.all(pending);
    if (this.#failure) throw this.#failure;
  }

  async read(storage: Storage): Promise<HostArray> {
    await this.check();
    return this.inner.read(storage);
  }

  release(storage: Storage): void {
    this.inner.release(storage);
  }

  flush(): void {
    this.inner.flush();
  }

  memory(): MemoryStats {
    return this.inner.memory();
  }

  destroy(): void {
    this.inner.destroy();
  }
}
