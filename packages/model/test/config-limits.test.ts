/**
 * A config is only data: sizes past the stated limits are refused by makeConfig / validateConfig at once, before
 * anything derived from them is computed or allocated.
 */
import { describe, expect, it } from 'vitest';
import {
  CONFIG_FIELD_LIMITS,
  MODEL_BYTES_LIMIT,
  configBytes,
  makeConfig,
  paramShapes,
  parameterCount,
  rowBlockLayout,
} from '../src/index.ts';

describe('config limits', () => {
  it.each([
    ['layers', 65536],
    ['maxPositions', 4_000_000],
    ['maxPositions', 2147483647],
    ['vocabSize', 2147483647],
    ['dModel', 1 << 20],
  ])('refuses %s = %d at once', (key, value) => {
    const started = performance.now();
    expect(() => makeConfig({ vocabSize: 300, [key]: value })).toThrow(
      `config.${key} must be at most ${CONFIG_FIELD_LIMITS[key as keyof typeof CONFIG_FIELD_LIMITS]}, got ${value}`,
    );
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('refuses sizes each within their cap whose bytes together exceed the limit', () => {
    expect(() => makeConfig({ vocabSize: 1 << 20, dModel: 1024, heads: 8 })).toThrow(
      /the config implies 4\.\d+ GiB of parameters and position tables; the limit is 2\.00 GiB/,
    );
  });

  it('configBytes counts every parameter (f32) plus the rotary tables', () => {
    for (const positions of ['rotary', 'learned'] as const) {
      const cfg = makeConfig({
        vocabSize: 300,
        dModel: 16,
        heads: 2,
        layers: 3,
        maxPositions: 64,
        positions,
      });
      const params = Object.values(paramShapes(cfg)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
      expect(parameterCount(cfg)).toBe(params);
      const tables = positions === 'rotary' ? 2 * 64 * 16 : 0;
      expect(configBytes(cfg)).toBe(4 * (params + tables));
    }
    expect(MODEL_BYTES_LIMIT).toBe(2 ** 31);
  });
});

describe('parameters against the adapter’s largest bindable buffer', () => {
  const llvmpipe = 2 ** 27; // maxStorageBufferBindingSize of Mesa 22.3's llvmpipe (128 MiB)
  it("splits GPT-2 small's token table (154 MB) into row blocks for 128 MiB, and holds SmolLM-135M's (113 MB) whole", () => {
    const gpt2 = makeConfig({ vocabSize: 50257, dModel: 768, heads: 12, layers: 12, positions: 'learned' });
    // 2^27 bytes / (768 × 4 bytes per row) = 43,690.7 rows per block.
    const layout = rowBlockLayout(gpt2, llvmpipe);
    expect(layout['embed.tokens']).toEqual([0, 43690]);
    expect(Object.entries(layout).filter(([, starts]) => starts.length > 1)).toHaveLength(1);
    const untied = rowBlockLayout(makeConfig({ ...gpt2, tieEmbeddings: false }), llvmpipe);
    expect(untied['lmHead.weight']).toEqual([0, 43690]);
    const smol = makeConfig({ vocabSize: 49152, dModel: 576, heads: 9, kvHeads: 3, layers: 30, dFF: 1536 });
    expect(Object.values(rowBlockLayout(smol, llvmpipe)).every((s) => s.length === 1)).toBe(true);
    expect(rowBlockLayout(smol, 49152 * 576 * 4 - 1)['embed.tokens']).toEqual([0, 49151]);
  });

  it('refuses, naming it, a parameter other than the tables above the limit, and a row above it', () => {
    const cfg = makeConfig({ vocabSize: 300, dModel: 16, heads: 2, layers: 1, dFF: 64 });
    // The attention's [16, 16] matrices fit in 1024 bytes, the MLP's [16, 64] does not.
    expect(() => rowBlockLayout(cfg, 4 * 16 * 16)).toThrow(
      "parameter blocks.0.mlp.fc.weight [16, 64] is 4096 bytes, above this adapter's largest bindable buffer (maxStorageBufferBindingSize, 1024 bytes); only embed.tokens and lmHead.weight can be split into row blocks",
    );
    expect(() => rowBlockLayout(cfg, 4 * 16 - 1)).toThrow(
      "parameter embed.tokens [300, 16]: one row (64 bytes) is above this adapter's largest bindable buffer (maxStorageBufferBindingSize, 63 bytes)",
    );
  });
});
