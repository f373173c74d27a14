/**
 * The verified weight store: fetches a model's files into a local cache (copied from a mirror folder
 * or downloaded from their pinned public URLs), checks every byte against the sha256 in
 * weights/manifest.json, and converts each model once to `<cache>/<name>.safetensors` so later loads
 * are a single read. Node only.
 *
 * Cache layout = mirror layout: `<cache>/<file path from the manifest>` (e.g.
 * `<cache>/transformer-net/candy.bin`), so a filled cache can itself serve as a mirror.
 * A file only ever appears under its final name complete and verified (temp file + rename).
 * Converted files carry a sha256 record beside them (checksummed-file.ts), checked on every load; a
 * damaged one is rebuilt from the verified sources when those are in the cache or the mirror.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { makeFolder } from '../../../io/make-folder.ts';
import { basename, dirname, join } from 'node:path';
import { readBundledWeights, resolveBundledDir } from './bundled.ts';
import { hasChecksumRecord, readChecksummedFile, writeChecksummedFile } from './checksummed-file.ts';
import { removeStaleTempFiles, STALE_TEMP_AGE_MS } from '../../../io/atomic-write.ts';
import { defaultCacheDir } from '../../../io/cache-dir.ts';
import type { HostTensorMap } from '../host-tensor.ts';
import { findModel, loadWeightsManifest, type ModelEntry, type ModelFile, type WeightsManifest } from '../manifest.ts';
import { distilledVggFromCheckpoints } from '../formats/distilled-vgg-checkpoints.ts';
import { lengstromToCanonical, readMl5CheckpointDirectory } from '../formats/ml5-checkpoint.ts';
import { parseNcnnTransformerNet } from '../formats/ncnn-transformer-net.ts';
import { parseSafetensors, serializeSafetensors } from '../formats/safetensors.ts';
import { importVgg19Uint8Directory } from '../formats/vgg19-uint8.ts';

/** Bumped whenever an importer changes its output, so stale converted caches are rebuilt. */
const CONVERTER_VERSION = '1';

export type FetchLike = (url: string) => Promise<Response>;

export interface FileProgress {
  model: string;
  /** the file's manifest path */
  file: string;
  /** where the bytes come from: already verified in the cache, a mirror folder, or the network */
  source: 'cache' | 'mirror' | 'download';
  bytesDone: number;
  bytesTotal: number;
}

export interface StoreOptions {
  /** Cache folder; default `$PASTICHE_CACHE_DIR`, else `$XDG_CACHE_HOME/pastiche`, else `~/.cache/pastiche`. */
  cacheDir?: string;
  /** Folder of the bundled weights, read before the cache; default the package's `weights/bundled/` ('' = none). */
  bundledDir?: string;
  /** Folder in the mirror layout to copy from instead of downloading; default `$PASTICHE_WEIGHTS_MIRROR`; '' means none. */
  mirrorDir?: string;
  /** Model catalogue; default the repository's weights/manifest.json. */
  manifest?: WeightsManifest;
  /** Used for downloads; default the global fetch. */
  fetch?: FetchLike;
  onProgress?: (progress: FileProgress) => void;
  /** Called after a model was converted to safetensors (not when the converted cache was reused). */
  onConverted?: (model: string, safetensorsPath: string) => void;
  /** Called when a damaged converted file was rebuilt; default: a one-line notice on stderr. */
  onRepaired?: (model: string, safetensorsPath: string, problem: string) => void;
}

export interface ModelFiles {
  model: ModelEntry;
  /** absolute path of each file, in manifest order */
  paths: string[];
  /** bytes copied or downloaded by this call (0 when everything was already cached) */
  transferredBytes: number;
  /** manifest paths of files that were in the cache but failed verification, and were replaced */
  repairedFiles: string[];
}

/**
 * The converted weights' state: 'ok' (present and matching its checksum record), 'damaged' (bytes
 * differ from the record, the record is missing, or the file does not parse), 'stale' (intact but made
 * from other sources or by another converter), 'unchecked' (a file written without a record: the
 * TFLite graphs' weights), null (not converted).
 */
export type ConvertedCheck = 'ok' | 'damaged' | 'stale' | 'unchecked' | null;

/** What a load did with the converted file: reused it intact, made it, rebuilt a damaged one, or read the bundled copy. */
export type ConvertedOutcome = 'ok' | 'converted' | 'repaired' | 'bundled';

export interface PreparedWeights {
  tensors: HostTensorMap;
  path: string;
  outcome: ConvertedOutcome;
}

export interface InstalledModel {
  name: string;
  kind: ModelEntry['kind'];
  format: ModelEntry['format'];
  /** every source file is in the cache with the expected size (checksums are verified on use) */
  filesComplete: boolean;
  /** path of the converted safetensors file, or null if not converted */
  safetensorsPath: string | null;
  /** the converted file checked against its checksum record (null when there is none) */
  converted: ConvertedCheck;
}

export { defaultCacheDir };

function resolveMirrorDir(opts: StoreOptions): string | null {
  const mirror = opts.mirrorDir ?? process.env.PASTICHE_WEIGHTS_MIRROR;
  return mirror !== undefined && mirror !== '' ? mirror : null;
}

/** Path of a model's converted weights inside a cache folder. */
export function convertedWeightsPath(name: string, cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `${name}.safetensors`);
}

/**
 * Makes every file of model `name` present and verified in the cache: files already there are
 * re-hashed; missing or damaged ones are copied from the mirror (when one is configured) or downloaded.
 */
export async function ensureModelFiles(name: string, opts: StoreOptions = {}): Promise<ModelFiles> {
  return fetchModelFiles(name, opts, true);
}

/** ensureModelFiles, optionally without the network: then a file must come from the cache or the mirror. */
async function fetchModelFiles(name: string, opts: StoreOptions, allowDownload: boolean): Promise<ModelFiles> {
  const manifest = opts.manifest ?? (await loadWeightsManifest());
  const model = findModel(manifest, name);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const mirrorDir = resolveMirrorDir(opts);

  const paths: string[] = [];
  const repairedFiles: string[] = [];
  let transferredBytes = 0;
  for (const file of model.files) {
    const target = join(cacheDir, ...file.path.split('/'));
    const report = (source: FileProgress['source'], bytesDone: number): void =>
      opts.onProgress?.({ model: model.name, file: file.path, source, bytesDone, bytesTotal: file.bytes });

    const cachedState = await cachedCopyState(target, file);
    if (cachedState === 'ok') {
      report('cache', file.bytes);
      paths.push(target);
      continue;
    }
    if (cachedState === 'damaged') repairedFiles.push(file.path);
    if (mirrorDir !== null) {
      const mirrorPath = join(mirrorDir, ...file.path.split('/'));
      if (!(await isFile(mirrorPath))) {
        throw new Error(
          `${model.name}: ${file.path} is missing from the weights mirror ${mirrorDir} (looked for ${mirrorPath}); ` +
            `put the file from ${file.url} there, or unset PASTICHE_WEIGHTS_MIRROR / drop --mirror to download it`,
        );
      }
      await writeVerified(createReadStream(mirrorPath), target, model, file, {
        origin: `the mirror copy ${mirrorPath}`,
        remedy: `replace it with the file from ${file.url}, or unset PASTICHE_WEIGHTS_MIRROR / drop --mirror to download it`,
        onBytes: (done) => report('mirror', done),
      });
      transferredBytes += file.bytes;
    } else if (!allowDownload) {
      throw new Error(
        `${model.name}: ${file.path} is ${cachedState === 'damaged' ? 'damaged' : 'missing'} in the cache ${cacheDir} and no weights mirror is set`,
      );
    } else {
      const chunks = await downloadChunks(file, model, opts.fetch ?? globalThis.fetch);
      await writeVerified(chunks, target, model, file, {
        origin: `the download from ${file.url}`,
        remedy: 'the download was cut short or the file changed upstream: run the command again, or point --mirror at a folder holding verified copies',
        onBytes: (done) => report('download', done),
      });
      transferredBytes += file.bytes;
    }
    paths.push(target);
  }
  return { model, paths, transferredBytes, repairedFiles };
}

/**
 * Weights of model `name` in pastiche's layout (see each importer for names and shapes). The first
 * call fetches and converts, writing `<cache>/<name>.safetensors`; later calls read that file and
 * check it against its sha256 record (see prepareModelWeights).
 */
export async function loadModelWeights(name: string, opts: StoreOptions = {}): Promise<HostTensorMap> {
  return (await prepareModelWeights(name, opts)).tensors;
}

/**
 * loadModelWeights, also saying what happened to the converted file. A damaged one (bytes differ from
 * its record, or it does not parse) is rebuilt from the verified sources found in the cache or the
 * mirror, with a notice; without them it is an error naming the file and the fix, never a download
 * behind the user's back nor a load of wrong numbers.
 */
export async function prepareModelWeights(name: string, opts: StoreOptions = {}): Promise<PreparedWeights> {
  const manifest = opts.manifest ?? (await loadWeightsManifest());
  const model = findModel(manifest, name);
  if (model.format === 'tflite') {
    throw new Error(`${name} is a TensorFlow Lite model: get its file with ensureModelFiles("${name}") and read it with the tflite importer`);
  }
  const bundled = await readBundledWeights(model, resolveBundledDir(opts.bundledDir));
  if (bundled !== null) return { tensors: bundled.tensors, path: bundled.path, outcome: 'bundled' };
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const path = convertedWeightsPath(name, cacheDir);
  const fingerprint = sourceFingerprint(model);

  const cached = await readConverted(path, fingerprint);
  if (cached.state === 'ok') return { tensors: cached.tensors, path, outcome: 'ok' };

  let files: ModelFiles;
  if (cached.state === 'damaged') {
    try {
      files = await fetchModelFiles(name, { ...opts, manifest, cacheDir }, false);
    } catch (err) {
      throw new Error(
        `${name}: the converted weights ${path} are damaged (${cached.problem}) and cannot be rebuilt here ` +
          `(${err instanceof Error ? err.message : String(err)}); run \`npx pastiche weights ${name}\` to fetch and rebuild them, or delete ${path}`,
      );
    }
  } else {
    files = await ensureModelFiles(name, { ...opts, manifest, cacheDir });
  }
  const tensors = await convertModel(files);
  const metadata = {
    'pastiche.model': model.name,
    'pastiche.kind': model.kind,
    'pastiche.source-format': model.format,
    'pastiche.sources': fingerprint,
  };
  await writeChecksummedFile(path, serializeSafetensors(tensors, { metadata }));
  opts.onConverted?.(name, path);
  if (cached.state === 'damaged') {
    (opts.onRepaired ?? printRepairNotice)(name, path, cached.problem);
    return { tensors, path, outcome: 'repaired' };
  }
  return { tensors, path, outcome: 'converted' };
}

/** The converted file of model `name` checked against its record and sources; nothing is rebuilt. */
export async function checkConvertedWeights(
  name: string,
  opts: Pick<StoreOptions, 'cacheDir' | 'manifest'> = {},
): Promise<ConvertedCheck> {
  const manifest = opts.manifest ?? (await loadWeightsManifest());
  const model = findModel(manifest, name);
  const path = convertedWeightsPath(name, opts.cacheDir ?? defaultCacheDir());
  if (model.format === 'tflite') {
    // The graph store writes these; they are checked only once it records their checksums.
    if (!(await hasChecksumRecord(path))) return (await isFile(path)) ? 'unchecked' : null;
    const read = await readChecksummedFile(path);
    return read.state === 'missing' ? null : read.state;
  }
  const cached = await readConverted(path, sourceFingerprint(model));
  return cached.state === 'missing' ? null : cached.state;
}

function printRepairNotice(name: string, path: string, problem: string): void {
  process.stderr.write(`pastiche: ${name}: rebuilt the damaged converted weights ${path} from the verified sources (${problem})\n`);
}

/** Models of the manifest that have anything in the cache, with what they have. */
export async function listInstalledModels(opts: Pick<StoreOptions, 'cacheDir' | 'manifest'> = {}): Promise<InstalledModel[]> {
  const manifest = opts.manifest ?? (await loadWeightsManifest());
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const installed: InstalledModel[] = [];
  for (const model of manifest.models) {
    let filesComplete = true;
    for (const file of model.files) {
      const size = await fileSize(join(cacheDir, ...file.path.split('/')));
      if (size !== file.bytes) {
        filesComplete = false;
        break;
      }
    }
    const convertedPath = convertedWeightsPath(model.name, cacheDir);
    const safetensorsPath = (await isFile(convertedPath)) ? convertedPath : null;
    if (filesComplete || safetensorsPath !== null) {
      const converted = safetensorsPath === null ? null : await checkConvertedWeights(model.name, { cacheDir, manifest });
      installed.push({ name: model.name, kind: model.kind, format: model.format, filesComplete, safetensorsPath, converted });
    }
  }
  return installed;
}

/** Identifies the exact source files and converter, stored in the converted file's metadata. */
function sourceFingerprint(model: ModelEntry): string {
  const hash = createHash('sha256').update(`converter ${CONVERTER_VERSION}\nformat ${model.format}\nkind ${model.kind}\n`);
  for (const file of model.files) hash.update(`${file.path} ${file.sha256}\n`);
  return hash.digest('hex');
}

type ConvertedRead =
  | { state: 'missing' | 'stale' }
  | { state: 'ok'; tensors: HostTensorMap }
  | { state: 'damaged'; problem: string };

/** The converted weights if present, matching their checksum record, parseable and made from the same sources. */
async function readConverted(path: string, fingerprint: string): Promise<ConvertedRead> {
  const read = await readChecksummedFile(path);
  if (read.state !== 'ok') return read;
  try {
    const { tensors, metadata } = parseSafetensors(read.bytes, path);
    return metadata['pastiche.sources'] === fingerprint ? { state: 'ok', tensors } : { state: 'stale' };
  } catch (err) {
    return { state: 'damaged', problem: err instanceof Error ? err.message : String(err) };
  }
}

async function convertModel(files: ModelFiles): Promise<HostTensorMap> {
  const { model, paths } = files;
  const folderOf = (fileName: string): string => {
    const index = model.files.findIndex((f) => basename(f.path) === fileName);
    if (index < 0) throw new Error(`weights manifest: model "${model.name}" (${model.format}) lists no ${fileName}`);
    return dirname(paths[index]!);
  };
  switch (model.format) {
    case 'vgg19-uint8':
      return importVgg19Uint8Directory(folderOf('manifest.json'));
    case 'ncnn-bin': {
      const binIndex = model.files.findIndex((f) => f.path.endsWith('.bin'));
      if (binIndex < 0) throw new Error(`weights manifest: model "${model.name}" (ncnn-bin) lists no .bin file`);
      return parseNcnnTransformerNet(await readFile(paths[binIndex]!), paths[binIndex]);
    }
    case 'ml5-checkpoint': {
      const folder = folderOf('manifest.json');
      const variables = await readMl5CheckpointDirectory(folder);
      return model.kind === 'lengstrom' ? lengstromToCanonical(variables, folder) : variables;
    }
    case 'legacy-torch': {
      const checkpoints = await Promise.all(paths.map(async (path) => ({ path, bytes: await readFile(path) })));
      return distilledVggFromCheckpoints(checkpoints);
    }
    case 'tflite':
      throw new Error(`${model.name}: tflite models are read by the tflite importer, not converted here`);
  }
}

interface VerifiedWriteContext {
  /** what the bytes are, for error messages */
  origin: string;
  /** what the user should do when verification fails */
  remedy: string;
  onBytes: (bytesDone: number) => void;
}

/** Streams `chunks` to a temp file beside `target`, then renames it into place only if size and sha256 match. */
async function writeVerified(
  chunks: AsyncIterable<Uint8Array>,
  target: string,
  model: ModelEntry,
  file: ModelFile,
  context: VerifiedWriteContext,
): Promise<void> {
  await makeFolder(dirname(target));
  // `.part` files of fetches killed long ago would otherwise stay in the cache for ever.
  await removeStaleTempFiles(target, STALE_TEMP_AGE_MS, Date.now(), 'part');
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
  const hash = createHash('sha256');
  let bytesDone = 0;
  let moved = false;
  const handle = await open(temp, 'w');
  try {
    try {
      for await (const chunk of chunks) {
        hash.update(chunk);
        await handle.write(chunk);
        bytesDone += chunk.length;
        context.onBytes(bytesDone);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const actual = hash.digest('hex');
    if (bytesDone !== file.bytes || actual !== file.sha256) {
      throw new Error(
        `${model.name}: ${file.path} failed verification (${context.origin}): ` +
          `expected ${file.bytes} bytes with sha256 ${file.sha256}, got ${bytesDone} bytes with sha256 ${actual}; ` +
          `${context.remedy}`,
      );
    }
    await rename(temp, target);
    moved = true;
  } finally {
    if (!moved) await rm(temp, { force: true });
  }
}

async function downloadChunks(file: ModelFile, model: ModelEntry, fetchImpl: FetchLike): Promise<AsyncIterable<Uint8Array>> {
  let response: Response;
  try {
    response = await fetchImpl(file.url);
  } catch (err) {
    throw new Error(
      `${model.name}: cannot download ${file.path} from ${file.url} (${err instanceof Error ? err.message : String(err)}); ` +
        'check the network connection, or set PASTICHE_WEIGHTS_MIRROR / --mirror to a folder holding the files',
    );
  }
  if (!response.ok || response.body === null) {
    throw new Error(`${model.name}: downloading ${file.path} from ${file.url} failed with HTTP ${response.status} ${response.statusText}; the URL may have moved: report it, or use --mirror`);
  }
  const reader = response.body.getReader();
  return {
    async *[Symbol.asyncIterator]() {
      let finished = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            finished = true;
            return;
          }
          yield value;
        }
      } finally {
        // Stop the transfer when the consumer gives up early (verification or disk error).
        if (!finished) await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
    },
  };
}

/** 'ok' when `path` holds exactly the manifest's bytes (size checked first, then sha256). */
async function cachedCopyState(path: string, file: ModelFile): Promise<'ok' | 'missing' | 'damaged'> {
  const size = await fileSize(path);
  if (size === null) return 'missing';
  if (size !== file.bytes) return 'damaged';
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex') === file.sha256 ? 'ok' : 'damaged';
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await fileSize(path)) !== null;
}
