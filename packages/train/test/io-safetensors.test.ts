/**
 * @file safetensors: round trips of awkward tensors, byte-exact agreement with a file built by hand from the
 * spec, F16 and BF16 widened to F32 (known bit patterns; every F16 pattern against numpy when python3 has it),
 * header-only reads, and refusal (naming the source) of each kind of corrupt file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type HostTensor,
  decodeSafetensors,
  decodeSafetensorsHeader,
  encodeSafetensors,
  hostTensor,
  readSafetensorsFile,
  readSafetensorsHeader,
} from '../src/io/index.ts';
import { fileOf, halves, rawFile } from './safetensors-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'reprise-safetensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bitsOf = (a: Float32Array | Int32Array) =>
  Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function expectSameTensors(a: Record<string, HostTensor>, b: Record<string, HostTensor>) {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const name of Object.keys(a)) {
    expect(b[name].dtype, name).toBe(a[name].dtype);
    expect(b[name].shape, name).toEqual(a[name].shape);
    expect(b[name].data.constructor, name).toBe(a[name].data.constructor);
    // Compare bit patterns so NaN payloads and -0 count.
    expect(bitsOf(b[name].data), name).toEqual(bitsOf(a[name].data));
  }
}

describe('safetensors round trip', () => {
  it('keeps odd shapes, scalars, empty tensors, I32 and special floats', () => {
    const odd = new Float32Array(3 * 5 * 7).map((_, i) => Math.sin(i) * 1e3);
    const tensors: Record<string, HostTensor> = {
      'blocks.0.attn.w_qkv': hostTensor([3, 5, 7], odd),
      'z.scalar': hostTensor([], new Float32Array([Math.PI])),
      'i.scalar': hostTensor([], new Int32Array([-7])),
      empty: hostTensor([0], new Float32Array(0)),
      'empty.middle': hostTensor([2, 0, 3], new Float32Array(0)),
      'empty.i32': hostTensor([0, 4], new Int32Array(0)),
      ids: hostTensor([2, 3], new Int32Array([0, 1, -1, 2147483647, -2147483648, 42])),
      special: hostTensor(
        [6],
        new Float32Array([Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, 3.4e38]),
      ),
      one: hostTensor([1], new Float32Array([1])),
    };
    const metadata = { format: 'test', note: 'ünïcödé ✓' };
    const bytes = encodeSafetensors(tensors, metadata);
    const back = decodeSafetensors(bytes);
    expectSameTensors(tensors, back.tensors);
    expect(back.metadata).toEqual(metadata);
    expect(back.tensors.special.dtype).toBe('F32');
    expect(Object.is(back.tensors.special.data[1], -0)).toBe(true);
  });

  it('encodes only the viewed part of a typed array and decodes into aligned, independent arrays', () => {
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const bytes = encodeSafetensors({ v: hostTensor([3], big.subarray(1, 4)) });
    // Decode from a view at an odd byte offset: the result must still be a valid Float32Array.
    const shifted = Buffer.alloc(bytes.length + 1);
    bytes.copy(shifted, 1);
    const src = shifted.subarray(1);
    const back = decodeSafetensors(src).tensors.v;
    expect(Array.from(back.data)).toEqual([1, 2, 3]);
    expect(back.data.byteOffset).toBe(0);
    src.fill(0);
    expect(Array.from(back.data)).toEqual([1, 2, 3]);
  });

  it('handles no tensors at all', () => {
    const bytes = encodeSafetensors({});
    expect(bytes.readBigUInt64LE(0)).toBe(8n);
    expect(bytes.subarray(8).toString()).toBe('{}      ');
    expect(decodeSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  it('lays tensors out in sorted name order with contiguous offsets', () => {
    const bytes = encodeSafetensors({
      c: hostTensor([1], new Float32Array([3])),
      a: hostTensor([2], new Float32Array([1, 1])),
      b: hostTensor([], new Int32Array([2])),
    });
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
    expect(Object.keys(header)).toEqual(['a', 'b', 'c']);
    expect([header.a.data_offsets, header.b.data_offsets, header.c.data_offsets]).toEqual([
      [0, 8],
      [8, 12],
      [12, 16],
    ]);
  });
});

describe('safetensors bytes', () => {
  // Built by hand from the spec: u64 LE header length, compact JSON header padded with spaces to a multiple
  // of 8 (132 bytes + 4 spaces = 136), then F32 [1, -2] and I32 7, little-endian.
  const header =
    '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}';
  const known = Buffer.concat([
    Buffer.from([136, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from(header, 'utf8'),
    Buffer.from('    '),
    Buffer.from([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]),
    Buffer.from([0x07, 0x00, 0x00, 0x00]),
  ]);

  it('encodes exactly the known-good file', () => {
    expect(header.length).toBe(132);
    const bytes = encodeSafetensors(
      { b: hostTensor([], new Int32Array([7])), a: hostTensor([2], new Float32Array([1, -2])) },
      { k: 'v' },
    );
    expect(bytes.toString('hex')).toBe(known.toString('hex'));
  });

  it('decodes the known-good file, and an unpadded one with another key order', () => {
    const expected = {
      tensors: {
        a: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
        b: { dtype: 'I32', shape: [], data: new Int32Array([7]) },
      },
      metadata: { k: 'v' },
    };
    expect(decodeSafetensors(known)).toEqual(expected);
    const unpadded = rawFile(
      '{"b":{"shape":[],"dtype":"I32","data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}',
      known.subarray(8 + 136),
    );
    expect(decodeSafetensors(unpadded)).toEqual(expected);
  });
});

describe('safetensors refuses corrupt files', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  const entry = (dtype: string, shape: number[], begin: number, end: number) =>
    JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
  const cases: [string, Buffer, RegExp][] = [
    [
      'a file shorter than 8 bytes',
      Buffer.from([1, 2, 3]),
      /3 bytes, too short for the 8-byte header length/,
    ],
    [
      'a header length beyond the file',
      (() => {
        const b = rawFile('{}');
        b.writeBigUInt64LE(1000n, 0);
        return b;
      })(),
      /header length 1000 is beyond the end of the file \(2 bytes/,
    ],
    [
      'a huge header length',
      (() => {
        const b = rawFile('{}');
        b.writeBigUInt64LE(0xffffffffffffffffn, 0);
        return b;
      })(),
      /header length 18446744073709551615 is beyond the end/,
    ],
    ['a header that is not JSON', rawFile('{"a": {'), /header is not JSON/],
    ['a header that is not UTF-8', rawFile('{}').fill(0xff, 8), /header is not valid UTF-8/],
    ['a header that is a JSON array', rawFile('[]'), /header is not a JSON object/],
    [
      'an unknown dtype',
      rawFile(`{"h":${entry('F17', [2], 0, 4)}}`, f32(1)),
      /tensor 'h': dtype: unknown dtype "F17" \(safetensors dtypes: BOOL, .*F16, BF16/,
    ],
    [
      'a known dtype the caller did not ask for (F16 is read only on request)',
      rawFile(`{"h":${entry('F16', [2], 0, 4)}}`, f32(1)),
      /tensor 'h': dtype F16 is not read here \(accepted: F32, I32\)/,
    ],
    [
      'an F16 shape that does not match its offsets (2 bytes per element)',
      rawFile(`{"h":${entry('F16', [3], 0, 4)}}`, f32(1)),
      /tensor 'h': shape \[3\] of F16 needs 6 bytes but data_offsets \[0, 4\] span 4/,
    ],
    [
      'a negative dimension',
      rawFile(`{"x":${entry('F32', [-1], 0, 4)}}`, f32(1)),
      /tensor 'x': shape\[0\]: expected number to be >=0, found -1/,
    ],
    [
      'a shape that does not match its offsets',
      rawFile(`{"w":${entry('F32', [2, 3], 0, 20)}}`, f32(5)),
      /tensor 'w': shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] span 20/,
    ],
    [
      'reversed offsets',
      rawFile(`{"w":${entry('F32', [1], 4, 0)}}`, f32(1)),
      /data_offsets must be \[begin, end\]/,
    ],
    [
      'overlapping tensors',
      rawFile(`{"a":${entry('F32', [2], 0, 8)},"b":${entry('F32', [2], 4, 12)}}`, f32(3)),
      /tensors 'a' and 'b' overlap/,
    ],
    [
      'offsets past the data section',
      rawFile(`{"a":${entry('F32', [2], 0, 8)}}`, f32(1)),
      /tensor 'a': data_offsets \[0, 8\] run past the 4-byte data section/,
    ],
    [
      'a gap between tensors',
      rawFile(`{"a":${entry('F32', [1], 0, 4)},"b":${entry('F32', [1], 8, 12)}}`, f32(3)),
      /gap of 4 unused bytes before tensor 'b'/,
    ],
    [
      'trailing garbage',
      rawFile(`{"a":${entry('F32', [1], 0, 4)}}`, new Uint8Array(7)),
      /3 trailing bytes after the last tensor/,
    ],
    ['non-string metadata', rawFile('{"__metadata__":{"n":1}}'), /__metadata__ value 'n' is not a string/],
  ];
  it.each(cases)('refuses %s', (_what, bytes, message) => {
    expect(() => decodeSafetensors(bytes, 'runs/x/bad.safetensors')).toThrow(message);
    expect(() => decodeSafetensors(bytes, 'runs/x/bad.safetensors')).toThrow(
      /^safetensors runs\/x\/bad\.safetensors: /,
    );
  });
});

describe('safetensors refuses bad tensors to encode', () => {
  it.each([
    [
      'a size mismatch',
      { w: hostTensor([2, 2], new Float32Array(3)) },
      /'w': shape \[2, 2\] has 4 elements but data has 3/,
    ],
    [
      'a wrong array type',
      { w: { dtype: 'I32', shape: [1], data: new Float32Array(1) } },
      /dtype I32 needs a Int32Array/,
    ],
    [
      'an unknown dtype',
      { w: { dtype: 'F16', shape: [1], data: new Float32Array(1) } },
      /unsupported dtype 'F16'/,
    ],
    [
      'a fractional dimension',
      { w: hostTensor([1.5], new Float32Array(1)) },
      /shape must be non-negative integers/,
    ],
    [
      'the reserved name',
      { __metadata__: hostTensor([], new Float32Array(1)) },
      /'__metadata__' is reserved/,
    ],
  ] as [string, Record<string, HostTensor>, RegExp][])('refuses %s', (_what, tensors, message) => {
    expect(() => encodeSafetensors(tensors)).toThrow(message);
  });
});

describe('safetensors F16 and BF16, widened to F32 on request', () => {
  // [16-bit pattern, the f32 bit pattern it must become, what it is]
  const F16: [number, number, string][] = [
    [0x0000, 0x00000000, '+0'],
    [0x8000, 0x80000000, '-0'],
    [0x3c00, 0x3f800000, '1'],
    [0xc000, 0xc0000000, '-2'],
    [0x3555, 0x3eaaa000, '0.333251953125'],
    [0x7bff, 0x477fe000, '65504, the largest finite'],
    [0x0400, 0x38800000, '2^-14, the smallest normal'],
    [0x0001, 0x33800000, '2^-24, the smallest subnormal'],
    [0x8001, 0xb3800000, '-2^-24'],
    [0x03ff, 0x387fc000, '1023·2^-24, the largest subnormal'],
    [0x0200, 0x38000000, '2^-15, a subnormal'],
    [0x7c00, 0x7f800000, '+inf'],
    [0xfc00, 0xff800000, '-inf'],
    [0x7e00, 0x7fc00000, 'quiet NaN'],
    [0x7c01, 0x7f802000, 'signalling NaN, payload kept'],
    [0xfe01, 0xffc02000, 'negative NaN with payload'],
  ];
  const BF16: [number, number, string][] = [
    [0x3f80, 0x3f800000, '1'],
    [0xc000, 0xc0000000, '-2'],
    [0x4049, 0x40490000, '3.140625'],
    [0x8000, 0x80000000, '-0'],
    [0x0001, 0x00010000, 'the smallest subnormal, 2^-133'],
    [0x7f7f, 0x7f7f0000, 'the largest finite'],
    [0x7f80, 0x7f800000, '+inf'],
    [0xff80, 0xff800000, '-inf'],
    [0x7fc1, 0x7fc10000, 'NaN with payload'],
  ];
  const bits = (t: HostTensor) =>
    Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));

  it('widens every listed F16 and BF16 pattern exactly, little-endian, as F32 tensors', () => {
    const file = fileOf(
      {
        h: ['F16', [F16.length], halves(F16.map(([h]) => h))],
        b: ['BF16', [BF16.length], halves(BF16.map(([h]) => h))],
        m: ['F16', [2, 2], halves([0x3c00, 0x4000, 0x4200, 0x4400])],
        keep: ['F32', [1], Buffer.from(new Float32Array([0.5]).buffer)],
      },
      { format: 'pt' },
    );
    const { tensors, metadata } = decodeSafetensors(file, 'hf.safetensors', {
      accept: ['F32', 'F16', 'BF16'],
    });
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.h.dtype).toBe('F32');
    expect(tensors.h.data).toBeInstanceOf(Float32Array);
    const hex = (xs: number[]) => xs.map((x) => x.toString(16));
    expect(hex(bits(tensors.h))).toEqual(hex(F16.map(([, f]) => f)));
    expect(hex(bits(tensors.b))).toEqual(hex(BF16.map(([, f]) => f)));
    expect(tensors.h.data[4]).toBe(0.333251953125);
    expect(tensors.h.data[7]).toBe(2 ** -24);
    expect(tensors.b.data[4]).toBe(2 ** -133);
    expect(tensors.m).toEqual({ dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    expect(Array.from(tensors.keep.data)).toEqual([0.5]);
  });

  it('leaves skipped tensors unread, whatever their dtype, but still checks the layout', () => {
    const file = fileOf({
      'h.0.attn.bias': ['U8', [2, 2], new Uint8Array([1, 0, 1, 1])],
      w: ['BF16', [1], halves([0x3f80])],
    });
    const skip = (n: string) => n.endsWith('.attn.bias');
    const { tensors } = decodeSafetensors(file, 'gpt2.safetensors', { accept: ['BF16'], skip });
    expect(Object.keys(tensors)).toEqual(['w']);
    expect(() => decodeSafetensors(file, 'gpt2.safetensors', { accept: ['BF16'] })).toThrow(
      /^safetensors gpt2\.safetensors: tensor 'h\.0\.attn\.bias': dtype U8 is not read here \(accepted: BF16\)/,
    );
    const short = file.subarray(0, file.length - 1);
    expect(() => decodeSafetensors(short, 'gpt2.safetensors', { accept: ['BF16'], skip })).toThrow(
      /run past the 5-byte data section/,
    );
  });

  it('agrees with numpy on all 65536 F16 patterns in a file written by python', (ctx) => {
    // numpy writes the file by hand (header JSON + bytes, as safetensors' own writer lays it out): every F16
    // pattern, numpy's own widening of it, and BF16 cut from f32 values.
    const script = `
import json, struct, sys
import numpy as np
h = np.arange(65536, dtype=np.uint16)
want = h.view(np.float16).astype(np.float32)
f = np.array([1.0, -2.5, 3.0e38, 1e-40, float('inf'), -0.0, 0.1], dtype=np.float32)
b = (f.view(np.uint32) >> 16).astype(np.uint16)
bwant = (b.astype(np.uint32) << 16).view(np.float32)
tensors = [("h", "F16", h.tobytes()), ("h_f32", "F32", want.astype("<f4").tobytes()),
           ("b", "BF16", b.astype("<u2").tobytes()), ("b_f32", "F32", bwant.astype("<f4").tobytes())]
header, at = {"__metadata__": {"format": "pt"}}, 0
for name, dtype, data in tensors:
    n = len(data) // (2 if dtype in ("F16", "BF16") else 4)
    header[name] = {"dtype": dtype, "shape": [n], "data_offsets": [at, at + len(data)]}
    at += len(data)
js = json.dumps(header).encode()
js += b" " * (-len(js) % 8)
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<Q", len(js)) + js + b"".join(d for _, _, d in tensors))
`;
    const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      ctx.skip(`python3 with numpy is not available here (${(probe.stderr || String(probe.error)).trim()})`);
    }
    const path = join(tmp, 'numpy.safetensors');
    execFileSync('python3', ['-c', script, path]);
    const { tensors, metadata } = readSafetensorsFile(path, { accept: ['F32', 'F16', 'BF16'] });
    expect(metadata.format).toBe('pt');
    const got = bits(tensors.h);
    const want = bits(tensors.h_f32);
    expect(got.length).toBe(65536);
    const wrong: string[] = [];
    for (let i = 0; i < 65536; i++) {
      // NaN: numpy may or may not keep a signalling payload (hardware conversion); sign and NaN-ness must agree.
      const nan = Number.isNaN(tensors.h.data[i]) && Number.isNaN(tensors.h_f32.data[i]);
      const same = nan ? got[i] >>> 31 === want[i] >>> 31 : got[i] === want[i];
      if (!same) wrong.push(`0x${i.toString(16)}: ${got[i].toString(16)} vs numpy ${want[i].toString(16)}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(bits(tensors.b)).toEqual(bits(tensors.b_f32));
  });
});

describe('safetensors headers alone', () => {
  const file = fileOf(
    {
      a: ['BF16', [2, 3], halves([1, 2, 3, 4, 5, 6])],
      b: ['I64', [1], new Uint8Array(8)],
    },
    { format: 'pt' },
  );

  it('lists names, dtypes, shapes and offsets, from bytes or from a file read only up to its header', () => {
    const header = decodeSafetensorsHeader(file, 'x');
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.entries).toEqual([
      { name: 'a', dtype: 'BF16', shape: [2, 3], begin: 0, end: 12 },
      { name: 'b', dtype: 'I64', shape: [1], begin: 12, end: 20 },
    ]);
    expect(header.dataStart).toBe(file.length - 20);
    const path = join(tmp, 'header.safetensors');
    writeFileSync(path, file);
    expect(readSafetensorsHeader(path)).toEqual(header);
  });

  it('refuses a truncated file, a missing one and a directory, naming the path', () => {
    const path = join(tmp, 'cut.safetensors');
    writeFileSync(path, file.subarray(0, file.length - 3));
    expect(() => readSafetensorsHeader(path)).toThrow(
      new RegExp(
        `^safetensors ${path}: tensor 'b': data_offsets \\[12, 20\\] run past the 17-byte data section`,
      ),
    );
    writeFileSync(path, file.subarray(0, 5));
    expect(() => readSafetensorsHeader(path)).toThrow(`safetensors ${path}: file is 5 bytes, too short`);
    expect(() => readSafetensorsHeader(join(tmp, 'nope.safetensors'))).toThrow(
      `safetensors file ${join(tmp, 'nope.safetensors')} does not exist`,
    );
    expect(() => readSafetensorsHeader(tmp)).toThrow(`safetensors file ${tmp} is a directory`);
  });
});
