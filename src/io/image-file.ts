// Reading and writing image files under Node. The codecs themselves live in image.ts.

import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { writeFileAtomic } from './atomic-write.ts';
import { decodeImage, encodePng, type RgbImage } from './image.ts';

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
