/**
 * pastiche in the browser (through a bundler): `import { stylize, load, methods } from 'pastiche'`.
 * Inputs are ImageData, <img>, <canvas>, ImageBitmap, Blob/File or encoded PNG/JPEG bytes; weights are
 * fetched from `weights/` beside the page (the layout `npx pastiche weights` writes), or wherever
 * `setWeightsUrl` points.
 */
import { initRuntime } from './gpu/runtime.ts';
import { createPastiche, fetchWeightSource, fromRgba8, type CoreImageInput, type RgbImage, type WeightSource } from './index.ts';

export * from './index.ts';

export type ImageInput = CoreImageInput | ImageData | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | Blob;

let weightsUrl: string | URL | undefined;

/** Where the weights are (a folder URL ending in '/'); default `weights/` beside the page. */
export function setWeightsUrl(url: string | URL): void {
  weightsUrl = url;
}

function defaultWeights(): WeightSource {
  return fetchWeightSource({ baseUrl: weightsUrl ?? new URL('weights/', document.baseURI) });
}

/** Draws a DOM image onto a canvas to read its pixels. */
function pixelsOf(source: CanvasImageSource, width: number, height: number, what: string): RgbImage {
  if (!(width > 0 && height > 0)) throw new Error(`${what}: the image has no pixels yet (${width}×${height}); wait for it to load`);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error(`${what}: this browser gives no 2D canvas to read the image with`);
  ctx.drawImage(source, 0, 0);
  return fromRgba8(width, height, ctx.getImageData(0, 0, width, height).data);
}

async function readImage(input: ImageInput, what: string): Promise<RgbImage | undefined> {
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    const bitmap = await createImageBitmap(input);
    try {
      return pixelsOf(bitmap, bitmap.width, bitmap.height, what);
    } finally {
      bitmap.close();
    }
  }
  if (typeof HTMLImageElement !== 'undefined' && input instanceof HTMLImageElement) {
    if (!input.complete) await input.decode();
    return pixelsOf(input, input.naturalWidth, input.naturalHeight, what);
  }
  if (typeof HTMLCanvasElement !== 'undefined' && input instanceof HTMLCanvasElement) return pixelsOf(input, input.width, input.height, what);
  if (typeof OffscreenCanvas !== 'undefined' && input instanceof OffscreenCanvas) return pixelsOf(input, input.width, input.height, what);
  if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) return pixelsOf(input, input.width, input.height, what);
  return undefined;
}

const pastiche = createPastiche<ImageInput>({
  runtime: () => initRuntime(),
  weights: defaultWeights,
  inputKinds: 'ImageData, an <img>, a <canvas>, an ImageBitmap, a Blob or PNG/JPEG bytes',
  readImage,
});

/** Stylizes one image: loads the method, runs it, frees its GPU memory. */
export const stylize = pastiche.stylize;
/** Loads a method once for many images; call `dispose()` when done. */
export const load = pastiche.load;
