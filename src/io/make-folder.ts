/**
 * Creates a folder and its missing parents. Node's own `mkdir(path, { recursive: true })` never settles
 * on some paths (e.g. under /proc, where creating fails with ENOENT although the parent exists: it
 * retries forever), so a mistyped `-o` would hang the CLI; this walks up once and creates each level.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export async function makeFolder(folder: string): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(folder); ; ) {
    try {
      const info = await stat(current);
      if (!info.isDirectory()) throw Object.assign(new Error(`${current} is a file, not a folder`), { code: 'ENOTDIR', path: current });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(current);
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  for (const level of missing.reverse()) {
    try {
      await mkdir(level);
    } catch (err) {
      // Another process may have made it meanwhile.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(level)).isDirectory()) continue;
      throw err;
    }
  }
}
