/**
 * @file The safetensors file format, encode and decode, for F32 and I32 host tensors.
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then the raw
 * little-endian tensor data (offsets are relative to the start of that data section). Like the reference
 * writer we pad the header with spaces to a multiple of 8 and lay the tensors out in sorted name order.
 * No safetensors package is available on npm for us, hence this small implementation. Decoding validates
 * everything and names the source and the problem, because a checkpoint that half-loads is worse than none:
 * the header's length and nesting are bounded before it is parsed, each entry is checked against a zod schema
 * (unknown keys refused), and the entries must tile the data section exactly. Which dtype a tensor must have
 * is the caller's to say (see `LoadExpectations.dtype`).
 */
import { z } from 'zod';
import { firstInvalidUtf8 } from './text.ts';
import { count, describeIssues, jsonDepthExceeded, quote, strictObject } from './validate.ts';

export type HostDType = 'F32' | 'I32';

/** A tensor as plain host memory, row-major. Shape `[]` is a scalar (one element). */
export type HostTensor = { dtype: HostDType; shape: number[]; data: Float32Array | Int32Array };

export interface Safetensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<HostDType, number> = { F32: 4, I32: 4 };
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

/** One tensor's header entry; its relations (offsets vs shape, layout) are checked after. */
const entrySchema = strictObject({
  dtype: z.enum(['F32', 'I32'], {
    error: (iss) => `unknown dtype ${quote(iss.input)} (supported: F32, I32)`,
  }),
  shape: z
    .array(count(), { error: 'shape must be an array of non-negative integers' })
    .max(MAX_RANK, `shape must have at most ${MAX_RANK} dimensions`),
  data_offsets: z
    .tuple([count(), count()], { error: 'data_offsets must be [begin, end] of non-negative integers' })
    .refine(([begin, end]) => begin <= end, 'data_offsets must be [begin, end] with 0 <= begin <= end'),
});
/** The header entries' TypeScript type, from the schema. */
export type SafetensorsEntry = z.infer<typeof entrySchema>;

interface Entry {
  name: string;
  dtype: HostDType;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(fail: (msg: string) => never, name: string, raw: unknown): Entry {
  const r = entrySchema.safeParse(raw, { reportInput: true });
  if (!r.success) fail(`tensor ${nameOf(name)}: ${describeIssues(r.error)}`);
  const { dtype, shape, data_offsets: offsets } = r.data!;
  const [begin, end] = offsets;
  // Safe-integer dimensions can multiply past 2^53; the byte count must equal a safe span to be believed.
  const bytes = elementCount(shape) * BYTES[dtype];
  if (end - begin !== bytes) {
    fail(
      `tensor ${nameOf(name)}: shape ${fmtShape(shape)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** Every byte of the data section must belong to exactly one tensor, as the reference reader demands. */
function checkLayout(fail: (msg: string) => never, entries: Entry[], dataBytes: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
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

/**
 * Parse safetensors bytes. `source` (a file path, usually) is named in every error. Tensor data is copied
 * into fresh, aligned typed arrays, so the result does not keep `buf` alive.
 */
export function decodeSafetensors(buf: Buffer | Uint8Array, source = '<buffer>'): Safetensors {
  const fail = (msg: string): never => {
    throw new Error(`safetensors ${source}: ${msg}`);
  };
  if (!HOST_IS_LITTLE_ENDIAN) fail('big-endian hosts are not supported');
  if (buf.length < 8) fail(`file is ${buf.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(buf.length - 8)) {
    fail(
      `header length ${headerLen} is beyond the end of the file (${buf.length - 8} bytes after the length)`,
    );
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    const at = firstInvalidUtf8(buf.subarray(8, 8 + n));
    return fail(`header is not valid UTF-8 (at byte offset ${8 + at} of the file)`);
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
  const entries: Entry[] = [];
  for (const [key, raw] of Object.entries(header)) {
    if (key === METADATA_KEY) {
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
  const dataStart = 8 + n;
  checkLayout(fail, entries, buf.length - dataStart);

  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) {
    // A fresh ArrayBuffer at offset 0: aligned for the typed array, and independent of `buf`.
    const bytes = new Uint8Array(e.end - e.begin);
    bytes.set(buf.subarray(dataStart + e.begin, dataStart + e.end));
    const data = e.dtype === 'F32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}
