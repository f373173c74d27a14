/**
 * Little-endian float32 decoding/encoding for weight files. Weight files put tensors at arbitrary
 * byte offsets, and a Float32Array view needs 4-byte alignment and host byte order, so these copy.
 */

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decodes `count` little-endian float32 values starting at `byteOffset` (any alignment). */
export function decodeFloat32LE(bytes: Uint8Array, byteOffset: number, count: number): Float32Array {
  const byteLength = count * 4;
  if (byteOffset < 0 || byteOffset + byteLength > bytes.length) {
    throw new RangeError(`decodeFloat32LE: ${count} floats at byte ${byteOffset} run past the end (${bytes.length} bytes)`);
  }
  if (hostIsLittleEndian) {
    // Copy the bytes into a fresh (aligned) buffer; the result never aliases the input.
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(byteOffset, byteOffset + byteLength));
    return new Float32Array(copy.buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** Encodes float32 values as little-endian bytes. */
export function encodeFloat32LE(values: Float32Array): Uint8Array {
  if (hostIsLittleEndian) {
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  }
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
  return out;
}
