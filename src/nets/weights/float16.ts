/**
 * IEEE 754 half precision (f16) and bfloat16 <-> float32 conversion, done on bit patterns so it is
 * exact and identical in Node and the browser (no dependence on Float16Array support).
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../gpu/half.ts';

export { float16BitsToFloat32, float32ToFloat16Bits };

// One float32 viewed as its bits: the cheapest way to get at a float's encoding in JS.
const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** Decodes bfloat16 bits: they are the top half of a float32. */
export function bfloat16BitsToFloat32(bits: number): number {
  scratchBits[0] = (bits & 0xffff) << 16;
  return scratchFloat[0]!;
}

// Every f16 value decoded once; bulk decoding is then a table lookup (256 KiB, built on first use).
let float16Table: Float32Array | null = null;

function getFloat16Table(): Float32Array {
  if (float16Table === null) {
    float16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) float16Table[bits] = float16BitsToFloat32(bits);
  }
  return float16Table;
}

/** Decodes `count` little-endian f16 values starting at `byteOffset` (any alignment). */
export function decodeFloat16LE(bytes: Uint8Array, byteOffset: number, count: number): Float32Array {
  const table = getFloat16Table();
  const out = new Float32Array(count);
  for (let i = 0, p = byteOffset; i < count; i++, p += 2) {
    out[i] = table[bytes[p]! | (bytes[p + 1]! << 8)]!;
  }
  return out;
}

/** Decodes `count` little-endian bfloat16 values starting at `byteOffset` (any alignment). */
export function decodeBfloat16LE(bytes: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0, p = byteOffset; i < count; i++, p += 2) {
    outBits[i] = ((bytes[p]! | (bytes[p + 1]! << 8)) << 16) >>> 0;
  }
  return out;
}

/** Encodes float32 values as little-endian f16 bytes (round to nearest even). */
export function encodeFloat16LE(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const bits = float32ToFloat16Bits(values[i]!);
    out[2 * i] = bits & 0xff;
    out[2 * i + 1] = bits >>> 8;
  }
  return out;
}
