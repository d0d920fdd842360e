/**
 * @file What a kernel is, declared once: its inputs (name, dtype, access, size), its output, its uniforms (name,
 * type), a CPU twin and a GPU launch plan. From that one spec come the WGSL bindings and the `Params` uniform
 * struct (see `wgsl-header.ts`), the run-time check of the inputs, and the types of every call site (inputs by
 * name, params by the kernel's params type), so the order of inputs and the slots of uniforms are written nowhere.
 */
import type { DType, HostArray } from '../types.ts';
import {
  type Binding,
  type UniformType,
  type UniformValues,
  encodeUniforms,
  generateHeader,
} from './wgsl-header.ts';

export type { UniformType, UniformValues } from './wgsl-header.ts';

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
  /**
   * Inputs may be read through `rgba32float` textures (see `TextureOperand`): set where that measured faster
   * (llvmpipe, docs/perf-notes.md); 0 where kernels must bind buffers only. The largest texture side otherwise.
   */
  maxTextureSide: number;
}

/**
 * An input read through a `texture_2d<f32>` of `width` × `height` rgba32float texels instead of a storage buffer:
 * the backend copies the input's first width·height·4 floats (row-major, 4 per texel) into the texture before the
 * dispatch. On llvmpipe a `textureLoad` takes a vectorised path where a storage-buffer load is a per-lane loop.
 * `width` must be a multiple of 16 (a copy's rows are multiples of 256 bytes).
 */
export interface TextureOperand {
  width: number;
  height: number;
}

/** Texels per row of a texture operand must be a multiple of this (256-byte rows for `copyBufferToTexture`). */
export const TEXTURE_ROW_TEXELS = 16;

/** One input of a kernel, bound as a storage buffer of the same name in WGSL. */
export interface InputSpec<P> {
  readonly name: string;
  /** 'any': either dtype, bound as its own WGSL scalar type. */
  readonly dtype: DType | 'any';
  /** 'read_write' inputs are what an in-place kernel writes (a kernel has those or an output, not both). */
  readonly access?: 'read' | 'read_write';
  /** The WGSL element type when it is not the dtype's scalar (vec4 loads); a launch may override it. */
  readonly element?: string;
  /** Elements the kernel reads for these params: the storage must hold at least this many. */
  size(p: P): number;
  /** For inputs the params switch on and off (matmul's epilogue); absent inputs are not bound. */
  when?(p: P): boolean;
}

type InputList<P> = readonly InputSpec<P>[];
type Optional<S> = S extends { when(p: never): boolean } ? true : false;

/** The inputs of a kernel by name, each a `T` (a storage, a tensor, a host array, …); switchable ones optional. */
export type NamedInputs<I extends readonly { name: string }[], T> = {
  [S in I[number] as Optional<S> extends true ? never : S['name']]: T;
} & {
  [S in I[number] as Optional<S> extends true ? S['name'] : never]?: T;
};

export interface OutputSpec<P, I extends InputList<P>, O extends string> {
  /** The WGSL name of the output binding (default 'out'). */
  readonly name?: O;
  /** The WGSL element type when it is not the dtype's scalar (vec4 stores); a launch may override it. */
  readonly element?: string;
  size(p: P, inputs: NamedInputs<I, TensorInfo>): number;
  readonly dtype: DType | ((p: P, inputs: NamedInputs<I, TensorInfo>) => DType);
}

/** A GPU launch as a kernel file writes it: uniforms by name, the WGSL after the generated header. */
export interface GpuPlan<U, Names extends string> {
  /** Pipeline-cache key: must capture everything `wgsl` and the header depend on (dtypes, element types). */
  key: string;
  workgroups: [number, number, number];
  uniforms: UniformValues<U>;
  /** WGSL element types of bindings for this launch (e.g. vec4 where sizes allow), overriding the spec. */
  elements?: Partial<Record<Names, string>>;
  /** Inputs bound as textures for this launch (see `TextureOperand`; the key must say which). */
  textures?: Partial<Record<Names, TextureOperand>>;
  /** The WGSL after the bindings and the `params` uniform: helpers and the entry point, using names only. */
  wgsl: () => string;
}

export interface KernelSpec<
  N extends string,
  P,
  I extends InputList<P>,
  U extends Record<string, UniformType>,
  O extends string,
> {
  readonly name: N;
  /** In binding order. */
  readonly inputs: I;
  /** The single output; absent for in-place kernels, which write their 'read_write' inputs. */
  readonly output?: OutputSpec<P, I, O>;
  /** The fields of the WGSL `params` uniform, in order. */
  readonly uniforms: U;
  /** Checks beyond each input's dtype and size (dtypes that must agree, params in range); throws. */
  validate?(p: P, inputs: NamedInputs<I, TensorInfo>): void;
  /** The CPU twin: float math in float64, writing every element of `out` (or the read_write inputs). */
  cpu(inputs: NamedInputs<I, HostArray>, p: P, out: HostArray): void;
  gpu(p: P, inputs: NamedInputs<I, TensorInfo>, target: GpuTarget): GpuPlan<U, I[number]['name'] | O>;
  /**
   * The most loop iterations with a run-time bound that one invocation executes (loops with constant bounds
   * are unrolled by the compilers and do not count). Mesa's llvmpipe on OpenGL ES silently stops a shader after
   * 65535 such iterations, so the backend refuses launches above `GpuTarget.maxLoopIterations`.
   */
  loopIterations?(p: P, target: GpuTarget | null): number;
  /** How far the f32 GPU result may be from the float64 twin; see each kernel for the reasoning. */
  tolerance(p: P): Tolerance;
  /** A one-line description for error messages (the op and its shapes). */
  describe(p: P): string;
}

/** A launch as the backend runs it: WGSL complete, uniforms as the u32 words of the `Params` struct. */
export interface GpuLaunch {
  key: string;
  wgsl: () => string;
  workgroups: [number, number, number];
  uniforms: ArrayLike<number>;
  /** Per input, in binding order: the texture it is read through, or null for a storage buffer. */
  textures: (TextureOperand | null)[];
}

/**
 * What backends run. Inputs travel in binding order (`order` turns named inputs into that list and checks
 * the names); `output`, `cpu` and `gpu` check and take that list.
 */
export interface KernelDef<
  N extends string = string,
  P = never,
  I extends InputList<P> = InputList<P>,
  O extends boolean = boolean,
> {
  readonly name: N;
  readonly spec: { readonly inputs: I };
  /** Marks kernels without an output (type level: `run` or `runInPlace`). */
  readonly writesInPlace: O;
  /** Positions (among the bound inputs) of the read_write inputs of an in-place kernel. */
  readonly inPlace?: readonly number[];
  /** The named inputs in binding order; throws on a missing or unknown name. (Call sites are typed by the registry.) */
  order<T>(params: P, inputs: Readonly<Record<string, T | undefined>>): T[];
  /** The bound inputs' names for these params, in binding order. */
  inputNames(params: P): string[];
  /** Checks the inputs (count, dtypes, sizes, the kernel's own checks); size and dtype of the output. */
  output(params: P, inputs: readonly TensorInfo[]): TensorInfo;
  cpu(inputs: readonly HostArray[], params: P, out: HostArray): void;
  gpu(params: P, inputs: readonly TensorInfo[], target: GpuTarget): GpuLaunch;
  loopIterations?(params: P, target: GpuTarget | null): number;
  tolerance(params: P): Tolerance;
  describe(params: P): string;
}

/**
 * Declares a kernel: `defineKernel<Params>()({ name, inputs, output, uniforms, cpu, gpu, … })`. (Curried so
 * that the params type is given and the names of inputs and uniforms are inferred.)
 */
export function defineKernel<P>() {
  return <
    const N extends string,
    const I extends InputList<P>,
    const U extends Record<string, UniformType>,
    const O extends string = 'out',
  >(
    spec: KernelSpec<N, P, I, U, O>,
  ): KernelDef<N, P, I, WritesInPlace<I>> => build(spec) as KernelDef<N, P, I, WritesInPlace<I>>;
}

/** True when some input is declared read_write: the kernel runs through `runInPlace`. */
type WritesInPlace<I extends readonly { access?: string }[]> = [
  Extract<I[number], { access: 'read_write' }>,
] extends [never]
  ? false
  : true;

function build<
  N extends string,
  P,
  I extends InputList<P>,
  U extends Record<string, UniformType>,
  O extends string,
>(spec: KernelSpec<N, P, I, U, O>): KernelDef<N, P, I> {
  const name = spec.name;
  const present = (p: P) => spec.inputs.filter((s) => !s.when || s.when(p));
  const inPlaceSpecs = spec.inputs.filter((s) => s.access === 'read_write');
  if (spec.output && inPlaceSpecs.length > 0) {
    throw new Error(`kernel ${name}: declares both an output and read_write inputs; keep one`);
  }
  if (!spec.output && inPlaceSpecs.length === 0) {
    throw new Error(`kernel ${name}: declares neither an output nor read_write inputs`);
  }
  // The written positions of an in-place kernel must not depend on params.
  if (!spec.output && spec.inputs.some((s) => s.when)) {
    throw new Error(`kernel ${name}: an in-place kernel cannot have switchable inputs`);
  }
  const inPlace = spec.output
    ? undefined
    : spec.inputs.flatMap((s, i) => (s.access === 'read_write' ? [i] : []));
  const named = <T>(p: P, list: readonly T[]) =>
    Object.fromEntries(present(p).map((s, i) => [s.name, list[i]!])) as NamedInputs<I, T>;

  return {
    name,
    spec,
    writesInPlace: !spec.output,
    inPlace,
    order<T>(p: P, byName: Readonly<Record<string, T | undefined>>): T[] {
      const expected = present(p).map((s) => s.name);
      const unknown = Object.keys(byName).filter((k) => byName[k] !== undefined && !expected.includes(k));
      const missing = expected.filter((k) => byName[k] === undefined);
      if (unknown.length || missing.length) {
        throw new Error(
          `kernel ${spec.describe(p)}: expected inputs {${expected.join(', ')}}` +
            `${missing.length ? `, missing ${missing.join(', ')}` : ''}${unknown.length ? `, unexpected ${unknown.join(', ')}` : ''}`,
        );
      }
      return expected.map((k) => byName[k]!);
    },
    inputNames: (p) => present(p).map((s) => s.name),
    output: (p, inputs) => outputOf(p, inputs),
    cpu: (inputs, p, out) => spec.cpu(named(p, inputs), p, out),
    gpu(p, inputs, target) {
      const plan = spec.gpu(p, named(p, inputs), target);
      // The header is built only when the pipeline is compiled (once per key), not on every dispatch.
      const textures = plan.textures as Record<string, TextureOperand | undefined> | undefined;
      const inputTextures = present(p).map((s) => textures?.[s.name] ?? null);
      for (const t of inputTextures)
        if (t && (t.width % TEXTURE_ROW_TEXELS !== 0 || t.width < 1 || t.height < 1))
          throw new Error(
            `kernel ${spec.describe(p)}: a texture operand must be a positive multiple of ${TEXTURE_ROW_TEXELS} texels wide, got ${t.width} × ${t.height}`,
          );
      const header = () => {
        const elements = plan.elements as Record<string, string | undefined> | undefined;
        const bindings: Binding[] = present(p).map((s, i) => ({
          name: s.name,
          access: s.access ?? 'read',
          element: elements?.[s.name] ?? s.element ?? wgslScalar(inputs[i]!.dtype),
          texture: inputTextures[i] !== null,
        }));
        if (spec.output) {
          const outName = spec.output.name ?? 'out';
          bindings.push({
            name: outName,
            access: 'read_write',
            element: elements?.[outName] ?? spec.output.element ?? wgslScalar(outputOf(p, inputs).dtype),
          });
        }
        return generateHeader(bindings, spec.uniforms);
      };
      return {
        key: plan.key,
        workgroups: plan.workgroups,
        uniforms: encodeUniforms(name, spec.uniforms, plan.uniforms),
        textures: inputTextures,
        wgsl: () => `${header()}${plan.wgsl()}`,
      };
    },
    loopIterations: spec.loopIterations && ((p, target) => spec.loopIterations!(p, target)),
    tolerance: (p) => spec.tolerance(p),
    describe: (p) => spec.describe(p),
  };

  function outputOf(p: P, inputs: readonly TensorInfo[]): TensorInfo {
    const specs = present(p);
    if (inputs.length !== specs.length) {
      throw new Error(
        `kernel ${name}: expected ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}), got ${inputs.length}`,
      );
    }
    const infos = named(p, inputs);
    spec.validate?.(p, infos);
    specs.forEach((s, i) => {
      const got = inputs[i]!;
      if (s.dtype !== 'any' && got.dtype !== s.dtype) {
        throw new Error(`kernel ${name}: input ${i} (${s.name}) must be ${s.dtype}, got ${got.dtype}`);
      }
      const need = s.size(p);
      if (got.size < need) {
        throw new Error(`kernel ${name}: input ${i} (${s.name}) holds ${got.size} elements, needs ${need}`);
      }
    });
    if (!spec.output) return { size: 0, dtype: 'f32' };
    const { dtype } = spec.output;
    return {
      size: spec.output.size(p, infos),
      dtype: typeof dtype === 'function' ? dtype(p, infos) : dtype,
    };
  }
}

function wgslScalar(dtype: DType): string {
  return dtype === 'f32' ? 'f32' : 'i32';
}
