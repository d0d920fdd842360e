/**
 * @file Debug mode (REPRISE_DEBUG=1): every kernel's WebGPU output is checked against its CPU twin and for
 * NaN/Inf. Ops stay synchronous: each op snapshots its inputs and output (copies encoded at once), the check
 * runs when the copies land, and the first disagreement is thrown from the next `read()` or `check()`,
 * naming the op, the kernel and the shapes.
 */
import {
  type AnyKernel,
  type InPlaceKernelName,
  type KernelInputs,
  type KernelParams,
  type OutputKernelName,
  kernel,
  lookup,
} from '../kernels/registry.ts';
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

  alloc(size: number, dtype: 'f32' | 'i32'): Storage {
    return this.inner.alloc(size, dtype);
  }

  upload(data: ArrayLike<number>, dtype: 'f32' | 'i32'): Storage {
    return this.inner.upload(data, dtype);
  }

  run<N extends OutputKernelName>(
    name: N,
    inputs: KernelInputs<N>,
    kernelParams: KernelParams<N>,
    label?: string,
  ): Storage {
    const { params, ordered } = lookup<Storage>(name, inputs, kernelParams);
    const before = Promise.all(ordered.map((s) => this.inner.read(s)));
    const out = this.inner.run(name, inputs, kernelParams);
    this.#check(name, params, label, ordered, before, [this.inner.read(out)], null);
    return out;
  }

  runInPlace<N extends InPlaceKernelName>(
    name: N,
    inputs: KernelInputs<N>,
    kernelParams: KernelParams<N>,
    label?: string,
  ): void {
    const { def, params, ordered } = lookup<Storage>(name, inputs, kernelParams);
    const before = Promise.all(ordered.map((s) => this.inner.read(s)));
    this.inner.runInPlace(name, inputs, kernelParams);
    const written = def.inPlace ?? [];
    this.#check(
      name,
      params,
      label,
      ordered,
      before,
      written.map((i) => this.inner.read(ordered[i]!)),
      written,
    );
  }

  /**
   * Queues the comparison of the GPU results with the twin run on the snapshot of the inputs.
   * `written` lists the in-place inputs that `results` hold (null: `results` is the single output).
   */
  #check(
    name: string,
    params: object,
    label: string | undefined,
    inputs: readonly Storage[],
    before: Promise<HostArray[]>,
    results: Promise<HostArray>[],
    written: readonly number[] | null,
  ): void {
    const index = ++this.#ops;
    this.#pending.push(
      Promise.all([before, Promise.all(results)]).then(([arrays, gpuResults]) => {
        if (this.#failure) return;
        const def = kernel(name);
        const what = `op #${index} ${label ?? name}: kernel ${def.describe(params)}, inputs ${inputs
          .map((s) => `${s.dtype}[${s.size}]`)
          .join(', ')}`;
        const problem = this.#compare(def, params, arrays, gpuResults, written);
        if (problem) this.#failure = new Error(`debug mode: ${what}: ${problem}`);
      }),
    );
  }

  #compare(
    def: AnyKernel,
    params: object,
    inputs: HostArray[],
    gpu: HostArray[],
    written: readonly number[] | null,
  ) {
    if (inputs.every((a) => a.every(Number.isFinite))) {
      for (const g of gpu) {
        const bad = g.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) return `output has NaN/Inf at element ${bad} from finite inputs`;
      }
    }
    const copies = inputs.map((a) => (a instanceof Float32Array ? Float64Array.from(a) : a.slice()));
    const info = def.output(
      params,
      inputs.map((a, i) => ({ dtype: a instanceof Int32Array ? 'i32' : 'f32', size: a.length }) as const),
    );
    const reference = allocHost(info.dtype, info.size);
    try {
      def.cpu(copies, params, reference);
    } catch (e) {
      return `the cpu twin rejected the inputs: ${(e as Error).message}`;
    }
    const tol = def.tolerance(params);
    const expected = written ? written.map((i) => copies[i]!) : [reference];
    for (let k = 0; k < gpu.length; k++) {
      const problem = compareToTwin(gpu[k]!, expected[k]!, tol.rtol, tol.atol);
      if (problem) return written ? `in-place input ${written[k]}: ${problem}` : problem;
    }
    return null;
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

  resetPeak(): void {
    this.inner.resetPeak();
  }

  destroy(): void {
    this.inner.destroy();
  }
}
