// Reading and writing image files under Node. The codecs themselves live in image.ts.

import { open, readFile } from 'node:fs/promises';
import { extname, isAbsolute, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import { writeFileAtomic } from './atomic-write.ts';
import { jpegOrientation, swapsSides } from './exif-orientation.ts';
import { decodeImage, encodePng, imageTooLargeError, jpegFrameSize, MAX_MEGAPIXELS, sniffImageFormat, toRgba8, type ImageFormat, type RgbImage } from './image.ts';

/** Output file extensions writeImageFile understands, and the format each one writes. */
export const OUTPUT_FORMATS: Readonly<Record<string, ImageFormat>> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg' };
/** JPEG quality for written images: visually lossless for stylized photos at a fraction of the PNG size. */
export const JPEG_QUALITY = 92;

/** The format an output path's extension asks for, or undefined when the extension is not supported. */
export function outputFormatFor(path: string): ImageFormat | undefined {
  return OUTPUT_FORMATS[extname(path).toLowerCase()];
}

/**
 * Reads a PNG or JPEG file (format sniffed from its bytes, not its extension).
 * Errors name the path: missing file, directory, unreadable file, or undecodable data.
 */
export async function readImageFile(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw fileReadError(path, err);
  }
  return decodeImage(bytes, path);
}

/**
 * Writes `image` as a PNG. The write is atomic (a reader never sees half a file) and missing
 * parent folders are created. The path must end in .png so the name does not lie about the data.
 */
export async function writePngFile(path: string, image: RgbImage): Promise<void> {
  if (!path.toLowerCase().endsWith('.png')) {
    throw new Error(`writePngFile: ${path} does not end in ".png"; this writes PNG data, so give the output a .png name`);
  }
  // Encode before touching the disk, so a bad image leaves no empty folders behind.
  const bytes = encodePng(image);
  await writeFileAtomic(path, bytes);
}

/**
 * Writes `image` as JPEG (.jpg, .jpeg) or PNG (.png), chosen by the extension; any other extension
 * throws before anything is written. Atomic, and missing parent folders are created.
 */
export async function writeImageFile(path: string, image: RgbImage): Promise<void> {
  const format = outputFormatFor(path);
  if (!format) {
    throw new Error(`${path}: cannot tell the image format from the extension; use one of ${Object.keys(OUTPUT_FORMATS).join(', ')}`);
  }
  const bytes = format === 'jpeg' ? encodeJpeg(image) : encodePng(image);
  await writeFileAtomic(path, bytes);
}

function encodeJpeg(image: RgbImage): Uint8Array {
  const encoded = jpeg.encode({ width: image.width, height: image.height, data: toRgba8(image) }, JPEG_QUALITY);
  return new Uint8Array(encoded.data.buffer, encoded.data.byteOffset, encoded.data.byteLength);
}

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/** Header bytes read by readImageHeader: enough for PNG's IHDR and for JPEG's frame header in almost every file. */
const HEADER_BYTES = 256 * 1024;

/**
 * Reads only the start of an image file and returns its format and size, so a batch can check every input
 * cheaply before any work. Throws the same clear errors as readImageFile for missing, unreadable or
 * non-image files; the pixel data itself is checked only when the image is decoded.
 */
export async function readImageHeader(path: string): Promise<ImageHeader> {
  let bytes: Uint8Array;
  try {
    const file = await open(path, 'r');
    try {
      const buffer = new Uint8Array(HEADER_BYTES);
      const { bytesRead } = await file.read(buffer, 0, HEADER_BYTES, 0);
      bytes = buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (err) {
    throw fileReadError(path, err);
  }
  const format = sniffImageFormat(bytes);
  const size = format === 'png' ? pngSize(bytes) : format === 'jpeg' ? jpegFrameSize(bytes) : undefined;
  if (!format || !size) {
    // Let the full decoder phrase the error (empty file, unknown format, corrupt header).
    decodeImage(bytes, path);
    throw new Error(`${path}: cannot find the image size in its header; re-export the image as PNG or JPEG`);
  }
  if (!(size.width > 0 && size.height > 0)) throw new Error(`${path}: the header gives an empty image (${size.width}×${size.height}); re-export the image`);
  // Refused from the header: decoding would allocate gigabytes before finding out.
  if (size.width * size.height > MAX_MEGAPIXELS * 1e6) throw imageTooLargeError(path, size.width, size.height);
  // The size as the image will be used: upright, as its EXIF orientation says.
  if (format === 'jpeg' && swapsSides(jpegOrientation(bytes))) return { format, width: size.height, height: size.width };
  return { format, ...size };
}

function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  // Signature (8), IHDR length (4) and type (4), then width and height, big-endian.
  if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function fileReadError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const where = isAbsolute(path) ? '' : ` (looked for ${resolve(path)})`;
    return new Error(`image not found: ${path}${where}`, { cause: err });
  }
  if (code === 'EISDIR') {
    return new Error(`${path} is a directory, not an image file; pass the path of a PNG or JPEG file`, { cause: err });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new Error(`cannot read image file ${path}: ${reason}`, { cause: err });
}
