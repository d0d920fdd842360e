/**
 * @file The kernel interface shared by every backend: flat storages in, one flat storage out.
 * Kernels know nothing of tensors or autograd; shapes arrive as plain numbers in each kernel's params.
 */
import type { InPlaceKernelName, KernelInputs, KernelParams, OutputKernelName } from './kernels/registry.ts';

export type DType = 'f32' | 'i32';

/** Host-side element arrays. The CPU reference backend keeps float data in float64. */
export type HostArray = Float32Array | Float64Array | Int32Array;

/** A backend-owned block of `size` elements of `dtype`. Opaque outside its backend. */
export interface Storage {
  readonly dtype: DType;
  readonly size: number;
  readonly backend: KernelBackend;
}

/** Memory statistics, in bytes and buffers. For the CPU backend "pooled" is always 0. */
export interface MemoryStats {
  liveBytes: number;
  /** The most live bytes since the backend started or since `resetPeak()`. */
  peakLiveBytes: number;
  liveBuffers: number;
  pooledBytes: number;
  pooledBuffers: number;
  /** Bytes of the textures that texture operands are copied into (WebGPU; included in live and peak bytes). */
  textureBytes?: number;
}

export interface AdapterDescription {
  /** 'cpu' for the reference backend, otherwise Dawn's backend ('vulkan', 'opengles', …). */
  backend: string;
  vendor: string;
  architecture: string;
  description: string;
  featureLevel: 'core' | 'compatibility' | 'cpu';
  isFallbackAdapter: boolean;
  /** true for llvmpipe/lavapipe/SwiftShader and the CPU backend. */
  isSoftware: boolean;
  /** The largest buffer a kernel can bind (maxStorageBufferBindingSize), in bytes. */
  maxBufferBytes: number;
}

export interface KernelBackend {
  readonly kind: 'cpu' | 'webgpu';
  readonly adapter: AdapterDescription;
  /**
   * A storage whose contents are undefined until a kernel writes them (the outputs of in-place kernels).
   * Backends that poison outputs fill it with NaN (or a sentinel for i32).
   */
  alloc(size: number, dtype: DType): Storage;
  /** Copies host data into a new storage. */
  upload(data: ArrayLike<number>, dtype: DType): Storage;
  /**
   * Runs kernel `name` on its inputs (by the names its spec declares); returns a new storage holding its single
   * output. `label` names the calling op in debug-mode reports.
   */
  run<N extends OutputKernelName>(
    name: N,
    inputs: KernelInputs<N>,
    params: KernelParams<N>,
    label?: string,
  ): Storage;
  /** Runs an in-place kernel (one with read_write inputs): it overwrites those inputs. */
  runInPlace<N extends InPlaceKernelName>(
    name: N,
    inputs: KernelInputs<N>,
    params: KernelParams<N>,
    label?: string,
  ): void;
  /**
   * Reads a storage back (async on every backend, so that callers write one code path).
   * Floats come back as Float32Array from WebGPU and as Float64Array from the CPU reference.
   */
  read(storage: Storage): Promise<HostArray>;
  /** Returns the storage's memory to the backend. Releasing twice is an error. */
  release(storage: Storage): void;
  /** Submits queued work (WebGPU); a no-op on the CPU. */
  flush(): void;
  memory(): MemoryStats;
  /** Starts a new peak-memory measurement from the current live bytes. */
  resetPeak(): void;
  /** Frees everything the backend still holds (pools, caches, the device). */
  destroy(): void;
}
