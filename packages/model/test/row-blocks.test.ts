/**
 * Row blocks (src/row-blocks.ts): a token table or LM head above the adapter's bindable-buffer limit, held as
 * blocks of rows, computes what the whole table computes. On the CPU twin (whose limit a test can set) the
 * blocked model's LM loss is bit-identical to the whole model's (a lookup adds exact zeros, the logits are the
 * same dot products) and its gradients equal to float64 rounding; on WebGPU, blocks made on the host match
 * the whole model on the same device to f32 rounding. And the constructor refuses blocks that do not tile a table.
 */
import { Device, type Tensor, tidy } from '@reprise/core';
import { describe, expect, it } from 'vitest';
import { expectClose, useDevices } from '../../core/test/helpers.ts';
import { Transformer, type TransformerConfig, parseRowBlock, rowBlockName } from '../src/index.ts';
import { smallConfig } from './helpers.ts';

const devices = useDevices();
/**
 * The gradients' float64 rounding: the hidden states' gradient from the head is a sum over blocks of the blocks'
 * matmuls instead of one matmul's sum over the vocabulary (another association; measured ≤ 4e-12 relative),
 * far below f32's 6e-8.
 */
const F64_ROUNDING = { rtol: 1e-10, atol: 1e-16 };
/**
 * vocab 300, d 16: a limit of 32 rows (2048 bytes, which the [16, 32] MLP matrices, the largest others, just
 * fit) gives blocks at rows 0, 32, …, 288 (the last of 12 rows).
 */
const ROWS_PER_BLOCK = 32;
const STARTS = [0, 32, 64, 96, 128, 160, 192, 224, 256, 288];
const small = (over: Partial<TransformerConfig> = {}) =>
  smallConfig({ vocabSize: 300, layers: 2, maxPositions: 16, ...over });
const CONFIGS: [string, TransformerConfig][] = [
  ['tied head, rotary', small()],
  ['untied head, learned positions', small({ tieEmbeddings: false, positions: 'learned' })],
];

/**
 * Two sequences (lengths 8 and 5, padded) with next-token targets; ids from every block before the last
 * position (the last token of a causal sequence gets no gradient).
 */
function lmBatch(dev: Device) {
  const seqs = [
    [3, 299, 40, 70, 100, 130, 160, 5],
    [200, 230, 290, 260, 7],
  ];
  const T = 8;
  const padded = (row: number[], pad: number) => [...row, ...Array(T - row.length).fill(pad)];
  return {
    tokens: dev.tensor(
      seqs.flatMap((s) => padded(s, 0)),
      [2, T],
      'i32',
    ),
    targets: dev.tensor(
      seqs.flatMap((s) => padded(s.slice(1), -100)),
      [2, T],
      'i32',
    ),
    lengths: dev.tensor(
      seqs.map((s) => s.length),
      [2],
      'i32',
    ),
    positions: dev.tensor(
      seqs.flatMap(() => [...Array(T).keys()]),
      [2, T],
      'i32',
    ),
  };
}

/** The loss and every parameter's gradient, tables joined (blocks concatenated by row). */
async function lossAndGrads(model: Transformer): Promise<{ loss: number; grads: Map<string, number[]> }> {
  const b = lmBatch(model.device);
  const loss = model.lmLoss(b.tokens, b.targets, { lengths: b.lengths, positions: b.positions });
  loss.backward();
  const grads = new Map<string, number[]>();
  for (const [name, t] of Object.entries(model.params)) {
    const whole = parseRowBlock(name)?.name ?? name;
    grads.set(whole, [...(grads.get(whole) ?? []), ...(await (t.grad as Tensor).hostData())]);
  }
  return { loss: await loss.item(), grads };
}

/** The same weights, the tables as host-made row blocks of `rows` rows. */
async function blocked(dev: Device, from: Transformer, rows: number): Promise<Transformer> {
  const params: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(from.params)) {
    const data = await t.hostData();
    if (name !== 'embed.tokens' && name !== 'lmHead.weight') {
      params[name] = dev.tensor(data, t.shape).setRequiresGrad();
      continue;
    }
    const [vocab, d] = t.shape as [number, number];
    for (let start = 0; start < vocab; start += rows) {
      const n = Math.min(rows, vocab - start);
      params[rowBlockName(name, start)] = dev
        .tensor(data.slice(start * d, (start + n) * d), [n, d])
        .setRequiresGrad();
    }
  }
  return new Transformer(dev, from.config, params);
}

describe('row blocks', () => {
  it.each(CONFIGS)(
    '%s: CPU, blocked by the adapter limit, gives the same loss and gradients',
    async (_, cfg) => {
      const limit = 4 * cfg.dModel * ROWS_PER_BLOCK;
      const limited = await Device.create({ device: 'cpu', poison: true, cpuMaxBufferBytes: limit });
      const whole = Transformer.create(devices.cpu, cfg, 5);
      const split = Transformer.create(limited, cfg, 5);
      const tables = cfg.tieEmbeddings ? ['embed.tokens'] : ['embed.tokens', 'lmHead.weight'];
      expect(Object.keys(split.params).filter((n) => n.includes('@'))).toEqual(
        tables.flatMap((t) => STARTS.map((s) => rowBlockName(t, s))),
      );
      // The same draws: the blocks hold the whole model's rows.
      const tokens = await whole.params['embed.tokens']!.hostData();
      expect([...(await split.params['embed.tokens@rows288']!.hostData())]).toEqual(
        [...tokens].slice(288 * cfg.dModel),
      );
      // The optimizer's sets see the blocks by their table's name.
      expect(split.noDecay()).toContain(split.params['embed.tokens@rows96']);
      expect(Object.keys(split.usedParams(cfg.layers, false)).some((n) => n.startsWith('lmHead'))).toBe(
        false,
      );
      const a = await lossAndGrads(whole);
      const b = await lossAndGrads(split);
      expect(b.loss).toBe(a.loss);
      expect([...b.grads.keys()]).toEqual([...a.grads.keys()]);
      for (const [name, g] of a.grads) expectClose(b.grads.get(name)!, g, F64_ROUNDING, name);
      // Every block's gradient is non-zero (the batch has ids in each).
      for (const [name, t] of Object.entries(split.params))
        if (name.includes('@'))
          expect(
            (await (t.grad as Tensor).hostData()).some((v) => v !== 0),
            name,
          ).toBe(true);
      limited.destroy();
    },
  );

  it.each(CONFIGS)(
    '%s: WebGPU, host-made blocks match the whole table on the same device',
    async (_, cfg) => {
      const dev = devices.gpu;
      const whole = Transformer.create(dev, cfg, 5);
      const split = await blocked(dev, whole, ROWS_PER_BLOCK);
      const a = await lossAndGrads(whole);
      const b = await lossAndGrads(split);
      // The same f32 operations but for the head's matmuls, per block instead of over the whole vocabulary:
      // other sum orders, whose rounding the backward carries on (measured ≤ 3e-5 relative, on a bias gradient).
      expectClose([b.loss], [a.loss], { rtol: 1e-6, atol: 0 }, 'loss');
      for (const [name, g] of a.grads) expectClose(b.grads.get(name)!, g, { rtol: 1e-4, atol: 1e-6 }, name);
    },
  );

  it('refuses blocks that do not tile their table, a table given twice, and blocks of another parameter', () => {
    const dev = devices.cpu;
    const cfg = small();
    const model = Transformer.create(dev, cfg, 5);
    const { 'embed.tokens': tokens, ...rest } = model.params;
    const rows = (start: number, n: number) => tidy(() => tokens!.slice([start], [start + n]));
    const make = (extra: Record<string, Tensor>) => () => new Transformer(dev, cfg, { ...rest, ...extra });
    expect(make({ 'embed.tokens@rows0': rows(0, 100), 'embed.tokens@rows120': rows(120, 180) })).toThrow(
      'parameter embed.tokens: row block embed.tokens@rows120 [180, 16] does not continue the blocks before it (expected its first row to be 100, rows of shape [16])',
    );
    expect(make({ 'embed.tokens@rows0': rows(0, 100), 'embed.tokens@rows100': rows(100, 100) })).toThrow(
      "Transformer: parameter 'embed.tokens' must be [300, 16], got [200, 16] in 2 row blocks",
    );
    expect(make({ 'embed.tokens': tokens!, 'embed.tokens@rows0': rows(0, 300) })).toThrow(
      'parameter embed.tokens is given both whole and as row blocks',
    );
    const { 'norm.weight': _, ...noNorm } = model.params;
    const normBlocks = () =>
      new Transformer(dev, cfg, { ...noNorm, 'norm.weight@rows0': model.params['norm.weight']! });
    expect(normBlocks).toThrow(
      'parameter norm.weight is given as row blocks; only embed.tokens and lmHead.weight can be',
    );
  });
});
