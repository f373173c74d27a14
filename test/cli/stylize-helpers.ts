/** Runs `pastiche stylize` in this process and captures what it writes to stderr and its exit code. */
import { vi } from 'vitest';
import { buildProgram } from '../../src/cli/program.ts';
import { readImageFile, writeImageFile } from '../../src/io/image-file.ts';
import { resizeToLongSide } from '../../src/io/resize.ts';
import { join } from 'node:path';
import { SHARED_IMAGES_DIR } from '../helpers/shared-data.ts';

export const IMAGES = SHARED_IMAGES_DIR;

export interface StylizeRun {
  stderr: string;
  exitCode: number;
  error?: Error;
}

export async function runStylize(args: string[]): Promise<StylizeRun> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  let error: Error | undefined;
  try {
    await buildProgram().parseAsync(['stylize', ...args], { from: 'user' });
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  } finally {
    spy.mockRestore();
  }
  const code = process.exitCode;
  process.exitCode = before;
  return { stderr: lines.join(''), exitCode: error ? 1 : Number(code ?? 0), ...(error ? { error } : {}) };
}

/** A small copy of a shared photo (long side `side`), written as PNG or JPEG by the extension of `path`. */
export async function writeSmallPhoto(path: string, side = 24, source = 'content_chelsea.png'): Promise<void> {
  await writeImageFile(path, resizeToLongSide(await readImageFile(join(IMAGES, source)), side));
}
