/**
 * Hostile files (issue 17), part 1: property tests of the file-level loaders (safetensors, tokenizer.json, the
 * metrics log, the user's text files) on generated and mutated inputs. Each call must return a consistent result
 * or throw a clean Error naming the file, in bounded time; see hostile/fuzz.ts. Seeded; counts are printed.
 */
import { isUtf8 } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
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

  it('a directory where a file belongs is named as such', () => {
    expect(() => readMetrics(root)).toThrow(`metrics log ${root} is a directory; expected a file here`);
    expect(() => readTextFile(root)).toThrow(`${root} is a directory; expected a file here`);
  });
});
