import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { makeFolder } from './make-folder.ts';
import { dirname, join, basename } from 'node:path';

/** A temporary file left this long by a killed writer is stale: no live write takes an hour. */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

/** `.out.png.<12 hex>.tmp`: the name writeFileAtomic gives its temporary file for `out.png`. */
function tempName(target: string): string {
  return `.${target}.${randomBytes(6).toString('hex')}.tmp`;
}

function isOwnTempName(name: string, target: string, extension: string): boolean {
  const prefix = `.${target}.`;
  const rest = name.slice(prefix.length);
  return name.startsWith(prefix) && rest === `${rest.slice(0, 12)}.${extension}` && /^[0-9a-f]{12}$/.test(rest.slice(0, 12));
}

/**
 * Removes temporary files that an earlier, killed writeFileAtomic left for the same target and that are
 * older than `maxAgeMs`. Only names of its own pattern for this target are touched, never other files.
 * `extension` names other writers' temporaries of the same pattern (the weight store's `.part` files).
 */
export async function removeStaleTempFiles(path: string, maxAgeMs = STALE_TEMP_AGE_MS, now = Date.now(), extension = 'tmp'): Promise<string[]> {
  const folder = dirname(path);
  const target = basename(path);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isOwnTempName(name, target, extension)) continue;
    const temp = join(folder, name);
    try {
      const info = await stat(temp);
      if (!info.isFile() || now - info.mtimeMs < maxAgeMs) continue;
      await rm(temp, { force: true });
      removed.push(temp);
    } catch {
      // Another process removed or renamed it meanwhile: nothing to clean.
    }
  }
  return removed;
}

/** Why a write failed, in words that name the target, not the temporary file. */
export function describeWriteError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const folder = dirname(path);
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `cannot write ${path}: permission denied in ${folder}; choose a folder you can write to or fix its permissions`;
    case 'EROFS':
      return `cannot write ${path}: ${folder} is on a read-only file system; choose another output folder`;
    case 'ENOSPC':
      return `cannot write ${path}: no space left on the device; free some space or choose another output folder`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `cannot write ${path}: a part of ${folder} is a file, not a folder; choose another output path`;
    case 'EISDIR':
      return `cannot write ${path}: it is a folder; give a file name`;
    default:
      return `cannot write ${path}: ${code ?? (err instanceof Error ? err.message : String(err))}`;
  }
}

/** Flushes a folder's entries (a rename) to the disk; not every platform lets a folder be opened for it. */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open folders; the rename itself is still atomic there.
  }
}

/**
 * Writes a file so that readers see either the old content or the complete new one, never a
 * half-written file: write to a temporary name in the same folder, flush it to the disk, then rename
 * over the target (a process killed at any moment leaves one or the other; the flush makes that hold
 * after a power loss too). Stale temporary files of earlier killed writes to the same target are
 * removed first. Errors name `path` and the fix, never the temporary name.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const folder = dirname(path);
  const temp = join(folder, tempName(basename(path)));
  try {
    await makeFolder(folder);
    await removeStaleTempFiles(path);
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncFolder(folder);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new Error(describeWriteError(path, err), { cause: err });
  }
}
