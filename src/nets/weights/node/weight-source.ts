/**
 * The method contract's WeightSource over the weight store on disk (Node): manifest models come from the
 * cache, the mirror or a download, verified; TFLite graphs are converted once into the cache; other
 * names are files trained into the cache (e.g. `adain-decoder.safetensors`); `file` reads a user's file.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { WeightsNotFoundError, type Progress, type WeightSource } from '../../methods/contract.ts';
import { loadTfliteGraph } from '../../methods/magenta/node/store.ts';
import { parseSafetensors } from '../formats/safetensors.ts';
import { loadWeightsManifest } from '../manifest.ts';
import { convertedWeightsPath, defaultCacheDir, ensureModelFiles, loadModelWeights, type FileProgress, type StoreOptions } from './store.ts';

function storeWith(store: StoreOptions, onProgress: ((p: Progress) => void) | undefined): StoreOptions {
  if (!onProgress) return store;
  const forward = (p: FileProgress) => {
    store.onProgress?.(p);
    onProgress({ stage: 'weights', message: `${p.model}: ${p.file} (${p.source})`, fraction: p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : 0 });
  };
  return { ...store, onProgress: forward };
}

export function nodeWeightSource(store: StoreOptions = {}): WeightSource {
  const inManifest = async (name: string): Promise<boolean> => {
    const manifest = store.manifest ?? (await loadWeightsManifest());
    return manifest.models.some((m) => m.name === name);
  };
  return {
    async tensors(name, onProgress) {
      if (await inManifest(name)) return loadModelWeights(name, storeWith(store, onProgress));
      const path = convertedWeightsPath(name, store.cacheDir ?? defaultCacheDir());
      if (!existsSync(path)) throw new WeightsNotFoundError(name, `no model '${name}' in the manifest and no ${path}`);
      return parseSafetensors(new Uint8Array(await readFile(path)), path).tensors;
    },
    async bytes(name, onProgress) {
      const files = await ensureModelFiles(name, storeWith(store, onProgress));
      if (files.paths.length !== 1) throw new Error(`${name} has ${files.paths.length} files; ask for its tensors instead`);
      return new Uint8Array(await readFile(files.paths[0]!));
    },
    graph: (name, onProgress) => loadTfliteGraph(name, storeWith(store, onProgress)),
    async file(path) {
      try {
        return new Uint8Array(await readFile(path));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${code ?? String(err)}`, { cause: err });
      }
    },
  };
}
