import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32,
  decodeBfloat16LE,
  decodeFloat16LE,
  encodeFloat16LE,
  float16BitsToFloat32,
  float32ToFloat16Bits,
} from '../../../src/nets/weights/float16.ts';

/** f16 value of non-negative finite bit patterns, from the definition: m * 2^(e - 25) with the implicit bit. */
function referenceHalfValue(bits: number): number {
  const exponentField = bits >> 10;
  const mantissaField = bits & 1023;
  return exponentField === 0 ? mantissaField * 2 ** -24 : (1024 + mantissaField) * 2 ** (exponentField - 25);
}

/** Oracle: nearest f16 by binary search over all non-negative finite values (plus 2^16 standing for +Inf), ties to even bits. */
const positiveHalfValues: number[] = [];
for (let bits = 0; bits <= 0x7bff; bits++) positiveHalfValues.push(referenceHalfValue(bits));
positiveHalfValues.push(65536); // bits 0x7c00: the first value past the range rounds to Infinity

function referenceEncodePositive(value: number): number {
  const values = positiveHalfValues;
  let lo = 0;
  let hi = values.length - 1;
  if (value >= values[hi]!) return 0x7c00;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= value) lo = mid;
    else hi = mid;
  }
  const below = value - values[lo]!;
  const above = values[hi]! - value;
  if (below < above) return lo;
  if (above < below) return hi;
  return lo % 2 === 0 ? lo : hi;
}

describe('float16', () => {
  it('encodes known values exactly', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest finite f16
      [65519, 0x7bff], // just below the rounding midpoint
      [65520, 0x7c00], // midpoint: ties to even = Infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // exactly half of it: tie to even = 0
      [1.5 * 2 ** -25, 0x0001],
      [2 ** -14, 0x0400], // smallest normal
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even mantissa wins
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 1+2^-10 and 1+2^-9: even mantissa wins
      [Math.fround(0.1), 0x2e66],
    ];
    for (const [value, bits] of cases) {
      expect(float32ToFloat16Bits(value), `encode ${value}`).toBe(bits);
    }
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });

  it('decodes every bit pattern to its defined value and re-encodes it unchanged', () => {
    // Collect mismatches rather than asserting 65536 times (keeps the test fast).
    const mismatches: string[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponentField = (bits >> 10) & 31;
      const decoded = float16BitsToFloat32(bits);
      if (exponentField === 31) {
        const ok = (bits & 1023) === 0 ? Math.abs(decoded) === Infinity : Number.isNaN(decoded);
        if (!ok) mismatches.push(`0x${bits.toString(16)} decoded to ${decoded}`);
        continue;
      }
      const magnitude = referenceHalfValue(bits & 0x7fff);
      if (!Object.is(decoded, bits & 0x8000 ? -magnitude : magnitude)) mismatches.push(`0x${bits.toString(16)} decoded to ${decoded}`);
      if (float32ToFloat16Bits(decoded) !== bits) mismatches.push(`0x${bits.toString(16)} re-encoded differently`);
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it('rounds random float32 values like a brute-force nearest-even search', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const values = new Float32Array(5000);
    for (let i = 0; i < values.length; i++) {
      // magnitudes from deep subnormal to past the f16 range, both signs
      values[i] = (random() < 0.5 ? -1 : 1) * 2 ** (random() * 46 - 30) * (1 + random());
    }
    const actual = Array.from(values, (value) => float32ToFloat16Bits(value));
    const expected = Array.from(values, (value) => referenceEncodePositive(Math.abs(value)) | (value < 0 ? 0x8000 : 0));
    expect(actual).toEqual(expected);
  });

  it('decodes little-endian arrays at unaligned offsets', () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]);
    expect(Array.from(decodeFloat16LE(bytes, 1, 3))).toEqual([1, -2, 2 ** -24]);
    expect(Array.from(encodeFloat16LE(new Float32Array([1, -2])))).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });

  it('decodes bfloat16 as the top half of a float32', () => {
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xc000)).toBe(-2);
    expect(bfloat16BitsToFloat32(0x4049)).toBe(3.140625);
    expect(Array.from(decodeBfloat16LE(new Uint8Array([0x00, 0x80, 0x3f, 0x49, 0x40]), 1, 2))).toEqual([1, 3.140625]);
  });
});
