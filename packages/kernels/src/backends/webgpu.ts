import type { GpuTarget } from '../kernels/kernel.ts';
/**
 * @file The WebGPU backend on Dawn: pooled buffers, cached pipelines, batched dispatches, async readback.
 */
import {
  type InPlaceKernelName,
  type KernelInputs,
  type KernelParams,
  type OutputKernelName,
  kernel,
  lookup,
  lookupInPlace,
} from '../kernels/registry.ts';
import { type DeviceChoice, type GpuContext, type OpenOptions, openGpu } from '../runtime/adapter.ts';
import { CommandBatcher } from '../runtime/batcher.ts';
import { BufferPool, sizeClass } from '../runtime/buffer-pool.ts';
import { PipelineCache } from '../runtime/pipeline-cache.ts';
import { type KernelTiming, TimestampProfiler } from '../runtime/profiler.ts';
import { TextureCache } from '../runtime/texture-cache.ts';
import { DispatchTrace } from '../runtime/trace.ts';
import type { AdapterDescription, DType, HostArray, KernelBackend, MemoryStats, Storage } from '../types.ts';
import { POISON_I32 } from './cpu.ts';

export class GpuStorage implements Storage {
  released = false;
  constructor(
    readonly backend: WebGpuBackend,
    readonly dtype: DType,
    readonly size: number,
    readonly buffer: GPUBuffer,
  ) {}
}

export interface WebGpuOptions extends OpenOptions {
  /** Fill every output with NaN (or a sentinel for i32) before its kernel runs (tests). */
  poison?: boolean;
  /** Per-kernel GPU timings via timestamp queries, where the adapter has them. */
  profile?: boolean;
  /** Dispatches per submit before an automatic flush. */
  maxBatch?: number;
  /** Forces kernel variants by kernel name, e.g. { matmul: 'tiled' } (tests and benchmarks). */
  variants?: Record<string, string>;
  /**
   * Let kernels read operands through textures (kernels/kernel.ts: TextureOperand). Default: where that was
   * measured faster (llvmpipe); false forces storage buffers everywhere (A/B benchmarks, tests of both paths).
   */
  textureOperands?: boolean;
}

const DEFAULT_BATCH = 512;

/**
 * Mesa's llvmpipe (gallivm) ends a shader invocation after 65535 iterations of loops with run-time bounds,
 * counted across all its loops, and writes nothing more: silently wrong results (measured on Mesa 22.3 GLES:
 * a 26000-column row kernel stopped after 65532 iterations). Mesa 25's lavapipe has no such limit.
 */
export const LLVMPIPE_LOOP_LIMIT = 65535;

function loopLimit(adapter: AdapterDescription): number {
  return adapter.isSoftware && adapter.backend === 'opengles'
    ? LLVMPIPE_LOOP_LIMIT
    : Number.POSITIVE_INFINITY;
}

/**
 * Texture operands (kernels/kernel.ts) were measured faster on llvmpipe (GLES: matmul 1.5–1.6× at the training
 * step's shapes, docs/perf-notes.md); elsewhere unmeasured, so kernels bind buffers there.
 */
function textureOperandsPay(adapter: AdapterDescription): boolean {
  return adapter.isSoftware && adapter.backend === 'opengles';
}

export class WebGpuBackend implements KernelBackend {
  readonly kind = 'webgpu';
  readonly adapter: AdapterDescription;
  readonly context: GpuContext;
  readonly pipelines: PipelineCache;
  readonly #pool: BufferPool;
  readonly #textures: TextureCache;
  readonly #batcher: CommandBatcher;
  readonly #profiler: TimestampProfiler | null;
  readonly #poison: boolean;
  readonly #target: GpuTarget;
  readonly #variants: Record<string, string>;
  readonly #staging = new Map<number, GPUBuffer[]>();
  #deviceError: string | null = null;
  #destroyed = false;
  /** The dispatch recorder while a trace is on (profiling); null otherwise. */
  #trace: DispatchTrace | null = null;
  #allocations = 0;

  static async create(
    choice: Exclude<DeviceChoice, 'cpu'>,
    options: WebGpuOptions = {},
  ): Promise<WebGpuBackend> {
    return new WebGpuBackend(await openGpu(choice, options), options);
  }

  private constructor(context: GpuContext, options: WebGpuOptions) {
    this.context = context;
    this.adapter = context.description;
    const { device } = context;
    this.#pool = new BufferPool(device);
    this.#textures = new TextureCache(device);
    this.pipelines = new PipelineCache(device);
    const profile = (options.profile ?? false) && device.features.has('timestamp-query');
    this.#profiler = profile ? new TimestampProfiler(device) : null;
    const maxBatch = Math.min(options.maxBatch ?? DEFAULT_BATCH, TimestampProfiler.maxDispatches);
    this.#batcher = new CommandBatcher(device, maxBatch, this.#profiler);
    this.#poison = options.poison ?? false;
    this.#variants = options.variants ?? {};
    this.#target = {
      isSoftware: this.adapter.isSoftware,
      backend: this.adapter.backend,
      maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxLoopIterations: loopLimit(this.adapter),
      maxTextureSide:
        (options.textureOperands ?? textureOperandsPay(this.adapter))
          ? device.limits.maxTextureDimension2D
          : 0,
    };
    device.onuncapturederror = (e) => {
      this.#deviceError ??= (e as GPUUncapturedErrorEvent).error.message;
    };
    device.lost.then((info) => {
      if (!this.#destroyed) this.#deviceError ??= `device lost: ${info.message}`;
    });
  }

  /** What kernels plan their launches for on this adapter (limits, texture operands, forced variants aside). */
  get target(): GpuTarget {
    return this.#target;
  }

  get profiling(): boolean {
    return this.#profiler !== null;
  }

  /** Dispatch and submit counters, for checking that batching works (and for the step profile). */
  get counters() {
    const pool = this.#pool.stats();
    return {
      dispatches: this.#batcher.dispatches,
      submits: this.#batcher.submits,
      /** Milliseconds spent inside `queue.submit` (on GLES, Dawn runs the GL commands there). */
      submitMs: this.#batcher.submitMs,
      pipelines: this.pipelines.size,
      /** Buffers handed out by the pool (each tensor's storage). */
      allocations: this.#allocations,
      /** GPU buffers that exist: live plus pooled (grows when the pool had none of the size). */
      buffers: pool.liveBuffers + pool.pooledBuffers,
    };
  }

  /** Starts recording every dispatch and upload (see runtime/trace.ts) until `stopTrace`. */
  startTrace(): DispatchTrace {
    if (this.#trace) throw new Error('webgpu backend: a trace is already recording');
    this.#trace = new DispatchTrace();
    return this.#trace;
  }

  stopTrace(): DispatchTrace {
    const trace = this.#trace;
    if (!trace) throw new Error('webgpu backend: no trace is recording (call startTrace first)');
    this.#trace = null;
    return trace;
  }

  #own(storage: Storage): GpuStorage {
    if (!(storage instanceof GpuStorage) || storage.backend !== this) {
      throw new Error('webgpu backend: storage belongs to another backend');
    }
    if (storage.released) throw new Error('webgpu backend: storage used after release');
    return storage;
  }

  #alloc(dtype: DType, size: number): GpuStorage {
    const limit = this.context.device.limits.maxStorageBufferBindingSize;
    if (size * 4 > limit) {
      throw new Error(
        `webgpu: a ${dtype} buffer of ${size} elements (${size * 4} bytes) exceeds this adapter's limit maxStorageBufferBindingSize (${limit} bytes)`,
      );
    }
    this.#allocations++;
    return new GpuStorage(this, dtype, size, this.#pool.acquire(Math.max(4, size * 4)));
  }

  alloc(size: number, dtype: DType): Storage {
    const s = this.#alloc(dtype, size);
    if (this.#poison && size > 0) {
      const fill: KernelParams<'fill'> = { size, value: dtype === 'f32' ? Number.NaN : POISON_I32, dtype };
      this.#dispatch('fill', [], fill, s);
    }
    return s;
  }

  upload(data: ArrayLike<number>, dtype: DType): Storage {
    const s = this.#alloc(dtype, data.length);
    if (this.#batcher.needsFlushBeforeWrite(s.buffer)) this.#batcher.flush();
    const typed = dtype === 'f32' ? Float32Array.from(data) : Int32Array.from(data);
    if (typed.length > 0) this.context.device.queue.writeBuffer(s.buffer, 0, typed);
    if (this.#trace) this.#trace.upload(s.buffer, typed);
    return s;
  }

  run<N extends OutputKernelName>(name: N, inputs: KernelInputs<N>, kernelParams: KernelParams<N>): Storage {
    const { def, params, ordered } = lookup<Storage>(name, inputs, kernelParams);
    if (def.inPlace) throw new Error(`kernel ${name} works in place: use runInPlace()`);
    const own = ordered.map((s) => this.#own(s));
    const out = def.output(params, own);
    const s = this.alloc(out.size, out.dtype) as GpuStorage;
    if (out.size > 0) this.#dispatch(name, own, params, s);
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
    this.#dispatch(name, own, params, null);
  }

  #dispatch(name: string, inputs: readonly GpuStorage[], params: object, out: GpuStorage | null): void {
    const def = kernel(name);
    const variant = this.#variants[name];
    const target = variant ? { ...this.#target, variant } : this.#target;
    const iterations = def.loopIterations?.(params, target) ?? 0;
    if (iterations > target.maxLoopIterations) {
      throw new Error(
        `kernel ${def.describe(params)}: one invocation would run ${iterations} loop iterations, more than the ${target.maxLoopIterations} that ${this.adapter.description} completes (llvmpipe's loop limit on OpenGL ES); use the vulkan device or split the work`,
      );
    }
    const launch = def.gpu(params, inputs, target);
    const pipeline = this.pipelines.get(`${name}|${launch.key}`, launch.wgsl);
    const buffers = inputs.map((x) => x.buffer);
    if (out) buffers.push(out.buffer);
    const bindings = buffers.map((buffer, i) => {
      const operand = launch.textures[i];
      if (!operand) return buffer;
      const { texture, view } = this.#textures.get(i, operand);
      this.#batcher.copyToTexture(buffer, texture, operand.width, operand.height);
      return view;
    });
    this.#batcher.dispatch(pipeline, bindings, launch.uniforms, launch.workgroups, name);
    if (this.#trace) {
      const bytes = [...inputs, ...(out ? [out] : [])].reduce((sum, x) => sum + x.size * 4, 0);
      const written = out ? [buffers.length - 1] : [...(def.inPlace ?? [])];
      const { uniforms, workgroups } = launch;
      const describe = def.describe(params);
      this.#trace.dispatch({
        kernel: name,
        describe,
        params,
        pipeline,
        buffers,
        written,
        bytes,
        uniforms,
        workgroups,
        textures: launch.textures,
        inPlace: !out,
      });
    }
  }

  /** Compiles the pipelines for these kernel launches ahead of a run. */
  async warmup(
    launches: readonly { name: string; inputs: readonly { dtype: DType; size: number }[]; params: object }[],
  ) {
    await this.pipelines.warm(
      launches.map(({ name, inputs, params }) => {
        const launch = kernel(name).gpu(params, inputs, this.#target);
        return { key: `${name}|${launch.key}`, source: launch.wgsl };
      }),
    );
  }

  #acquireStaging(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    return (
      this.#staging.get(size)?.pop() ??
      this.context.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    );
  }

  async read(storage: Storage): Promise<HostArray> {
    const s = this.#own(storage);
    this.#throwDeviceError();
    if (s.size === 0) return s.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    const bytes = s.size * 4;
    const staging = this.#acquireStaging(bytes);
    this.#batcher.copy(s.buffer, staging, bytes);
    this.#batcher.flush();
    await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const range = staging.getMappedRange(0, bytes);
    const out = s.dtype === 'f32' ? new Float32Array(range.slice(0)) : new Int32Array(range.slice(0));
    staging.unmap();
    const list = this.#staging.get(staging.size) ?? [];
    list.push(staging);
    this.#staging.set(staging.size, list);
    this.#throwDeviceError();
    return out;
  }

  #throwDeviceError(): void {
    if (this.#deviceError) throw new Error(`webgpu (${this.adapter.description}): ${this.#deviceError}`);
  }

  release(storage: Storage): void {
    const s = this.#own(storage);
    s.released = true;
    this.#pool.release(s.buffer);
    this.#batcher.noteReleased(s.buffer);
  }

  flush(): void {
    this.#batcher.flush();
  }

  /** Waits until the GPU has finished all submitted work (for timing). */
  async sync(): Promise<void> {
    this.#batcher.flush();
    await this.context.device.queue.onSubmittedWorkDone();
    this.#throwDeviceError();
  }

  memory(): MemoryStats {
    const pool = this.#pool.stats();
    const textureBytes = this.#textures.bytes;
    return {
      ...pool,
      liveBytes: pool.liveBytes + textureBytes,
      peakLiveBytes: pool.peakLiveBytes + textureBytes,
      textureBytes,
    };
  }

  resetPeak(): void {
    this.#pool.resetPeak();
  }

  /** Frees pooled buffers that no live storage uses. */
  trim(): void {
    this.#batcher.flush();
    this.#pool.trim();
    this.#textures.clear();
  }

  async profile(): Promise<KernelTiming[]> {
    if (!this.#profiler)
      throw new Error('profiling is off: create the backend with profile: true (REPRISE_PROFILE=1)');
    this.#batcher.flush();
    return this.#profiler.report();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#batcher.flush();
    this.#pool.trim();
    this.#textures.clear();
    this.#batcher.destroy();
    for (const list of this.#staging.values()) for (const b of list) b.destroy();
    this.context.device.destroy();
  }
}
