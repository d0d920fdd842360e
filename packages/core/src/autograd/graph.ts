/**
 * @file Reverse-mode autograd: recording ops, `noGrad`, and `backward` (topological order, gradients
 * accumulated where a tensor is used twice, the graph released afterwards). A node carries its own backward:
 * primitives take theirs from GRAD_RULES (./rules.ts), fused ops bring theirs (./fused.ts).
 */
import { keep } from '../scope.ts';
import { sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { type AttrsArg, GRAD_RULES, type GradRule, type OpName } from './rules.ts';

export interface GraphNode {
  /** A primitive's key in GRAD_RULES or a fused op's name (messages and debugging). */
  readonly op: string;
  /** The tensors gradients may flow to, in the order `backward` returns theirs. */
  readonly inputs: readonly Tensor[];
  /** What the node keeps alive until the graph is released: its inputs, then the tensors the op saved. */
  readonly held: readonly Tensor[];
  /** One gradient per input (null where none flows), from the gradient `g` of `output`. */
  backward(g: Tensor, output: Tensor): (Tensor | null)[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording ops (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/**
 * Attaches a node to `out` when grad mode is on and some input requires grad; `saved` tensors are held with
 * the inputs (kept alive by scopes, released with the graph) but get no gradient. Returns `out`.
 */
export function attachNode(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  saved: readonly Tensor[],
  backward: GraphNode['backward'],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    const held = [...inputs, ...saved];
    out.requiresGrad = true;
    out.node = { op, inputs, held, backward };
    for (const t of held) t.graphRefs++;
  }
  return out;
}

/** Records primitive `op` (its rule in GRAD_RULES, its attrs typed per op). Returns `out`. */
export function record<N extends OpName>(
  out: Tensor,
  op: N,
  inputs: Tensor[],
  ...[attrs]: AttrsArg<N>
): Tensor {
  // GRAD_RULES[op] for a generic N is a union of rules; AttrsArg<N> ties the attrs to the same op.
  const rule = GRAD_RULES[op] as GradRule<unknown>;
  return attachNode(out, op, inputs, [], (g, output) => rule(g, { inputs, output, attrs: attrs ?? {} }));
}

/**
 * Forgets the op that made `t`. Tensors that only a graph kept alive (graph-owned) are disposed once no
 * node holds them, which cascades up the graph.
 */
export function dropNode(t: Tensor): void {
  const node = t.node;
  if (!node) return;
  t.node = null;
  for (const held of node.held) {
    held.graphRefs--;
    if (held.graphOwned && held.graphRefs === 0) held.dispose();
  }
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const input of t.node?.inputs ?? [])
      if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
  }
  return order; // inputs before the tensors made from them
}

/**
 * d(root)/d(leaf) into every leaf's `.grad` (accumulating with what is there). `grad` defaults to 1 for a
 * scalar root. Afterwards the graph is released: nodes are cleared and graph-owned intermediates disposed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad)
    throw new Error(`backward: ${root} does not require grad (no input of its graph does)`);
  if (!grad && sizeOf(root.shape) !== 1) {
    throw new Error(`backward: ${root} is not a scalar; pass the gradient of the output explicitly`);
  }
  if (grad && grad.shape.join() !== root.shape.join()) {
    throw new Error(`backward: gradient shape [${grad.shape}] does not match ${root}`);
  }
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    grads.set(root, grad ?? root.device.ones(root.shape));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        accumulateLeaf(t, g === grad ? g.detach() : g);
        continue;
      }
      const { inputs } = t.node;
      const inputGrads = t.node.backward(g, t);
      inputs.forEach((input, k) => {
        const ig = inputGrads[k];
        if (!ig || !input.requiresGrad) {
          if (ig && ig !== g) ig.dispose();
          return;
        }
        const prev = grads.get(input);
        if (prev) {
          grads.set(input, prev.add(ig));
          prev.dispose();
          if (ig !== g) ig.dispose();
        } else grads.set(input, ig === g ? ig.detach() : ig);
      });
      if (g !== grad) g.dispose();
    }
  });
  releaseGraph(order);
}

/** Adds `g` (which this call consumes) into the leaf's `.grad`; grads live outside every scope. */
function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (t.grad) {
    const sum = t.grad.add(g);
    t.grad.dispose();
    g.dispose();
    t.grad = keep(sum);
  } else t.grad = keep(g);
}

function releaseGraph(order: Tensor[]): void {
  for (let i = order.length - 1; i >= 0; i--) dropNode(order[i]!);
}
