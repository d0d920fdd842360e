/**
 * Hostile files (issue 17), part 2: checkpoint directories. A property test damages one file of a valid backbone
 * or labeler checkpoint (config.json, trainer.json, optimizer.safetensors, model.safetensors, tokenizer.json) or
 * the directory itself, then loads it for resume: the result must be consistent (config, weights, optimizer and
 * trainer state agree) or the refusal must name the checkpoint. Then the cases of the issue, one by one.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { Device } from '@reprise/core';
import {
  MODEL_BYTES_LIMIT,
  SequenceLabeler,
  Transformer,
  configBytes,
  makeConfig,
  paramShapes,
} from '@reprise/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILES, decodeSafetensors, encodeSafetensors } from '../src/io/index.ts';
import { parseWith } from '../src/io/validate.ts';
import { type BpeTokenizer, trainBpe } from '../src/tokenizer/index.ts';
import { loadBackbone, saveBackbone } from '../src/training/backbone-checkpoint.ts';
import {
  backboneConfigSchema,
  finetuneTrainerSchema,
  pretrainTrainerSchema,
} from '../src/training/checkpoint-schemas.ts';
import { loadLabeler, saveLabeler } from '../src/training/labeler-checkpoint.ts';
import { checkOptimizerState, loadForResume } from '../src/training/resume-check.ts';
import { optimizerToHost } from '../src/training/weights.ts';
import {
  type ByteEdit,
  type JsonMutation,
  SEED,
  applyJsonMutation,
  byteEdit,
  jsonMutation,
  judge,
  mutateBytes,
  printTallies,
  runs,
  tally,
} from './hostile/fuzz.ts';
import { corpusOfWords } from './tokenizer-corpus.ts';

const root = mkdtempSync(join(tmpdir(), 'reprise-hostile-ckpt-'));
let cpu: Device;
let tok: BpeTokenizer;
const STEP = 3;
const check = (cond: boolean, what: string) => {
  if (!cond) throw new Error(what);
};
const randoms = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 7 + seed));

/** A valid run directory with checkpoints/step-000002 and step-000003 of a tiny backbone. */
const backboneRun = join(root, 'backbone-run');
const labelerRun = join(root, 'labeler-run');

beforeAll(async () => {
  cpu = await Device.create({ device: 'cpu' });
  tok = trainBpe(corpusOfWords(1000), { vocabSize: 280 });
  const cfg = makeConfig({
    vocabSize: tok.vocabSize,
    dModel: 8,
    heads: 2,
    layers: 1,
    dFF: 16,
    maxPositions: 16,
  });
  const model = Transformer.create(cpu, cfg, 1);
  const names = Object.keys(model.params);
  const params = Object.values(model.params);
  for (const step of [STEP - 1, STEP]) {
    const moments = params.map((p, i) => ({ m: randoms(p.size, i), v: randoms(p.size, -i).map(Math.abs) }));
    await saveBackbone(
      join(backboneRun, 'checkpoints', `step-00000${step}`),
      model,
      tok,
      { kind: 'reprise-backbone', model: cfg, objective: 'clm', training: { steps: 10, lr: 0.001 } },
      { optimizer: optimizerToHost({ step, moments }, names), trainer: { step, dropoutCounter: 7 } },
    );
  }
  const labeler = new SequenceLabeler(model, { numLabels: 3, r: 1, layer: 1, seed: 1 });
  const named = labeler.params();
  const moments = Object.values(named).map((p, i) => ({
    m: randoms(p.size, i),
    v: randoms(p.size, i).map(Math.abs),
  }));
  await saveLabeler(
    join(labelerRun, 'last'),
    labeler,
    tok,
    {
      kind: 'reprise-labeler',
      model: cfg,
      labeler: {
        r: 1,
        mask: 'causal',
        layer: 1,
        finalNorm: true,
        separator: null,
        positions: 'continue',
        lastCopyOnly: true,
        headDropout: 0.1,
      },
      labels: ['O', 'B-X', 'I-X'],
      maxTokens: 8,
      labelSubword: 'first',
      training: { task: 'tiny', epochs: 2 },
    },
    {
      optimizer: optimizerToHost({ step: 2, moments }, Object.keys(named)),
      trainer: {
        step: 2,
        dropoutCounter: 0,
        history: [
          { epoch: 1, trainLoss: 1.2, seconds: 0.5, dev: { accuracy: 0.5, f1: 0.3, lenientF1: 0.4 } },
        ],
        bestEpoch: 1,
        bestScore: 0.3,
      },
    },
  );
  labeler.dispose();
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  printTallies();
});

const FILES = Object.values(CHECKPOINT_FILES);
const JSON_FILES = new Set<string>([
  CHECKPOINT_FILES.config,
  CHECKPOINT_FILES.trainer,
  CHECKPOINT_FILES.tokenizer,
]);

/** Damage to a checkpoint directory: one file's content, or the file itself (gone, empty, a directory). */
const damage = fc.record({
  file: fc.constantFrom(...FILES),
  how: fc.oneof(
    { weight: 6, arbitrary: fc.record({ json: jsonMutation }) },
    { weight: 2, arbitrary: fc.record({ bytes: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ fs: fc.constantFrom('delete', 'empty', 'directory') }) },
  ),
});
type Damage = typeof damage extends fc.Arbitrary<infer D> ? D : never;

/** safetensors: the JSON mutation goes to the header, the length is fixed up so that the header is read. */
function damageSafetensors(buf: Buffer, m: JsonMutation): Buffer {
  const n = Number(buf.readBigUInt64LE(0));
  const header = applyJsonMutation(JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), m);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, buf.subarray(8 + n)]);
}

function applyDamage(seedDir: string, dir: string, d: Damage): void {
  rmSync(dir, { recursive: true, force: true });
  cpSync(seedDir, dir, { recursive: true });
  const path = join(dir, d.file);
  const how = d.how as { json?: JsonMutation; bytes?: ByteEdit[]; fs?: string };
  if (how.fs === 'delete') rmSync(path, { force: true });
  else if (how.fs === 'empty') writeFileSync(path, '');
  else if (how.fs === 'directory') {
    rmSync(path, { force: true });
    mkdirSync(path);
  } else if (how.bytes) writeFileSync(path, mutateBytes(readFileSync(path), how.bytes));
  else if (JSON_FILES.has(d.file))
    writeFileSync(path, applyJsonMutation(JSON.parse(readFileSync(path, 'utf8')), how.json!));
  else writeFileSync(path, damageSafetensors(readFileSync(path), how.json!));
}

describe('checkpoint directories, loaded for resume', () => {
  const backboneTally = tally('checkpoint (backbone: loadBackbone + resume check)');
  test.prop([damage], { seed: SEED, numRuns: runs(250) })(
    'backbone: consistent or refused, naming the checkpoint',
    (d) => {
      const seedDir = join(backboneRun, 'checkpoints', 'step-000003');
      // Not a step-N name: the name would have to match trainer.json's step.
      const dir = join(backboneRun, 'checkpoints', 'fuzz');
      applyDamage(seedDir, dir, d);
      try {
        judge(
          backboneTally,
          dir,
          () => loadForResume(dir, (p) => loadBackbone(p, cpu), pretrainTrainerSchema),
          (r) => {
            const shapes = paramShapes(r.config.model);
            check(Object.keys(shapes).length === Object.keys(r.model.params).length, 'weights vs config');
            for (const [name, p] of Object.entries(r.model.params))
              check(JSON.stringify([...p.shape]) === JSON.stringify(shapes[name]), `shape of ${name}`);
            check(
              Object.values(r.checkpoint.weights).every((w) => w.dtype === 'F32'),
              'dtypes',
            );
            check(r.tokenizer.vocabSize === r.config.model.vocabSize, 'vocab');
            check(r.checkpoint.optimizer!.step.data[0] === r.trainer.step, 'steps');
            checkOptimizerState('again', r.checkpoint.optimizer!, r.checkpoint.weights, r.trainer.step);
            r.model.dispose();
          },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  const labelerTally = tally('checkpoint (labeler: loadLabeler + resume check)');
  test.prop([damage], { seed: SEED, numRuns: runs(150) })(
    'labeler: consistent or refused, naming the checkpoint',
    (d) => {
      const dir = join(labelerRun, 'damaged');
      applyDamage(join(labelerRun, 'last'), dir, d);
      try {
        judge(
          labelerTally,
          dir,
          () =>
            loadForResume(
              dir,
              (p) => loadLabeler(p, cpu),
              finetuneTrainerSchema,
              (l) => Object.keys(l.labeler.params()),
            ),
          (r) => {
            check(r.checkpoint.weights['head.weight'].shape[1] === r.config.labels.length, 'head vs labels');
            check(r.tokenizer.vocabSize === r.config.model.vocabSize, 'vocab');
            check(r.trainer.bestEpoch <= r.trainer.history.length, 'best epoch');
            r.labeler.dispose();
          },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('model config sizes', () => {
  const t = tally('config.json model sizes (schema + byte budget)');
  // Mostly plausible values (so that some configs pass and the byte budget is what decides), sometimes hostile.
  const hostile = fc.oneof(
    fc.integer({ min: -2, max: 2 ** 31 }),
    fc.constantFrom<unknown>(
      0,
      65536,
      4_000_000,
      20_000_000,
      2147483647,
      2 ** 53,
      1.5,
      Number.MAX_VALUE,
      '8',
      null,
      [],
    ),
  );
  const field = (...plausible: number[]) =>
    fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...plausible) }, { weight: 1, arbitrary: hostile });
  const config = fc.record({
    vocabSize: field(300, 4000, 50_000, 1 << 20),
    dModel: field(8, 64, 128, 1024, 8192, 1 << 14),
    heads: field(1, 2, 4, 8, 16),
    layers: field(1, 4, 12, 48, 1024),
    dFF: field(16, 512, 4096, 32768),
    maxPositions: field(16, 512, 4096, 1 << 20),
    dropout: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(0, 0.1) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(-0.5, 1, '0.1', null) },
    ),
    positions: fc.constantFrom<unknown>('rotary', 'learned', 'rotary', 'learned', 'alibi'),
    tieEmbeddings: fc.constantFrom<unknown>(true, false, true, false, 'yes'),
    kind: fc.constantFrom<unknown>('decoder', 'encoder', 'decoder', 'encoder', 'both'),
  });
  test.prop([config], { seed: SEED, numRuns: runs(500) })(
    'sizes are checked against the stated limits before anything is allocated',
    (model) => {
      const file = 'fuzz/config.json';
      const objective = model.kind === 'encoder' ? 'mlm' : 'clm';
      judge(
        t,
        file,
        () =>
          parseWith(backboneConfigSchema, { kind: 'reprise-backbone', model, objective, training: {} }, file),
        (cfg) => {
          const bytes = configBytes(cfg.model);
          check(bytes <= MODEL_BYTES_LIMIT, `accepted ${bytes} bytes`);
          const params = Object.values(paramShapes(cfg.model)).reduce(
            (a, s) => a + s.reduce((x, y) => x * y, 1),
            0,
          );
          check(4 * params <= bytes, 'configBytes counts every parameter');
        },
      );
    },
  );
});

describe('the cases of issue 17, one by one', () => {
  const seedDir = () => join(backboneRun, 'checkpoints', 'step-000003');
  const damaged = join(backboneRun, 'checkpoints', 'step-000005');
  const previous = join(backboneRun, 'checkpoints', 'step-000003');
  const edit = (name: string, change: (path: string) => void) => {
    rmSync(damaged, { recursive: true, force: true });
    cpSync(seedDir(), damaged, { recursive: true });
    // The directory's name says step 5: make trainer.json and the optimizer agree unless a test breaks them.
    const trainer = join(damaged, CHECKPOINT_FILES.trainer);
    writeFileSync(trainer, JSON.stringify({ step: 5, dropoutCounter: 7 }));
    const opt = join(damaged, CHECKPOINT_FILES.optimizer);
    const { tensors } = decodeSafetensors(readFileSync(opt));
    tensors.step.data[0] = 5;
    writeFileSync(opt, encodeSafetensors(tensors, { format: 'reprise-optimizer', version: '1' }));
    change(join(damaged, name));
  };
  const resume = () => loadForResume(damaged, (p) => loadBackbone(p, cpu), pretrainTrainerSchema);
  const refusal = () => {
    const started = performance.now();
    try {
      resume().model.dispose();
    } catch (e) {
      expect(e).toBeInstanceOf(Error);
      expect(e!.constructor).toBe(Error);
      expect(performance.now() - started).toBeLessThan(1000);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('an intact checkpoint resumes', () => {
    edit(CHECKPOINT_FILES.trainer, () => {});
    const r = resume();
    expect(r.trainer).toEqual({ step: 5, dropoutCounter: 7 });
    r.model.dispose();
  });

  it.each([
    ['layers', 65536],
    ['maxPositions', 4_000_000],
    ['maxPositions', 2147483647],
    ['vocabSize', 2147483647],
  ])('config.json with %s = %d is refused at once, naming the file', (key, value) => {
    edit(CHECKPOINT_FILES.config, (path) => {
      const cfg = JSON.parse(readFileSync(path, 'utf8'));
      cfg.model[key] = value;
      writeFileSync(path, JSON.stringify(cfg));
    });
    const message = refusal();
    expect(message).toContain(join(damaged, 'config.json'));
    expect(message).toMatch(new RegExp(`model.${key}: .*(at most|<=)`));
  });

  it('a byte budget, not just field caps: a config whose sizes are each allowed but too large together', () => {
    edit(CHECKPOINT_FILES.config, (path) => {
      const cfg = JSON.parse(readFileSync(path, 'utf8'));
      Object.assign(cfg.model, { dModel: 8192, heads: 8, dFF: 32768, layers: 64 });
      writeFileSync(path, JSON.stringify(cfg));
    });
    expect(refusal()).toMatch(/config\.json: model: the config implies .* GiB .* the limit is 2\.00 GiB/);
  });

  it('trainer.json missing: named, and the previous checkpoint offered by name', () => {
    edit(CHECKPOINT_FILES.trainer, (path) => rmSync(path));
    const message = refusal();
    expect(message).toContain(`cannot resume from ${damaged}`);
    expect(message).toContain(`${join(damaged, 'trainer.json')} is missing`);
    expect(message).toContain(`the previous checkpoint ${previous} (step 3) can be used instead`);
  });

  it('wrong types in trainer.json are refused with the JSON path', () => {
    edit(CHECKPOINT_FILES.trainer, (path) => writeFileSync(path, '{"step":"5","dropoutCounter":7}'));
    expect(refusal()).toMatch(/trainer\.json: step: expected number, found "5"/);
    edit(CHECKPOINT_FILES.trainer, (path) => writeFileSync(path, '{"step":5,"dropoutCountr":7}'));
    expect(refusal()).toMatch(/unknown key "dropoutCountr" \(did you mean 'dropoutCounter'\?\)/);
  });

  it('a directory where trainer.json belongs is named as such', () => {
    edit(CHECKPOINT_FILES.trainer, (path) => {
      rmSync(path);
      mkdirSync(path);
    });
    expect(refusal()).toContain(`${join(damaged, 'trainer.json')} is a directory; expected a file here`);
  });

  it('optimizer.safetensors missing, a moment missing or renamed, or a step that disagrees: refused', () => {
    type Tensors = ReturnType<typeof decodeSafetensors>['tensors'];
    const opt = (change: (t: Tensors) => Tensors) =>
      edit(CHECKPOINT_FILES.optimizer, (path) => {
        const { tensors } = decodeSafetensors(readFileSync(path));
        writeFileSync(
          path,
          encodeSafetensors(change(tensors), { format: 'reprise-optimizer', version: '1' }),
        );
      });
    edit(CHECKPOINT_FILES.optimizer, (path) => rmSync(path));
    expect(refusal()).toContain(`${join(damaged, 'optimizer.safetensors')} is missing`);
    opt(({ 'norm.weight.m': _lost, ...rest }) => rest);
    expect(refusal()).toMatch(
      /optimizer\.safetensors does not match the weights: the moment 'norm\.weight\.m' is missing/,
    );
    opt(({ 'norm.weight.v': v, ...rest }) => ({ ...rest, 'norm.weigth.v': v }));
    expect(refusal()).toMatch(/'norm\.weigth\.v' is the moment of no trained weight/);
    opt((t) => {
      t.step.data[0] = 4;
      return t;
    });
    expect(refusal()).toMatch(/'step' is 4 but trainer\.json's step is 5/);
    opt((t) => ({ ...t, 'norm.weight.m': { ...t['norm.weight.m'], shape: [2, 4] } }));
    expect(refusal()).toMatch(/'norm\.weight\.m' must be \[8\]/);
  });

  it('a weight whose dtype was changed from F32 to I32 in the header is refused', () => {
    edit(CHECKPOINT_FILES.weights, (path) => {
      const buf = readFileSync(path);
      const n = Number(buf.readBigUInt64LE(0));
      const header = buf
        .subarray(8, 8 + n)
        .toString('utf8')
        .replace('"F32"', '"I32"');
      writeFileSync(path, Buffer.concat([buf.subarray(0, 8), Buffer.from(header), buf.subarray(8 + n)]));
    });
    expect(refusal()).toMatch(
      /model\.safetensors does not fit the model: tensor '.*': expected dtype F32, found I32/,
    );
  });

  it('invalid UTF-8 in tokenizer.json is an error with the byte offset', () => {
    edit(CHECKPOINT_FILES.tokenizer, (path) => {
      const buf = readFileSync(path);
      buf[20] = 0xff;
      writeFileSync(path, buf);
    });
    expect(refusal()).toMatch(/tokenizer\.json: invalid UTF-8 at byte offset 20 \(line \d+/);
  });

  it('deep nesting and long values: bounded, quoted at most ~200 characters', () => {
    edit(CHECKPOINT_FILES.config, (path) => writeFileSync(path, `{"kind":${'['.repeat(200_000)}`));
    expect(refusal()).toMatch(/config\.json:1:\d+: JSON nested more than 64 levels deep/);
    edit(CHECKPOINT_FILES.trainer, (path) =>
      writeFileSync(path, JSON.stringify({ step: 'x'.repeat(4_000_000), dropoutCounter: 1 })),
    );
    const message = refusal();
    expect(message.length).toBeLessThan(1200);
    expect(message).toMatch(/step: expected number, found "x{150,200}…/);
  });

  afterAll(() => {
    for (const name of readdirSync(join(backboneRun, 'checkpoints')))
      if (name === 'step-000005')
        rmSync(join(backboneRun, 'checkpoints', name), { recursive: true, force: true });
  });
});
