/**
 * Hand-made safetensors files for tests: any header text, any dtype, raw little-endian bytes, so that what our
 * writer cannot produce (F16, BF16, U8, no padding, broken layouts) can still be read back.
 */

/** A file from a header string and raw data, with no padding (legal: readers must not require it). */
export function rawFile(header: string, data: Uint8Array = new Uint8Array()): Buffer {
  const h = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** A file holding one tensor per entry: dtype, shape and raw bytes, laid out in entry order. */
export function fileOf(
  tensors: Record<string, [string, number[], Uint8Array]>,
  metadata?: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let at = 0;
  for (const [name, [dtype, shape, bytes]] of Object.entries(tensors)) {
    header[name] = { dtype, shape, data_offsets: [at, at + bytes.length] };
    at += bytes.length;
  }
  return rawFile(JSON.stringify(header), Buffer.concat(Object.values(tensors).map(([, , b]) => b)));
}

/** 16-bit patterns as little-endian bytes. */
export function halves(bits: number[]): Buffer {
  const b = Buffer.alloc(2 * bits.length);
  bits.forEach((x, i) => b.writeUInt16LE(x, 2 * i));
  return b;
}

/** f32 values as little-endian bytes. */
export const f32Bytes = (values: number[]) => Buffer.from(Float32Array.from(values).buffer);

/** BF16 bit patterns of f32 values that bfloat16 holds exactly (the top half of their f32 bits). */
export function bf16Bits(values: number[]): number[] {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  return values.map((v, i) => {
    if ((bits[i] & 0xffff) !== 0) throw new Error(`bf16Bits: ${v} is not exact in bfloat16`);
    return bits[i] >>> 16;
  });
}

/** F16 bit patterns of values that binary16 holds exactly as normal numbers (or zero). */
export function f16Bits(values: number[]): number[] {
  return values.map((v) => {
    if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
    const sign = v < 0 ? 0x8000 : 0;
    const e = Math.floor(Math.log2(Math.abs(v)));
    const mant = (Math.abs(v) / 2 ** e - 1) * 1024;
    if (e < -14 || e > 15 || !Number.isInteger(mant)) throw new Error(`f16Bits: ${v} is not a normal F16`);
    return sign | ((e + 15) << 10) | mant;
  });
}
