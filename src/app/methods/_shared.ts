// Helpers shared by the method files (the leading underscore keeps this file out of the method list).

import { getRuntime } from '../../gpu/runtime.ts';
import type { RgbImage } from '../../io/image.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { Vgg } from '../../nets/models/vgg.ts';
import type { ProgressFn } from '../methods.ts';
import { fetchSafetensors } from '../weights.ts';

/** The image with its longer side at most `longSide` (never enlarged: upscaling adds cost, not detail). */
export function fitLongSide(image: RgbImage, longSide: number): RgbImage {
  return Math.max(image.width, image.height) > longSide ? resizeToLongSide(image, longSide) : image;
}

/**
 * A cache of promises by key: the first caller starts the work, later callers share it; a failure
 * is forgotten so the next call retries (e.g. after `npx pastiche weights`).
 */
export function once<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let promise = cache.get(key);
  if (!promise) {
    promise = make();
    cache.set(key, promise);
    promise.catch(() => cache.delete(key));
  }
  return promise;
}

const vggCache = new Map<string, Promise<Vgg>>();

/**
 * The pretrained VGG19 (80 MB, downloaded once per page and kept on the GPU), shared by Gatys and AdaIN.
 * Progress goes to whoever asked first; later callers wait quietly.
 */
export function loadVgg19(onProgress: ProgressFn): Promise<Vgg> {
  return once(vggCache, 'vgg19', async () => {
    const { tensors } = await fetchSafetensors('vgg19', onProgress);
    onProgress({ stage: 'weights', message: 'Uploading VGG19 to the GPU' });
    return Vgg.fromHost(getRuntime(), tensors, { arch: 'vgg19' }, 'vgg19.safetensors');
  });
}
