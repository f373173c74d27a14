/** Locates the read-only ../shared data beside the repository; tests that need it fail (never skip) without it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED_WEIGHTS_DIR = join(REPO_ROOT, '..', 'shared', 'weights');
export const SHARED_REFERENCE_DIR = join(REPO_ROOT, '..', 'shared', 'reference');
export const SHARED_IMAGES_DIR = join(REPO_ROOT, '..', 'shared', 'images');

/** Absolute path of `relative` inside ../shared/weights, or a clear error if the data is not there. */
export function sharedWeightsPath(...relative: string[]): string {
  const path = join(SHARED_WEIGHTS_DIR, ...relative);
  if (!existsSync(path)) {
    throw new Error(
      `test data missing: ${path}. These tests read the pretrained weights from ../shared/weights ` +
        '(the read-only data folder next to the repository); provide it there to run them.',
    );
  }
  return path;
}

/** Absolute path of `relative` inside ../shared/reference, or a clear error if it is not there. */
export function sharedReferencePath(...relative: string[]): string {
  const path = join(SHARED_REFERENCE_DIR, ...relative);
  if (!existsSync(path)) {
    throw new Error(`test data missing: ${path}. These tests read reference outputs from ../shared/reference.`);
  }
  return path;
}

/**
 * Store options for tests: weights come from the mirror ($PASTICHE_WEIGHTS_MIRROR, else ../shared/weights),
 * not from weights/bundled/, so the importers are checked on the original files at full precision
 * (the bundled copies have their own tests).
 */
export function testStoreOptions(): { mirrorDir: string; bundledDir: string } {
  const mirrorDir = process.env.PASTICHE_WEIGHTS_MIRROR ?? SHARED_WEIGHTS_DIR;
  if (!existsSync(mirrorDir)) {
    throw new Error(`test data missing: weights mirror ${mirrorDir}. Set PASTICHE_WEIGHTS_MIRROR to a folder laid out like ../shared/weights.`);
  }
  return { mirrorDir, bundledDir: '' };
}
