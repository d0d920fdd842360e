/**
 * @file The safetensors file format: encode F32 and I32 host tensors; decode F32, I32, and (on request) F16 and
 * BF16 widened exactly to F32; read a file's header alone.
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then the raw
 * little-endian tensor data (offsets are relative to the start of that data section). Like the reference
 * writer we pad the header with spaces to a multiple of 8 and lay the tensors out in sorted name order.
 * No safetensors package is available on npm for us, hence this small implementation. Decoding validates
 * everything and names the source and the problem, because a checkpoint that half-loads is worse than none:
 * the header's length and nesting are bounded before it is parsed, each entry is checked against a zod schema
 * (unknown keys refused), and the entries must tile the data section exactly, whatever their dtypes. Which
 * dtypes become tensors is the caller's to say (`SafetensorsReadOptions.accept`: our own files hold F32 and I32 only),
 * and so is the dtype a weight must have (see `LoadExpectations.dtype`).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { widenHalf } from './half-float.ts';
import { readFileBytes, regularFileSize } from './read-file.ts';
import { firstInvalidUtf8 } from './text.ts';
import { count, describeIssues, jsonDepthExceeded, quote, strictObject } from './validate.ts';

export type HostDType = 'F32' | 'I32';

/** A tensor as plain host memory, row-major. Shape `[]` is a scalar (one element). */
export type HostTensor = { dtype: HostDType; shape: number[]; data: Float32Array | Int32Array };

export interface Safetensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';

// Typed arrays use host byte order; the format is little-endian. Every platform Node ships on is, but refuse
// rather than silently byte-swap weights if that ever changes.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A host tensor, its dtype inferred from the array type. */
export function hostTensor(shape: number[], data: Float32Array | Int32Array): HostTensor {
  return { dtype: data instanceof Int32Array ? 'I32' : 'F32', shape, data };
}

function checkTensor(name: string, t: HostTensor): void {
  const where = `safetensors: tensor '${name}'`;
  if (name === METADATA_KEY || name === '__proto__') {
    throw new Error(`safetensors: '${name}' is reserved, not a tensor name`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const ctor = t.dtype === 'F32' ? Float32Array : t.dtype === 'I32' ? Int32Array : undefined;
  if (!ctor) throw new Error(`${where}: unsupported dtype '${t.dtype}' (supported: F32, I32)`);
  if (!(t.data instanceof ctor)) throw new Error(`${where}: dtype ${t.dtype} needs a ${ctor.name}`);
  const n = elementCount(t.shape);
  if (t.data.length !== n) {
    throw new Error(`${where}: shape ${fmtShape(t.shape)} has ${n} elements but data has ${t.data.length}`);
  }
}

// The reference implementation sorts names as byte strings; compare UTF-8 so we match it exactly.
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Serialize tensors (and optional string metadata) to safetensors bytes. */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Buffer {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('safetensors: big-endian hosts are not supported');
  const names = Object.keys(tensors).sort(byUtf8);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new Error(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    checkTensor(name, t);
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded + offset, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  let at = 8 + padded;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A tensor name for messages, cut short: a hostile header can hold names of any length. */
const nameOf = (name: string) => `'${name.length > 80 ? `${name.slice(0, 80)}…` : name}'`;

/** Like the reference reader: a header over 100 MB is refused before it is decoded. */
export const MAX_HEADER_BYTES = 100_000_000;
/** Rank bound of a tensor's shape (ours have at most 2 dimensions). */
export const MAX_RANK = 8;
/** A header nests three levels (`{name: {shape: [...]}}`); anything deeper is not safetensors. */
const MAX_HEADER_DEPTH = 4;

/** Bytes per element of every dtype in the safetensors spec that has a whole number of them. */
export const STORED_DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;
/** A dtype a safetensors file may declare (the header is read and its layout checked for all of them). */
export type StoredDType = keyof typeof STORED_DTYPE_BYTES;
/** Stored dtypes that can become host tensors: F16 and BF16 are widened to F32, exactly. */
export type ReadableDType = 'F32' | 'I32' | 'F16' | 'BF16';
const STORED_DTYPES = Object.keys(STORED_DTYPE_BYTES) as [StoredDType, ...StoredDType[]];

export interface SafetensorsReadOptions {
  /**
   * Stored dtypes to read (default F32 and I32, what our own files hold); a tensor of any other dtype is
   * refused unless skipped. F16 and BF16 (Hugging Face files) come back as F32 tensors.
   */
  accept?: readonly ReadableDType[];
  /** Tensors to leave unread (buffers a model ignores); they still count in the layout check. */
  skip?: (name: string) => boolean;
}

/** One tensor's header entry; its relations (offsets vs shape, layout) are checked after. */
const entrySchema = strictObject({
  dtype: z.enum(STORED_DTYPES, {
    error: (iss) => `unknown dtype ${quote(iss.input)} (safetensors dtypes: ${STORED_DTYPES.join(', ')})`,
  }),
  shape: z
    .array(count(), { error: 'shape must be an array of non-negative integers' })
    .max(MAX_RANK, `shape must have at most ${MAX_RANK} dimensions`),
  data_offsets: z
    .tuple([count(), count()], { error: 'data_offsets must be [begin, end] of non-negative integers' })
    .refine(([begin, end]) => begin <= end, 'data_offsets must be [begin, end] with 0 <= begin <= end'),
});

/** A tensor as the header declares it; `begin` and `end` are byte offsets into the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  begin: number;
  end: number;
}

/** A validated header: its entries tile the data section, which starts at byte `dataStart` of the file. */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  dataStart: number;
}

type Fail = (msg: string) => never;

function parseEntry(fail: Fail, name: string, raw: unknown): SafetensorsEntry {
  const r = entrySchema.safeParse(raw, { reportInput: true });
  if (!r.success) fail(`tensor ${nameOf(name)}: ${describeIssues(r.error)}`);
  const { dtype, shape, data_offsets: offsets } = r.data!;
  const [begin, end] = offsets;
  // Safe-integer dimensions can multiply past 2^53; the byte count must equal a safe span to be believed.
  const bytes = elementCount(shape) * STORED_DTYPE_BYTES[dtype];
  if (end - begin !== bytes) {
    fail(
      `tensor ${nameOf(name)}: shape ${fmtShape(shape)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** Every byte of the data section must belong to exactly one tensor, as the reference reader demands. */
function checkLayout(fail: Fail, entries: SafetensorsEntry[], dataBytes: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.end > dataBytes) {
      fail(
        `tensor ${nameOf(e.name)}: data_offsets [${e.begin}, ${e.end}] run past the ${dataBytes}-byte data section`,
      );
    }
    if (e.begin < pos)
      fail(`tensors ${nameOf(prev!.name)} and ${nameOf(e.name)} overlap (byte ${e.begin} < ${pos})`);
    if (e.begin > pos)
      fail(`gap of ${e.begin - pos} unused bytes before tensor ${nameOf(e.name)} at byte ${pos}`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataBytes)
    fail(`${dataBytes - pos} trailing bytes after the last tensor (data ends at byte ${pos})`);
}

const failIn =
  (source: string): Fail =>
  (msg) => {
    throw new Error(`safetensors ${source}: ${msg}`);
  };

/** The header length from a file's first 8 bytes, checked against the file's size and the limit. */
function headerLength(fail: Fail, first8: Uint8Array, fileBytes: number): number {
  if (!HOST_IS_LITTLE_ENDIAN) fail('big-endian hosts are not supported');
  if (fileBytes < 8) fail(`file is ${fileBytes} bytes, too short for the 8-byte header length`);
  const headerLen = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(fileBytes - 8)) {
    fail(
      `header length ${headerLen} is beyond the end of the file (${fileBytes - 8} bytes after the length)`,
    );
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit`);
  return Number(headerLen);
}

/** Parses and validates the header bytes (those after the length) of a file of `fileBytes` bytes. */
function parseHeader(fail: Fail, headerBytes: Uint8Array, fileBytes: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail(
      `header is not valid UTF-8 (at byte offset ${8 + firstInvalidUtf8(headerBytes)} of the file)`,
    );
  }
  if (jsonDepthExceeded(text, MAX_HEADER_DEPTH) >= 0)
    fail(
      `header nests deeper than ${MAX_HEADER_DEPTH} levels; expected {name: {dtype, shape, data_offsets}}`,
    );
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not JSON (${quote((e as Error).message)})`);
  }
  if (!isPlainObject(header)) return fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [key, raw] of Object.entries(header)) {
    if (key === METADATA_KEY) {
      // Hugging Face writes {"format": "pt"} here; any string values are accepted and returned.
      if (!isPlainObject(raw)) fail(`${METADATA_KEY} is not an object`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY} value ${nameOf(k)} is not a string`);
        metadata[k] = v as string;
      }
    } else if (key === '__proto__') {
      // Assigning it to a plain object would replace the prototype instead of adding a tensor.
      fail(`tensor name '__proto__' is not supported`);
    } else {
      entries.push(parseEntry(fail, key, raw));
    }
  }
  const dataStart = 8 + headerBytes.length;
  checkLayout(fail, entries, fileBytes - dataStart);
  return { entries, metadata, dataStart };
}

/** The validated header of safetensors bytes, without reading any tensor. */
export function decodeSafetensorsHeader(buf: Buffer | Uint8Array, source = '<buffer>'): SafetensorsHeader {
  const fail = failIn(source);
  const n = headerLength(fail, buf.subarray(0, 8), buf.length);
  return parseHeader(fail, buf.subarray(8, 8 + n), buf.length);
}

/**
 * The validated header of the safetensors file at `path`, reading only its first 8 + header bytes: a sharded
 * checkpoint's names, dtypes and shapes can be checked before gigabytes of weights are read.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fail = failIn(path);
  const size = regularFileSize(path, 'safetensors file');
  const fd = openSync(path, 'r');
  try {
    const read = (length: number, position: number) => {
      const out = Buffer.alloc(length);
      for (let at = 0; at < length; ) {
        const got = readSync(fd, out, at, length - at, position + at);
        if (got === 0) fail(`file ended at byte ${position + at} while reading the header`);
        at += got;
      }
      return out;
    };
    const first8 = size >= 8 ? read(8, 0) : Buffer.alloc(0);
    const n = headerLength(fail, first8, size);
    return parseHeader(fail, read(n, 8), size);
  } finally {
    closeSync(fd);
  }
}

/** One entry's bytes as a fresh, aligned host tensor (independent of `buf`), widening F16/BF16 to F32. */
function materialize(e: SafetensorsEntry, bytes: Uint8Array): HostTensor {
  if (e.dtype === 'F16' || e.dtype === 'BF16') return hostTensor(e.shape, widenHalf(e.dtype, bytes));
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const data = e.dtype === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
  return { dtype: e.dtype as HostDType, shape: e.shape, data };
}

/**
 * Parse safetensors bytes. `source` (a file path, usually) is named in every error. Tensor data is copied
 * into fresh, aligned typed arrays, so the result does not keep `buf` alive.
 */
export function decodeSafetensors(
  buf: Buffer | Uint8Array,
  source = '<buffer>',
  options: SafetensorsReadOptions = {},
): Safetensors {
  const fail = failIn(source);
  const { entries, metadata, dataStart } = decodeSafetensorsHeader(buf, source);
  const accept: readonly StoredDType[] = options.accept ?? ['F32', 'I32'];
  const wanted = entries.filter((e) => !options.skip?.(e.name));
  for (const e of wanted) {
    if (!accept.includes(e.dtype))
      fail(`tensor ${nameOf(e.name)}: dtype ${e.dtype} is not read here (accepted: ${accept.join(', ')})`);
  }
  const tensors: Record<string, HostTensor> = {};
  for (const e of wanted)
    tensors[e.name] = materialize(e, buf.subarray(dataStart + e.begin, dataStart + e.end));
  return { tensors, metadata };
}

/** Reads and decodes the safetensors file at `path` (errors name it). */
export function readSafetensorsFile(path: string, options: SafetensorsReadOptions = {}): Safetensors {
  return decodeSafetensors(readFileBytes(path, { what: 'safetensors file' }), path, options);
}
