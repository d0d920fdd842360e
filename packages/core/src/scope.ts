/**
 * @file Memory scopes. `tidy(fn)` disposes every tensor created inside `fn` except those it returns (found in
 * returned arrays and plain objects), those passed to `keep`, and those the autograd graph of a returned
 * tensor still needs: these become graph-owned and are disposed when no graph node refers to them any more
 * (after `backward()`, or when the graph's output is disposed).
 */
import type { Tensor } from './tensor.ts';

const scopes: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  scopes.at(-1)?.add(t);
}

/** Takes a tensor out of every scope: it lives until disposed explicitly. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

export function dispose(tensors: Tensor | readonly Tensor[] | Record<string, Tensor>): void {
  if (isTensorLike(tensors)) tensors.dispose();
  else for (const t of Object.values(tensors)) t.dispose();
}

function isTensorLike(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'dispose' in x && 'shape' in x && 'node' in x;
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (isTensorLike(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
  }
}

/** Tensors reachable from `roots` through autograd nodes (what the ops that made them hold: inputs, saved). */
export function graphOf(roots: Iterable<Tensor>): Set<Tensor> {
  const seen = new Set<Tensor>();
  const stack = [...roots];
  while (stack.length) {
    const t = stack.pop()!;
    for (const input of t.node?.held ?? []) {
      if (!seen.has(input)) {
        seen.add(input);
        stack.push(input);
      }
    }
  }
  return seen;
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error(
      'tidy: the function must be synchronous (op calls are synchronous; await data outside tidy)',
    );
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  const needed = graphOf(returned);
  const parent = scopes.at(-1);
  // Mark first, then dispose: disposing a tensor drops its node, which frees graph-owned inputs no node uses.
  for (const t of scope) {
    if (returned.has(t)) parent?.add(t);
    else if (needed.has(t) && !t.isDisposed) {
      t.graphOwned = true;
      parent?.add(t);
    }
  }
  for (const t of scope) if (!returned.has(t) && !t.graphOwned) t.dispose();
  return result;
}
