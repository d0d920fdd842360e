/**
 * End to end on the Dawn adapter (required: no adapter is a failure): pretraining that resumes after Ctrl-C on
 * exactly the same loss trajectory, a tiny fine-tune that learns (loss falls, test accuracy above the
 * majority class) and resumes exactly too, checkpoints that reload to the same predictions, and refusal of
 * corrupt or mismatched checkpoints.
 */
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device } from '@reprise/core';
import type { DeviceChoice } from '@reprise/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brownTask, pretrainingSentences } from '../src/data/index.ts';
import { readMetrics } from '../src/io/index.ts';
import { trainBpe } from '../src/tokenizer/index.ts';
import { loadBackbone } from '../src/training/backbone-checkpoint.ts';
import { evaluate } from '../src/training/evaluate.ts';
import { FINETUNE_DEFAULTS, type FinetuneInput, finetune } from '../src/training/finetune.ts';
import { encodeLabeled, labelVocab } from '../src/training/labeled-batches.ts';
import { loadLabeler } from '../src/training/labeler-checkpoint.ts';
import { requestInterrupt } from '../src/training/loop.ts';
import { PRETRAIN_DEFAULTS, type PretrainInput, pretrain } from '../src/training/pretrain.ts';

let device: Device;
beforeAll(async () => {
  device = await Device.create({ device: (process.env.REPRISE_TEST_DEVICE ?? 'auto') as DeviceChoice });
});
afterAll(() => device?.destroy());

const short = (s: { words: string[] }) => s.words.length <= 18;
const text = pretrainingSentences()
  .filter((w) => w.length <= 18)
  .slice(0, 400);
const tokenizer = trainBpe(text, { vocabSize: 400 });
const tmp = () => mkdtempSync(join(tmpdir(), 'reprise-train-'));
const tinyModel = { dModel: 32, heads: 2, layers: 2, dFF: 64, maxPositions: 128, dropout: 0.1 };
const pretrainInput = (outDir: string): PretrainInput => ({
  device,
  outDir,
  options: {
    ...PRETRAIN_DEFAULTS,
    model: tinyModel,
    steps: 6,
    batchSize: 4,
    context: 32,
    warmupSteps: 2,
    evalEvery: 3,
    evalBatches: 2,
    checkpointEvery: 0,
  },
  train: text,
  dev: text.slice(0, 40),
  tokenizer,
});
/**
 * One pretrained backbone for the tests that only need some pretrained backbone (not a run of their own): built
 * on first use, so a `-t` filter that skips them skips it too. Fine-tuning changes the backbone's weights, so
 * each fine-tune loads its own copy from the checkpoint and every run starts from the same weights.
 */
let shared: ReturnType<typeof pretrain> | undefined;
const pretrainedOnce = () => (shared ??= pretrain(pretrainInput(tmp())));
const pretrainedBackbone = async () => loadBackbone((await pretrainedOnce()).finalDir!, device).model;

describe('pretraining', () => {
  it('Ctrl-C saves a checkpoint; resuming continues the same loss trajectory', async () => {
    const straight = await pretrain(pretrainInput(tmp()));
    expect(straight.stepsDone).toBe(6);
    const dir = tmp();
    const first = await pretrain({
      ...pretrainInput(dir),
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 3) requestInterrupt();
      },
    });
    requestInterrupt(false);
    expect(first.interrupted).toBe(true);
    expect(first.stepsDone).toBe(3);
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['step-000003']);
    const second = await pretrain({ ...pretrainInput(dir), resume: true });
    expect([...first.losses, ...second.losses]).toEqual(straight.losses);
    expect(straight.losses.at(-1)!.loss).toBeLessThan(straight.losses[0]!.loss);
  });

  it('corrupt or mismatched checkpoints are refused with a clear message', async () => {
    const run = await pretrainedOnce();
    expect(() => loadBackbone(run.finalDir!, device, { ...run.model.config, dModel: 64, dFF: 256 })).toThrow(
      /differs from this run/,
    );
    const broken = tmp();
    cpSync(run.finalDir!, broken, { recursive: true });
    writeFileSync(join(broken, 'model.safetensors'), Buffer.from([1, 2, 3]));
    expect(() => loadBackbone(broken, device)).toThrow(/model\.safetensors.*shorter than 8 bytes|8-byte/);
    expect(() => loadLabeler(run.finalDir!, device)).toThrow(/not a fine-tuned labeler/);
  });
});

describe('fine-tuning', () => {
  const data = {
    name: 'brown/pos-universal (tiny)',
    train: brownTask('pos-universal', 'train').filter(short).slice(0, 320),
    dev: brownTask('pos-universal', 'dev').filter(short).slice(0, 60),
    test: brownTask('pos-universal', 'test').filter(short).slice(0, 120),
  };
  /** The first `train` training sentences, and `evaluated` of dev and of test. */
  const smallData = (train: number, evaluated: number) => ({
    data: {
      ...data,
      train: data.train.slice(0, train),
      dev: data.dev.slice(0, evaluated),
      test: data.test.slice(0, evaluated),
    },
  });
  const input = async (outDir: string, extra: Partial<FinetuneInput> = {}): Promise<FinetuneInput> => ({
    device,
    outDir,
    backbone: await pretrainedBackbone(),
    tokenizer,
    data,
    options: { ...FINETUNE_DEFAULTS, method: 'sr', r: 1, epochs: 3, batchSize: 16, lr: 3e-3 },
    ...extra,
  });

  it('learns: the loss falls and test accuracy beats the majority class; the best checkpoint reloads', async () => {
    const dir = tmp();
    const result = await finetune(await input(dir));
    const losses = result.history.map((h) => h.trainLoss);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    const counts = new Map<string, number>();
    for (const s of data.test) for (const l of s.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const total = [...counts.values()].reduce((a, b) => a + b);
    const majority = Math.max(...counts.values()) / total;
    expect(result.test!.accuracy).toBeGreaterThan(majority + 0.1);
    // The saved best model gives the same test predictions as the one in memory.
    const loaded = loadLabeler(join(dir, 'best'), device);
    const vocab = labelVocab(loaded.config.labels);
    const encoded = encodeLabeled(data.test, loaded.tokenizer, vocab, loaded.config);
    const again = await evaluate(loaded.labeler, data.test, encoded, vocab, { batchSize: 16 });
    expect(again.predictions).toEqual(result.test!.predictions);
    // The first evaluation may grow the rotary tables to r+1 copies of the cap, which are kept: a second one
    // allocates nothing that stays.
    const live = device.memory().liveBytes;
    await evaluate(loaded.labeler, data.test, encoded, vocab, { batchSize: 16 });
    expect(device.memory().liveBytes, 'evaluation frees what it allocates').toBe(live);
  });

  it('an interrupted fine-tune resumes on the same loss trajectory', async () => {
    const stepLosses = (dir: string) =>
      readMetrics(join(dir, 'metrics.jsonl'))
        .filter((m) => m.phase === 'finetune' && typeof m.loss === 'number')
        .map((m) => m.loss);
    // Resuming needs no learning: 96 sentences (6 steps of 16 an epoch), interrupted in the second epoch.
    const small = smallData(96, 20);
    const straight = tmp();
    const base0 = await input(straight, small);
    const options = { ...base0.options, epochs: 2 };
    await finetune({ ...base0, options });
    const dir = tmp();
    const base = await input(dir, small);
    const first = await finetune({
      ...base,
      options,
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 9) requestInterrupt();
      },
    });
    requestInterrupt(false);
    expect(first.interrupted).toBe(true);
    expect(stepLosses(dir)).toHaveLength(9);
    await finetune({ ...(await input(dir, small)), options, resume: true });
    expect(stepLosses(straight)).toHaveLength(12);
    expect(stepLosses(dir)).toEqual(stepLosses(straight));
  });

  it('stops early once dev has not improved for `patience` epochs, keeping the best epoch; a resume trains no further', async () => {
    // A learning rate too small to change a prediction: dev is flat from epoch 1 on, so with patience 2 training
    // ends after epoch 3 of 6, and epoch 1 stays the best.
    const small = smallData(32, 10);
    const dir = tmp();
    const base = await input(dir, small);
    const options = { ...base.options, epochs: 6, patience: 2, lr: 1e-12, headDropout: 0 };
    const result = await finetune({ ...base, options });
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(result.stoppedEarly).toBe(true);
    expect(result.bestEpoch).toBe(1);
    expect(result.test).not.toBeNull();
    const steps = (d: string) =>
      readMetrics(join(d, 'metrics.jsonl')).filter((m) => typeof m.loss === 'number');
    expect(steps(dir)).toHaveLength(3 * 2);
    // Resumed, the run that stopped early is finished: no step is added, the test evaluation runs again.
    const again = await finetune({ ...(await input(dir, small)), options, resume: true });
    expect(again.stoppedEarly).toBe(true);
    expect(steps(dir)).toHaveLength(3 * 2);
    expect(again.test!.accuracy).toBe(result.test!.accuracy);
    // Without patience every epoch runs.
    const all = await finetune({ ...(await input(tmp(), small)), options: { ...options, patience: 0 } });
    expect(all.history).toHaveLength(6);
    expect(all.stoppedEarly).toBe(false);
  });
});
