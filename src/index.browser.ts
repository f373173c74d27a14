/**
 * pastiche in the browser (through a bundler): `import { stylize, load } from 'pastiche'`. Inputs are
 * ImageData or encoded PNG/JPEG bytes; a model's safetensors file is fetched from `weights/bundled/`
 * beside the page, or wherever `setWeightsUrl` points.
 */
import { initRuntime } from './gpu/runtime.ts';
import { createPastiche, type ImageDataLike } from './index.ts';
import { parseSafetensors } from './nets/weights/formats/safetensors.ts';

export * from './index.ts';

export type ImageInput = Uint8Array | ImageDataLike;

let weightsUrl: string | URL | undefined;

/** Where the models' `<name>.safetensors` files are (a folder URL ending in '/'). */
export function setWeightsUrl(url: string | URL): void {
  weightsUrl = url;
}

async function fetchWeights(model: string) {
  const url = new URL(`${model}.safetensors`, weightsUrl ?? new URL('weights/bundled/', document.baseURI));
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}; serve the model there or call setWeightsUrl()`);
  return parseSafetensors(new Uint8Array(await response.arrayBuffer()), url.href).tensors;
}

const pastiche = createPastiche<ImageInput>({
  runtime: () => initRuntime(),
  weights: fetchWeights,
  inputKinds: 'ImageData or PNG/JPEG bytes',
  readImage: async () => undefined,
});

/** Stylizes one image: loads the model, runs it, frees its GPU memory. */
export const stylize = pastiche.stylize;
/** Loads a model once for many images; call `dispose()` when done. */
export const load = pastiche.load;
