/**
 * @file What a kernel is: a CPU twin and a GPU launch plan for the same flat computation.
 * Both read their inputs as flat arrays and write one flat output; shapes come in `params`.
 */
import type { DType, HostArray } from '../types.ts';

/** |gpu − cpu| ≤ atol + rtol·|cpu| elementwise. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface TensorInfo {
  dtype: DType;
  size: number;
}

/** What the GPU backend needs to know about the adapter to specialize a kernel. */
export interface GpuTarget {
  isSoftware: boolean;
  backend: string;
  maxWorkgroupsPerDimension: number;
  /** Loop iterations one invocation may run before the driver cuts it off (Infinity where there is no limit). */
  maxLoopIterations: number;
  /** Forces a kernel variant by name (tests and benchmarks), overriding the adapter table. */
  variant?: string;
}

export interface GpuLaunch {
  /** Pipeline-cache key: must capture everything `wgsl` depends on. */
  key: string;
  wgsl: () => string;
  workgroups: [number, number, number];
  /** The params uniform as u32 words (floats bit-cast with `f32bits`). */
  uniforms: ArrayLike<number>;
}

export interface KernelDef<P> {
  readonly name: string;
  /**
   * Indices of the inputs an in-place kernel overwrites (bound read_write, in input order). Such a kernel
   * has no separate output: `output` returns size 0 and it runs through `runInPlace`.
   */
  readonly inPlace?: readonly number[];
  /** Size and dtype of the output for these params and inputs; throws on inconsistent inputs. */
  output(params: P, inputs: readonly TensorInfo[]): TensorInfo;
  /** The CPU twin: float math in float64, writing every element of `out` (or the in-place inputs). */
  cpu(inputs: readonly HostArray[], params: P, out: HostArray): void;
  gpu(params: P, inputs: readonly TensorInfo[], target: GpuTarget): GpuLaunch;
  /**
   * The most loop iterations with a run-time bound that one invocation executes (loops with constant bounds
   * are unrolled by the compilers and do not count). Mesa's llvmpipe on OpenGL ES silently stops a shader after
   * 65535 such iterations, so the backend refuses launches above `GpuTarget.maxLoopIterations`.
   */
  loopIterations?(params: P, target: GpuTarget | null): number;
  /** How far the f32 GPU result may be from the float64 twin; see each kernel for the reasoning. */
  tolerance(params: P): Tolerance;
  /** A one-line description for error messages (the op and its shapes). */
  describe(params: P): string;
}

/** Helper so each kernel file gets its params type checked. */
export function defineKernel<P>(def: KernelDef<P>): KernelDef<P> {
  return def;
}

export function assertInputs(
  name: string,
  inputs: readonly TensorInfo[],
  expected: readonly [DType | '*', number][],
) {
  if (inputs.length !== expected.length) {
    throw new Error(`kernel ${name}: expected ${expected.length} inputs, got ${inputs.length}`);
  }
  expected.forEach(([dtype, size], i) => {
    const got = inputs[i]!;
    if (dtype !== '*' && got.dtype !== dtype) {
      throw new Error(`kernel ${name}: input ${i} must be ${dtype}, got ${got.dtype}`);
    }
    if (got.size < size)
      throw new Error(`kernel ${name}: input ${i} holds ${got.size} elements, needs ${size}`);
  });
}
