/**
 * Where each stylized image goes, decided and checked before any model is loaded: the output format is
 * supported, no two results share a file, no input is overwritten, and the output folder is writable.
 */
import { randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { makeFolder } from '../../io/make-folder.ts';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { OUTPUT_FORMATS, outputFormatFor } from '../../io/image-file.ts';

export interface PlannedOutput {
  content: string;
  output: string;
}

export interface OutputPlan {
  items: PlannedOutput[];
  /** Results whose natural name was taken by an earlier one and got a -2, -3 … suffix. */
  renamed: PlannedOutput[];
  /** The folder every result goes into (created if missing). */
  folder: string;
}

const SUPPORTED = Object.keys(OUTPUT_FORMATS).join(', ');

/** Whether `-o` names a folder: several contents, a trailing slash, or an existing folder. */
export function isFolderOutput(contentCount: number, output: string): boolean {
  if (contentCount > 1 || output.endsWith('/') || output.endsWith(sep)) return true;
  try {
    return statSync(output).isDirectory();
  } catch {
    return false;
  }
}

/** The resolved real path of `path`, following symbolic links in the part that exists. */
export function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(resolve(path));
    return parent === resolve(path) ? parent : join(realPathOf(parent), basename(path));
  }
}

/**
 * Maps every content image to its result file. In folder mode results are `<name>.png`; a name already taken
 * by an earlier result becomes `<name>-2.png`, `<name>-3.png`, …. Throws, naming the path and the fix, for an
 * unsupported output extension or an output that would replace one of `inputs` (contents, styles, mask).
 * `givenCount`: how many content images the user named (several mean -o is a folder, even if some were set aside).
 */
export function planOutputs(contents: readonly string[], output: string, inputs: readonly string[], givenCount = contents.length): OutputPlan {
  const protectedPaths = new Map(inputs.map((path) => [realPathOf(path), path]));
  const taken = new Set<string>();
  const items: PlannedOutput[] = [];
  const renamed: PlannedOutput[] = [];
  const folderMode = isFolderOutput(givenCount, output);
  if (!folderMode && !outputFormatFor(output)) {
    throw new Error(`-o ${output}: unsupported output format '${extname(output) || '(no extension)'}'; give a name ending in ${SUPPORTED} (for example -o out.png), or a folder ending in /`);
  }
  for (const content of contents) {
    const stem = basename(content, extname(content));
    let candidate = folderMode ? join(output, `${stem}.png`) : output;
    for (let n = 2; folderMode && taken.has(realPathOf(candidate)); n++) candidate = join(output, `${stem}-${n}.png`);
    const real = realPathOf(candidate);
    const input = protectedPaths.get(real);
    if (input !== undefined) {
      throw new Error(`-o ${output}: the result for ${content} would overwrite the input ${input}; choose another output ${folderMode ? 'folder' : 'file'}`);
    }
    taken.add(real);
    items.push({ content, output: candidate });
    if (folderMode && basename(candidate) !== `${stem}.png`) renamed.push({ content, output: candidate });
  }
  return { items, renamed, folder: folderMode ? output : dirname(output) };
}

/** Creates the output folder if needed and proves it writable with a probe file that is removed again. */
export async function checkOutputFolder(folder: string): Promise<void> {
  try {
    await makeFolder(folder);
  } catch (err) {
    throw new Error(`cannot create the output folder ${folder}: ${reason(err)}; choose another -o`, { cause: err });
  }
  const probe = join(folder, `.pastiche-write-check-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(probe, '');
  } catch (err) {
    throw new Error(`cannot write into the output folder ${folder}: ${reason(err)}; choose another -o or fix the folder's permissions`, { cause: err });
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC') return 'no space left on the device';
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'a part of that path is a file, not a folder';
  // The parent exists, yet creating inside it reports "no such file": a virtual file system such as /proc.
  if (code === 'ENOENT') return 'this file system does not allow creating folders there';
  return code ?? (err instanceof Error ? err.message : String(err));
}
