/**
 * @file LoRA against PyTorch: tiny random GPT-2, Llama, Mistral and Qwen2 models written by the reference
 * (test/hf-reference/, written from transformers' modeling files and PEFT's LoRA layer), imported with
 * `importHfModel`, adapted with our LoRA (α/r scaling, the same A, B and head handed to the reference through its
 * --init file), and a token-classification loss: the loss and the gradients of every adapter and of the head
 * equal the reference's to 1e-4. Then `reprise finetune --backbone <HF dir> --method sr --r 1 --lora 16` on a
 * tiny model of each architecture (with a foreign tokenizer.json), `eval` of its adapters on the base, and
 * `export` of the Llama one: merged on export, the reference's logits equal our adapted labeler's. Skipped, with
 * the reason printed, when no python imports torch.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, type Tensor, noGrad, tidy } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import {
  LoraAdapters,
  type LoraTarget,
  SequenceLabeler,
  attachLora,
  loraSpecs,
  makeLoraConfig,
} from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importHfModel } from '../src/hf/index.ts';
import { HfTokenizer } from '../src/tokenizer/index.ts';
import { loadLabeler } from '../src/training/labeler-checkpoint.ts';
import { reprise } from './cli-helpers.ts';
import {
  TOLERANCE as LOGITS_TOLERANCE,
  TINY_IDS,
  maxDiff,
  nested,
  referenceGrid,
} from './hf-reference/compare.ts';
import {
  type Arch,
  type NamedTensor,
  makeModel,
  referenceLoraGrads,
  torchMissing,
} from './hf-reference/torch.ts';
import { gpt2Json, llama2Json, llama3Json, mistralJson } from './hf-tokenizer-fixtures.ts';

const skip = torchMissing !== '';
if (skip) console.warn(`hf-lora.test.ts: the tests against PyTorch are SKIPPED: ${torchMissing}`);

const root = mkdtempSync(join(tmpdir(), 'reprise-hf-lora-'));
let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const IDS = TINY_IDS;
/** Labels of 3 classes, −100 where a token has none. */
const LABELS = [
  [0, 2, -100, 1, 1, 0, -100, 2],
  [1, -100, 2, 2, 0, 1, 0, -100],
];
const NUM_LABELS = 3;
/**
 * Both sides compute in f32 from the same weights; the gradients are O(1e-3–1) here and differ by summation
 * order only (a few f32 ulps per op through two blocks and the backward pass), while a wrong scale, transpose
 * or projection moves them by O(1e-2) or more.
 */
const TOLERANCE = 1e-4;

/** The reference's module (before `.lora_A.weight`) of our target in layer `l` (reference.py `lora_modules`). */
function referenceModule(arch: Arch, l: number, t: LoraTarget): string {
  if (arch === 'gpt2') {
    // q, k and v are thirds of GPT-2's fused c_attn; the reference names their adapters c_attn.q and so on.
    const m = {
      q: 'attn.c_attn.q',
      k: 'attn.c_attn.k',
      v: 'attn.c_attn.v',
      o: 'attn.c_proj',
      up: 'mlp.c_fc',
      down: 'mlp.c_proj',
    };
    return `transformer.h.${l}.${m[t as keyof typeof m]}`;
  }
  const m = {
    q: 'self_attn.q_proj',
    k: 'self_attn.k_proj',
    v: 'self_attn.v_proj',
    o: 'self_attn.o_proj',
    gate: 'mlp.gate_proj',
    up: 'mlp.up_proj',
    down: 'mlp.down_proj',
  };
  return `model.layers.${l}.${m[t]}`;
}

/** A row-major [rows, cols] matrix transposed (ours are x·W, [in, out]; PyTorch's Linear weights are [out, in]). */
function transposed(data: ArrayLike<number>, rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

async function asReference(t: Tensor, transpose: boolean): Promise<NamedTensor> {
  const data = Array.from(await t.hostData());
  const [r, c] = t.shape as [number, number];
  return transpose ? { shape: [c, r], data: transposed(data, r, c) } : { shape: [...t.shape], data };
}

const CASES: { arch: Arch; targets: LoraTarget[] }[] = [
  { arch: 'gpt2', targets: ['q', 'k', 'v', 'o', 'up', 'down'] },
  { arch: 'llama', targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
  { arch: 'mistral', targets: ['q', 'k', 'v', 'o'] },
  { arch: 'qwen2', targets: ['q', 'k', 'v', 'o'] },
];

describe('LoRA gradients equal the PyTorch reference (PEFT-style adapters, token-classification head)', () => {
  for (const { arch, targets } of CASES) {
    it.skipIf(skip)(`${arch}: ${targets.join(', ')}; rank 4, α 6`, async () => {
      const dir = join(root, arch);
      await makeModel({ arch, out: dir, seed: 5 });
      const { model } = importHfModel(dir, device);
      const lora = makeLoraConfig({ rank: 4, alpha: 6, dropout: 0, targets });
      const adapters = LoraAdapters.create(device, model.config, lora, 1);
      // B drawn at random (a trained adapter's), so that A's gradients are not zero; a head of weights O(1).
      let seed = 10;
      for (const [name, t] of Object.entries(adapters.params))
        if (name.endsWith('lora_B')) t.assign(device.randn(t.shape, { seed: seed++, std: 0.5 }));
      attachLora(model, adapters);
      const labeler = new SequenceLabeler(model, { numLabels: NUM_LABELS, r: 0, headDropout: 0, seed: 3 });
      const head = labeler.head['head.weight']!;
      head.assign(device.randn(head.shape, { seed: 99, std: 1 }));
      try {
        // Our tensors under the reference's names, in its layout.
        const ours = new Map<string, { t: Tensor; transpose: boolean }>();
        loraSpecs(model.config, lora).forEach((s, k) => {
          const module = referenceModule(arch, s.layer, targets[k % targets.length]!);
          ours.set(`${module}.lora_A.weight`, { t: adapters.params[s.a.name]!, transpose: true });
          ours.set(`${module}.lora_B.weight`, { t: adapters.params[s.b.name]!, transpose: true });
        });
        const headName = arch === 'gpt2' ? 'classifier' : 'score';
        ours.set(`${headName}.weight`, { t: labeler.head['head.weight']!, transpose: true });
        ours.set(`${headName}.bias`, { t: labeler.head['head.bias']!, transpose: false });
        const init: Record<string, NamedTensor> = {};
        for (const [name, { t, transpose }] of ours) init[name] = await asReference(t, transpose);

        const ref = await referenceLoraGrads({
          dir,
          ids: IDS,
          labels: LABELS,
          rank: 4,
          alpha: 6,
          targets,
          init,
          numLabels: NUM_LABELS,
        });
        expect(ref.scaling).toBe(6 / 4);
        expect(Object.keys(ref.grads).sort()).toEqual([...ours.keys()].sort());

        const loss = tidy(() => {
          const l = labeler.loss(labeler.layout(IDS), Int32Array.from(LABELS.flat()));
          l.backward();
          return l;
        });
        expect(Math.abs((await loss.item()) - ref.loss), 'loss').toBeLessThan(TOLERANCE);
        loss.dispose();
        let largest = 0;
        for (const [name, { t, transpose }] of ours) {
          const mine = await asReference(t.grad!, transpose);
          const theirs = ref.grads[name]!;
          expect(mine.shape, name).toEqual(theirs.shape);
          const diff = Math.max(...mine.data.map((x, i) => Math.abs(x - theirs.data[i]!)));
          expect(diff, `${name}: largest difference`).toBeLessThan(TOLERANCE);
          largest = Math.max(largest, ...theirs.data.map(Math.abs));
        }
        // Not vacuous: the gradients are far larger than the tolerance.
        expect(largest).toBeGreaterThan(1e-2);
        // The frozen weights got none.
        expect(Object.values(model.params).every((t) => t.grad === null)).toBe(true);
      } finally {
        labeler.dispose();
      }
    });
  }
});

/** CoNLL sentences over words every fixture vocabulary encodes. */
function conll(n: number, seed: number): string {
  const names = ['Alice', 'Bob', 'Carol', 'Dave'];
  const lines = ['-DOCSTART- -X- O', ''];
  for (let i = 0; i < n; i++)
    lines.push('we X O', 'met X O', `${names[(i + seed) % 4]} X B-PER`, 'Smith X I-PER', '. X O', '');
  return lines.join('\n');
}

const FINETUNE_CASES: { arch: Arch; tokenizer: () => object }[] = [
  { arch: 'gpt2', tokenizer: gpt2Json },
  { arch: 'llama', tokenizer: llama2Json },
  { arch: 'mistral', tokenizer: mistralJson },
  { arch: 'qwen2', tokenizer: llama3Json },
];

describe('reprise finetune --backbone <Hugging Face model> --lora 16', () => {
  const data = (['train', 'dev', 'test'] as const).flatMap((split, i) => {
    const path = join(root, `${split}.conll`);
    writeFileSync(path, conll(split === 'train' ? 8 : 4, i));
    return [`--${split}`, path];
  });
  for (const { arch, tokenizer } of FINETUNE_CASES) {
    it.skipIf(skip)(`${arch}: SR r=1 with LoRA trains; eval reads the adapters onto the base`, async () => {
      const dir = join(root, `${arch}-ft-base`);
      const json = tokenizer();
      await makeModel({
        arch,
        out: dir,
        seed: 2,
        tinyConfig: { vocab_size: new HfTokenizer(json).vocabSize },
      });
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
      const out = join(root, `${arch}-lora`);
      const run = [
        '--method',
        'sr',
        '--r',
        '1',
        '--lora',
        '16',
        '--epochs',
        '1',
        '--batch-size',
        '4',
        '--lr',
        '0.05',
      ];
      const ft = await reprise(
        'finetune',
        '--backbone',
        dir,
        ...data,
        ...run,
        '--device',
        'cpu',
        '--out',
        out,
      );
      expect(ft.code, ft.err).toBe(0);
      expect(ft.out).toMatch(/SR r=1 on .*test accuracy [\d.]+%.*\(LoRA adapters on /);
      const config = JSON.parse(readFileSync(join(out, 'best/config.json'), 'utf8'));
      expect(config.lora).toMatchObject({ rank: 16, alpha: 16, dropout: 0.1, targets: ['q', 'k', 'v', 'o'] });
      const ev = await reprise('eval', '--model', join(out, 'best'), ...data, '--device', 'cpu');
      expect(ev.code, ev.err).toBe(0);
      expect(ev.out).toMatch(/test: 4 sentences, accuracy [\d.]+%/);
      if (arch !== 'llama') return;
      // Exported, the adapters are merged: the reference's logits (ids fed twice, the last copy read) are ours.
      const hf = join(root, `${arch}-lora-hf`);
      const ex = await reprise('export', '--format', 'hf', '--model', join(out, 'best'), '--out', hf);
      expect(ex.code, ex.err).toBe(0);
      const { labeler, tokenizer: saved } = loadLabeler(join(out, 'best'), device);
      expect(labeler.backbone.lora).not.toBeNull();
      const ids = saved.encodeWords(['we', 'met', 'Alice', 'Smith']).ids;
      const logitsOf = async () => {
        const logits = tidy(() => noGrad(() => labeler.forward(labeler.layout([ids]), false)));
        const out = nested(await logits.data(), 1, ids.length, 3);
        logits.dispose();
        return out;
      };
      const ours = await logitsOf();
      // Not vacuous: the trained adapters move the logits far more than the tolerance (B = 0 removes them).
      for (const [name, t] of Object.entries(labeler.backbone.lora!.params))
        if (name.endsWith('lora_B')) t.assign(device.zeros(t.shape));
      expect(maxDiff(ours, await logitsOf())).toBeGreaterThan(100 * LOGITS_TOLERANCE);
      labeler.dispose();
      const twice = await referenceGrid(hf, [[...ids, ...ids]]);
      expect(maxDiff(ours, [twice[0]!.slice(ids.length)])).toBeLessThan(LOGITS_TOLERANCE);
    });
  }
});
