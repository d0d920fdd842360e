/**
 * Per-layer mask policies on asymmetric cases, so that a reversed or shifted layer order fails: the exact
 * causal/unmasked array per layer, the CLI parser, the right-context gradient of an early exit (exactly zero
 * while every layer run is causal, non-zero once the unmasked layer is run), and the last-copy-only last layer
 * taking the exit layer's own mask.
 *
 * Numbering: `unmaskedLayers` and `layers:i,j` count blocks from 0 (masks.ts: "outside 0..L−1"); the labeler's
 * exit layer ℓ counts the blocks run, 1..L. So `{ unmaskedLayers: [3] }` unmasks the 4th block, and an exit at
 * ℓ = 3 runs blocks 0..2 (all causal) while ℓ = 4 runs block 3 too: issue 14's "zero at exit layer 3,
 * non-zero at layer 4".
 */
import { Device, tidy } from '@reprise/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type MaskPolicy,
  SequenceLabeler,
  Transformer,
  causalLayers,
  middleBand,
  parseMaskPolicy,
} from '../src/index.ts';
import { influence, smallConfig } from './helpers.ts';

const [T, F] = [true, false];

describe('causal layers per policy, asymmetric', () => {
  it('an explicit list unmasks exactly the listed 0-based layers', () => {
    expect(causalLayers({ unmaskedLayers: [3] }, 4)).toEqual([T, T, T, F]);
    expect(causalLayers({ unmaskedLayers: [0] }, 4)).toEqual([F, T, T, T]);
    expect(causalLayers({ unmaskedLayers: [1] }, 5)).toEqual([T, F, T, T, T]);
    expect(causalLayers({ unmaskedLayers: [4, 1] }, 6)).toEqual([T, F, T, T, F, T]);
    expect(causalLayers({ unmaskedLayers: [] }, 3)).toEqual([T, T, T]);
  });

  it('the middle band is asymmetric where the paper’s formula is (odd L)', () => {
    // L = 5: c = 0, L/2 floored = 2, band 1..2; L = 7: c = 2, band 1..4.
    expect(middleBand(5)).toEqual([1, 2]);
    expect(causalLayers('unmask-middle', 5)).toEqual([T, F, F, T, T]);
    expect(middleBand(7)).toEqual([1, 4]);
    expect(causalLayers('unmask-middle', 7)).toEqual([T, F, F, F, F, T, T]);
  });

  it('the named policies', () => {
    expect(causalLayers('causal', 3)).toEqual([T, T, T]);
    expect(causalLayers('bidirectional', 3)).toEqual([F, F, F]);
    expect(causalLayers('unmask-full', 3)).toEqual([F, F, F]);
  });

  it('refuses layers outside 0..L−1 and unknown policies, naming them', () => {
    expect(() => causalLayers({ unmaskedLayers: [-1] }, 4)).toThrow(/unmasked layer -1 is outside 0..3/);
    expect(() => causalLayers({ unmaskedLayers: [1.5] }, 4)).toThrow(/unmasked layer 1.5 is outside 0..3/);
    expect(() => causalLayers('sideways' as MaskPolicy, 4)).toThrow(
      /mask policy must be 'causal', .* got "sideways"/,
    );
  });
});

describe('parseMaskPolicy (the CLI form)', () => {
  it('parses the named policies and layers:i,j into exact per-layer arrays', () => {
    for (const name of ['causal', 'bidirectional', 'unmask-full', 'unmask-middle'])
      expect(parseMaskPolicy(name)).toBe(name);
    expect(parseMaskPolicy('layers:3')).toEqual({ unmaskedLayers: [3] });
    expect(causalLayers(parseMaskPolicy('layers:3'), 4)).toEqual([T, T, T, F]);
    expect(parseMaskPolicy('layers:0,2')).toEqual({ unmaskedLayers: [0, 2] });
    expect(causalLayers(parseMaskPolicy('layers:0,2'), 5)).toEqual([F, T, F, T, T]);
  });

  it('refuses malformed text with what it expected', () => {
    for (const text of ['', 'Causal', 'unmask', 'layers 1', 'middle'])
      expect(() => parseMaskPolicy(text), text).toThrow(
        new RegExp(
          `mask policy '${text}': expected causal, bidirectional, unmask-full, unmask-middle or layers:i,j,…`,
        ),
      );
    for (const text of ['layers:a', 'layers:1.5', 'layers:1,x'])
      expect(() => parseMaskPolicy(text), text).toThrow(/expected layers:i,j,… with integer layer indices/);
    // An empty list would silently mean 'causal'; an empty entry is a typo, not a layer.
    for (const text of ['layers:', 'layers:1,,2', 'layers:1,'])
      expect(() => parseMaskPolicy(text), text).toThrow(/expected layers:i,j,… with integer layer indices/);
  });

  it('a layer outside the model is refused when the policy meets the model', () => {
    expect(() => causalLayers(parseMaskPolicy('layers:4'), 4)).toThrow(/unmasked layer 4 is outside 0..3/);
  });
});

// Float64 CPU twin: a masked key contributes exp(−∞) = 0 to the softmax and nothing to any gradient, so the
// right-context gradient of an all-causal stack is exactly 0, not merely small.
let cpu: Device;
beforeAll(async () => {
  cpu = await Device.create({ device: 'cpu', poison: true });
});
afterAll(() => cpu?.destroy());

const sentence = [4, 9, 2, 17, 11, 6];
/** Weights of the 5 labels' logits in the influence measure. */
const LABEL_WEIGHTS = [1, -0.7, 0.3, 2, -1.3];
const cfg = smallConfig();

describe('early exit under a per-layer mask: right-context gradient', () => {
  const backbone = () => {
    // Weights 10× GPT-2's 0.02 so that every path carries a gradient far above rounding.
    const b = Transformer.create(cpu, cfg, 7);
    for (const [name, t] of Object.entries(b.params))
      if (name.endsWith('.weight') && t.rank === 2) t.assign(tidy(() => t.mul(10)));
    return b;
  };
  const i = 2;
  /** [unmasked 0-based layers, exit layers ℓ whose head sees the right context, those whose head does not]. */
  const cases: [number[], number[], number[]][] = [
    [[3], [4], [1, 2, 3]],
    [[1], [2, 3, 4], [1]],
    [[0], [1, 2, 3, 4], []],
  ];
  for (const [unmasked, sees, blind] of cases) {
    it(`{ unmaskedLayers: [${unmasked}] }: zero at ℓ ∈ {${blind}}, non-zero at ℓ ∈ {${sees}}`, async () => {
      const b = backbone();
      for (const layer of [1, 2, 3, 4]) {
        const l = new SequenceLabeler(b, {
          numLabels: 5,
          mask: { unmaskedLayers: unmasked },
          layer,
          headDropout: 0,
          seed: 3,
        });
        const g = await influence(l, sentence, i, LABEL_WEIGHTS);
        for (let j = 0; j <= i; j++) expect(g[j], `ℓ = ${layer}: left word ${j}`).toBeGreaterThan(1e-12);
        for (let j = i + 1; j < sentence.length; j++) {
          if (sees.includes(layer)) expect(g[j], `ℓ = ${layer}: right word ${j}`).toBeGreaterThan(1e-12);
          else expect(g[j], `ℓ = ${layer}: right word ${j}`).toBe(0);
        }
        for (const t of Object.values(l.head)) t.dispose();
      }
      b.dispose();
    });
  }
});

describe('the last-copy-only last layer takes the exit layer’s own mask', () => {
  // Float64 on the CPU twin: the two paths differ only in summation order (explicit scores vs the attention op).
  const F64_TOL = 1e-9;
  it('{ unmaskedLayers: [1] } and [3], r = 1, every exit layer: equal to the full last layer', async () => {
    const b = Transformer.create(cpu, cfg, 7);
    for (const [name, t] of Object.entries(b.params))
      if (name.endsWith('.weight') && t.rank === 2) t.assign(tidy(() => t.mul(10)));
    for (const unmasked of [[1], [3]]) {
      for (const layer of [1, 2, 3, 4]) {
        const options = { numLabels: 5, r: 1, mask: { unmaskedLayers: unmasked }, layer, headDropout: 0 };
        const fast = new SequenceLabeler(b, { ...options, lastCopyOnly: true });
        const slow = new SequenceLabeler(b, { ...options, lastCopyOnly: false }, fast.head);
        const logits = async (l: SequenceLabeler) => {
          const layout = l.layout([sentence, [3, 8, 1]]);
          const out = tidy(() => l.forward(layout));
          const values = Array.from(await out.hostData());
          out.dispose();
          // Padding rows of the last copy carry no output (the fused attention gives them zeros): tokens only.
          const n = layout.baseSeq;
          return values.filter((_, k) => Math.floor(k / 5) % n < layout.baseLengths[Math.floor(k / 5 / n)]!);
        };
        const [x, y] = [await logits(fast), await logits(slow)];
        const worst = Math.max(...x.map((v, k) => Math.abs(v - y[k]!) / (1 + Math.abs(y[k]!))));
        expect(worst, `unmasked [${unmasked}], ℓ = ${layer}`).toBeLessThan(F64_TOL);
        for (const t of Object.values(fast.head)) t.dispose();
      }
    }
    b.dispose();
  });
});
