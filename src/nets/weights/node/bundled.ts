/**
 * The weights that ship with pastiche in `weights/bundled/` (the default models, so the first run
 * works offline), pinned by sha256 in weights/manifest.json (`bundled` of a model). The store reads
 * them before the cache and the mirror. A bundled file that fails its check is skipped with a notice
 * (the cache or a download still serve the model) rather than loaded. Node only.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensorMap } from '../host-tensor.ts';
import type { ModelEntry, WeightsManifest } from '../manifest.ts';
import { parseSafetensors } from '../formats/safetensors.ts';

/** `weights/bundled/` of the repository or the installed package (dist/ mirrors src/, so the depth is the same). */
const PACKAGE_BUNDLED_DIR = fileURLToPath(new URL('../../../../weights/bundled/', import.meta.url));

/** The bundled folder: `$PASTICHE_BUNDLED_DIR` if set ('' turns bundled weights off), else the package's own. */
export function defaultBundledDir(): string | null {
  const fromEnv = process.env.PASTICHE_BUNDLED_DIR;
  if (fromEnv === undefined) return PACKAGE_BUNDLED_DIR;
  return fromEnv === '' ? null : fromEnv;
}

/** `given` when set ('' = none), else the default. */
export function resolveBundledDir(given: string | undefined): string | null {
  if (given === undefined) return defaultBundledDir();
  return given === '' ? null : given;
}

export interface BundledModel {
  name: string;
  kind: ModelEntry['kind'];
  path: string;
  bytes: number;
  /** 'ok': present with the pinned bytes; 'missing'; 'damaged': present but not the pinned bytes */
  state: 'ok' | 'missing' | 'damaged';
}

/** True when the bundled file is the model's converted weights rather than one of its source files. */
export function bundlesConvertedWeights(model: ModelEntry): boolean {
  return model.bundled !== undefined && model.bundled.path.endsWith('.safetensors');
}

async function readPinned(model: ModelEntry, dir: string): Promise<{ path: string; bytes: Uint8Array | null; state: BundledModel['state'] }> {
  const pinned = model.bundled!;
  const path = join(dir, ...pinned.path.split('/'));
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path, bytes: null, state: 'missing' };
    throw err;
  }
  const ok = bytes.length === pinned.bytes && createHash('sha256').update(bytes).digest('hex') === pinned.sha256;
  return { path, bytes: ok ? bytes : null, state: ok ? 'ok' : 'damaged' };
}

function damagedNotice(model: ModelEntry, path: string): void {
  process.stderr.write(
    `pastiche: the bundled ${model.name} weights ${path} do not match their sha256 in weights/manifest.json; ` +
      'using the cache or a download instead (reinstall pastiche to restore them)\n',
  );
}

/** The bundled converted weights of `model`, or null when it has none (or they fail their check). */
export async function readBundledWeights(model: ModelEntry, dir: string | null): Promise<{ tensors: HostTensorMap; path: string } | null> {
  if (dir === null || !bundlesConvertedWeights(model)) return null;
  const read = await readPinned(model, dir);
  if (read.state === 'damaged') damagedNotice(model, read.path);
  if (read.bytes === null) return null;
  return { tensors: parseSafetensors(read.bytes, read.path).tensors, path: read.path };
}

/** Path of the bundled copy of `model`'s single source file (a .tflite graph), or null. */
export async function bundledSourcePath(model: ModelEntry, dir: string | null): Promise<string | null> {
  if (dir === null || model.bundled === undefined || bundlesConvertedWeights(model)) return null;
  const source = model.files.length === 1 ? model.files[0]! : undefined;
  if (source === undefined || source.sha256 !== model.bundled.sha256) return null;
  const read = await readPinned(model, dir);
  if (read.state === 'damaged') damagedNotice(model, read.path);
  return read.bytes === null ? null : read.path;
}

/** Every model the manifest says is bundled, with the state of its file. */
export async function listBundledModels(manifest: WeightsManifest, dir: string | null = defaultBundledDir()): Promise<BundledModel[]> {
  const out: BundledModel[] = [];
  for (const model of manifest.models) {
    if (model.bundled === undefined) continue;
    const path = dir === null ? model.bundled.path : join(dir, ...model.bundled.path.split('/'));
    let state: BundledModel['state'] = 'missing';
    if (dir !== null && (await stat(path).catch(() => null))?.isFile()) state = (await readPinned(model, dir)).state;
    out.push({ name: model.name, kind: model.kind, path, bytes: model.bundled.bytes, state });
  }
  return out;
}
