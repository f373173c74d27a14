/**
 * pastiche for Node: `import { stylize, load } from 'pastiche'`. Inputs are file paths, encoded PNG/JPEG
 * bytes (Uint8Array, Buffer) or ImageData-like pixels; weights come from the bundled set or the cache.
 */
import { initRuntime } from './gpu/runtime.ts';
import { createPastiche, type ImageDataLike } from './index.ts';
import { readImageFile } from './io/image-file.ts';
import { loadModelWeights } from './nets/weights/node/store.ts';

export * from './index.ts';

/** A file path, encoded PNG/JPEG bytes, or ImageData-like pixels. */
export type ImageInput = string | Uint8Array | ImageDataLike;

const pastiche = createPastiche<ImageInput>({
  runtime: () => initRuntime(),
  weights: (model) => loadModelWeights(model),
  inputKinds: 'a file path, PNG/JPEG bytes (Uint8Array or Buffer) or ImageData-like { width, height, data }',
  async readImage(input) {
    return typeof input === 'string' ? readImageFile(input) : undefined;
  },
});

/** Stylizes one image: loads the model, runs it, frees its GPU memory. */
export const stylize = pastiche.stylize;
/** Loads a model once for many images; call `dispose()` when done. */
export const load = pastiche.load;
