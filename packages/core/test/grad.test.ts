/**
 * Every differentiable op: backward() against central differences (float64, CPU backend), then the WebGPU
 * forward and gradients against the CPU's. Shapes are small and odd, with broadcasting wherever the op has it.
 */
import { describe, it } from 'vitest';
import {
  type Device,
  type Tensor,
  concat,
  crossEntropy,
  dropout,
  gather,
  layerNorm,
  maximum,
  minimum,
  rmsNorm,
  rotary,
  where,
} from '../src/index.ts';
import { gradCheck, useDevices } from './helpers.ts';

const devices = useDevices();

const check = (fn: (xs: Tensor[]) => Tensor, specs: Parameters<typeof gradCheck>[2]) =>
  gradCheck(devices, fn, specs);

describe('elementwise gradients with broadcasting', () => {
  const bshapes = [{ shape: [3, 1, 5] }, { shape: [4, 5] }];
  it('add', () => check(([a, b]) => a!.add(b!), bshapes));
  it('sub', () => check(([a, b]) => a!.sub(b!), bshapes));
  it('mul', () => check(([a, b]) => a!.mul(b!), bshapes));
  it('div', () => check(([a, b]) => a!.div(b!), [{ shape: [3, 1, 5] }, { shape: [4, 5], lo: 0.5, hi: 2 }]));
  it('pow', () =>
    check(
      ([a, b]) => a!.pow(b!),
      [
        { shape: [2, 3], lo: 0.5, hi: 2 },
        { shape: [3], lo: -2, hi: 2 },
      ],
    ));
  it('pow with a scalar exponent', () => check(([a]) => a!.pow(3), [{ shape: [7], lo: -2, hi: 2 }]));
  it('maximum and minimum', async () => {
    await check(([a, b]) => maximum(a!, b!), bshapes);
    await check(([a, b]) => minimum(a!, b!), bshapes);
  });
  it('a tensor used twice accumulates', () => check(([a]) => a!.mul(a!).add(a!), [{ shape: [7] }]));
  it('scalar operands', () => check(([a]) => a!.mul(3).add(1).div(2).sub(0.5), [{ shape: [2, 3] }]));
});

describe('unary gradients', () => {
  const s = [{ shape: [3, 7], lo: -2, hi: 2 }];
  it('neg', () => check(([a]) => a!.neg(), s));
  it('exp', () => check(([a]) => a!.exp(), s));
  it('log', () => check(([a]) => a!.log(), [{ shape: [3, 7], lo: 0.2, hi: 3 }]));
  it('sqrt', () => check(([a]) => a!.sqrt(), [{ shape: [3, 7], lo: 0.2, hi: 3 }]));
  it('tanh', () => check(([a]) => a!.tanh(), s));
  it('relu', () => check(([a]) => a!.relu(), [{ shape: [3, 7], gap: 0.05 }]));
  it('gelu', () => check(([a]) => a!.gelu(), [{ shape: [3, 7], lo: -4, hi: 4 }]));
  it('silu', () => check(([a]) => a!.silu(), [{ shape: [3, 7], lo: -6, hi: 6 }]));
  it('abs', () => check(([a]) => a!.abs(), [{ shape: [3, 7], gap: 0.05 }]));
  it('where (broadcast condition and values)', () =>
    check(
      ([c, a, b]) => where(c!, a!, b!),
      [{ shape: [4, 1], values: [1, 0, 1, 1], grad: false }, { shape: [5] }, { shape: [4, 5] }],
    ));
});

describe('reduction gradients', () => {
  const x = [{ shape: [3, 4, 5] }];
  it('sum over all, one, and several axes, with and without keepdims', async () => {
    await check(([a]) => a!.sum(), x);
    await check(([a]) => a!.sum(1), x);
    await check(([a]) => a!.sum([0, 2], true), x);
  });
  it('mean', () => check(([a]) => a!.mean([0, 2]), x));
  it('max', async () => {
    await check(([a]) => a!.max(-1), x);
    await check(([a]) => a!.max([0, 1], true), x);
  });
});

describe('layout gradients', () => {
  const x = [{ shape: [2, 3, 5] }];
  it('reshape', () => check(([a]) => a!.reshape([5, -1]).mul(a!.reshape([5, 6])), x));
  it('permute and transpose', async () => {
    await check(([a]) => a!.permute([2, 0, 1]), x);
    await check(([a]) => a!.transpose(0, 2), x);
  });
  it('slice', () => check(([a]) => a!.slice([0, 1, 1], [2, 3, -1]), x));
  it('concat of three along a middle axis', () =>
    check(
      ([a, b, c]) => concat([a!, b!, c!], 1),
      [{ shape: [2, 3, 4] }, { shape: [2, 1, 4] }, { shape: [2, 2, 4] }],
    ));
  it('expand, tile and repeat', async () => {
    await check(([a]) => a!.expand([4, 3, 5]), [{ shape: [3, 1] }]);
    await check(([a]) => a!.tile(0, 3), [{ shape: [2, 3] }]);
    await check(([a]) => a!.repeat(1, 2), [{ shape: [2, 3] }]);
  });
});

describe('matmul gradients', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('transA %s, transB %s', (transA, transB) =>
    check(
      ([a, b]) => a!.matmul(b!, { transA, transB }),
      [{ shape: transA ? [5, 3] : [3, 5] }, { shape: transB ? [4, 5] : [5, 4] }],
    ),
  );
  it('with the fused bias and residual epilogue', async () => {
    await check(
      ([a, b, bias, res]) => a!.matmul(b!, { bias: bias!, residual: res! }),
      [{ shape: [2, 3, 5] }, { shape: [5, 4] }, { shape: [4] }, { shape: [2, 3, 4] }],
    );
    await check(
      ([a, b, bias]) => a!.matmul(b!, { transB: true, bias: bias! }),
      [{ shape: [3, 5] }, { shape: [4, 5] }, { shape: [4] }],
    );
  });
  it('batched with broadcast batch dims', async () => {
    await check(([a, b]) => a!.matmul(b!), [{ shape: [2, 3, 4] }, { shape: [4, 5] }]);
    await check(([a, b]) => a!.matmul(b!), [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }]);
  });
  // A batched A times one shared B runs as one matmul over the flattened rows, forward and for dB (the x·W of
  // a linear layer, the tied LM head's x·Eᵀ); a transposed A does not fold.
  it.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('batched A, shared B folded into one matmul: transA %s, transB %s', (transA, transB) =>
    check(
      ([a, b]) => a!.matmul(b!, { transA, transB }),
      [{ shape: transA ? [2, 3, 5, 3] : [2, 3, 3, 5] }, { shape: transB ? [4, 5] : [5, 4] }],
    ),
  );
});

describe('neural-network op gradients', () => {
  it('gather with repeated indices', () =>
    check(
      ([table, idx]) => gather(table!, idx!),
      [{ shape: [6, 3] }, { shape: [2, 3], dtype: 'i32', values: [1, 4, 1, 0, 5, 1] }],
    ));
  it('gather from a row block (indices outside it read zeros and get no gradient)', () =>
    check(
      ([table, idx]) => gather(table!, idx!, { offset: 3 }),
      [{ shape: [4, 3] }, { shape: [2, 4], dtype: 'i32', values: [1, 4, 6, 3, 8, 4, 0, 7] }],
    ));
  it('rotary, both pairings (the tables and positions are constants)', async () => {
    for (const pairing of ['half', 'interleaved'] as const) {
      await check(
        ([x, pos, cos, sin]) => rotary(x!, pos!, cos!, sin!, { headDim: 4, pairing }),
        [
          { shape: [2, 3, 8] },
          { shape: [2, 3], dtype: 'i32', values: [0, 4, 2, 1, 3, 4] },
          { shape: [5, 8], grad: false },
          { shape: [5, 8], grad: false },
        ],
      );
    }
  });
  it('softmax and log-softmax on the last and a leading axis', async () => {
    await check(([a]) => a!.softmax(), [{ shape: [3, 7], lo: -3, hi: 3 }]);
    await check(([a]) => a!.softmax(0), [{ shape: [3, 7], lo: -3, hi: 3 }]);
    await check(([a]) => a!.logSoftmax(), [{ shape: [3, 7], lo: -3, hi: 3 }]);
  });
  it('dropout (the same seed gives the same mask in the gradient)', () =>
    check(([x]) => dropout(x!, 0.3, 11), [{ shape: [5, 7] }]));
  it('layerNorm (input, weight and bias gradients)', () =>
    check(
      ([x, w, b]) => layerNorm(x!, w!, b!),
      [{ shape: [2, 3, 7], lo: -2, hi: 2 }, { shape: [7] }, { shape: [7] }],
    ));
  it('rmsNorm (input and weight gradients; eps of Llama and a large one that matters)', async () => {
    for (const eps of [1e-6, 0.5]) {
      await check(
        ([x, w]) => rmsNorm(x!, w!, eps),
        [
          { shape: [2, 3, 7], lo: -2, hi: 2 },
          { shape: [7], lo: 0.5, hi: 1.5 },
        ],
      );
    }
    // A frozen weight: only the input's gradient flows (the weight's kernel is not run).
    await check(
      ([x, w]) => rmsNorm(x!, w!),
      [
        { shape: [5, 9], lo: -2, hi: 2 },
        { shape: [9], grad: false },
      ],
    );
  });
  it('cross-entropy with ignore_index, mean / sum / none', async () => {
    const specs = [
      { shape: [2, 3, 5], lo: -3, hi: 3 },
      { shape: [2, 3], dtype: 'i32' as const, values: [1, -100, 4, 0, 2, -100] },
    ];
    await check(([x, t]) => crossEntropy(x!, t!), specs);
    await check(([x, t]) => crossEntropy(x!, t!, { reduction: 'sum' }), specs);
    await check(([x, t]) => crossEntropy(x!, t!, { reduction: 'none' }), specs);
    await check(([x, t]) => crossEntropy(x!, t!, { labelSmoothing: 0.1 }), specs);
  });
});
