/**
 * @file safetensors: round trips of awkward tensors, byte-exact agreement with a file built by hand from the
 * spec, and refusal (naming the source) of each kind of corrupt file.
 */
import { describe, expect, it } from 'vitest';
import { type HostTensor, decodeSafetensors, encodeSafetensors, hostTensor } from '../src/io/index.ts';

/** A file from a header string and raw data, with no padding (legal: readers must not require it). */
function rawFile(header: string, data: Uint8Array = new Uint8Array()): Buffer {
  const h = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  out.set(data, 8 + h.length);
  return out;
}

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
      rawFile(`{"h":${entry('F16', [2], 0, 4)}}`, f32(1)),
      /tensor 'h': dtype: unknown dtype "F16"/,
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
