/**
 * Attention: gradients by central differences (both paths, both layouts), the fused path, the unfused path and
 * an attention composed from primitive ops agreeing in values and gradients, in every mask mode, with padding,
 * with fewer queries than keys at per-sequence offsets (queryStart), and the [B, T, H, d] layout giving the
 * [B, H, T, d] layout's values, permuted; grouped-query attention (k, v with fewer heads) against k and v
 * repeated per group.
 */
import type { HostArray } from '@reprise/kernels';
import { describe, expect, it } from 'vitest';
import { type Device, type Tensor, attention, chooseAttentionImpl, tidy, where } from '../src/index.ts';
import { expectClose, gradCheck, makeValues, useDevices } from './helpers.ts';

const devices = useDevices();

/**
 * softmax(QKᵀ·scale + mask)·V from primitive ops, q [B, H, Tq, d] at key positions starts[b] + i; padded query
 * rows give 0.
 */
function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  causal: boolean,
  lengths: number[],
  starts: number[] = lengths.map(() => 0),
): Tensor {
  const [B, , Tq, d] = q.shape as [number, number, number, number];
  const T = k.shape[2]!;
  const dev = q.device;
  const visible: number[] = [];
  const rowValid: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const at = starts[b]! + i;
      rowValid.push(at < lengths[b]! ? 1 : 0);
      for (let j = 0; j < T; j++)
        visible.push(at < lengths[b]! && j < lengths[b]! && (!causal || j <= at) ? 1 : 0);
    }
  }
  const mask = dev.tensor(visible, [B, 1, Tq, T]);
  const scores = q.matmul(k, { transB: true }).mul(1 / Math.sqrt(d));
  const probs = where(mask, scores, -1e9)
    .softmax()
    .mul(dev.tensor(rowValid, [B, 1, Tq, 1]));
  return probs.matmul(v);
}

const modes = [
  { causal: true, lengths: undefined },
  { causal: false, lengths: undefined },
  { causal: true, lengths: [5, 3] },
  { causal: false, lengths: [2, 5] },
];

describe('attention gradients (central differences, float64)', () => {
  it.each([
    ['fused', 'bhtd'],
    ['unfused', 'bhtd'],
    ['fused', 'bthd'],
    ['unfused', 'bthd'],
  ] as const)('%s path, layout %s, every mask mode', async (impl, layout) => {
    for (const { causal, lengths } of modes) {
      // [B, H, T, d] or [B, T, H, d]: batch 2 and 3 heads so that the two layouts index differently.
      const shape = layout === 'bhtd' ? [2, 3, 5, 4] : [2, 5, 3, 4];
      await gradCheck(devices, ([q, k, v]) => attention(q!, k!, v!, { causal, lengths, impl, layout }), [
        { shape },
        { shape },
        { shape },
      ]);
    }
  });
});

describe('queries at an offset: q with Tq < T rows at key positions queryStart[b] + i', () => {
  // Sequence 0: queries at 3..5 of 6 keys; sequence 1: at 2..4 of 4 valid keys, so its last query row is padding.
  const [B, H, T, Tq, d] = [2, 3, 6, 3, 4];
  const lengths = [6, 4];
  const queryStart = [3, 2];
  const shapes = (layout: 'bhtd' | 'bthd') =>
    layout === 'bhtd' ? { q: [B, H, Tq, d], kv: [B, H, T, d] } : { q: [B, Tq, H, d], kv: [B, T, H, d] };

  it.each([
    ['fused', 'bhtd'],
    ['unfused', 'bhtd'],
    ['fused', 'bthd'],
    ['unfused', 'bthd'],
  ] as const)(
    'gradients by central differences (float64), %s path, layout %s, causal and not',
    async (impl, layout) => {
      const { q, kv } = shapes(layout);
      for (const causal of [true, false]) {
        await gradCheck(
          devices,
          ([qq, k, v]) => attention(qq!, k!, v!, { causal, lengths, queryStart, impl, layout }),
          [{ shape: q }, { shape: kv }, { shape: kv }],
        );
      }
    },
  );

  // Exact in float64 up to summation order on the CPU twin; within the kernels' tolerance on WebGPU.
  it.each([
    ['cpu', 1e-12],
    ['gpu', 1e-4],
  ] as const)(
    '%s: fused = unfused = scores + mask + softmax from primitive ops, values and gradients',
    async (which, tol) => {
      const dev: Device = devices[which];
      const { q: qShape, kv: kvShape } = shapes('bhtd');
      const data = [qShape, kvShape, kvShape, qShape].map((shape) => makeValues({ shape, lo: -2, hi: 2 }));
      for (const causal of [true, false]) {
        const results: HostArray[][] = [];
        for (const impl of ['fused', 'unfused', 'composed'] as const) {
          const r = tidy(() => {
            const [q, k, v] = [qShape, kvShape, kvShape].map((shape, i) =>
              dev.tensor(data[i]!, shape).setRequiresGrad(),
            );
            const out =
              impl === 'composed'
                ? composedAttention(q!, k!, v!, causal, lengths, queryStart)
                : attention(q!, k!, v!, { causal, lengths, queryStart, impl });
            out.mul(dev.tensor(data[3]!, qShape)).sum().backward();
            return [out, q!.grad!, k!.grad!, v!.grad!];
          });
          results.push(await Promise.all(r.map((t) => t.hostData())));
        }
        // The padded query row (sequence 1, row 2) is zero, with no gradient.
        const padded = (1 * H * Tq + 2) * d;
        expect(Array.from(results[0]![0]!.slice(padded, padded + d)), 'padded row').toEqual([0, 0, 0, 0]);
        ['output', 'dq', 'dk', 'dv'].forEach((name, i) => {
          for (const other of [1, 2])
            expectClose(
              results[0]![i]!,
              results[other]![i]!,
              { rtol: tol * 10, atol: tol },
              `${name} ${causal}`,
            );
        });
      }
    },
  );

  it('refuses a queryStart outside 0..T and q with other dims than k', () => {
    const dev = devices.cpu;
    const [q, k] = [dev.zeros([1, 2, 3, 8]), dev.zeros([1, 2, 5, 8])];
    expect(() => attention(q, k, k, { queryStart: [6] })).toThrow(/queryStart \[6\] must lie in 0..5/);
    expect(() => attention(dev.zeros([1, 3, 3, 8]), k, k)).toThrow(/q may have fewer seq rows/);
  });
});

describe("layout 'bthd' = layout 'bhtd' on permuted inputs, permuted back", () => {
  // Exactly equal on the CPU twin (same sums in the same order), within the kernels' tolerance on WebGPU.
  it.each([
    ['cpu', 'fused', 0],
    ['gpu', 'fused', 1e-5],
    ['cpu', 'unfused', 0],
    ['gpu', 'unfused', 1e-5],
  ] as const)('%s, %s path: values and gradients', async (which, impl, tol) => {
    const dev: Device = devices[which];
    const [B, T, H, d] = [2, 9, 3, 8];
    const shape = [B, T, H, d];
    const data = [0, 1, 2, 3].map(() => makeValues({ shape, lo: -2, hi: 2 }));
    const swap = (t: Tensor) => t.permute([0, 2, 1, 3]); // [B, T, H, d] ↔ [B, H, T, d]
    for (const causal of [true, false]) {
      const lengths = [T, 4];
      const run = (layout: 'bhtd' | 'bthd') =>
        tidy(() => {
          const [q, k, v] = data.slice(0, 3).map((x) => dev.tensor(x, shape).setRequiresGrad());
          const inLayout = (t: Tensor) => (layout === 'bthd' ? t : swap(t));
          const out = inLayout(
            attention(inLayout(q!), inLayout(k!), inLayout(v!), { causal, lengths, impl, layout }),
          );
          out.mul(dev.tensor(data[3]!, shape)).sum().backward();
          return [out, q!.grad!, k!.grad!, v!.grad!];
        });
      const [bthd, bhtd] = await Promise.all(
        [run('bthd'), run('bhtd')].map((r) => Promise.all(r.map((t) => t.hostData()))),
      );
      ['output', 'dq', 'dk', 'dv'].forEach((name, i) => {
        if (tol === 0)
          expect(Array.from(bthd![i]!), `${name}, causal ${causal}`).toEqual(Array.from(bhtd![i]!));
        else expectClose(bthd![i]!, bhtd![i]!, { rtol: tol * 10, atol: tol }, `${name}, causal ${causal}`);
      });
    }
  });
});

describe('fused = unfused = composed from primitive ops', () => {
  it.each([
    [2, 3, 33, 16],
    [1, 2, 65, 32],
  ])('B %i, H %i, T %i, d %i on WebGPU, values and gradients', async (B, H, T, d) => {
    const dev: Device = devices.gpu;
    const shape = [B, H, T, d];
    const data = [0, 1, 2, 3].map(() => makeValues({ shape, lo: -2, hi: 2 }));
    for (const causal of [true, false]) {
      const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? T : Math.ceil(T / 2)));
      const results: HostArray[][] = [];
      for (const impl of ['fused', 'unfused', 'composed'] as const) {
        const r = tidy(() => {
          const [q, k, v] = data.slice(0, 3).map((x) => dev.tensor(x, shape).setRequiresGrad());
          const out =
            impl === 'composed'
              ? composedAttention(q!, k!, v!, causal, lengths)
              : attention(q!, k!, v!, { causal, lengths, impl });
          out.mul(dev.tensor(data[3]!, shape)).sum().backward();
          return [out, q!.grad!, k!.grad!, v!.grad!];
        });
        results.push(await Promise.all(r.map((t) => t.hostData())));
      }
      const names = ['output', 'dq', 'dk', 'dv'];
      for (const other of [1, 2]) {
        results[0]!.forEach((fused, i) =>
          expectClose(
            fused,
            results[other]![i]!,
            { rtol: 1e-3, atol: 1e-4 },
            `${names[i]} fused vs ${other === 1 ? 'unfused' : 'composed'}`,
          ),
        );
      }
    }
  });

  it('the fused path allocates no T×T buffer', () => {
    const dev = devices.gpu;
    const T = 256;
    const [q, k, v] = [0, 1, 2].map(() => dev.randn([1, 1, T, 16]).setRequiresGrad());
    const before = dev.memory().liveBytes;
    const out = attention(q!, k!, v!, { impl: 'fused' });
    const grew = dev.memory().liveBytes - before;
    expect(grew).toBeLessThan(T * T * 4); // O, the logsumexp and the lengths only
    out.dispose();
    for (const t of [q, k, v]) t!.dispose();
  });

  it('refuses mismatched shapes and bad lengths', () => {
    const dev = devices.cpu;
    const q = dev.zeros([1, 2, 4, 8]);
    expect(() => attention(q, dev.zeros([1, 2, 5, 8]), q)).toThrow(
      /q, k, v must share one \[batch, heads, seq, headDim\] shape/,
    );
    expect(() => attention(q, dev.zeros([1, 4, 2]), q, { layout: 'bthd' })).toThrow(
      /q, k, v must share one \[batch, seq, heads, headDim\] shape \(layout 'bthd'\)/,
    );
    expect(() => attention(q, q, q, { lengths: [5] })).toThrow(/lengths \[5\] must lie in 0..4/);
  });
});

describe('grouped-query attention: k and v with fewer heads (KV, a divisor of H)', () => {
  // B 2, H 6 query heads over KV 2 key/value heads (groups of 3), T 5, d 4; shapes in [B, H, T, d] order.
  const [B, H, KV, T, d] = [2, 6, 2, 5, 4];
  const shapesFor = (layout: 'bhtd' | 'bthd', kv: number) =>
    layout === 'bhtd' ? { q: [B, H, T, d], kv: [B, kv, T, d] } : { q: [B, T, H, d], kv: [B, T, kv, d] };

  it.each([
    ['fused', 'bhtd'],
    ['unfused', 'bhtd'],
    ['fused', 'bthd'],
    ['unfused', 'bthd'],
  ] as const)('gradients by central differences (float64), %s path, layout %s', async (impl, layout) => {
    for (const [causal, lengths, kv] of [
      [true, [5, 3], KV],
      [false, undefined, 1],
    ] as const) {
      const s = shapesFor(layout, kv);
      await gradCheck(
        devices,
        ([q, k, v]) => attention(q!, k!, v!, { causal, lengths: lengths && [...lengths], impl, layout }),
        [{ shape: s.q }, { shape: s.kv }, { shape: s.kv }],
      );
    }
  });

  // Hugging Face's repeat_kv: key/value head j serves query heads j·G..j·G+G−1. Exact in float64 on the CPU
  // twin up to summation order; within the kernels' tolerance on WebGPU.
  it.each([
    ['cpu', 'fused', 'bhtd', 1e-12],
    ['cpu', 'unfused', 'bthd', 1e-12],
    ['gpu', 'fused', 'bthd', 1e-4],
    ['gpu', 'unfused', 'bhtd', 1e-4],
  ] as const)(
    '%s, %s path, layout %s: equals attention over k and v repeated per group, values and gradients',
    async (which, impl, layout, tol) => {
      const dev: Device = devices[which];
      const s = shapesFor(layout, KV);
      const headAxis = layout === 'bhtd' ? 1 : 2;
      const data = [s.q, s.kv, s.kv, s.q].map((shape) => makeValues({ shape, lo: -2, hi: 2 }));
      for (const causal of [true, false]) {
        const run = (repeated: boolean) =>
          tidy(() => {
            const [q, k, v] = [s.q, s.kv, s.kv].map((shape, i) =>
              dev.tensor(data[i]!, shape).setRequiresGrad(),
            );
            const widen = (t: Tensor) => (repeated ? t.repeat(headAxis, H / KV) : t);
            const out = attention(q!, widen(k!), widen(v!), { causal, lengths: [T, 3], impl, layout });
            out.mul(dev.tensor(data[3]!, s.q)).sum().backward();
            return [out, q!.grad!, k!.grad!, v!.grad!];
          });
        const [grouped, repeated] = await Promise.all(
          [run(false), run(true)].map((r) => Promise.all(r.map((t) => t.hostData()))),
        );
        ['output', 'dq', 'dk', 'dv'].forEach((name, i) =>
          expectClose(
            grouped![i]!,
            repeated![i]!,
            { rtol: tol * 10, atol: tol },
            `${name}, causal ${causal}`,
          ),
        );
      }
    },
  );

  it("refuses k and v whose heads do not divide q's", () => {
    const dev = devices.cpu;
    const q = dev.zeros([1, 6, 4, 8]);
    const k = dev.zeros([1, 4, 4, 8]);
    expect(() => attention(q, k, k)).toThrow(
      /k and v fewer heads \(a divisor of q's\), got \[1, 6, 4, 8\], \[1, 4, 4, 8\]/,
    );
    expect(() => attention(q, dev.zeros([1, 2, 4, 8]), k)).toThrow(/must share one/);
  });
});

describe('path choice', () => {
  it('fused on software adapters, unfused on real GPUs while the scores fit a buffer, unfused for odd head dims', () => {
    const software = { isSoftware: true, maxBufferBytes: 2 ** 27 };
    const gpu = { isSoftware: false, maxBufferBytes: 2 ** 30 };
    expect(chooseAttentionImpl([1, 4, 512, 64], software)).toBe('fused');
    expect(chooseAttentionImpl([1, 4, 512, 64], gpu)).toBe('unfused');
    expect(chooseAttentionImpl([8, 16, 4096, 64], gpu)).toBe('fused'); // 8 GiB of scores
    expect(chooseAttentionImpl([1, 4, 512, 6], software)).toBe('unfused');
  });
});
