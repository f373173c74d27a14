/**
 * Converted TFLite graphs in the weights cache (Node only). The first load of a .tflite model
 * parses the flatbuffer, lowers it (magenta-graph/lower-tflite.ts) and writes, next to the store's other
 * converted files:
 *   <cache>/<name>.safetensors   the dequantized f32 weights, in pastiche's layouts
 *   <cache>/<name>.graph.json    the graph description
 * Both carry the source file's sha256 and the graph version; later loads read them and skip the
 * flatbuffer, and a changed source (new sha256 in the manifest) or converter rebuilds them.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../../../../io/atomic-write.ts';
import { GRAPH_VERSION, parseGraphSpec, type ConvertedGraph } from '../graph/format.ts';
import { convertTfliteGraph } from '../graph/lower-tflite.ts';
import { findModel, loadWeightsManifest } from '../../../weights/manifest.ts';
import { parseSafetensors, serializeSafetensors } from '../../../weights/formats/safetensors.ts';
import { bundledSourcePath, resolveBundledDir } from '../../../weights/node/bundled.ts';
import { convertedWeightsPath, defaultCacheDir, ensureModelFiles, type StoreOptions } from '../../../weights/node/store.ts';
import { parseTflite } from '../../../weights/formats/tflite.ts';

export interface GraphStoreOptions extends StoreOptions {
  /** Called after a graph was converted and written (not when the cached conversion was reused). */
  onGraphConverted?: (model: string, graphPath: string) => void;
}

export interface CachedGraph extends ConvertedGraph {
  /** Where the converted files are. */
  weightsPath: string;
  graphPath: string;
  /** True when this call converted the .tflite (false: read from the cache). */
  converted: boolean;
}

/** Path of a model's converted graph description inside a cache folder. */
export function convertedGraphPath(name: string, cacheDir = defaultCacheDir()): string {
  return convertedWeightsPath(name, cacheDir).replace(/\.safetensors$/, '.graph.json');
}

const META_SHA = 'pastiche.source-sha256';
const META_VERSION = 'pastiche.graph-version';

/** Parses and lowers .tflite bytes (errors name an unsupported op before anything is converted). */
export function convertTfliteBytes(bytes: Uint8Array, sourceName: string, sha256 = createHash('sha256').update(bytes).digest('hex')): ConvertedGraph {
  return convertTfliteGraph(parseTflite(bytes, sourceName), { sha256 });
}

/**
 * The graph and f32 weights of a TFLite model of the manifest (e.g. 'magenta-predict'), converted
 * once into the cache.
 */
export async function loadTfliteGraph(name: string, opts: GraphStoreOptions = {}): Promise<CachedGraph> {
  const manifest = opts.manifest ?? (await loadWeightsManifest());
  const model = findModel(manifest, name);
  if (model.format !== 'tflite' || model.files.length !== 1) {
    throw new Error(`${name} is a ${model.format} model with ${model.files.length} file(s), not a single .tflite graph`);
  }
  const sha256 = model.files[0]!.sha256;
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const weightsPath = convertedWeightsPath(name, cacheDir);
  const graphPath = convertedGraphPath(name, cacheDir);

  const cached = await readCached(weightsPath, graphPath, sha256);
  if (cached) return { ...cached, weightsPath, graphPath, converted: false };

  // The bundled .tflite (the same bytes as the download) spares the download; the conversion is cached as usual.
  const path = (await bundledSourcePath(model, resolveBundledDir(opts.bundledDir))) ?? (await ensureModelFiles(name, { ...opts, manifest, cacheDir })).paths[0]!;
  const converted = convertTfliteBytes(new Uint8Array(await readFile(path)), model.files[0]!.path.split('/').pop()!, sha256);
  const metadata = {
    'pastiche.model': name,
    'pastiche.kind': model.kind,
    'pastiche.source-format': 'tflite',
    [META_SHA]: sha256,
    [META_VERSION]: String(GRAPH_VERSION),
  };
  // Weights first, description last: a description only ever sits next to its own weights.
  await writeFileAtomic(weightsPath, serializeSafetensors(converted.weights, { metadata }));
  await writeFileAtomic(graphPath, `${JSON.stringify(converted.spec)}\n`);
  opts.onGraphConverted?.(name, graphPath);
  return { ...converted, weightsPath, graphPath, converted: true };
}

/** Both converted files if present, readable and made from `sha256` by this graph version; else null. */
async function readCached(weightsPath: string, graphPath: string, sha256: string): Promise<ConvertedGraph | null> {
  let graphText: string;
  let weightBytes: Uint8Array;
  try {
    graphText = await readFile(graphPath, 'utf8');
    weightBytes = await readFile(weightsPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const spec = parseGraphSpec(graphText, graphPath);
    if (spec.source.sha256 !== sha256) return null;
    const { tensors, metadata } = parseSafetensors(weightBytes, weightsPath);
    if (metadata[META_SHA] !== sha256 || metadata[META_VERSION] !== String(GRAPH_VERSION)) return null;
    return { spec, weights: tensors };
  } catch {
    return null; // damaged or from another version: rebuilt from the verified source
  }
}
