/**
 * @file Every kernel, by name, typed: `KernelName`, `KernelParams<N>` and `KernelInputs<N>` are what the backends'
 * `run` and `runInPlace` take, so a call with a missing input, an unknown input or a misspelt param does not
 * compile. Adding a kernel is one line here.
 */
import type { KernelBackend, Storage } from '../types.ts';
import { adamw } from './adamw.ts';
import {
  attentionForward,
  attentionGradKV,
  attentionGradQ,
  attentionRowDot,
  maskedSoftmax,
} from './attention.ts';
import { dropout } from './dropout.ts';
import { binary, cast, fill, unary, where } from './elementwise.ts';
import { gather, scatterAdd, scatterAddSorted } from './gather.ts';
import type { InputSpec, KernelDef, NamedInputs } from './kernel.ts';
import { layerNormApply, layerNormGradInput, layerNormGradParams, layerNormStats } from './layernorm.ts';
import { concat, strided } from './layout.ts';
import { matmul } from './matmul.ts';
import { reduce } from './reduce.ts';
import { rmsNorm, rmsNormGradInput, rmsNormGradWeight } from './rmsnorm.ts';
import { rotary } from './rotary.ts';
import { crossEntropy, crossEntropyGrad, softmax } from './rows.ts';

export const KERNELS = {
  fill,
  cast,
  unary,
  binary,
  where,
  strided,
  concat,
  reduce,
  matmul,
  gather,
  scatterAdd,
  scatterAddSorted,
  softmax,
  crossEntropy,
  crossEntropyGrad,
  layerNormStats,
  layerNormApply,
  layerNormGradInput,
  layerNormGradParams,
  rmsNorm,
  rmsNormGradInput,
  rmsNormGradWeight,
  dropout,
  rotary,
  adamw,
  attentionForward,
  attentionRowDot,
  attentionGradQ,
  attentionGradKV,
  maskedSoftmax,
} as const satisfies { [K in string]: { readonly name: K } };

type Kernels = typeof KERNELS;
export type KernelName = keyof Kernels;
/** The params a kernel takes (shapes and options as plain numbers). */
export type KernelParams<N extends KernelName> = Parameters<Kernels[N]['describe']>[0];
/** A kernel's inputs by name, each a `T` (storages for the backends, tensors for core's ops). */
export type KernelInputs<N extends KernelName, T = Storage> = NamedInputs<Kernels[N]['spec']['inputs'], T>;
/** Kernels with an output (`run`) and kernels that write some of their inputs (`runInPlace`). */
export type OutputKernelName = {
  [K in KernelName]: Kernels[K]['writesInPlace'] extends false ? K : never;
}[KernelName];
export type InPlaceKernelName = Exclude<KernelName, OutputKernelName>;

/** Any kernel, its params erased to `object`: what backends hold after looking a name up. */
export type AnyKernel = KernelDef<string, object, readonly InputSpec<object>[]>;

const byName: ReadonlyMap<string, AnyKernel> = new Map<string, AnyKernel>(Object.entries(KERNELS));

/** The kernel called `name`, for backends and tables of cases; throws, listing the known names, on an unknown one. */
export function kernel(name: string): AnyKernel {
  const k = byName.get(name);
  if (!k) throw new Error(`unknown kernel '${name}'; known: ${[...byName.keys()].join(', ')}`);
  return k;
}

/** Inputs in binding order, named as the kernel declares them (for `runByName`). */
function named(name: string, inputs: readonly Storage[], params: object): Record<string, Storage> {
  const names = kernel(name).inputNames(params);
  if (names.length !== inputs.length) {
    throw new Error(
      `kernel ${name}: expected ${names.length} inputs (${names.join(', ')}), got ${inputs.length}`,
    );
  }
  return Object.fromEntries(names.map((n, i) => [n, inputs[i]!]));
}

/**
 * Runs a kernel picked at run time (tables of test and benchmark cases) on inputs in binding order. Checked
 * when it runs, not when it compiles: code that names its kernel calls `backend.run` instead.
 */
export function runByName(
  b: KernelBackend,
  name: string,
  inputs: readonly Storage[],
  params: object,
  label?: string,
): Storage {
  return b.run(name as OutputKernelName, named(name, inputs, params) as never, params as never, label);
}

/** `runByName` for in-place kernels. */
export function runInPlaceByName(
  b: KernelBackend,
  name: string,
  inputs: readonly Storage[],
  params: object,
  label?: string,
): void {
  b.runInPlace(name as InPlaceKernelName, named(name, inputs, params) as never, params as never, label);
}

/**
 * For backends: the kernel called `name`, its params, and its named inputs in binding order (checked by name).
 * The call site was typed by `KernelBackend`; from here on a kernel is any kernel.
 */
export function lookup<T>(
  name: string,
  inputs: object,
  params: unknown,
): { def: AnyKernel; params: object; ordered: T[] } {
  const def = kernel(name);
  const p = params as object;
  return { def, params: p, ordered: def.order(p, inputs as Readonly<Record<string, T | undefined>>) };
}

/** `lookup` for `runInPlace`: refuses a kernel that has an output instead of in-place inputs. */
export function lookupInPlace<T>(name: string, inputs: object, params: unknown) {
  const found = lookup<T>(name, inputs, params);
  if (!found.def.inPlace) throw new Error(`kernel ${name} is not in-place: use run()`);
  return found;
}
