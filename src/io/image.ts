// In-memory images and the PNG/JPEG codecs. Pure and browser-safe: no file system here
// (see image-file.ts for reading and writing files under Node).

import UPNG, { type UpngDecoded } from 'upng-js';
import jpeg from 'jpeg-js';
import { applyOrientation, jpegOrientation } from './exif-orientation.ts';

/**
 * An RGB image, stored HWC: row-major, 3 floats per pixel (R, G, B), values nominally 0..255.
 * Floats rather than bytes because the style-transfer pipeline produces out-of-range and
 * fractional values; they are rounded and clamped only when encoding.
 */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

export type ImageFormat = 'png' | 'jpeg';

const SUPPORTED_FORMATS = 'Supported formats: PNG and JPEG.';

/** Same ceiling jpeg-js applies by default; stops a forged PNG header from allocating gigabytes. */
export const MAX_MEGAPIXELS = 100;

/** The error for an image whose header declares more pixels than pastiche decodes; `source` names the file. */
export function imageTooLargeError(source: string, width: number, height: number): Error {
  return new Error(
    `${source}: the image is ${width}x${height} (${((width * height) / 1e6).toFixed(1)} megapixels), over the ${MAX_MEGAPIXELS} megapixel limit; ` +
      'downscale it first (e.g. to 4000 px on the long side)',
  );
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/** Throws a descriptive error unless `image` is a well-formed RgbImage. `context` names the caller. */
export function assertRgbImage(image: RgbImage, context: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${context}: image size ${width}x${height} is invalid; width and height must be positive integers`);
  }
  if (!(data instanceof Float32Array)) {
    throw new Error(`${context}: image data must be a Float32Array (RGB, 3 floats per pixel)`);
  }
  if (data.length !== width * height * 3) {
    throw new Error(
      `${context}: image data has ${data.length} floats but a ${width}x${height} RGB image needs ${width * height * 3}`,
    );
  }
}

/** Identifies PNG or JPEG from the leading magic bytes; file extensions are not trusted. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, JPEG_SIGNATURE)) return 'jpeg';
  return undefined;
}

/**
 * Decodes PNG or JPEG bytes into an RgbImage. PNGs of any colour type and bit depth are
 * accepted; 16-bit samples are reduced to 8 bits, and transparent pixels are composited over
 * white (a transparent background should read as paper, not as black). Colour profiles and
 * gAMA are ignored. For an animated PNG the still (IDAT) image is decoded.
 * `sourceName` (a file path, a URL) is put into every error message.
 */
export function decodeImage(bytes: Uint8Array, sourceName = 'image data'): RgbImage {
  if (bytes.length === 0) {
    throw new Error(`${sourceName}: the data is empty (0 bytes), so it is not an image. ${SUPPORTED_FORMATS}`);
  }
  const format = sniffImageFormat(bytes);
  if (format === 'png') return decodePng(bytes, sourceName);
  if (format === 'jpeg') return decodeJpeg(bytes, sourceName);
  throw new Error(
    `${sourceName}: not a PNG or JPEG image (${describeUnknownFormat(bytes)}). ${SUPPORTED_FORMATS} ` +
      'Convert the image to PNG or JPEG and try again.',
  );
}

/**
 * Encodes an image as a lossless 8-bit RGB PNG. Values are rounded and clamped to 0..255;
 * NaN or infinite values throw.
 */
export function encodePng(image: RgbImage): Uint8Array {
  const rgba = toRgba8(image);
  // upng does the filtering and deflate; the chunks are written here because UPNG.encode
  // truncates its output when the file outgrows the raw pixel size (tiny images).
  const compressed = UPNG.encode.compressPNG([rgba.buffer], image.width, image.height, 0, true);
  const pixelData = compressed.frames[0]?.cimg;
  if (compressed.ctype !== 2 || compressed.depth !== 8 || pixelData === undefined) {
    throw new Error(
      `encodePng: upng-js returned colour type ${compressed.ctype}, depth ${compressed.depth} instead of 8-bit RGB; ` +
        'the installed upng-js version behaves differently from 2.1.0',
    );
  }
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, image.width);
  headerView.setUint32(4, image.height);
  header.set([8, 2, 0, 0, 0], 8); // depth 8, RGB, deflate, standard filters, not interlaced
  return concatBytes([
    Uint8Array.from(PNG_SIGNATURE),
    pngChunk('IHDR', header),
    pngChunk('IDAT', pixelData),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Converts to opaque 8-bit RGBA, the layout canvases use (`new ImageData(rgba, w, h)`).
 * Values are rounded (half away from zero) and clamped to 0..255; NaN or infinite values throw,
 * because writing them as black would hide a diverged computation.
 */
export function toRgba8(image: RgbImage): Uint8ClampedArray<ArrayBuffer> {
  assertRgbImage(image, 'toRgba8');
  const { width, height, data } = image;
  const pixelCount = width * height;
  const rgba = new Uint8ClampedArray(pixelCount * 4);
  for (let pixel = 0; pixel < pixelCount; pixel++) {
    for (let channel = 0; channel < 3; channel++) {
      const value = data[pixel * 3 + channel]!;
      if (!Number.isFinite(value)) throw nonFinitePixelError(image, pixel, channel, value);
      rgba[pixel * 4 + channel] = Math.min(255, Math.max(0, Math.round(value)));
    }
    rgba[pixel * 4 + 3] = 255;
  }
  return rgba;
}

/**
 * Builds an RgbImage from straight (non-premultiplied) 8-bit RGBA, such as canvas
 * `getImageData().data`. Transparent pixels are composited over white, as in decodeImage.
 */
export function fromRgba8(width: number, height: number, rgba: Uint8ClampedArray | Uint8Array): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`fromRgba8: size ${width}x${height} is invalid; width and height must be positive integers`);
  }
  if (rgba.length !== width * height * 4) {
    throw new Error(
      `fromRgba8: got ${rgba.length} bytes but a ${width}x${height} RGBA image needs ${width * height * 4}`,
    );
  }
  return compositeOverWhite(rgba, width, height);
}

function compositeOverWhite(rgba: ArrayLike<number>, width: number, height: number): RgbImage {
  const pixelCount = width * height;
  const data = new Float32Array(pixelCount * 3);
  for (let pixel = 0; pixel < pixelCount; pixel++) {
    const alpha = rgba[pixel * 4 + 3]!;
    for (let channel = 0; channel < 3; channel++) {
      const value = rgba[pixel * 4 + channel]!;
      // One division of an exact integer numerator: opaque pixels come through unchanged.
      data[pixel * 3 + channel] = alpha === 255 ? value : (value * alpha + 255 * (255 - alpha)) / 255;
    }
  }
  return { width, height, data };
}

// ---- PNG ------------------------------------------------------------------------------------

interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
  /** Where the IDAT payloads lie in the file: [start, end) byte ranges, in order. */
  imageData: Array<[number, number]>;
}

/** Bit depths the PNG specification allows for each colour type. */
const PNG_BIT_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const PNG_SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function decodePng(bytes: Uint8Array, source: string): RgbImage {
  // upng trusts its input: a truncated or bit-flipped file decodes to garbage without an error,
  // so the chunk structure and checksums are verified first.
  const header = checkPngStructure(bytes, source);
  checkDeclaredSizeIsBacked(header, source);
  let rgba: Uint8Array;
  try {
    const decoded = UPNG.decode(bytes);
    checkInflatedSize(bytes, decoded, header);
    // Without acTL upng expands the IDAT image, which is what non-animated viewers show.
    delete decoded.tabs['acTL'];
    const frames = UPNG.toRGBA8(decoded);
    if (frames.length === 0) throw new Error('no image frame');
    rgba = new Uint8Array(frames[0]!);
  } catch (err) {
    throw new Error(`${source}: corrupt PNG data (${messageOf(err)}). Re-export the image or convert it to another PNG.`, {
      cause: err,
    });
  }
  if (rgba.length !== header.width * header.height * 4) {
    throw new Error(`${source}: corrupt PNG data (decoded ${rgba.length} bytes for a ${header.width}x${header.height} image)`);
  }
  return compositeOverWhite(rgba, header.width, header.height);
}

/** Walks the chunk list: signature, IHDR first, every CRC correct, PLTE when needed, IDAT, IEND. */
function checkPngStructure(bytes: Uint8Array, source: string): PngHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (problem: string) =>
    new Error(`${source}: corrupt PNG file: ${problem}. Re-download or re-export the image.`);
  const tooLarge = (width: number, height: number) => imageTooLargeError(source, width, height);
  let header: PngHeader | undefined;
  let sawPalette = false;
  let sawImageData = false;
  let sawEnd = false;
  let offset = PNG_SIGNATURE.length;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) {
      throw corrupt(`truncated at byte ${bytes.length}, in the middle of a chunk header`);
    }
    const length = view.getUint32(offset);
    const type = chunkTypeName(bytes, offset + 4);
    if (type === undefined) throw corrupt(`invalid chunk type at byte ${offset + 4}`);
    const crcOffset = offset + 8 + length;
    if (crcOffset + 4 > bytes.length) {
      throw corrupt(`truncated: chunk "${type}" at byte ${offset} needs ${length} bytes but the file ends at byte ${bytes.length}`);
    }
    if (crc32(bytes, offset + 4, crcOffset) !== view.getUint32(crcOffset)) {
      throw corrupt(`checksum mismatch in chunk "${type}" at byte ${offset}`);
    }
    if (header === undefined && type !== 'IHDR') throw corrupt(`first chunk is "${type}" but must be IHDR`);
    if (type === 'IHDR') header = parsePngHeader(view, offset + 8, length, corrupt, tooLarge);
    else if (type === 'PLTE') sawPalette = true;
    else if (type === 'IDAT') {
      sawImageData = true;
      header!.imageData.push([offset + 8, crcOffset]);
    }
    else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
    offset = crcOffset + 4;
  }
  if (header === undefined) throw corrupt('truncated right after the PNG signature');
  if (!sawEnd) throw corrupt('truncated: the IEND chunk that closes every PNG is missing');
  if (!sawImageData) throw corrupt('no IDAT chunk, so there is no pixel data');
  if (header.colorType === 3 && !sawPalette) throw corrupt('palette image without a PLTE chunk');
  return header;
}

function parsePngHeader(view: DataView, offset: number, length: number, corrupt: (problem: string) => Error, tooLarge: (width: number, height: number) => Error): PngHeader {
  if (length !== 13) throw corrupt(`IHDR chunk is ${length} bytes instead of 13`);
  const width = view.getUint32(offset);
  const height = view.getUint32(offset + 4);
  const bitDepth = view.getUint8(offset + 8);
  const colorType = view.getUint8(offset + 9);
  const compression = view.getUint8(offset + 10);
  const filter = view.getUint8(offset + 11);
  const interlace = view.getUint8(offset + 12);
  if (width === 0 || height === 0) throw corrupt(`image size ${width}x${height} has no pixels`);
  if (width * height > MAX_MEGAPIXELS * 1e6) {
    throw tooLarge(width, height);
  }
  const allowedDepths = PNG_BIT_DEPTHS[colorType];
  if (allowedDepths === undefined) throw corrupt(`unknown colour type ${colorType}`);
  if (!allowedDepths.includes(bitDepth)) throw corrupt(`bit depth ${bitDepth} is not allowed for colour type ${colorType}`);
  if (compression !== 0 || filter !== 0 || interlace > 1) {
    throw corrupt(`unknown compression/filter/interlace method ${compression}/${filter}/${interlace}`);
  }
  return { width, height, bitDepth, colorType, interlaced: interlace === 1, imageData: [] };
}

/** DEFLATE's best case is about 1032 output bytes per input byte (258-byte matches in ~2 bits). */
export const MAX_DEFLATE_RATIO = 1032;

/** Bytes of filtered pixel data (a filter byte per row) the header declares, summed over Adam7 passes when interlaced. */
function declaredFilteredSize(header: PngHeader): number {
  const bitsPerPixel = PNG_SAMPLES_PER_PIXEL[header.colorType]! * header.bitDepth;
  const filteredSize = (width: number, height: number) => (width <= 0 || height <= 0 ? 0 : height * (1 + Math.ceil((width * bitsPerPixel) / 8)));
  if (!header.interlaced) return filteredSize(header.width, header.height);
  return ADAM7_PASSES.reduce((sum, [x0, y0, dx, dy]) => sum + filteredSize(Math.ceil((header.width - x0) / dx), Math.ceil((header.height - y0) / dy)), 0);
}

/**
 * Refuses a header whose size the compressed data cannot possibly fill, before the decoder
 * allocates buffers for it: a 100-byte file declaring 10000x10000 must not cost gigabytes.
 */
function checkDeclaredSizeIsBacked(header: PngHeader, source: string): void {
  const compressed = header.imageData.reduce((sum, [start, end]) => sum + end - start, 0);
  const declared = declaredFilteredSize(header);
  if (declared > compressed * MAX_DEFLATE_RATIO + 1024) {
    throw new Error(
      `${source}: corrupt PNG file: the header declares a ${header.width}x${header.height} image (${declared} bytes of pixel data) ` +
        `but the file holds only ${compressed} compressed bytes, which cannot inflate to that; the file is truncated or damaged. ` +
        'Re-download or re-export the image.',
    );
  }
}

/** A zlib stream cut short inside a valid chunk inflates to too few bytes without an error. */
function checkInflatedSize(bytes: Uint8Array, decoded: UpngDecoded, header: PngHeader): void {
  if (decoded.data === undefined) throw new Error('no pixel data after decompression');
  // upng unfilters non-interlaced data in place, so its length is the inflated length. Interlaced
  // data is copied into a full-size buffer, which hides a short stream: inflate it again to measure.
  let inflated = decoded.data.length;
  const expected = declaredFilteredSize(header);
  if (header.interlaced) {
    inflated = UPNG.decode._inflate(concatRanges(bytes, header.imageData))?.length ?? 0;
  }
  if (inflated < expected) {
    throw new Error(`pixel data decompresses to ${inflated} bytes, expected ${expected}`);
  }
}

/** Adam7: each pass's first column and row, and its column and row steps. */
const ADAM7_PASSES: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

function concatRanges(bytes: Uint8Array, ranges: ReadonlyArray<[number, number]>): Uint8Array {
  const out = new Uint8Array(ranges.reduce((sum, [start, end]) => sum + end - start, 0));
  let offset = 0;
  for (const [start, end] of ranges) {
    out.set(bytes.subarray(start, end), offset);
    offset += end - start;
  }
  return out;
}

function chunkTypeName(bytes: Uint8Array, offset: number): string | undefined {
  let name = '';
  for (let i = 0; i < 4; i++) {
    const code = bytes[offset + i]!;
    const isLetter = (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
    if (!isLetter) return undefined;
    name += String.fromCharCode(code);
  }
  return name;
}

function pngChunk(type: string, payload: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + payload.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, payload.length);
  for (let i = 0; i < 4; i++) chunk[4 + i] = type.charCodeAt(i);
  chunk.set(payload, 8);
  view.setUint32(8 + payload.length, crc32(chunk, 4, 8 + payload.length));
  return chunk;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (the zlib/PNG polynomial) of bytes[start, end). */
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- JPEG -----------------------------------------------------------------------------------

/**
 * Huffman-coded JPEG spends at least one bit per 8x8 block of each component in its DC scan (codes
 * are 1..16 bits), so a file of n bytes holds at most 512·n pixels. More is refused before jpeg-js
 * allocates for the declared size.
 */
export const MAX_JPEG_PIXELS_PER_BYTE = 512;

/**
 * Decodes a JPEG (baseline or progressive; greyscale, YCbCr, RGB or CMYK) and turns it upright as its
 * EXIF Orientation tag says, as browsers do. A declared size over the limit, or more pixels than the
 * file's bytes can code, is refused before decoding.
 */
function decodeJpeg(bytes: Uint8Array, source: string): RgbImage {
  const declared = jpegFrameSize(bytes);
  if (declared && declared.width * declared.height > MAX_MEGAPIXELS * 1e6) throw imageTooLargeError(source, declared.width, declared.height);
  if (declared !== undefined && declared.width * declared.height > Math.max(MAX_JPEG_PIXELS_PER_BYTE * bytes.length, 1 << 16)) {
    throw new Error(
      `${source}: corrupt JPEG file: the header declares a ${declared.width}x${declared.height} image but the file holds only ` +
        `${bytes.length} bytes, far too few for that many pixels; the file is truncated or damaged. Re-download or re-export the image.`,
    );
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  } catch (err) {
    throw new Error(
      `${source}: could not decode JPEG data (${messageOf(err)}). The file may be corrupt or truncated, or use a ` +
        'JPEG variant this decoder lacks (such as arithmetic coding); re-save it as a standard JPEG or as PNG.',
      { cause: err },
    );
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4) {
    throw new Error(`${source}: corrupt JPEG data (decoded size ${width}x${height} with ${data.length} bytes)`);
  }
  // jpeg-js fills alpha with 255, so the composite is a plain copy.
  return applyOrientation(compositeOverWhite(data, width, height), jpegOrientation(bytes));
}

/** The stored (not yet oriented) size from a JPEG's start-of-frame header, or undefined when none is found. */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset++;
      continue;
    }
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    // Start-of-frame markers C0..CF, except C4 (Huffman tables), C8 (reserved) and CC (arithmetic tables).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[offset + 5]! << 8) | bytes[offset + 6]!, width: (bytes[offset + 7]! << 8) | bytes[offset + 8]! };
    }
    offset += 2 + length;
  }
  return undefined;
}

// ---- helpers --------------------------------------------------------------------------------

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((byte, i) => bytes[i] === byte);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function asciiAt(bytes: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = offset; i < Math.min(bytes.length, offset + length); i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/** Names common formats people try anyway, so the error says what the file actually is. */
function describeUnknownFormat(bytes: Uint8Array): string {
  const head = asciiAt(bytes, 0, 24);
  if (head.startsWith('GIF8')) return 'it looks like a GIF';
  if (head.startsWith('RIFF') && asciiAt(bytes, 8, 4) === 'WEBP') return 'it looks like a WebP';
  if (head.startsWith('BM')) return 'it looks like a BMP';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'it looks like a TIFF';
  if (asciiAt(bytes, 4, 4) === 'ftyp') return 'it looks like a HEIF/AVIF';
  if (head.startsWith('version https://git-lfs')) return 'it is a Git LFS pointer, not the image itself; run `git lfs pull`';
  const firstBytes = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `first bytes: ${firstBytes}`;
}

function nonFinitePixelError(image: RgbImage, pixel: number, channel: number, value: number): Error {
  const x = pixel % image.width;
  const y = Math.floor(pixel / image.width);
  return new Error(
    `toRgba8: pixel (${x}, ${y}) channel ${'RGB'[channel]} is ${value}; the image holds non-finite values, ` +
      'which usually means the computation that produced it diverged',
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
