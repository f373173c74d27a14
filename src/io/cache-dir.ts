import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The per-user cache folder for downloaded weights, their conversions and tuning choices:
 * `$PASTICHE_CACHE_DIR`, else `$XDG_CACHE_HOME/pastiche`, else `~/.cache/pastiche`. Never inside the
 * package (node_modules may be read-only or wiped by a reinstall). Below both the weights store and
 * the GPU runtime.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.PASTICHE_CACHE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec ignores relative paths.
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'pastiche');
  return join(homedir(), '.cache', 'pastiche');
}

