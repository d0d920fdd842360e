/**
 * @file Device: a kernel backend plus tensor creation. Tensors remember their device; ops refuse to mix two.
 */
import {
  type BackendOptions,
  type DType,
  type KernelBackend,
  type MemoryStats,
  createBackend,
} from '@reprise/kernels';
import { Rng } from './random.ts';
import { type Shape, checkShape, fmt, sizeOf } from './shape.ts';
import { type NestedArray, Tensor } from './tensor.ts';

export interface RandomOptions {
  /** A seed, or a generator shared across calls. */
  seed?: number;
  rng?: Rng;
  dtype?: DType;
}

function flatten(data: NestedArray, shape: number[], depth = 0, out: number[] = []): number[] {
  if (typeof data === 'number') {
    if (depth !== shape.length) throw new Error(`tensor: ragged nested array (a number at depth ${depth})`);
    out.push(data);
    return out;
  }
  if (shape.length === depth) shape.push(data.length);
  else if (shape[depth] !== data.length) {
    throw new Error(
      `tensor: ragged nested array: expected ${shape[depth]} items at depth ${depth}, found ${data.length}`,
    );
  }
  for (const item of data) flatten(item, shape, depth + 1, out);
  return out;
}

export class Device {
  readonly backend: KernelBackend;

  constructor(backend: KernelBackend) {
    this.backend = backend;
  }

  /** Opens a device: `cpu`, `auto` (hardware, then software adapters), `vulkan` or `opengles`. */
  static async create(options: BackendOptions = {}): Promise<Device> {
    return new Device(await createBackend(options));
  }

  get name(): string {
    return this.backend.kind === 'cpu' ? 'cpu' : `webgpu/${this.backend.adapter.backend}`;
  }

  /** One line for logs: backend, adapter description, feature level, software or not. */
  describe(): string {
    const a = this.backend.adapter;
    return `${this.name}: ${a.description}${a.vendor ? ` (${a.vendor})` : ''}, ${a.featureLevel}${a.isSoftware ? ', software' : ''}${a.isFallbackAdapter ? ', fallback' : ''}`;
  }

  /** From nested arrays or a flat array with a shape. Floats are stored as given (f32 on WebGPU). */
  tensor(data: NestedArray | ArrayLike<number>, shape?: Shape, dtype: DType = 'f32'): Tensor {
    let flat: ArrayLike<number>;
    let finalShape: number[];
    if (typeof data === 'number' || Array.isArray(data)) {
      finalShape = [];
      flat = flatten(data as NestedArray, finalShape);
      if (shape) {
        if (sizeOf(shape) !== flat.length)
          throw new Error(`tensor: ${flat.length} values do not fit shape ${fmt(shape)}`);
        finalShape = [...shape];
      }
    } else {
      flat = data;
      finalShape = shape ? [...shape] : [data.length];
      if (sizeOf(finalShape) !== flat.length) {
        throw new Error(`tensor: ${flat.length} values do not fit shape ${fmt(finalShape)}`);
      }
    }
    checkShape('tensor', finalShape);
    if (dtype === 'i32') {
      for (let i = 0; i < flat.length; i++) {
        if (!Number.isInteger(flat[i]))
          throw new Error(`tensor: i32 data holds a non-integer ${flat[i]} at index ${i}`);
      }
    }
    const storage = this.backend.upload(flat, dtype);
    if (dtype !== 'i32') return new Tensor(this, storage, finalShape);
    return new Tensor(this, { storage, refs: 0, hostIndices: Int32Array.from(flat) }, finalShape);
  }

  scalar(value: number, dtype: DType = 'f32'): Tensor {
    return this.tensor([value], [], dtype);
  }

  full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
    checkShape('full', shape);
    return new Tensor(
      this,
      this.backend.run('fill', [], { size: sizeOf(shape), value, dtype }, 'full'),
      shape,
    );
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    return this.full(shape, 0, dtype);
  }

  ones(shape: Shape, dtype: DType = 'f32'): Tensor {
    return this.full(shape, 1, dtype);
  }

  /** Uniform in [low, high), rounded to f32, from a seeded generator: equal on every backend. */
  rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
    const rng = options.rng ?? new Rng(options.seed ?? 0);
    const { low = 0, high = 1 } = options;
    const values = Array.from({ length: sizeOf(shape) }, () =>
      Math.fround(low + (high - low) * rng.uniform()),
    );
    return this.tensor(values, shape, options.dtype ?? 'f32');
  }

  /** Normal(mean, std), rounded to f32, from a seeded generator. */
  randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
    const rng = options.rng ?? new Rng(options.seed ?? 0);
    const { mean = 0, std = 1 } = options;
    return this.tensor(
      Array.from({ length: sizeOf(shape) }, () => Math.fround(mean + std * rng.normal())),
      shape,
    );
  }

  /** Random integers in [0, high) as i32. */
  randint(shape: Shape, high: number, options: RandomOptions = {}): Tensor {
    const rng = options.rng ?? new Rng(options.seed ?? 0);
    return this.tensor(
      Array.from({ length: sizeOf(shape) }, () => rng.int(high)),
      shape,
      'i32',
    );
  }

  memory(): MemoryStats {
    return this.backend.memory();
  }

  flush(): void {
    this.backend.flush();
  }

  destroy(): void {
    this.backend.destroy();
  }
}
