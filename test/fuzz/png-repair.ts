/**
 * Recomputes every PNG chunk CRC after a mutation, so the fuzzer reaches the decoder behind the
 * checksum wall (a mutated chunk otherwise only ever tests the CRC check).
 */
import { crc32 } from 'node:zlib';

export function fixPngChecksums(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    const crcAt = offset + 8 + length;
    if (crcAt + 4 > bytes.length) break;
    view.setUint32(crcAt, crc32(bytes.subarray(offset + 4, crcAt)));
    offset = crcAt + 4;
  }
  return bytes;
}
