/**
 * Fused ops declare their inputs, saved tensors and attrs once (`defineFusedOp`), and their backward sees them
 * typed; primitives' attrs are typed per op. The `@ts-expect-error` lines are checked by `pnpm typecheck` (tsc
 * covers test files): each must be a compile error, or tsc fails with "Unused '@ts-expect-error' directive".
 * The runtime part checks that a fused op's saved tensors live exactly as long as its graph.
 */
import { describe, expect, it } from 'vitest';
import { record } from '../src/autograd/graph.ts';
import { Device, GRAD_RULES, type Tensor, defineFusedOp, noGrad, tidy } from '../src/index.ts';

/** y = x·s·factor with s saved (no gradient): the smallest op with inputs, saved tensors and attrs. */
const scaleBySaved = defineFusedOp<{ x: Tensor }, { factor: number }, { s: Tensor }>({
  name: 'scaleBySaved',
  backward: (g, { inputs: { x }, saved: { s }, attrs }) => {
    seen.push({ x, s, factor: attrs.factor });
    return tidy(() => ({ x: g.mul(s).mul(attrs.factor) }));
  },
});
const seen: { x: Tensor; s: Tensor; factor: number }[] = [];

/** Never called: only compiled. */
function typeChecks(x: Tensor, s: Tensor, out: Tensor) {
  defineFusedOp<{ x: Tensor }, { eps: number }, { stats: Tensor }>({
    name: 'checks',
    backward: (g, { inputs, saved, attrs }) => {
      const eps: number = attrs.eps;
      // @ts-expect-error a misspelt attr does not compile
      attrs.epsilon;
      // @ts-expect-error a saved tensor that was not declared does not compile
      saved.stat;
      // @ts-expect-error an input that was not declared does not compile
      inputs.w;
      return { x: g.mul(saved.stats).mul(eps) };
    },
  });
  defineFusedOp<{ x: Tensor; w: Tensor }, Record<never, never>, Record<never, never>>({
    name: 'checks',
    // @ts-expect-error the backward must give every input's gradient (null where none flows): 'w' is missing
    backward: (g) => ({ x: g }),
  });
  scaleBySaved.record(out, { x }, { s }, { factor: 2 });
  // @ts-expect-error a missing saved tensor does not compile
  scaleBySaved.record(out, { x }, {}, { factor: 2 });
  // @ts-expect-error a misspelt attr does not compile
  scaleBySaved.record(out, { x }, { s }, { factr: 2 });
  // Primitives: attrs typed per op.
  record(out, 'sum', [x], { axes: [0], keepdims: false });
  // @ts-expect-error a primitive's missing attr does not compile
  record(out, 'sum', [x], { axes: [0] });
  // @ts-expect-error an op without attrs takes none
  record(out, 'add', [x, s], { axes: [0] });
  // @ts-expect-error an unknown op does not compile
  record(out, 'summ', [x]);
  // @ts-expect-error a rule's attrs are its op's
  GRAD_RULES.permute(x, { inputs: [x], output: out, attrs: { perm: 'x' } });
}

describe('fused ops', () => {
  it('the backward gets its inputs, saved tensors and attrs by name; saved tensors live as long as the graph', async () => {
    expect(typeChecks).toBeTypeOf('function');
    const dev = await Device.create({ device: 'cpu' });
    const x = dev.tensor([1, 2, 3]).setRequiresGrad();
    let saved: Tensor | undefined;
    const before = dev.memory().liveBuffers;
    const forward = () =>
      tidy(() => {
        saved = dev.tensor([0.5, -1, 4]);
        const y = noGrad(() => x.mul(saved!).mul(3));
        return scaleBySaved.record(y, { x }, { s: saved }, { factor: 3 }).sum();
      });
    const loss = forward();
    expect(saved!.isDisposed, 'the saved tensor outlives the forward scope').toBe(false);
    loss.backward();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.x).toBe(x);
    expect(seen[0]!.s).toBe(saved);
    expect(seen[0]!.factor).toBe(3);
    expect(Array.from(await x.grad!.data())).toEqual([1.5, -3, 12]);
    expect(saved!.isDisposed, 'backward releases the saved tensor with the graph').toBe(true);
    loss.dispose();
    x.zeroGrad();
    expect(dev.memory().liveBuffers).toBe(before);

    // Nothing recorded under noGrad: the saved tensor goes with the forward's scope.
    const plain = noGrad(forward);
    expect(plain.node).toBeNull();
    expect(saved!.isDisposed).toBe(true);
    plain.dispose();
    x.dispose();
    dev.destroy();
  });
});
