/**
 * @file Exporting as Hugging Face directories, checked by the PyTorch reference (test/hf-reference/, written from
 * transformers' modeling files, revisions cited there): the exported directory's logits, computed by the
 * reference, equal the project's own forward. Project models: a GPT-2 block with learned positions →
 * GPT2LMHeadModel, a Llama block (GQA, untied head) → LlamaForCausalLM, a Qwen2 block (q/k/v biases only, tied) →
 * Qwen2ForCausalLM, taggers → …ForTokenClassification (with SR r = 1: the reference fed the input twice and read
 * at the last copy; with early exit: only the layers the head reads). Imported models round-trip through
 * `reprise export` to their own architecture; a project checkpoint exports through the CLI too. Blocks no HF
 * architecture computes are refused with the reason. Skipped, with the reason printed, when no python imports
 * torch (the refusals still run).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, noGrad, tidy } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import { SequenceLabeler, Transformer, type TransformerConfig, makeConfig, paramSpecs } from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportHf } from '../src/hf/export.ts';
import { HF_WEIGHTS_FILE, importHfModel, loadHfConfig } from '../src/hf/index.ts';
import { type HostTensor, hostTensor, readSafetensorsHeader } from '../src/io/index.ts';
import { trainBpe } from '../src/tokenizer/index.ts';
import { saveBackbone } from '../src/training/backbone-checkpoint.ts';
import { fromHost } from '../src/training/weights.ts';
import { reprise } from './cli-helpers.ts';
import { TINY_IDS, TOLERANCE, maxDiff, nested, ourLmLogits, referenceGrid } from './hf-reference/compare.ts';
import { makeModel, torchMissing } from './hf-reference/torch.ts';
import { llama2Json } from './hf-tokenizer-fixtures.ts';

const skip = torchMissing !== '';
if (skip) console.warn(`hf-export.test.ts: the tests against PyTorch are SKIPPED: ${torchMissing}`);

const root = mkdtempSync(join(tmpdir(), 'reprise-hf-export-'));
let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const IDS = TINY_IDS;

/** Seeded standard normals (mulberry32 + Box–Muller). */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Weights at tiny.py's scale (embeddings O(1), matrices 1/√fan_in, gains 1 ± 0.1, biases ± 0.1): at the
 * project's own initialization (std 0.02) the logits hardly depend on positions or masks.
 */
function randomWeights(cfg: TransformerConfig, seed: number): Record<string, HostTensor> {
  const z = normals(seed);
  const out: Record<string, HostTensor> = {};
  for (const [name, { shape, init }] of Object.entries(paramSpecs(cfg))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const scale =
      init.kind === 'normal' && !name.startsWith('embed.')
        ? 1 / Math.sqrt(shape[0]!)
        : init.kind === 'normal'
          ? 1
          : 0.1;
    const shift = init.kind === 'ones' ? 1 : 0;
    out[name] = hostTensor(
      shape,
      Float32Array.from({ length: n }, () => shift + scale * z()),
    );
  }
  return out;
}

const TINY = { vocabSize: 101, dModel: 24, heads: 4, layers: 2, dFF: 40, maxPositions: 64, dropout: 0 };
const GPT2_BLOCK = makeConfig({ ...TINY, positions: 'learned' });
const LLAMA_BLOCK = makeConfig({
  ...TINY,
  norm: 'rms',
  normEps: 1e-6,
  mlp: 'swiglu',
  kvHeads: 2,
  ropeTheta: 500000,
  rotary: 'half',
  qkvBias: false,
  attnOutBias: false,
  mlpBias: false,
  tieEmbeddings: false,
});
const QWEN2_BLOCK = makeConfig({ ...LLAMA_BLOCK, qkvBias: true, tieEmbeddings: true, ropeTheta: 1e6 });

function model(cfg: TransformerConfig, seed: number) {
  const weights = randomWeights(cfg, seed);
  return { weights, model: new Transformer(device, cfg, fromHost(device, weights)) };
}

describe('export of project models: the PyTorch reference computes our logits', () => {
  const cases = [
    ['GPT-2 block, learned positions', GPT2_BLOCK, 'GPT2LMHeadModel'],
    ['Llama block, GQA, untied head', LLAMA_BLOCK, 'LlamaForCausalLM'],
    ['Qwen2 block, q/k/v biases, tied head', QWEN2_BLOCK, 'Qwen2ForCausalLM'],
  ] as const;
  for (const [name, cfg, arch] of cases) {
    it.skipIf(skip)(`${name} → ${arch}`, async () => {
      const { weights, model: m } = model(cfg, 7);
      const out = join(root, arch);
      exportHf(out, { config: cfg, weights, tokenizer: null, source: name });
      expect(loadHfConfig(join(out, 'config.json')).architecture).toBe(arch);
      expect(readSafetensorsHeader(join(out, HF_WEIGHTS_FILE)).metadata).toEqual({ format: 'pt' });
      const ref = await referenceGrid(out, IDS);
      expect(Math.abs(ref[0]![0]![0]! - ref[0]![1]![0]!)).toBeGreaterThan(1e-2);
      expect(maxDiff(await ourLmLogits(m, IDS), ref)).toBeLessThan(TOLERANCE);
      m.dispose();
    });
  }

  /** Our labeler's label logits of IDS, nested. */
  async function labelerLogits(labeler: SequenceLabeler, classes: number) {
    const layout = labeler.layout(IDS);
    const logits = tidy(() => noGrad(() => labeler.forward(layout, false)));
    const data = await logits.data();
    logits.dispose();
    return nested(data, IDS.length, layout.baseSeq, classes);
  }
  const LABELS = ['O', 'B-X', 'I-X'];
  const head = (seed: number) => {
    const z = normals(seed);
    return {
      'head.weight': hostTensor(
        [24, 3],
        Float32Array.from({ length: 72 }, () => z() / Math.sqrt(24)),
      ),
      'head.bias': hostTensor(
        [3],
        Float32Array.from({ length: 3 }, () => 0.1 * z()),
      ),
    };
  };

  it.skipIf(skip)('an SR r = 1 tagger → LlamaForTokenClassification fed the input twice', async () => {
    const { weights, model: m } = model(LLAMA_BLOCK, 8);
    const h = head(9);
    const labeler = new SequenceLabeler(m, { numLabels: 3, r: 1 }, fromHost(device, h));
    const out = join(root, 'sr-tagger');
    exportHf(out, {
      config: LLAMA_BLOCK,
      weights: { ...weights, ...h },
      tagger: { labels: LABELS, settings: { r: 1 } },
      tokenizer: null,
      source: 'sr tagger',
    });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForTokenClassification'],
      id2label: { 0: 'O', 1: 'B-X', 2: 'I-X' },
      label2id: { O: 0, 'B-X': 1, 'I-X': 2 },
      reprise: { sequence_repetition: 1 },
    });
    const twice = await referenceGrid(
      out,
      IDS.map((r) => [...r, ...r]),
    );
    const lastCopy = twice.map((rows) => rows.slice(IDS[0]!.length));
    expect(maxDiff(await labelerLogits(labeler, 3), lastCopy)).toBeLessThan(TOLERANCE);
    labeler.dispose();
  });

  it.skipIf(skip)(
    'an early-exit tagger (head on block 1 of 2) → GPT-2 with the first block only',
    async () => {
      const { weights, model: m } = model(GPT2_BLOCK, 10);
      const h = head(11);
      const labeler = new SequenceLabeler(m, { numLabels: 3, layer: 1 }, fromHost(device, h));
      const out = join(root, 'exit-tagger');
      const { spec } = exportHf(out, {
        config: GPT2_BLOCK,
        weights: { ...weights, ...h },
        tagger: { labels: LABELS, settings: { layer: 1 } },
        tokenizer: null,
        source: 'early-exit tagger',
      });
      expect([spec.architecture, spec.layers]).toEqual(['GPT2ForTokenClassification', 1]);
      expect(maxDiff(await labelerLogits(labeler, 3), await referenceGrid(out, IDS))).toBeLessThan(TOLERANCE);
      labeler.dispose();
    },
  );
});

describe('export: refusals say why', () => {
  /** The message of the refusal, which names the checkpoint. */
  const refusal = (cfg: TransformerConfig, tagger?: Parameters<typeof exportHf>[1]['tagger']) => {
    const weights = randomWeights(cfg, 1);
    if (tagger) Object.assign(weights, { 'head.weight': hostTensor([24, 1], new Float32Array(24)) });
    let message = '';
    try {
      exportHf(join(root, 'refused'), { config: cfg, weights, tagger, tokenizer: null, source: 'ckpt' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^cannot export ckpt as a Hugging Face model: /);
    expect(existsSync(join(root, 'refused'))).toBe(false);
    return message;
  };
  it("the project's default rotary block (LayerNorm + GELU)", () => {
    expect(refusal(makeConfig(TINY))).toMatch(
      /need RMSNorm \(found LayerNorm\), a SwiGLU MLP \(found GELU\); no Hugging Face architecture computes/,
    );
  });
  it('interleaved rotary pairs, an encoder, a learned-position model with SwiGLU, unmasked layers', () => {
    expect(refusal({ ...LLAMA_BLOCK, rotary: 'interleaved' })).toMatch(
      /half-split convention \(found 'interleaved'/,
    );
    expect(refusal({ ...GPT2_BLOCK, kind: 'encoder' })).toMatch(/it is an encoder/);
    expect(refusal({ ...GPT2_BLOCK, mlp: 'swiglu' })).toMatch(
      /export as GPT-2.*lack a GELU MLP \(found SwiGLU\)/,
    );
    expect(refusal(LLAMA_BLOCK, { labels: ['A'], settings: { mask: 'unmask-full' } })).toMatch(
      /removes the causal mask/,
    );
    expect(refusal(LLAMA_BLOCK, { labels: ['A'], settings: { r: 1, positions: 'reset' } })).toMatch(
      /--positions reset/,
    );
  });
});

describe('reprise export --format hf', () => {
  it.skipIf(skip)(
    'an imported Mistral model round-trips to MistralForCausalLM with its tokenizer',
    async () => {
      const src = join(root, 'mistral-src');
      const vocab = 343; // llama2Json's tokens
      await makeModel({
        arch: 'mistral',
        out: src,
        seed: 5,
        dtype: 'bf16',
        shards: 2,
        tinyConfig: { vocab_size: vocab },
      });
      writeFileSync(join(src, 'tokenizer.json'), JSON.stringify(llama2Json()));
      const out = join(root, 'mistral-out');
      const r = await reprise('export', '--format', 'hf', '--model', src, '--out', out);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('MistralForCausalLM (2 layers, hidden 24)');
      expect(loadHfConfig(join(out, 'config.json'))).toEqual(loadHfConfig(join(src, 'config.json')));
      expect(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'))).toEqual(llama2Json());
      const imported = importHfModel(src, device);
      const ids = IDS.map((row) => row.map((id) => (id * 3) % vocab));
      expect(maxDiff(await ourLmLogits(imported.model, ids), await referenceGrid(out, ids))).toBeLessThan(
        TOLERANCE,
      );
      imported.model.dispose();
    },
  );

  it.skipIf(skip)(
    "a project backbone checkpoint → GPT2LMHeadModel with the project's tokenizer",
    async () => {
      const words = 'the cat sat on the mat and the dog sat on the log'.split(' ');
      const tokenizer = trainBpe([words, words], { vocabSize: 280, minFrequency: 1 });
      const cfg = makeConfig({ ...GPT2_BLOCK, vocabSize: tokenizer.vocabSize });
      const { model: m } = model(cfg, 12);
      const ckpt = join(root, 'backbone');
      await saveBackbone(ckpt, m, tokenizer, {
        kind: 'reprise-backbone',
        model: cfg,
        objective: 'clm',
        training: {},
      });
      const out = join(root, 'backbone-hf');
      const r = await reprise('export', '--format', 'hf', '--model', ckpt, '--out', out);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'))).toEqual(
        JSON.parse(tokenizer.toJSON()),
      );
      expect(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'))).toMatchObject({
        tokenizer_class: 'PreTrainedTokenizerFast',
        bos_token: '[BOS]',
        pad_token: '[PAD]',
      });
      expect(maxDiff(await ourLmLogits(m, IDS), await referenceGrid(out, IDS))).toBeLessThan(TOLERANCE);
      m.dispose();
      // A directory that is not an earlier export is never replaced.
      const refused = await reprise('export', '--format', 'hf', '--model', ckpt, '--out', ckpt);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(
        /refusing to replace .*: it is neither empty nor a Hugging Face model directory/,
      );
    },
  );
});
