/**
 * How multi-file importers (VGG19-uint8, ml5 checkpoints) read their files: through a function
 * rather than the file system, so they run on in-memory bytes in tests and on fetch() in a browser.
 */

/** Reads a file named relative to the model's folder (forward slashes), resolving to its bytes. */
export type ReadRelativeFile = (relativePath: string) => Promise<Uint8Array>;

/** A ReadRelativeFile over a local folder (Node only; node:fs is loaded lazily so bundles stay browser-safe). */
export function readFromDirectory(directory: string): ReadRelativeFile {
  return async (relativePath) => {
    const [{ readFile }, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
    const path = join(directory, relativePath);
    try {
      const buffer = await readFile(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`missing file ${path}: the model folder is incomplete; fetch it again (pastiche weights)`);
      throw err;
    }
  };
}
