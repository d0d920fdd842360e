/**
 * Hostile files (issue 17), part 1: property tests of the file-level loaders (safetensors, tokenizer.json, the
 * metrics log, the user's text files, CoNLL and CoNLL-U files, the experiment config) on generated and mutated inputs. Each call must
 * return a consistent result or throw a clean Error naming the file, in bounded time; see hostile/fuzz.ts.
 * Seeded; counts are printed.
 */
import { isUtf8 } from 'node:buffer';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { type TransformerConfig, makeConfig } from '@reprise/model';
import { afterAll, describe, expect, it } from 'vitest';
import { readConll } from '../src/data/conll.ts';
import { EXPERIMENT_TASKS, type ExperimentConfig, loadExperimentConfig } from '../src/experiments/config.ts';
import { planRuns } from '../src/experiments/records.ts';
import {
  MetricsLog,
  decodeSafetensors,
  encodeSafetensors,
  hostTensor,
  readMetrics,
  readTextFile,
} from '../src/io/index.ts';
import { type InvalidUtf8, firstInvalidUtf8 } from '../src/io/text.ts';
import { BpeTokenizer, trainBpe } from '../src/tokenizer/index.ts';
import { labelerSettingsSchema } from '../src/training/checkpoint-schemas.ts';
import { METHODS, labelerSettings } from '../src/training/methods.ts';
import {
  type ByteEdit,
  type JsonMutation,
  SEED,
  Tally,
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

const root = mkdtempSync(join(tmpdir(), 'reprise-hostile-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  printTallies();
});
const check = (cond: boolean, what: string) => {
  if (!cond) throw new Error(what);
};

describe('the judge', () => {
  // It must be able to fail: bare errors, refusals that do not name the file and inconsistent results.
  const t = new Tally('self-test');
  const nothing = () => {};
  test.each([
    ['a bare TypeError', () => (null as unknown as { x: number }).x, nothing],
    [
      'a refusal without the file',
      () => {
        throw new Error('bad value');
      },
      nothing,
    ],
    ['an inconsistent result', () => 1, () => check(false, 'no')],
  ])('fails %s', (_what, call, consistent) => {
    expect(() => judge(t, '/some/file.json', call, consistent)).toThrow();
  });
  test('passes a clean refusal and a consistent result', () => {
    expect(
      judge(
        t,
        '/f.json',
        () => {
          throw new Error('/f.json: step: expected number, found "2"');
        },
        nothing,
      ),
    ).toBe('refused');
    expect(judge(t, '/f.json', () => 1, nothing)).toBe('accepted');
  });
});

describe('safetensors', () => {
  const file = join(root, 'fuzz.safetensors');
  const good = encodeSafetensors(
    {
      'w.weight': hostTensor([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6])),
      ids: hostTensor([4], Int32Array.from([1, -2, 3, 4])),
      scalar: hostTensor([], Float32Array.of(0.5)),
      empty: hostTensor([0, 2], new Float32Array(0)),
    },
    { format: 'reprise-checkpoint', version: '1' },
  );
  const n = Number(good.readBigUInt64LE(0));
  const header = JSON.parse(good.subarray(8, 8 + n).toString('utf8'));
  const data = good.subarray(8 + n);
  const withHeader = (h: Buffer) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, data]);
  };
  const mutation = fc.oneof(
    { weight: 3, arbitrary: fc.record({ header: jsonMutation }) },
    { weight: 1, arbitrary: fc.record({ raw: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ length: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }) },
  );
  const t = tally('safetensors');
  test.prop([mutation], { seed: SEED, numRuns: runs(400) })(
    'decode: consistent or refused, naming the file',
    (m) => {
      let buf: Buffer;
      if ('header' in m) buf = withHeader(applyJsonMutation(header, m.header as JsonMutation));
      else if ('raw' in m) buf = mutateBytes(good, m.raw as ByteEdit[]);
      else {
        buf = Buffer.from(good);
        buf.writeBigUInt64LE(m.length as bigint, 0);
      }
      judge(
        t,
        file,
        () => decodeSafetensors(buf, file),
        ({ tensors }) => {
          let bytes = 0;
          for (const [name, x] of Object.entries(tensors)) {
            check(
              x.data instanceof (x.dtype === 'F32' ? Float32Array : Int32Array),
              `${name}: dtype vs array`,
            );
            check(x.data.length === x.shape.reduce((a, b) => a * b, 1), `${name}: shape vs data`);
            bytes += x.data.byteLength;
          }
          check(bytes === buf.length - 8 - Number(buf.readBigUInt64LE(0)), 'tensors do not tile the data');
          const again = decodeSafetensors(encodeSafetensors(tensors), 'again');
          check(
            JSON.stringify(Object.keys(again.tensors).sort()) === JSON.stringify(Object.keys(tensors).sort()),
            're-encode',
          );
        },
      );
    },
  );
});

describe('tokenizer.json', () => {
  const tok = trainBpe(corpusOfWords(2000), { vocabSize: 300 });
  const doc = JSON.parse(tok.toJSON());
  const file = join(root, 'tokenizer.json');
  const t = tally('tokenizer.json');
  test.prop([jsonMutation, fc.boolean()], { seed: SEED, numRuns: runs(250) })(
    'load: consistent or refused, naming the file',
    (m, pretty) => {
      writeFileSync(file, applyJsonMutation(doc, m, pretty ? 2 : undefined));
      judge(
        t,
        file,
        () => BpeTokenizer.load(file),
        (loaded) => {
          const ids = loaded.encode('the naïve cat 🙂 Zebra');
          check(
            ids.every((id) => Number.isInteger(id) && id >= 0 && id < loaded.vocabSize),
            'ids in range',
          );
          check(BpeTokenizer.fromJSON(loaded.toJSON()).toJSON() === loaded.toJSON(), 'toJSON round trip');
        },
      );
    },
  );
});

describe('metrics.jsonl', () => {
  const dir = join(root, 'metrics');
  const file = join(dir, 'metrics.jsonl');
  let clock = 1000;
  const log = new MetricsLog(dir, { now: () => clock++ });
  const records = [
    { phase: 'pretrain', step: 1, loss: 5.2, lr: 1e-3, tokens_per_s: 1234 },
    { phase: 'pretrain', step: 2, val_loss: Number.POSITIVE_INFINITY, val_perplexity: Number.NaN },
    { phase: 'finetune', epoch: 1, train_loss: 0.4, dev_f1: null },
  ];
  for (const r of records) log.log(r);
  const written = readMetrics(file);
  const lines = written.map((r) =>
    JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))),
  );
  const mutation = fc.oneof(
    { weight: 3, arbitrary: fc.record({ line: fc.nat(), m: jsonMutation }) },
    { weight: 1, arbitrary: fc.record({ raw: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }) },
  );
  const t = tally('metrics.jsonl');
  test.prop([mutation, fc.boolean()], { seed: SEED, numRuns: runs(300) })(
    'readMetrics: consistent or refused, naming the file',
    (m, skip) => {
      let bytes: Buffer;
      if ('line' in m) {
        const i = (m.line as number) % lines.length;
        bytes = Buffer.concat(
          lines.map((l, j) =>
            Buffer.concat([
              j === i ? applyJsonMutation(l, m.m as JsonMutation) : Buffer.from(JSON.stringify(l)),
              Buffer.from('\n'),
            ]),
          ),
        );
      } else
        bytes = mutateBytes(
          Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join('')),
          m.raw as ByteEdit[],
        );
      writeFileSync(file, bytes);
      judge(
        t,
        file,
        () => readMetrics(file, { skipMalformed: skip }),
        (read) => {
          for (const r of read) {
            check(typeof r.time === 'number', `time ${String(r.time)}`);
            check(r.step === undefined || (Number.isSafeInteger(r.step) && r.step >= 0), 'step');
          }
        },
      );
    },
  );
});

describe('text files (CoNLL, raw text)', () => {
  const file = join(root, 'input.txt');
  const t = tally('text (readTextFile)');
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .tuple(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.array(byteEdit, { maxLength: 2 }))
      .map(([s, edits]) => new Uint8Array(mutateBytes(Buffer.from(s), edits))),
  );
  test.prop([input, fc.constantFrom('error', 'report')], { seed: SEED, numRuns: runs(300) })(
    'readTextFile: UTF-8 exactly, or an error / a report naming file and byte offset',
    (bytes, mode) => {
      writeFileSync(file, bytes);
      const seen: InvalidUtf8[] = [];
      const onInvalid = mode === 'error' ? 'error' : (i: InvalidUtf8) => void seen.push(i);
      const outcome = judge(
        t,
        file,
        () => readTextFile(file, { onInvalid }),
        (text) => {
          if (isUtf8(bytes))
            check(Buffer.from(text).equals(Buffer.from(bytes)) && seen.length === 0, 'exact');
          else {
            check(seen.length === 1 && seen[0].bytes > 0, 'reported once with a count');
            check(seen[0].firstOffset === firstInvalidUtf8(bytes), 'offset');
          }
        },
      );
      if (outcome === 'refused') expect(isUtf8(bytes)).toBe(false);
    },
  );
});

describe('CoNLL and CoNLL-U files', () => {
  const file = join(root, 'data.conll');
  const t = tally('CoNLL / CoNLL-U (readConll)');
  const conll = [
    '-DOCSTART- -X- O',
    '',
    'We X O',
    'met X O',
    'Ann X B-PER',
    'Lee X I-PER',
    '. X O',
    '',
    'Hi X O',
    '',
  ].join('\n');
  const conllu = [
    '# text = We met Ann.',
    '1\tWe\twe\tPRON\t_\t_\t2\tnsubj\t_\t_',
    '2-3\tmet\t_\t_\t_\t_\t_\t_\t_\t_',
    '2\tmet\tmeet\tVERB\t_\t_\t0\troot\t_\t_',
    '3\tAnn\tAnn\tPROPN\t_\t_\t2\tobj\t_\t_',
    '',
  ].join('\n');
  // Edits of whole lines (dropped, doubled, a column removed or added, tabs for spaces) and of raw bytes.
  const lineEdit = fc.record({
    line: fc.nat(),
    kind: fc.constantFrom('drop', 'double', 'cut-column', 'extra-column', 'tabs', 'blank'),
  });
  const input = fc.record({
    base: fc.constantFrom(conll, conllu),
    lines: fc.array(lineEdit, { maxLength: 3 }),
    bytes: fc.array(byteEdit, { maxLength: 2 }),
    column: fc.option(fc.integer({ min: -4, max: 12 }), { nil: undefined }),
  });
  test.prop([input], { seed: SEED, numRuns: runs(300) })(
    'readConll: consistent or refused, naming the file',
    ({ base, lines, bytes, column }) => {
      const rows = base.split('\n');
      for (const e of lines) {
        const i = e.line % rows.length;
        const row = rows[i]!;
        const cells = row.split(/\t| /);
        const edited = {
          drop: [],
          double: [row, row],
          'cut-column': [cells.slice(0, -1).join(row.includes('\t') ? '\t' : ' ')],
          'extra-column': [`${row}${row.includes('\t') ? '\t' : ' '}X`],
          tabs: [row.replaceAll(' ', '\t')],
          blank: [''],
        }[e.kind as string]!;
        rows.splice(i, 1, ...edited);
      }
      writeFileSync(file, mutateBytes(Buffer.from(rows.join('\n')), bytes));
      judge(
        t,
        file,
        () => readConll(file, column === undefined ? {} : { labelColumn: column }),
        (sentences) => {
          for (const s of sentences) {
            check(s.words.length > 0 && s.words.length === s.labels.length, 'words and labels pair up');
            check(s.words.every((w) => w.length > 0) && s.labels.every((l) => l.length > 0), 'no empty cell');
          }
        },
      );
    },
  );
});

describe('experiment config', () => {
  // Given backbones beside the config (directories relative to it): their config.json is real, the weights are
  // stand-ins (only hashed).
  const dir = join(root, 'experiment');
  const file = join(dir, 'grid.json');
  for (const kind of ['decoder', 'encoder'] as const) {
    mkdirSync(join(dir, kind), { recursive: true });
    const model = makeConfig({
      vocabSize: 300,
      dModel: 32,
      heads: 2,
      layers: 3,
      dFF: 64,
      maxPositions: 64,
      kind,
    });
    const objective = kind === 'decoder' ? 'clm' : 'mlm';
    writeFileSync(
      join(dir, kind, 'config.json'),
      JSON.stringify({ kind: 'reprise-backbone', model, objective, training: {} }),
    );
    writeFileSync(join(dir, kind, 'model.safetensors'), kind);
    writeFileSync(join(dir, kind, 'tokenizer.json'), '{}');
  }
  // Fields of the records below are optional unless listed in requiredKeys.
  const bit = fc.boolean();
  const ratio = fc.double({ min: 0, max: 0.9, noNaN: true });
  // Mostly within the backbone's layers (2 to 4), now and then not.
  const layers = fc.array(
    fc.oneof({ weight: 9, arbitrary: fc.nat(1) }, { weight: 1, arbitrary: fc.nat(4) }),
    {
      maxLength: 2,
    },
  );
  const budget = fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant('all' as const));
  const seeds = fc.array(fc.nat(4), { minLength: 1, maxLength: 2 });
  const model = fc.record(
    {
      dModel: fc.constantFrom(16, 32, 48),
      heads: fc.constantFrom(1, 2, 2, 4, 3),
      layers: fc.integer({ min: 2, max: 4 }),
      dFF: fc.constantFrom(32, 64),
      maxPositions: fc.constantFrom(64, 128),
      dropout: ratio,
      positions: fc.constantFrom('rotary', 'learned'),
      tieEmbeddings: bit,
    },
    { requiredKeys: [] },
  );
  const pretrainOptions = fc.record(
    {
      model,
      vocabSize: fc.integer({ min: 2, max: 5000 }),
      steps: fc.integer({ min: 1, max: 1000 }),
      batchSize: fc.integer({ min: 1, max: 32 }),
      context: fc.integer({ min: 2, max: 256 }),
      lr: fc.double({ min: 1e-5, max: 0.1, noNaN: true }),
      warmupSteps: fc.nat(100),
      seed: fc.nat(10),
      checkpointEvery: fc.nat(100),
      repeatFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    },
    { requiredKeys: [] },
  );
  const finetune = fc.record(
    {
      unmaskedLayers: layers,
      finalNorm: bit,
      separator: bit,
      positions: fc.constantFrom('continue', 'reset'),
      lastCopyOnly: bit,
      headDropout: ratio,
      epochs: fc.integer({ min: 1, max: 5 }),
      patience: fc.nat(3),
      batchSize: fc.integer({ min: 1, max: 64 }),
      lr: fc.double({ min: 1e-5, max: 0.1, noNaN: true }),
      warmupRatio: ratio,
      maxTokens: fc.integer({ min: 1, max: 512 }),
      labelSubword: fc.constantFrom('first', 'last'),
    },
    { requiredKeys: [] },
  );
  const variant = fc.record(
    {
      method: fc.constantFrom(...METHODS),
      r: fc.integer({ min: 1, max: 8 }),
      layer: fc.oneof(
        { weight: 9, arbitrary: fc.integer({ min: 1, max: 2 }) },
        { weight: 1, arbitrary: fc.integer({ min: 3, max: 5 }) },
      ),
      positions: fc.constantFrom('continue', 'reset'),
      separator: bit,
      lastCopyOnly: bit,
      labelSubword: fc.constantFrom('first', 'last'),
      unmaskedLayers: layers,
    },
    { requiredKeys: ['method'] },
  );
  const group = fc.record(
    {
      name: fc.constantFrom('main', 'curve', 'ablation', 'r8', 'early-exit', 'positions'),
      title: fc.string({ maxLength: 8 }),
      tasks: fc.uniqueArray(fc.constantFrom(...EXPERIMENT_TASKS), { minLength: 1 }),
      variants: fc.array(variant, { minLength: 1, maxLength: 3 }),
      seeds,
      trainSentences: fc.array(budget, { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: ['name', 'title', 'tasks', 'variants'] },
  );
  const backbones = fc.oneof(
    fc.record({ pretrain: fc.record({ options: pretrainOptions, encoder: bit }) }),
    fc.record({
      backbones: fc.record(
        { decoder: fc.constant('decoder'), encoder: fc.constant('encoder') },
        { requiredKeys: ['decoder'] },
      ),
    }),
  );
  /** Generated configs: valid shapes with values that may break the relations (layers, minWords, names). */
  const config = fc
    .record({
      name: fc.stringMatching(/^[\w.-]{1,12}$/),
      seeds,
      backbones,
      data: fc.record({
        trainSentences: budget,
        devSentences: budget,
        testSentences: budget,
        synthetic: fc.record({
          train: fc.integer({ min: 1, max: 100 }),
          dev: fc.integer({ min: 1, max: 100 }),
          test: fc.integer({ min: 1, max: 100 }),
          classes: fc.integer({ min: 2, max: 8 }),
          minWords: fc.integer({ min: 1, max: 6 }),
          maxWords: fc.integer({ min: 5, max: 12 }),
        }),
      }),
      finetune,
      groups: fc.array(group, { minLength: 1, maxLength: 3 }),
    })
    .map(({ backbones: b, ...c }) => ({ ...c, ...b }));

  /** What an accepted config must give: the relations hold, and every run it plans makes a labeler that loads. */
  const consistent = (c: ExperimentConfig) => {
    check((c.pretrain === undefined) !== (c.backbones === undefined), 'pretrain xor backbones');
    check(
      Object.values(c.backbones ?? {}).every((d) => isAbsolute(d)),
      'backbone directories resolved',
    );
    check(c.data.synthetic.minWords <= c.data.synthetic.maxWords, 'minWords ≤ maxWords');
    check(new Set(c.groups.map((g) => g.name)).size === c.groups.length, 'group names unique');
    const planned = planRuns(c);
    check(planned.length > 0 && new Set(planned.map((r) => r.id)).size === planned.length, 'run ids');
    for (const run of planned) {
      const { finetune: o, backbone } = run.settings;
      const m = { vocabSize: 300, ...backbone.model } as TransformerConfig;
      const l = labelerSettingsSchema.parse(labelerSettings(o, m, 0));
      check(l.layer === undefined || l.layer <= m.layers, `${run.id}: layer`);
      const mask = l.mask;
      if (typeof mask === 'object')
        check(mask.unmaskedLayers.length > 0 && mask.unmaskedLayers.every((x) => x < m.layers), 'unmasked');
      check(
        Number.isInteger(o.epochs) && o.epochs >= 1 && o.lr > 0 && o.batchSize >= 1,
        `${run.id}: options`,
      );
    }
  };
  const t = tally('experiment config');
  test.prop([config, fc.option(jsonMutation, { freq: 2 }), fc.boolean()], { seed: SEED, numRuns: runs(500) })(
    'load: consistent or refused, naming the file',
    (doc, m, pretty) => {
      writeFileSync(file, m ? applyJsonMutation(doc, m, pretty ? 2 : undefined) : JSON.stringify(doc));
      judge(t, file, () => loadExperimentConfig(file), consistent);
    },
  );
});

describe('the cases of issue 17, one by one', () => {
  const write = (name: string, bytes: string | Buffer) => {
    const path = join(root, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('a metrics line without a numeric time, or not UTF-8, is malformed (with its line number)', () => {
    const path = write('m.jsonl', '{"time":1,"step":1}\n{"step":2}\n');
    expect(() => readMetrics(path)).toThrow(
      `${path}:2: malformed metrics line (time: missing; expected number)`,
    );
    write('m.jsonl', '{"time":"soon"}\n');
    expect(() => readMetrics(path)).toThrow(/m\.jsonl:1: .*time: expected number, found "soon"/);
    write('m.jsonl', '{"time":1,"step":1.5}\n');
    expect(() => readMetrics(path)).toThrow(/step: expected int, found 1\.5/);
    write(
      'm.jsonl',
      Buffer.concat([
        Buffer.from('{"time":1}\n{"time":2,"phase":"'),
        Buffer.from([0xff]),
        Buffer.from('"}\n'),
      ]),
    );
    expect(() => readMetrics(path)).toThrow(
      /m\.jsonl:2: malformed metrics line \(invalid UTF-8 at byte offset 30 of the file\)/,
    );
    expect(readMetrics(path, { skipMalformed: true })).toEqual([{ time: 1 }]);
    write('m.jsonl', `{"time":1,"x":${'['.repeat(100_000)}\n`);
    expect(() => readMetrics(path)).toThrow(
      /m\.jsonl:1: malformed metrics line \(nested more than 16 levels deep\)/,
    );
  });

  it('deep nesting in tokenizer.json or a safetensors shape is refused before parsing', () => {
    const tok = write('deep-tokenizer.json', `{"version":"1.0","model":${'['.repeat(1_000_000)}`);
    expect(() => BpeTokenizer.load(tok)).toThrow(
      /deep-tokenizer\.json:1:\d+: JSON nested more than 32 levels deep/,
    );
    const header = Buffer.from(`{"x":{"dtype":"F32","shape":${'['.repeat(100_000)}`);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    expect(() => decodeSafetensors(Buffer.concat([len, header]), 'deep.safetensors')).toThrow(
      /safetensors deep\.safetensors: header nests deeper than 4 levels/,
    );
  });

  it('an unknown key in tokenizer.json is refused with the closest valid one', () => {
    const doc = JSON.parse(trainBpe(corpusOfWords(500), { vocabSize: 270 }).toJSON());
    doc.pre_tokenzer = doc.pre_tokenizer;
    expect(() => BpeTokenizer.fromJSON(JSON.stringify(doc), 'typo.json')).toThrow(
      /typo\.json: unknown key "pre_tokenzer" \(did you mean 'pre_tokenizer'\?\)/,
    );
  });

  it('the experiment config: deep nesting, bad UTF-8 and the fields finding 5 names are refused with context', () => {
    const grid = {
      name: 'g',
      seeds: [1],
      pretrain: { options: {}, encoder: false },
      data: {
        trainSentences: 8,
        devSentences: 4,
        testSentences: 4,
        synthetic: { train: 4, dev: 4, test: 4, classes: 4, minWords: 3, maxWords: 5 },
      },
      finetune: {},
      groups: [{ name: 'm', title: 'm', tasks: ['synthetic'], variants: [{ method: 'causal' }] }],
    };
    const path = write('grid.json', JSON.stringify(grid));
    expect(loadExperimentConfig(path).groups[0]!.variants).toEqual([{ method: 'causal' }]);
    const refused = (patch: (g: typeof grid & Record<string, unknown>) => void) => {
      const g = structuredClone(grid);
      patch(g);
      write('grid.json', JSON.stringify(g));
      return () => loadExperimentConfig(path);
    };
    // Once a TypeError far from the file: `(v.unmaskedLayers ?? []).join is not a function`.
    expect(
      refused((g) => (g.groups[0]!.variants = [{ method: 'unmask-layers', unmaskedLayers: '1,2' } as never])),
    ).toThrow(`${path}: groups[0].variants[0].unmaskedLayers: expected a list of layer numbers`);
    expect(refused((g) => Object.assign(g.finetune, { epochs: 0, lr: 'x' }))).toThrow(
      `${path}: finetune.epochs: expected an integer ≥ 1, found 0; finetune.lr: expected a number in (0, ∞), found "x"`,
    );
    expect(refused((g) => Object.assign(g.pretrain.options, { model: { layers: 65536 } }))).toThrow(
      `${path}: pretrain.options.model.layers: expected an integer in [1, 1024], found 65536`,
    );
    expect(refused((g) => (g.data.synthetic.minWords = 9))).toThrow(
      `${path}: data.synthetic.minWords: must not exceed data.synthetic.maxWords (5), found 9`,
    );
    write('grid.json', `{"name":"g","seeds":${'['.repeat(100_000)}`);
    expect(() => loadExperimentConfig(path)).toThrow(
      /experiment config .*grid\.json:1:\d+: JSON nested more than 16 levels deep/,
    );
    write(
      'grid.json',
      Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    );
    expect(() => loadExperimentConfig(path)).toThrow(/grid\.json: invalid UTF-8 at byte offset 9/);
    expect(() => loadExperimentConfig(root)).toThrow(`experiment config ${root} is a directory`);
  });

  it('a directory where a file belongs is named as such', () => {
    expect(() => readMetrics(root)).toThrow(`metrics log ${root} is a directory; expected a file here`);
    expect(() => readTextFile(root)).toThrow(`${root} is a directory; expected a file here`);
  });
});
