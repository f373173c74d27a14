/**
 * IEEE 754 half precision (f16) <-> float32 conversion on bit patterns, exact and identical in Node
 * and the browser (no dependence on Float16Array). Used for f16 tensor storage and f16 weight files.
 */

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/**
 * Encodes a float32 value as f16 bits, rounding to nearest with ties to even (IEEE default).
 * Values beyond the f16 range become ±Infinity; NaN stays NaN. A float64 argument is first rounded
 * to float32, so pass float32 data (a Float32Array element) to avoid double rounding.
 */
export function float32ToFloat16Bits(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    // Infinity keeps a zero mantissa; NaN keeps its top payload bits and is forced quiet.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;

  if (halfExponent <= 0) {
    // Result is an f16 subnormal (or zero): value = m * 2^-24 with m = significand >> shift.
    const shift = 14 - halfExponent;
    if (shift > 24) return sign; // below half of the smallest subnormal: rounds to zero
    const significand = mantissa | 0x800000;
    let halfMantissa = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (halfMantissa & 1) === 1)) halfMantissa++;
    // A carry into bit 10 yields the smallest normal number, which is the correct encoding.
    return sign | halfMantissa;
  }

  let half = sign | (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent (and may reach Infinity), as rounding should.
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
  return half;
}

/** Decodes f16 bits (0..0xffff) to the exactly equal number. */
export function float16BitsToFloat32(bits: number): number {
  const sign = (bits & 0x8000) !== 0 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Converts to f16 bits; with `padToWord`, the result has an even length (whole 4-byte words). */
export function float32ToFloat16(values: ArrayLike<number>, padToWord = false): Uint16Array {
  const out = new Uint16Array(padToWord ? Math.ceil(values.length / 2) * 2 : values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}

export function float16ToFloat32(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsToFloat32(bits[i]!);
  return out;
}
