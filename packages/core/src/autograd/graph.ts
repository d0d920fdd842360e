/**
 * @file Reverse-mode autograd: recording ops, `noGrad`, and `backward` (topological order, gradients
 * accumulated where a tensor is used twice, the graph released afterwards). The rules are in ./rules.ts.
 */
import { keep } from '../scope.ts';
import { sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { GRAD_RULES, type OpName } from './rules.ts';

export interface GraphNode {
  op: OpName;
  inputs: Tensor[];
  attrs: Record<string, unknown>;
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

/** Attaches the op to `out` when grad mode is on and some input requires grad. Returns `out`. */
export function record(
  out: Tensor,
  op: OpName,
  inputs: Tensor[],
  attrs: Record<string, unknown> = {},
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, attrs };
    for (const t of inputs) t.graphRefs++;
  }
  return out;
}

/**
 * Forgets the op that made `t`. Inputs that only a graph kept alive (graph-owned) are disposed once no
 * node refers to them, which cascades up the graph.
 */
export function dropNode(t: Tensor): void {
  const node = t.node;
  if (!node) return;
  t.node = null;
  for (const input of node.inputs) {
    input.graphRefs--;
    if (input.graphOwned && input.graphRefs === 0) input.dispose();
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
      const { op, inputs, attrs } = t.node;
      const inputGrads = GRAD_RULES[op](g, { inputs, output: t, attrs });
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
