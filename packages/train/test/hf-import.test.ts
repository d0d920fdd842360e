/**
 * @file Importing Hugging Face model directories: tiny random GPT-2, Llama, Mistral and Qwen2 models written by
 * the PyTorch reference (test/hf-reference/: written from transformers' modeling files, revisions cited there) in
 * F32, F16 and BF16, one file or shards, are loaded by `importHfModel` and run by the project's forward; its
 * logits equal the reference's. The tiny configs vary what matters (tiny.py): GPT-2 has learned positions,
 * Conv1D weights, a fused c_attn and a tied head; Llama and Mistral grouped-query attention (2 kv heads of 4) and
 * an untied head, Mistral rope_theta 1e6; Qwen2 q/k/v biases and a tied head. A `…ForTokenClassification` file
 * becomes a labeler with the same outputs. Refusals name the file and the key. Skipped, with the reason printed,
 * when no python imports torch.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, noGrad, tidy } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importHfModel, isHfModelDir } from '../src/hf/index.ts';
import { assignFromHost, toHost } from '../src/training/weights.ts';
import { TOLERANCE, maxDiff, nested, ourLmLogits, referenceGrid } from './hf-reference/compare.ts';
import { type Arch, type Dtype, makeModel, torchMissing } from './hf-reference/torch.ts';

const skip = torchMissing !== '';
if (skip) console.warn(`hf-import.test.ts: the tests against PyTorch are SKIPPED: ${torchMissing}`);

const root = mkdtempSync(join(tmpdir(), 'reprise-hf-import-'));
let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Token ids < 101 (the tiny vocabulary). */
const IDS = [
  [5, 17, 3, 99, 42, 7, 64, 23, 11, 80],
  [88, 1, 56, 12, 0, 100, 31, 9, 9, 2],
];

const CASES: { arch: Arch; dtype: Dtype; shards: number }[] = [
  { arch: 'gpt2', dtype: 'f32', shards: 1 },
  { arch: 'gpt2', dtype: 'f16', shards: 2 },
  { arch: 'llama', dtype: 'f32', shards: 1 },
  { arch: 'llama', dtype: 'bf16', shards: 3 },
  { arch: 'mistral', dtype: 'f32', shards: 1 },
  { arch: 'qwen2', dtype: 'f32', shards: 1 },
  { arch: 'qwen2', dtype: 'bf16', shards: 2 },
];

describe('importing Hugging Face models: our forward equals the PyTorch reference', () => {
  for (const { arch, dtype, shards } of CASES) {
    it.skipIf(skip)(`${arch}, ${dtype}, ${shards === 1 ? 'one file' : `${shards} shards`}`, async () => {
      const dir = join(root, `${arch}-${dtype}-${shards}`);
      await makeModel({ arch, out: dir, dtype, shards, seed: 3 });
      expect(isHfModelDir(dir)).toBe(true);
      const imported = importHfModel(dir, device);
      try {
        expect(imported.labeler).toBeNull();
        expect(imported.tokenizer).toBeNull();
        const [ours, ref] = [await ourLmLogits(imported.model, IDS), await referenceGrid(dir, IDS)];
        // Not vacuous: the logits are far from zero and differ between positions.
        expect(Math.abs(ref[0]![0]![0]! - ref[0]![1]![0]!)).toBeGreaterThan(1e-2);
        expect(maxDiff(ours, ref)).toBeLessThan(TOLERANCE);
      } finally {
        imported.model.dispose();
      }
    });
  }

  it.skipIf(skip)('a …ForTokenClassification file becomes a labeler with the same outputs', async () => {
    for (const arch of ['gpt2', 'qwen2'] as const) {
      const dir = join(root, `${arch}-tagger`);
      await makeModel({ arch, out: dir, seed: 4, numLabels: 3 });
      const { labeler, labels, model } = importHfModel(dir, device);
      try {
        expect(labels).toEqual(['LABEL_0', 'LABEL_1', 'LABEL_2']);
        const lab = labeler!;
        const layout = lab.layout(IDS);
        const logits = tidy(() => noGrad(() => lab.forward(layout, false)));
        const data = await logits.data();
        logits.dispose();
        const ours = nested(data, IDS.length, layout.baseSeq, 3);
        expect(maxDiff(ours, await referenceGrid(dir, IDS)), arch).toBeLessThan(TOLERANCE);
      } finally {
        if (labeler) labeler.dispose();
        else model.dispose();
      }
    }
  });
});

describe('a token table above the adapter’s bindable-buffer limit', () => {
  it.skipIf(skip)(
    'is imported as row blocks that compute the reference’s logits, and saved whole',
    async () => {
      const dir = join(root, 'gpt2-row-blocks');
      await makeModel({ arch: 'gpt2', out: dir, dtype: 'f32', shards: 1, seed: 3 });
      // The CPU twin with a limit of 64 rows of 24 floats: the [101, 24] token table becomes blocks at rows 0 and 64
      // (ids in IDS fall in both); the largest other parameter, the [64, 24] position table, just fits.
      const limited = await Device.create({ device: 'cpu', cpuMaxBufferBytes: 4 * 24 * 64 });
      const whole = await Device.create({ device: 'cpu' });
      const blocked = importHfModel(dir, limited);
      const reference = importHfModel(dir, whole);
      try {
        expect(Object.keys(blocked.model.params).filter((n) => n.startsWith('embed.tokens'))).toEqual([
          'embed.tokens@rows0',
          'embed.tokens@rows64',
        ]);
        expect(maxDiff(await ourLmLogits(blocked.model, IDS), await referenceGrid(dir, IDS))).toBeLessThan(
          TOLERANCE,
        );
        const saved = await toHost(blocked.model.params);
        expect(saved['embed.tokens']!.shape).toEqual([101, 24]);
        expect([...saved['embed.tokens']!.data]).toEqual([
          ...(await reference.model.params['embed.tokens']!.hostData()),
        ]);
        // Restoring a saved table (the best epoch's weights) fills each block with its rows.
        const block = blocked.model.params['embed.tokens@rows64']!;
        block.assign(limited.zeros(block.shape));
        assignFromHost(blocked.model.params, saved);
        expect([...(await block.hostData())]).toEqual([...saved['embed.tokens']!.data.slice(64 * 24)]);
      } finally {
        limited.destroy();
        whole.destroy();
      }
    },
  );
});

describe('importing Hugging Face models: refusals', () => {
  /** A directory with only a config.json: the config is refused before any weight file is looked for. */
  function configDir(name: string, config: Record<string, unknown>): string {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  }
  const GPT2 = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_embd: 24,
    n_head: 4,
    n_layer: 2,
    n_positions: 64,
    vocab_size: 101,
    activation_function: 'gelu_new',
  };
  const LLAMA = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 24,
    intermediate_size: 40,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    max_position_embeddings: 64,
    vocab_size: 101,
  };
  const refusal = (dir: string) => {
    try {
      importHfModel(dir, device);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`${dir} was imported`);
  };

  it('an unknown architecture: the file, the key and what is supported', () => {
    const dir = configDir('falcon', { ...LLAMA, architectures: ['FalconForCausalLM'], model_type: 'falcon' });
    const msg = refusal(dir);
    expect(msg).toContain(join(dir, 'config.json'));
    expect(msg).toContain('model_type');
    expect(msg).toContain('falcon');
    expect(msg).toMatch(/supported: gpt2, llama, mistral, qwen2/);
    const other = configDir('llama-seq', { ...LLAMA, architectures: ['LlamaForSequenceClassification'] });
    const msg2 = refusal(other);
    expect(msg2).toContain(join(other, 'config.json'));
    expect(msg2).toMatch(
      /architectures: "LlamaForSequenceClassification" is not supported \(supported: GPT2LMHeadModel/,
    );
  });

  it('exact (erf) GELU: the project computes the tanh form only', () => {
    const dir = configDir('gpt2-erf', { ...GPT2, activation_function: 'gelu' });
    const msg = refusal(dir);
    expect(msg).toContain(join(dir, 'config.json'));
    expect(msg).toMatch(/activation_function: "gelu" \(exact GELU, with erf\) is not supported/);
  });

  it('a head_dim other than hidden_size / num_attention_heads', () => {
    const dir = configDir('llama-head-dim', { ...LLAMA, head_dim: 8 });
    const msg = refusal(dir);
    expect(msg).toContain(join(dir, 'config.json'));
    expect(msg).toMatch(/head_dim: 8 × 4 heads = 32 is not hidden_size \(24\)/);
  });

  it("a model past the project's size limit (Mistral-7B's shape)", () => {
    const dir = configDir('mistral-7b', {
      ...LLAMA,
      architectures: ['MistralForCausalLM'],
      model_type: 'mistral',
      hidden_size: 4096,
      intermediate_size: 14336,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      num_hidden_layers: 32,
      max_position_embeddings: 32768,
      vocab_size: 32000,
    });
    expect(refusal(dir)).toMatch(
      new RegExp(
        `^Hugging Face config ${join(dir, 'config.json')}: the config implies 28\\.\\d+ GiB of parameters`,
      ),
    );
  });

  it("the project's own checkpoints are not taken for Hugging Face models", () => {
    const dir = configDir('own', { kind: 'reprise-backbone', model: {}, objective: 'clm', training: {} });
    expect(isHfModelDir(dir)).toBe(false);
    expect(isHfModelDir(join(root, 'nowhere'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).kind).toBe('reprise-backbone');
  });
});
