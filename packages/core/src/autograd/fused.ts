/**
 * @file Fused ops: ops that run their own kernels forward and backward (attention, layer norm, RMS norm, softmax
 * cross-entropy). Each is one module under ../ops/fused/ that declares, with `defineFusedOp`, its inputs by name,
 * the tensors its forward saves for the backward, its attrs, and its backward; the node it records carries that
 * backward. Primitives, whose gradients are written with other ops, stay in GRAD_RULES (./rules.ts).
 */
import type { Tensor } from '../tensor.ts';
import { attachNode } from './graph.ts';

/** Tensors by name (a type or an interface): a fused op's differentiable inputs, or what its forward saved. */
type Named<T> = { [K in keyof T]: Tensor };

/** What a fused op's backward receives besides the output's gradient. */
export interface FusedContext<I extends Named<I>, A, S extends Named<S>> {
  inputs: I;
  /** The forward's output. */
  output: Tensor;
  attrs: A;
  saved: S;
}

/** One gradient per input, by the input's name; null where none flows (an input that does not require grad). */
export type InputGrads<I extends Named<I>> = { [K in keyof I]: Tensor | null };

export interface FusedOpDef<I extends Named<I>, A, S extends Named<S>> {
  /** The op's name in the graph and in messages. */
  name: string;
  /** Runs under noGrad; tensors it makes and does not return should be freed (wrap it in `tidy`). */
  backward(g: Tensor, ctx: FusedContext<I, A, S>): InputGrads<I>;
}

export interface FusedOp<I extends Named<I>, A, S extends Named<S>> {
  readonly name: string;
  /**
   * Records `output` as made by this op from `inputs` (gradients flow to them, in their key order), keeping
   * `saved` alive with the graph for the backward. Returns `output`. Records nothing under noGrad or when no
   * input requires grad (the saved tensors are then freed with the forward's scope).
   */
  record(output: Tensor, inputs: I, saved: S, attrs: A): Tensor;
}

export function defineFusedOp<I extends Named<I>, A, S extends Named<S>>(
  def: FusedOpDef<I, A, S>,
): FusedOp<I, A, S> {
  return {
    name: def.name,
    record(output, inputs, saved, attrs) {
      const names = Object.keys(inputs) as (keyof I & string)[];
      return attachNode(output, def.name, Object.values(inputs), Object.values(saved), (g, out) => {
        const grads = def.backward(g, { inputs, output: out, attrs, saved });
        return names.map((name) => grads[name]);
      });
    },
  };
}
