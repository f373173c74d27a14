/**
 * Structure-aware mutations: overwrite one header field of a valid file with a hostile value, at
 * offsets found by walking the real structure (zip directory records, PNG IHDR, JPEG frame header),
 * so the fuzzer tries declared sizes, offsets and dimensions far more often than random bytes would.
 */
import fc from 'fast-check';
import { fixPngChecksums } from './png-repair.ts';

const hostileU32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
  fc.nat({ max: 0xffffffff }),
);
const hostileU16 = fc.oneof(fc.constantFrom(0, 1, 8, 0x7fff, 0xffff), fc.nat({ max: 0xffff }));

/** Absolute offsets of the fields a zip reader trusts: EOCD, ZIP64 record and each central header. */
function zipFields(bytes: Uint8Array): Array<{ at: number; width: 2 | 4 | 8 }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Array<{ at: number; width: 2 | 4 | 8 }> = [];
  const eocd = bytes.length - 22;
  fields.push({ at: eocd + 10, width: 2 }, { at: eocd + 12, width: 4 }, { at: eocd + 16, width: 4 });
  const locator = eocd - 20;
  let directory = view.getUint32(eocd + 16, true);
  if (locator >= 0 && view.getUint32(locator, true) === 0x07064b50) {
    const record = Number(view.getBigUint64(locator + 8, true));
    fields.push({ at: locator + 8, width: 8 }, { at: record + 32, width: 8 }, { at: record + 40, width: 8 }, { at: record + 48, width: 8 });
    directory = Number(view.getBigUint64(record + 48, true));
  }
  for (let at = directory; at + 46 <= bytes.length && view.getUint32(at, true) === 0x02014b50;) {
    for (const [offset, width] of [[10, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [42, 4]] as const) {
      fields.push({ at: at + offset, width });
    }
    const local = view.getUint32(at + 42, true);
    if (local + 30 <= bytes.length) fields.push({ at: local + 26, width: 2 }, { at: local + 28, width: 2 });
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return fields;
}

function patch(bytes: Uint8Array, at: number, width: 2 | 4 | 8, value: number, littleEndian: boolean): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at < 0 || at + width > bytes.length) return bytes;
  if (width === 2) view.setUint16(at, value & 0xffff, littleEndian);
  else if (width === 4) view.setUint32(at, value >>> 0, littleEndian);
  else view.setBigUint64(at, BigInt(value) * (value > 0xfffff ? 0x1000n : 1n), littleEndian);
  return bytes;
}

/** One to three zip header fields of a seed set to hostile values (zip bombs, bad offsets, ZIP64 sizes). */
export function zipFieldPatches(seeds: () => Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), hostileU32), { minLength: 1, maxLength: 3 }))
    .map(([seedIndex, patches]) => {
      const all = seeds();
      let bytes: Uint8Array = all[seedIndex % all.length]!.slice();
      const fields = zipFields(bytes);
      for (const [fieldIndex, value] of patches) {
        const field = fields[fieldIndex % fields.length]!;
        bytes = patch(bytes, field.at, field.width, value, true);
      }
      return bytes;
    });
}

/** PNG IHDR fields (size, depth, colour type, interlace) or a JPEG frame's size set to hostile values. */
export function imageHeaderPatches(seeds: () => Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat(), fc.constantFrom('width', 'height', 'both', 'depth', 'colour', 'interlace'), hostileU32, hostileU16, fc.nat({ max: 16 }))
    .map(([seedIndex, field, big, medium, small]) => {
      const all = seeds();
      const bytes = all[seedIndex % all.length]!.slice();
      if (bytes[0] === 0x89) {
        // IHDR data starts at byte 16: width, height (u32 BE), depth, colour type, compression, filter, interlace.
        if (field === 'width' || field === 'both') patch(bytes, 16, 4, field === 'both' ? medium : big, false);
        if (field === 'height' || field === 'both') patch(bytes, 20, 4, field === 'both' ? medium : big, false);
        if (field === 'depth') bytes[24] = small;
        if (field === 'colour') bytes[25] = small;
        if (field === 'interlace' || field === 'both') bytes[28] = 1;
        return fixPngChecksums(bytes);
      }
      const frame = jpegFrameHeader(bytes);
      if (frame >= 0) {
        if (field !== 'height') patch(bytes, frame + 7, 2, medium, false);
        if (field !== 'width') patch(bytes, frame + 5, 2, field === 'both' ? medium : big & 0xffff, false);
      }
      return bytes;
    });
}

/** Offset of the first baseline/progressive start-of-frame marker, or -1. */
export function jpegFrameHeader(bytes: Uint8Array): number {
  for (let at = 2; at + 9 < bytes.length;) {
    if (bytes[at] !== 0xff) return -1;
    const marker = bytes[at + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) return at;
    at += 2 + ((bytes[at + 2]! << 8) | bytes[at + 3]!);
  }
  return -1;
}
