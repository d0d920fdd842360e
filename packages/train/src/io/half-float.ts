/**
 * @file Widening 16-bit floats (IEEE binary16 "F16" and bfloat16 "BF16") to f32, bit-exactly. Both are subsets
 * of f32, so no rounding happens: F16 subnormals become f32 normals, ±inf stay ±inf, and a NaN keeps its sign
 * and payload (shifted into the f32 mantissa, as numpy and PyTorch do). Input bytes are little-endian.
 */

let f16Table: Uint32Array | undefined;

/** f32 bit patterns of all 65536 F16 patterns, built on first use (256 KiB). */
function f16ToF32Bits(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) t[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) t[h] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    else if (mant === 0) t[h] = sign;
    else {
      // Subnormal, mant · 2^-24: shift the leading one into the implicit bit, lowering the exponent as we go.
      let e = 1 - 15 + 127;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      t[h] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  f16Table = t;
  return t;
}

/** Little-endian F16 (`'F16'`) or BF16 (`'BF16'`) bytes, 2 per element, as a fresh Float32Array. */
export function widenHalf(kind: 'F16' | 'BF16', bytes: Uint8Array): Float32Array {
  if (bytes.length % 2 !== 0)
    throw new Error(`widenHalf: ${bytes.length} bytes is not a whole number of halves`);
  const n = bytes.length / 2;
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  if (kind === 'BF16') {
    // bfloat16 is the top half of an f32.
    for (let i = 0; i < n; i++) bits[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
  } else {
    const table = f16ToF32Bits();
    for (let i = 0; i < n; i++) bits[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  }
  return out;
}
