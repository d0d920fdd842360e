/** @file Every kernel, by name. Backends look kernels up here; nothing else needs the list. */
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
import type { KernelDef } from './kernel.ts';
import { layerNormApply, layerNormGradInput, layerNormGradParams, layerNormStats } from './layernorm.ts';
import { concat, strided } from './layout.ts';
import { matmul } from './matmul.ts';
import { reduce } from './reduce.ts';
import { crossEntropy, crossEntropyGrad, softmax } from './rows.ts';

// biome-ignore lint/suspicious/noExplicitAny: the registry is heterogeneous by design; each entry is typed at its definition.
export const KERNELS: Record<string, KernelDef<any>> = Object.fromEntries(
  [
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
    dropout,
    adamw,
    attentionForward,
    attentionRowDot,
    attentionGradQ,
    attentionGradKV,
    maskedSoftmax,
  ].map((k) => [k.name, k]),
);

// biome-ignore lint/suspicious/noExplicitAny: see above.
export function kernel(name: string): KernelDef<any> {
  const k = KERNELS[name];
  if (!k) throw new Error(`unknown kernel '${name}'; known: ${Object.keys(KERNELS).join(', ')}`);
  return k;
}
