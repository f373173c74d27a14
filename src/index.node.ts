/**
 * pastiche for Node: `import { stylize, load, methods } from 'pastiche'`. Inputs are file paths,
 * encoded PNG/JPEG bytes (Uint8Array, Buffer) or ImageData-like pixels; weights come from the weights
 * cache (filled from $PASTICHE_WEIGHTS_MIRROR or by download, verified), the GPU through Dawn.
 */
import { initRuntime } from './gpu/runtime.ts';
import { createPastiche, type CoreImageInput } from './index.ts';
import { readImageFile } from './io/image-file.ts';
import { nodeWeightSource } from './nets/weights/node/weight-source.ts';

export * from './index.ts';
export { nodeWeightSource } from './nets/weights/node/weight-source.ts';
export type { StoreOptions } from './nets/weights/node/store.ts';

/** A file path, encoded PNG/JPEG bytes, or ImageData-like pixels. */
export type ImageInput = string | CoreImageInput;

const pastiche = createPastiche<ImageInput>({
  runtime: () => initRuntime(),
  weights: () => nodeWeightSource(),
  inputKinds: 'a file path, PNG/JPEG bytes (Uint8Array or Buffer) or ImageData-like { width, height, data }',
  async readImage(input) {
    return typeof input === 'string' ? readImageFile(input) : undefined;
  },
});

/** Stylizes one image: loads the method, runs it, frees its GPU memory. */
export const stylize = pastiche.stylize;
/** Loads a method once for many images; call `dispose()` when done. */
export const load = pastiche.load;
