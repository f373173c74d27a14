/**
 * A minimal, read-only ZIP reader: enough for PyTorch checkpoints (which miniz writes as
 * STORED entries, ZIP64 records when large) and for archives re-packed by other tools
 * (DEFLATE). Entries are located through the central directory, the authoritative index,
 * so data descriptors and padding in local headers don't matter.
 *
 * Browser-compatible: DEFLATE goes through `DecompressionStream('deflate-raw')` unless an
 * inflate function is injected.
 */

import { clipText } from './message-text.ts';

/** Decompresses raw DEFLATE data (no zlib or gzip wrapper) to exactly `expectedSize` bytes. */
export type InflateRaw = (compressed: Uint8Array, expectedSize: number) => Promise<Uint8Array>;

export interface ZipEntry {
  name: string;
  /** 0 = STORED, 8 = DEFLATE; anything else is rejected when the entry is read. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
}

export interface ZipReaderOptions {
  /** Names the file in error messages, e.g. its path. */
  sourceName?: string;
  /** Replaces the default `DecompressionStream`-based inflate. */
  inflateRaw?: InflateRaw;
  /**
   * Check each entry's CRC-32 after reading it (default true). Costs one pass over the bytes;
   * turn it off for very large archives whose integrity is known.
   */
  verifyCrc32?: boolean;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_SIZE = 22;
const MAX_COMMENT_LENGTH = 0xffff;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_SIZE = 30;
const ZIP64_EXTRA_FIELD_ID = 0x0001;
const FLAG_ENCRYPTED = 0x0001;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** DEFLATE's best case is about 1032 output bytes per input byte (258-byte matches in ~2 bits). */
const MAX_DEFLATE_RATIO = 1032;

export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly bytes: Uint8Array;
  private readonly sourceName: string;
  private readonly inflateRaw: InflateRaw;
  private readonly verifyCrc32: boolean;

  constructor(bytes: Uint8Array, options: ZipReaderOptions = {}) {
    this.bytes = bytes;
    this.sourceName = options.sourceName ?? 'zip archive';
    this.inflateRaw = options.inflateRaw ?? inflateRawWithStreams;
    this.verifyCrc32 = options.verifyCrc32 ?? true;
    this.entries = readCentralDirectory(bytes, this.sourceName);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * The entry's uncompressed bytes. STORED entries are returned as a view into the archive
   * (no copy), so don't write to the result.
   */
  async read(name: string): Promise<Uint8Array> {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new Error(`${this.sourceName}: the zip has no entry named '${clipText(name)}'`);
    }
    const compressed = this.compressedData(entry);
    let data: Uint8Array;
    if (entry.method === METHOD_STORED) {
      if (entry.compressedSize !== entry.uncompressedSize) {
        throw this.corrupt(`STORED entry '${name}' claims ${entry.compressedSize} bytes on disk but ${entry.uncompressedSize} uncompressed`);
      }
      data = compressed;
    } else if (entry.method === METHOD_DEFLATE) {
      // Checked before inflating: a zip bomb's directory may declare far more than its data can hold.
      const mostPossible = entry.compressedSize * MAX_DEFLATE_RATIO + 1024;
      if (entry.uncompressedSize > mostPossible) {
        throw this.corrupt(
          `entry '${name}' declares ${entry.uncompressedSize} bytes uncompressed, but its ${entry.compressedSize} compressed bytes ` +
            `can inflate to at most ${mostPossible}`,
        );
      }
      try {
        data = await this.inflateRaw(compressed, entry.uncompressedSize);
      } catch (err) {
        throw this.corrupt(`entry '${name}' could not be inflated (${(err as Error).message})`);
      }
      if (data.length !== entry.uncompressedSize) {
        throw this.corrupt(`entry '${name}' inflated to ${data.length} bytes but the directory says ${entry.uncompressedSize}`);
      }
    } else {
      throw new Error(
        `${this.sourceName}: entry '${clipText(name)}' uses ZIP compression method ${entry.method}; only STORED (0) and ` +
          `DEFLATE (8) are supported. Re-save the file with torch.save, or re-zip it without compression.`,
      );
    }
    if (this.verifyCrc32) {
      const actual = crc32(data);
      if (actual !== entry.crc32) {
        throw this.corrupt(`entry '${name}' fails its CRC-32 check (stored ${hex32(entry.crc32)}, computed ${hex32(actual)})`);
      }
    }
    return data;
  }

  private compressedData(entry: ZipEntry): Uint8Array {
    const at = entry.localHeaderOffset;
    if (at + LOCAL_HEADER_SIZE > this.bytes.length) {
      throw this.corrupt(`the local header of '${entry.name}' lies past the end of the file`);
    }
    const view = dataViewOf(this.bytes);
    if (view.getUint32(at, true) !== LOCAL_HEADER_SIGNATURE) {
      throw this.corrupt(`no local header where the directory puts '${entry.name}' (offset ${at})`);
    }
    // The local extra field may differ from the central one (PyTorch pads it for alignment).
    const nameLength = view.getUint16(at + 26, true);
    const extraLength = view.getUint16(at + 28, true);
    const start = at + LOCAL_HEADER_SIZE + nameLength + extraLength;
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) {
      throw this.corrupt(`entry '${entry.name}' needs bytes up to ${end} but the file has ${this.bytes.length}`);
    }
    return this.bytes.subarray(start, end);
  }

  private corrupt(problem: string): Error {
    return corruptZip(this.sourceName, problem);
  }
}

function corruptZip(sourceName: string, problem: string): Error {
  return new Error(`${sourceName}: truncated or corrupt zip: ${clipText(problem)}. Re-download or re-save the file.`);
}

/** Opens a ZIP archive held in memory. Throws if the central directory can't be read. */
export function openZip(bytes: Uint8Array, options: ZipReaderOptions = {}): ZipArchive {
  return new ZipArchive(bytes, options);
}

/** True when the bytes start like a ZIP file (a local header or an empty archive). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[2] === 0x05 && bytes[3] === 0x06));
}

interface DirectoryLocation {
  entryCount: number;
  offset: number;
  size: number;
}

function readCentralDirectory(bytes: Uint8Array, sourceName: string): Map<string, ZipEntry> {
  const corrupt = (problem: string) => corruptZip(sourceName, problem);
  const view = dataViewOf(bytes);
  const eocd = findEndOfCentralDirectory(view);
  if (eocd < 0) {
    throw corrupt('no end-of-central-directory record (the file is cut short, or is not a zip)');
  }
  const location = readZip64Location(view, eocd, corrupt) ?? {
    entryCount: view.getUint16(eocd + 10, true),
    size: view.getUint32(eocd + 12, true),
    offset: view.getUint32(eocd + 16, true),
  };
  if (location.offset + location.size > bytes.length) {
    throw corrupt(`the central directory (offset ${location.offset}, ${location.size} bytes) runs past the end of the file`);
  }

  const entries = new Map<string, ZipEntry>();
  const nameDecoder = new TextDecoder('utf-8');
  let at = location.offset;
  const end = location.offset + location.size;
  for (let i = 0; i < location.entryCount; i++) {
    if (at + CENTRAL_HEADER_SIZE > end || view.getUint32(at, true) !== CENTRAL_HEADER_SIGNATURE) {
      throw corrupt(`central directory entry ${i} of ${location.entryCount} is missing or damaged`);
    }
    const flags = view.getUint16(at + 8, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (next > end) {
      throw corrupt(`central directory entry ${i} runs past the directory's end`);
    }
    const nameStart = at + CENTRAL_HEADER_SIZE;
    const name = nameDecoder.decode(bytes.subarray(nameStart, nameStart + nameLength));
    if (flags & FLAG_ENCRYPTED) {
      throw new Error(`${sourceName}: zip entry '${clipText(name)}' is encrypted; decrypt the archive first`);
    }
    const entry: ZipEntry = {
      name,
      method: view.getUint16(at + 10, true),
      crc32: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      uncompressedSize: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
    };
    applyZip64Extra(view, nameStart + nameLength, extraLength, entry, corrupt);
    if (!entries.has(name)) entries.set(name, entry);
    at = next;
  }
  return entries;
}

/** Scans backwards for the EOCD signature; the record is last, followed only by its comment. */
function findEndOfCentralDirectory(view: DataView): number {
  const lowest = Math.max(0, view.byteLength - EOCD_SIZE - MAX_COMMENT_LENGTH);
  for (let at = view.byteLength - EOCD_SIZE; at >= lowest; at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE &&
        at + EOCD_SIZE + view.getUint16(at + 20, true) === view.byteLength) {
      return at;
    }
  }
  return -1;
}

/** The ZIP64 directory location, when a ZIP64 locator sits just before the EOCD record. */
function readZip64Location(
  view: DataView,
  eocd: number,
  corrupt: (problem: string) => Error,
): DirectoryLocation | undefined {
  const locator = eocd - ZIP64_LOCATOR_SIZE;
  if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR_SIGNATURE) return undefined;
  const record = safeNumber(view.getBigUint64(locator + 8, true), 'ZIP64 record offset', corrupt);
  if (record + 56 > view.byteLength || view.getUint32(record, true) !== ZIP64_EOCD_SIGNATURE) {
    throw corrupt('the ZIP64 end-of-central-directory record is missing');
  }
  return {
    entryCount: safeNumber(view.getBigUint64(record + 32, true), 'entry count', corrupt),
    size: safeNumber(view.getBigUint64(record + 40, true), 'central directory size', corrupt),
    offset: safeNumber(view.getBigUint64(record + 48, true), 'central directory offset', corrupt),
  };
}

/** ZIP64 moves any 32-bit field that overflowed (stored as 0xFFFFFFFF) into extra field 0x0001. */
function applyZip64Extra(
  view: DataView,
  start: number,
  length: number,
  entry: ZipEntry,
  corrupt: (problem: string) => Error,
): void {
  const overflowed = 0xffffffff;
  const end = start + length;
  for (let at = start; at + 4 <= end;) {
    const id = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    const body = at + 4;
    if (body + size > end) throw corrupt(`an extra field of '${entry.name}' is cut short`);
    if (id === ZIP64_EXTRA_FIELD_ID) {
      let field = body;
      const take = (what: string): number => {
        if (field + 8 > body + size) throw corrupt(`the ZIP64 field of '${entry.name}' lacks its ${what}`);
        const value = safeNumber(view.getBigUint64(field, true), what, corrupt);
        field += 8;
        return value;
      };
      if (entry.uncompressedSize === overflowed) entry.uncompressedSize = take('uncompressed size');
      if (entry.compressedSize === overflowed) entry.compressedSize = take('compressed size');
      if (entry.localHeaderOffset === overflowed) entry.localHeaderOffset = take('local header offset');
      return;
    }
    at = body + size;
  }
}

function safeNumber(value: bigint, what: string, corrupt: (problem: string) => Error): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`the ${what} (${value}) is impossibly large`);
  return Number(value);
}

function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Raw-DEFLATE inflate through the Compression Streams API (Node ≥ 20 and browsers). */
export async function inflateRawWithStreams(compressed: Uint8Array, expectedSize: number): Promise<Uint8Array> {
  // The zip bytes always live in a plain ArrayBuffer; the cast only narrows ArrayBufferLike.
  const chunk = compressed as Uint8Array<ArrayBuffer>;
  const input = new ReadableStream<BufferSource>({
    start(controller) {
      controller.enqueue(chunk);
      controller.close();
    },
  });
  const reader = input.pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  // Chunks are kept and joined at the end, so memory follows what the data really inflates to,
  // never the size the archive declares.
  const chunks: Uint8Array[] = [];
  let written = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (written + value.length > expectedSize) {
      await reader.cancel();
      throw new Error(`inflated data exceeds the expected ${expectedSize} bytes`);
    }
    chunks.push(value);
    written += value.length;
  }
  if (chunks.length === 1) return chunks[0]!;
  const output = new Uint8Array(written);
  let at = 0;
  for (const chunk of chunks) {
    output.set(chunk, at);
    at += chunk.length;
  }
  return output;
}

/**
 * CRC-32 lookup tables for "slicing by 8": table k (at offset 256*k) gives the CRC contribution
 * of a byte followed by k zero bytes, so eight bytes fold in per step (~4x faster than one).
 */
const CRC32_TABLES = (() => {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const previous = tables[(k - 1) * 256 + n];
      tables[k * 256 + n] = (previous >>> 8) ^ tables[previous & 0xff];
    }
  }
  return tables;
})();

/** CRC-32 (IEEE 802.3, as ZIP uses) of the bytes. */
export function crc32(bytes: Uint8Array): number {
  const t = CRC32_TABLES;
  const words = dataViewOf(bytes);
  let c = ~0;
  let i = 0;
  for (const lastBlock = bytes.length - 8; i <= lastBlock; i += 8) {
    const low = c ^ words.getInt32(i, true);
    const high = words.getInt32(i + 4, true);
    c =
      t[0x700 + (low & 0xff)] ^ t[0x600 + ((low >>> 8) & 0xff)] ^ t[0x500 + ((low >>> 16) & 0xff)] ^ t[0x400 + (low >>> 24)] ^
      t[0x300 + (high & 0xff)] ^ t[0x200 + ((high >>> 8) & 0xff)] ^ t[0x100 + ((high >>> 16) & 0xff)] ^ t[high >>> 24];
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ ~0) >>> 0;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
