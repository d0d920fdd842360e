/**
 * @file The CPU reference backend: every kernel's twin, in float64, with no Dawn at all.
 * Float storages are Float64Array, so gradient checks by central differences can run in double precision.
 */
import {
  type InPlaceKernelName,
  type KernelInputs,
  type KernelParams,
  type OutputKernelName,
  lookup,
  lookupInPlace,
} from '../kernels/registry.ts';
import type { AdapterDescription, DType, HostArray, KernelBackend, MemoryStats, Storage } from '../types.ts';

export class CpuStorage implements Storage {
  released = false;
  constructor(
    readonly backend: CpuBackend,
    readonly dtype: DType,
    readonly data: Float64Array | Int32Array,
  ) {}
  get size(): number {
    return this.data.length;
  }
}

export function allocHost(dtype: DType, size: number): Float64Array | Int32Array {
  return dtype === 'f32' ? new Float64Array(size) : new Int32Array(size);
}

export interface CpuBackendOptions {
  /** Fill every output with NaN (floats) or a sentinel (ints) before its kernel runs: catches unwritten elements. */
  poison?: boolean;
  /**
   * The largest buffer it reports as bindable (default: no limit), so that tests can give the CPU twin a GPU
   * adapter's limit (model/src/row-blocks.ts splits tables above it).
   */
  maxBufferBytes?: number;
}

export const POISON_I32 = 0x7eadbeef;

const CPU_ADAPTER: Omit<AdapterDescription, 'maxBufferBytes'> = {
  backend: 'cpu',
  vendor: 'reprise',
  architecture: 'float64 reference',
  description: 'CPU reference backend (float64, TypeScript)',
  featureLevel: 'cpu',
  isFallbackAdapter: false,
  isSoftware: true,
};

export class CpuBackend implements KernelBackend {
  readonly kind = 'cpu';
  readonly adapter: AdapterDescription;
  readonly #poison: boolean;
  #liveBytes = 0;
  #peakLiveBytes = 0;
  #liveBuffers = 0;

  constructor(options: CpuBackendOptions = {}) {
    this.#poison = options.poison ?? false;
    this.adapter = { ...CPU_ADAPTER, maxBufferBytes: options.maxBufferBytes ?? Number.MAX_SAFE_INTEGER };
  }

  #alloc(dtype: DType, size: number): CpuStorage {
    const data = allocHost(dtype, size);
    this.#liveBytes += data.byteLength;
    this.#peakLiveBytes = Math.max(this.#peakLiveBytes, this.#liveBytes);
    this.#liveBuffers++;
    return new CpuStorage(this, dtype, data);
  }

  #own(storage: Storage): CpuStorage {
    if (!(storage instanceof CpuStorage) || storage.backend !== this) {
      throw new Error('cpu backend: storage belongs to another backend');
    }
    if (storage.released) throw new Error('cpu backend: storage used after release');
    return storage;
  }

  alloc(size: number, dtype: DType): Storage {
    const s = this.#alloc(dtype, size);
    if (this.#poison) s.data.fill(dtype === 'f32' ? Number.NaN : POISON_I32);
    return s;
  }

  upload(data: ArrayLike<number>, dtype: DType): Storage {
    const s = this.#alloc(dtype, data.length);
    s.data.set(data);
    return s;
  }

  run<N extends OutputKernelName>(name: N, inputs: KernelInputs<N>, kernelParams: KernelParams<N>): Storage {
    const { def, params, ordered } = lookup<Storage>(name, inputs, kernelParams);
    if (def.inPlace) throw new Error(`kernel ${name} works in place: use runInPlace()`);
    const own = ordered.map((s) => this.#own(s));
    const out = def.output(params, own);
    const s = this.alloc(out.size, out.dtype) as CpuStorage;
    def.cpu(
      own.map((x) => x.data),
      params,
      s.data,
    );
    return s;
  }

  runInPlace<N extends InPlaceKernelName>(
    name: N,
    inputs: KernelInputs<N>,
    kernelParams: KernelParams<N>,
  ): void {
    const { def, params, ordered } = lookupInPlace<Storage>(name, inputs, kernelParams);
    const own = ordered.map((s) => this.#own(s));
    def.output(params, own);
    def.cpu(
      own.map((x) => x.data),
      params,
      new Float64Array(0),
    );
  }

  async read(storage: Storage): Promise<HostArray> {
    return this.#own(storage).data.slice();
  }

  release(storage: Storage): void {
    const s = this.#own(storage);
    s.released = true;
    this.#liveBytes -= s.data.byteLength;
    this.#liveBuffers--;
  }

  flush(): void {}

  memory(): MemoryStats {
    return {
      liveBytes: this.#liveBytes,
      peakLiveBytes: this.#peakLiveBytes,
      liveBuffers: this.#liveBuffers,
      pooledBytes: 0,
      pooledBuffers: 0,
    };
  }

  resetPeak(): void {
    this.#peakLiveBytes = this.#liveBytes;
  }

  destroy(): void {}
}
