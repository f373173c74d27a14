/**
 * What a file is, from its first bytes, in words for error messages ("a JPEG image", "a zip archive").
 * Used to refuse a file given in the wrong place (a photo as --model) with a message that says what it
 * is, instead of a parser's complaint about a nonsensical header length. Pure and browser-safe.
 */

export type FileKind = 'png' | 'jpeg' | 'gif' | 'webp' | 'zip' | 'pickle' | 'tflite' | 'gzip' | 'safetensors' | 'text' | 'empty' | 'unknown';

const DESCRIPTIONS: Record<FileKind, string> = {
  png: 'a PNG image',
  jpeg: 'a JPEG image',
  gif: 'a GIF image',
  webp: 'a WebP image',
  zip: 'a zip archive (such as a PyTorch .pth)',
  pickle: 'a Python pickle (such as a legacy PyTorch .pth)',
  tflite: 'a TFLite model',
  gzip: 'a gzip archive',
  safetensors: 'a safetensors file',
  text: 'a text file',
  empty: 'an empty file',
  unknown: 'an unknown binary format',
};

export function describeFileKind(kind: FileKind): string {
  return DESCRIPTIONS[kind];
}

/** The kind of `head` (the first bytes of a file; 64 are plenty). */
export function sniffFileKind(head: Uint8Array): FileKind {
  if (head.length === 0) return 'empty';
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'PK\x03\x04') return 'zip';
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return 'pickle';
  if (ascii(4, 8) === 'TFL3') return 'tflite';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  // safetensors: a little-endian u64 header length, then JSON starting with '{'.
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'safetensors';
  if (head.subarray(0, 64).every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f))) return 'text';
  return 'unknown';
}
