/**
 * @file `reprise finetune --backbone <Hugging Face model dir>` end to end: tiny random models written by the
 * PyTorch reference (test/hf-reference/) with a foreign tokenizer.json beside them (the fixtures of
 * hf-tokenizer-fixtures.ts, the model's vocab_size set to the tokenizer's), SR with r = 1 for a few steps, then
 * `eval` of the saved labeler and its `export` as LlamaForTokenClassification, whose logits on the repeated ids
 * the reference computes. With a BOS-adding tokenizer (Llama-2's), every copy starts with BOS, as in the
 * paper's reference code (its input ids, BOS included, are repeated). Options that need a separator token, and
 * sequences past Mistral's sliding window, are refused. The tests that need PyTorch are skipped, with the reason
 * printed, when no python imports torch.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, noGrad, tidy } from '@reprise/core';
import { SequenceLabeler } from '@reprise/model';
import { afterAll, describe, expect, it } from 'vitest';
import { type HfModelSpec, importHfModel } from '../src/hf/index.ts';
import { HfTokenizer } from '../src/tokenizer/index.ts';
import { checkSlidingWindow } from '../src/training/finetune-backbone.ts';
import { loadLabeler } from '../src/training/labeler-checkpoint.ts';
import { toyNameConll as conll, reprise } from './cli-helpers.ts';
import { TOLERANCE, maxDiff, nested, referenceGrid } from './hf-reference/compare.ts';
import { type Arch, makeModel, torchMissing } from './hf-reference/torch.ts';
import { gpt2Json, llama2Json } from './hf-tokenizer-fixtures.ts';

const skip = torchMissing !== '';
if (skip) console.warn(`hf-finetune.test.ts: every test here is SKIPPED: ${torchMissing}`);

const root = mkdtempSync(join(tmpdir(), 'reprise-hf-finetune-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tiny model of `arch` with `tokenizer` as its tokenizer.json. */
async function hfDir(name: string, arch: Arch, tokenizer: object): Promise<string> {
  const dir = join(root, name);
  const vocab = new HfTokenizer(tokenizer).vocabSize;
  await makeModel({ arch, out: dir, seed: 2, tinyConfig: { vocab_size: vocab } });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  return dir;
}

const data: string[] = [];
function dataArgs(): string[] {
  if (data.length === 0)
    for (const [split, n, seed] of [
      ['train', 12, 0],
      ['dev', 4, 1],
      ['test', 4, 2],
    ] as const) {
      const path = join(root, `${split}.conll`);
      writeFileSync(path, conll(n, seed));
      data.push(`--${split}`, path);
    }
  return data;
}

const RUN = ['--method', 'sr', '--r', '1', '--epochs', '1', '--batch-size', '4', '--device', 'cpu'];

describe('finetune --backbone <Hugging Face model>', () => {
  it.skipIf(skip)(
    'Llama with a BOS-adding tokenizer: BOS starts every copy; SR r=1 trains, eval reads it back',
    async () => {
      const dir = await hfDir('llama', 'llama', llama2Json());
      // BOS per copy, seen in the layout the labeler builds.
      const device = await Device.create({ device: 'cpu' });
      const { model, tokenizer } = importHfModel(dir, device);
      const ids = tokenizer!.encodeWords(['we', 'met', 'Alice']).ids;
      const bos = tokenizer!.special.bos!;
      expect(ids[0]).toBe(bos);
      const repeated = new SequenceLabeler(model, { numLabels: 2, r: 1 }).layout([ids]).tokens;
      expect(repeated[0]).toBe(bos);
      expect(repeated[ids.length]).toBe(bos);
      expect(Array.from(repeated.slice(0, 2 * ids.length))).toEqual([...ids, ...ids]);
      model.dispose();

      const out = join(root, 'llama-ft');
      const ft = await reprise('finetune', '--backbone', dir, ...dataArgs(), ...RUN, '--out', out);
      expect(ft.code, ft.err).toBe(0);
      expect(ft.out).toMatch(/SR r=1 on .*test accuracy [\d.]+%, span F1 [\d.]+/);
      const savedConfig = JSON.parse(readFileSync(join(out, 'best/config.json'), 'utf8'));
      expect(savedConfig.model).toMatchObject({ norm: 'rms', mlp: 'swiglu', kvHeads: 2, rotary: 'half' });
      expect(JSON.parse(readFileSync(join(out, 'best/tokenizer.json'), 'utf8'))).toEqual(llama2Json());
      const ev = await reprise('eval', '--model', join(out, 'best'), ...dataArgs(), '--device', 'cpu');
      expect(ev.code, ev.err).toBe(0);
      expect(ev.out).toMatch(/test: 4 sentences, accuracy [\d.]+%/);

      // Exported as LlamaForTokenClassification: fed the ids twice, the reference's last copy is our labeler's.
      const hf = join(root, 'llama-ft-hf');
      const ex = await reprise('export', '--format', 'hf', '--model', join(out, 'best'), '--out', hf);
      expect(ex.code, ex.err).toBe(0);
      const { labeler, tokenizer: saved } = loadLabeler(join(out, 'best'), device);
      expect(saved).toBeInstanceOf(HfTokenizer);
      const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
      expect(config).toMatchObject({
        architectures: ['LlamaForTokenClassification'],
        bos_token_id: bos,
        reprise: { sequence_repetition: 1 },
      });
      expect(Object.values(config.id2label).sort()).toEqual(['B-PER', 'I-PER', 'O']);
      const layout = labeler.layout([ids]);
      const logits = tidy(() => noGrad(() => labeler.forward(layout, false)));
      const ours = nested(await logits.data(), 1, ids.length, 3);
      logits.dispose();
      const twice = await referenceGrid(hf, [[...ids, ...ids]]);
      expect(maxDiff(ours, [twice[0]!.slice(ids.length)])).toBeLessThan(TOLERANCE);
      labeler.dispose();
    },
  );

  it.skipIf(skip)('GPT-2 (learned positions, no BOS): SR r=1 trains; --separator is refused', async () => {
    const dir = await hfDir('gpt2', 'gpt2', gpt2Json());
    const ft = await reprise(
      'finetune',
      '--backbone',
      dir,
      ...dataArgs(),
      ...RUN,
      '--out',
      join(root, 'gpt2-ft'),
    );
    expect(ft.code, ft.err).toBe(0);
    expect(ft.out).toMatch(/SR r=1 on .*test accuracy [\d.]+%/);
    const sep = await reprise(
      'finetune',
      '--backbone',
      dir,
      ...dataArgs(),
      ...RUN,
      '--separator',
      '--out',
      join(root, 'gpt2-sep'),
    );
    expect(sep.code).toBe(1);
    expect(sep.err).toMatch(/--separator needs a separator token .* has none/);
  });

  it('Mistral: copies past its sliding window are refused', () => {
    const spec = { architecture: 'MistralForCausalLM', slidingWindow: 4096 } as HfModelSpec;
    expect(() => checkSlidingWindow(spec, 2, 2048)).not.toThrow();
    expect(() => checkSlidingWindow(spec, 2, 2049)).toThrow(
      /MistralForCausalLM: 2 copies of up to 2049 subwords make 4098 tokens, past the model's sliding_window \(4096\)/,
    );
    expect(() => checkSlidingWindow(null, 100, 4096)).not.toThrow();
  });
});
