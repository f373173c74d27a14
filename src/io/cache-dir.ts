import { fileURLToPath } from 'node:url';

const REPO_CACHE_DIR = fileURLToPath(new URL('../../weights/cache', import.meta.url));

/**
 * The cache folder for weights and tuning choices when no option is given: `$PASTICHE_CACHE_DIR`,
 * else `weights/cache/` in the repository. Below both the weights store and the GPU runtime.
 */
export function defaultCacheDir(): string {
  const fromEnv = process.env.PASTICHE_CACHE_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : REPO_CACHE_DIR;
}
