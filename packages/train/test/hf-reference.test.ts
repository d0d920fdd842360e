/**
 * @file The PyTorch reference of Hugging Face models (test/hf-reference/), checked against itself before other
 * tests trust it: its tiny model directories are what the project's HF reader accepts; re-saving in BF16/F16
 * changes the weights exactly as rounding does and the logits within that precision, sharding not at all;
 * GPT-2's logits equal a float64 TypeScript recomputation; grouped-query attention equals the same model with
 * its key/value heads duplicated; the mask is causal; LoRA
 * gradients are zero where they must be and match central differences in float64. Skipped, with the reason
 * printed, when no python imports torch.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HF_WEIGHTS_FILE,
  encodeHfSafetensors,
  loadHfConfig,
  matchHfTensors,
  readHfWeightHeaders,
  readHfWeights,
} from '../src/hf/index.ts';
import type { HostTensor } from '../src/io/index.ts';
import { TINY_IDS } from './hf-reference/compare.ts';
import { gpt2LogitsF64 } from './hf-reference/gpt2-f64.ts';
import {
  type Arch,
  type Dtype,
  type LoraGrads,
  makeModel,
  referenceLogits,
  referenceLoraGrads,
  resaveModel,
  torchMissing,
} from './hf-reference/torch.ts';

const skip = torchMissing !== '';
if (skip) console.warn(`hf-reference.test.ts: every test here is SKIPPED: ${torchMissing}`);
const ARCHS: Arch[] = ['gpt2', 'llama', 'mistral', 'qwen2'];

const root = mkdtempSync(join(tmpdir(), 'reprise-hf-reference-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const dirs = new Map<string, string>();
/** The tiny model of `arch` (seed 1, f32, one file), made once. */
async function model(arch: Arch): Promise<string> {
  let dir = dirs.get(arch);
  if (!dir) {
    dir = join(root, arch);
    await makeModel({ arch, out: dir, seed: 1 });
    dirs.set(arch, dir);
  }
  return dir;
}

/** Every tensor of a model directory as the project reads it (F16/BF16 widened to F32). */
function readAll(dir: string): Record<string, HostTensor> {
  const headers = readHfWeightHeaders(dir);
  return readHfWeights(headers, new Set(Object.keys(headers.listing)));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const maxAbs = (a: ArrayLike<number>) => maxAbsDiff(a, new Float32Array(a.length));

/** f32 → bf16 → f32 by round-to-nearest-even, as torch's .to(torch.bfloat16) does (no NaNs here). */
function roundBf16(values: Float32Array): Float32Array {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  for (let i = 0; i < bits.length; i++)
    bits[i] = ((bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 0) & 0xffff0000;
  return new Float32Array(bits.buffer);
}

const IDS = TINY_IDS;

describe('the PyTorch reference: model directories', () => {
  it.skipIf(skip)(
    'writes directories the project reads: config → spec, tensor names and shapes',
    async () => {
      const expected: Record<Arch, Record<string, unknown>> = {
        gpt2: {
          architecture: 'GPT2LMHeadModel',
          dFF: 40,
          tiedHead: true,
          norm: { kind: 'layer', eps: 1e-5 },
        },
        llama: { architecture: 'LlamaForCausalLM', kvHeads: 2, tiedHead: false, qkvBias: false },
        mistral: {
          architecture: 'MistralForCausalLM',
          slidingWindow: 4096,
          positions: { kind: 'rotary', theta: 1e6, convention: 'half-split' },
        },
        qwen2: { architecture: 'Qwen2ForCausalLM', qkvBias: true, oBias: false, tiedHead: true },
      };
      for (const arch of ARCHS) {
        const dir = await model(arch);
        const spec = loadHfConfig(join(dir, 'config.json'));
        expect(spec, arch).toMatchObject({
          vocabSize: 101,
          dModel: 24,
          layers: 2,
          heads: 4,
          ...expected[arch],
        });
        const check = matchHfTensors(spec, readHfWeightHeaders(dir).listing, dir);
        expect(check.ignored, arch).toEqual([]);
      }
      const tagger = join(root, 'llama-tagger');
      await makeModel({ arch: 'llama', out: tagger, numLabels: 3 });
      const spec = loadHfConfig(join(tagger, 'config.json'));
      expect(spec.head).toEqual({ kind: 'token-classification', labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'] });
      matchHfTensors(spec, readHfWeightHeaders(tagger).listing, tagger);
      expect((await referenceLogits(tagger, IDS)).shape).toEqual([2, 8, 3]);
    },
  );

  // Rounding a weight errs by at most the unit roundoff u (bf16: 2^-9, f16: 2^-12), relative; through two blocks
  // the logits move by a few u of their own size (measured: 1.8 to 2.3 u of max |logit|).
  const UNIT_ROUNDOFF: Record<Dtype, number> = { f32: 0, bf16: 2 ** -9, f16: 2 ** -12 };
  for (const arch of ['gpt2', 'qwen2'] as const) {
    it.skipIf(skip)(
      `${arch}: BF16 and F16 copies round each weight and stay within tolerance; shards change nothing`,
      async () => {
        const f32 = await model(arch);
        const base = await referenceLogits(f32, IDS);
        const weights = readAll(f32);
        for (const dtype of ['bf16', 'f16'] as const) {
          const dir = join(root, `${arch}-${dtype}`);
          await resaveModel(f32, dir, dtype);
          const headers = readHfWeightHeaders(dir);
          expect(new Set(headers.files.flatMap((f) => f.entries.map((e) => e.dtype)))).toEqual(
            new Set([dtype.toUpperCase()]),
          );
          if (dtype === 'bf16') {
            const narrowed = readAll(dir);
            for (const [name, t] of Object.entries(weights))
              expect(narrowed[name].data, name).toEqual(roundBf16(t.data as Float32Array));
          }
          const diff = maxAbsDiff((await referenceLogits(dir, IDS)).data, base.data);
          const tolerance = 8 * UNIT_ROUNDOFF[dtype] * maxAbs(base.data);
          expect(diff, `${dtype} vs f32, logits up to ${maxAbs(base.data)}`).toBeLessThan(tolerance);
          expect(diff, `${dtype} copy identical to f32: the weights were not narrowed`).toBeGreaterThan(0);
        }
        const sharded = join(root, `${arch}-sharded`);
        await resaveModel(f32, sharded, 'f32', 3);
        const headers = readHfWeightHeaders(sharded);
        expect(headers.files).toHaveLength(3);
        expect(headers.index).toBeDefined();
        expect((await referenceLogits(sharded, IDS)).data).toEqual(base.data);
      },
    );
  }
});

describe('the PyTorch reference: attention', () => {
  it.skipIf(skip)(
    'grouped-query attention equals the model with each kv head repeated for its query group',
    async () => {
      const gqa = await model('llama');
      const config = JSON.parse(readFileSync(join(gqa, 'config.json'), 'utf8'));
      const { num_attention_heads: heads, num_key_value_heads: kv, hidden_size: d } = config;
      const headDim = d / heads;
      expect(kv).toBeLessThan(heads);
      const weights = readAll(gqa);
      /** The model with `heads` kv heads, query head h reading old kv head `source(h)`. */
      const expanded = async (name: string, source: (h: number) => number) => {
        const dir = join(root, name);
        mkdirSync(dir);
        const tensors: Record<string, HostTensor> = {};
        for (const [n, t] of Object.entries(weights)) {
          if (!/\.self_attn\.[kv]_proj\.weight$/.test(n)) {
            tensors[n] = t;
            continue;
          }
          const rows = headDim * d;
          const data = new Float32Array(heads * rows);
          for (let h = 0; h < heads; h++)
            data.set(t.data.subarray(source(h) * rows, (source(h) + 1) * rows), h * rows);
          tensors[n] = { dtype: 'F32', shape: [heads * headDim, d], data };
        }
        writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: heads }));
        writeFileSync(join(dir, HF_WEIGHTS_FILE), encodeHfSafetensors(tensors));
        return (await referenceLogits(dir, IDS)).data;
      };
      const base = (await referenceLogits(gqa, IDS)).data;
      const groups = heads / kv;
      // repeat_kv: kv head j serves query heads j·groups … (j+1)·groups − 1.
      expect(
        maxAbsDiff(await expanded('llama-kv-repeated', (h) => Math.floor(h / groups)), base),
      ).toBeLessThan(1e-5);
      // The other assignment (kv head h mod kv) is a different model: the comparison can tell them apart.
      expect(maxAbsDiff(await expanded('llama-kv-tiled', (h) => h % kv), base)).toBeGreaterThan(1e-2);
    },
  );

  it.skipIf(skip)(
    'gpt2: logits equal an independent float64 recomputation in TypeScript to 1e-4',
    async () => {
      const dir = await model('gpt2');
      const { shape, data } = await referenceLogits(dir, IDS);
      const [, T, V] = shape;
      const weights = readAll(dir);
      for (const [b, ids] of IDS.entries()) {
        const expected = gpt2LogitsF64(weights, { d: 24, heads: 4, layers: 2, eps: 1e-5 }, ids);
        for (let t = 0; t < T; t++) {
          const got = data.subarray((b * T + t) * V, (b * T + t + 1) * V);
          expect(maxAbsDiff(got, expected[t]), `sequence ${b}, position ${t}`).toBeLessThan(1e-4);
        }
      }
    },
  );

  for (const arch of ARCHS) {
    it.skipIf(skip)(`${arch}: the logits at position t do not depend on the tokens after t`, async () => {
      const cut = 4;
      const changed = [...IDS[0].slice(0, cut), 1, 2, 8, 50];
      const { shape, data } = await referenceLogits(await model(arch), [IDS[0], changed]);
      const [, T, V] = shape;
      const at = (b: number, t: number) => data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      for (let t = 0; t < T; t++) {
        const diff = maxAbsDiff(at(0, t), at(1, t));
        if (t < cut) expect(diff, `position ${t}, before the change`).toBeLessThanOrEqual(1e-6);
        else expect(diff, `position ${t}, after the change`).toBeGreaterThan(1e-2);
      }
    });
  }
});

describe('the PyTorch reference: LoRA gradients', () => {
  const ids = [
    [3, 14, 15, 92, 65, 35],
    [89, 79, 32, 38, 46, 26],
  ];
  const labels = [
    [0, 1, 2, -100, 1, 0],
    [2, 2, -100, 0, 1, 1],
  ];
  const argmaxAbs = (v: number[]) =>
    v.reduce((best, x, i) => (Math.abs(x) > Math.abs(v[best]) ? i : best), 0);

  it.skipIf(skip)(
    'with B = 0: no gradient for A, some for B and the head; PEFT names and shapes',
    async () => {
      const r = await referenceLoraGrads({
        dir: await model('llama'),
        ids,
        labels,
        rank: 4,
        alpha: 8,
        targets: ['q', 'k', 'v', 'o'],
      });
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.scaling).toBe(2);
      const names = Object.keys(r.grads);
      expect(names).toHaveLength(2 * 4 * 2 + 2);
      expect(r.params['model.layers.1.self_attn.k_proj.lora_A.weight'].shape).toEqual([4, 24]);
      expect(r.params['model.layers.1.self_attn.k_proj.lora_B.weight'].shape).toEqual([12, 4]);
      expect(r.params['model.layers.0.self_attn.o_proj.lora_B.weight'].shape).toEqual([24, 4]);
      expect(r.params['score.weight'].shape).toEqual([3, 24]);
      for (const name of names) {
        const g = r.grads[name].data;
        if (name.includes('lora_A')) expect(maxAbs(g), name).toBe(0);
        else expect(maxAbs(g), name).toBeGreaterThan(1e-6);
      }
    },
  );

  /** Checks d loss / d one element against a float64 central difference, at the element of largest gradient. */
  async function finiteDifference(dir: string, targets: string[], name: string): Promise<void> {
    const opts = {
      dir,
      ids,
      labels,
      rank: 2,
      alpha: 4,
      targets,
      bInit: 'normal' as const,
      precision: 'f64' as const,
    };
    const r: LoraGrads = await referenceLoraGrads(opts);
    expect(Object.keys(r.grads)).toContain(name);
    const i = argmaxAbs(r.grads[name].data);
    const g = r.grads[name].data[i];
    expect(Math.abs(g), `${name}: gradient too small to check`).toBeGreaterThan(1e-4);
    const h = 1e-5;
    const loss = async (delta: number) =>
      (await referenceLoraGrads({ ...opts, perturb: [[name, i, delta]] })).loss;
    const fd = ((await loss(h)) - (await loss(-h))) / (2 * h);
    expect(Math.abs(fd - g), `${name}[${i}]: autograd ${g}, central difference ${fd}`).toBeLessThan(
      1e-7 + 1e-6 * Math.abs(g),
    );
  }

  it.skipIf(skip)('llama: A and B gradients match float64 central differences (B nonzero)', async () => {
    const dir = await model('llama');
    await finiteDifference(dir, ['q', 'k', 'v', 'o'], 'model.layers.0.self_attn.q_proj.lora_A.weight');
    await finiteDifference(dir, ['q', 'k', 'v', 'o'], 'model.layers.1.self_attn.v_proj.lora_B.weight');
  });

  it.skipIf(skip)(
    'gpt2: an adapter on the k third of the fused c_attn matches float64 central differences',
    async () => {
      await finiteDifference(
        await model('gpt2'),
        ['q', 'k', 'v', 'o'],
        'transformer.h.0.attn.c_attn.k.lora_B.weight',
      );
    },
  );
});
