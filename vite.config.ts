// Vite config for the demo page (src/app). `npm start` serves it, `npm run build:app` builds it to dist/app.
//
// Folders outside the page's source are served read-only at request time (nothing is copied):
//   /samples/  sample images: $PASTICHE_SAMPLES_DIR, else <repo>/../shared/images when present,
//              else the repository's samples/
//   /weights/  the weights cache ($PASTICHE_WEIGHTS_DIR, else the per-user cache that
//              `npx pastiche weights` fills), then weights/bundled/ (the defaults that ship with
//              pastiche: mathura.safetensors and the Magenta .tflite pair), in that order
// Each also answers `<prefix>index.json` with the files it holds, so the page can list samples and
// check which models are installed without guessing.

import { createReadStream, existsSync, promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';
import { defaultCacheDir } from './src/io/cache-dir.ts';

const repoRoot = path.dirname(fileURLToPath(import.meta.url));

export const SAMPLE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);

const MIME_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.json': 'application/json; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.tflite': 'application/octet-stream',
};

export interface ServedFolder {
  /** URL prefix, with leading and trailing slash. */
  prefix: string;
  /** Absolute folders, resolved when a request arrives (so the env var can change between runs); the first holding a file serves it. */
  dirs: () => string[];
  /** Which files to list in index.json and serve (by default: everything that is not hidden). */
  accept?: (relPath: string) => boolean;
  /** Walk sub-folders too (the weights cache keeps raw files in per-source folders). */
  recursive: boolean;
}

interface IndexEntry {
  path: string;
  bytes: number;
}

export function samplesDir(): string {
  if (process.env.PASTICHE_SAMPLES_DIR) return path.resolve(process.env.PASTICHE_SAMPLES_DIR);
  const shared = path.join(repoRoot, '..', 'shared', 'images');
  return existsSync(shared) ? shared : path.join(repoRoot, 'samples');
}

export function weightsDir(): string {
  return path.resolve(process.env.PASTICHE_WEIGHTS_DIR ?? defaultCacheDir());
}

export const BUNDLED_WEIGHTS_DIR = path.join(repoRoot, 'weights', 'bundled');

const FOLDERS: ServedFolder[] = [
  {
    prefix: '/samples/',
    dirs: () => [samplesDir()],
    accept: (rel) => SAMPLE_EXTENSIONS.has(path.extname(rel).toLowerCase()),
    recursive: false,
  },
  { prefix: '/weights/', dirs: () => [weightsDir(), BUNDLED_WEIGHTS_DIR], recursive: true },
];

/** The files of every root, a path listed once (from the first root that has it). */
async function listFolders(roots: string[], recursive: boolean, accept: (rel: string) => boolean): Promise<IndexEntry[]> {
  const seen = new Map<string, IndexEntry>();
  for (const root of roots) for (const entry of await listFolder(root, recursive, accept)) if (!seen.has(entry.path)) seen.set(entry.path, entry);
  return [...seen.values()].sort((a, b) => a.path.localeCompare(b.path));
}

async function listFolder(root: string, recursive: boolean, accept: (rel: string) => boolean): Promise<IndexEntry[]> {
  const out: IndexEntry[] = [];
  async function walk(rel: string): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    } catch {
      return; // a missing folder lists as empty: the page explains what to do
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (recursive) await walk(child);
      } else if (entry.isFile() && accept(child)) {
        const stat = await fs.stat(path.join(root, child));
        out.push({ path: child, bytes: stat.size });
      }
    }
  }
  await walk('');
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-cache');
  res.end(body);
}

/** Resolves a URL path below `root`, or null if it escapes it or names a hidden file. */
function resolveInside(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.split('/').some((part) => part.startsWith('.'))) return null;
  const full = path.resolve(root, decoded);
  return full.startsWith(root + path.sep) ? full : null;
}

async function serveFile(req: IncomingMessage, res: ServerResponse, folder: ServedFolder, rel: string): Promise<void> {
  const roots = folder.dirs();
  const accept = folder.accept ?? (() => true);
  let full: string | null = null;
  let stat: Awaited<ReturnType<typeof fs.stat>> | null = null;
  for (const root of roots) {
    const candidate = resolveInside(root, rel);
    if (!candidate || !accept(rel)) return send(res, 404, `Not found: ${folder.prefix}${rel}\n`);
    const found = await fs.stat(candidate).catch(() => null);
    if (found?.isFile()) {
      full = candidate;
      stat = found;
      break;
    }
  }
  if (!full || !stat) return send(res, 404, `Not found: ${folder.prefix}${rel} (looked in ${roots.join(', ')})\n`);
  const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Last-Modified', stat.mtime.toUTCString());
  if (req.headers['if-none-match'] === etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', MIME_TYPES[path.extname(full).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(stat.size));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(full);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Connect middleware serving FOLDERS; exported for tests. */
export function servedFoldersMiddleware(folders: ServedFolder[] = FOLDERS): Connect.NextHandleFunction {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const folder = folders.find((f) => url.pathname.startsWith(f.prefix));
    if (!folder) return next();
    const rel = url.pathname.slice(folder.prefix.length);
    const handle = async () => {
      if (rel === 'index.json') {
        const files = await listFolders(folder.dirs(), folder.recursive, folder.accept ?? (() => true));
        send(res, 200, JSON.stringify({ files }), MIME_TYPES['.json']);
      } else {
        await serveFile(req, res, folder, rel);
      }
    };
    handle().catch((err: unknown) => send(res, 500, `Error: ${(err as Error).message}\n`));
  };
}

function servedFoldersPlugin(): Plugin {
  return {
    name: 'pastiche-served-folders',
    configureServer(server) {
      server.middlewares.use(servedFoldersMiddleware());
    },
    configurePreviewServer(server) {
      server.middlewares.use(servedFoldersMiddleware());
    },
  };
}

export default defineConfig({
  root: path.join(repoRoot, 'src', 'app'),
  publicDir: false,
  // Relative asset URLs: the built page works from any sub-path.
  base: './',
  plugins: [servedFoldersPlugin()],
  server: {
    // The page imports the engine from src/ outside Vite's root.
    fs: { allow: [repoRoot] },
  },
  optimizeDeps: {
    // Pre-bundle the CommonJS codecs up front: discovering them on first load would make Vite
    // reload the page mid-session.
    include: ['upng-js', 'jpeg-js', 'wgsl_reflect'],
    entries: ['index.html'],
  },
  build: {
    outDir: path.join(repoRoot, 'dist', 'app'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
  },
});
