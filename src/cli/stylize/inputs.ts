/** The checks on a stylize run's input images before any model is loaded. */
import { readImageHeader } from '../../io/image-file.ts';
import type { BatchFailure } from './batch.ts';

export interface CheckedContents {
  valid: string[];
  failed: BatchFailure[];
}

/** Reads each content image's header (exists, readable, PNG or JPEG with a size); bad ones are set aside with the reason. */
export async function checkContentImages(contents: readonly string[]): Promise<CheckedContents> {
  const valid: string[] = [];
  const failed: BatchFailure[] = [];
  for (const content of contents) {
    try {
      await readImageHeader(content);
      valid.push(content);
    } catch (err) {
      failed.push({ content, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { valid, failed };
}

/** Style images and the mask are shared by every result, so any bad one stops the run before it starts. */
export async function checkSharedImages(paths: readonly { path: string; role: string }[]): Promise<void> {
  for (const { path, role } of paths) {
    try {
      await readImageHeader(path);
    } catch (err) {
      throw new Error(`${role}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
