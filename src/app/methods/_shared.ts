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

const runtimeIds = new WeakMap<object, number>();
let runtimesSeen = 0;

/** Which runtime is current: models loaded on a lost or replaced device must not be reused. */
export function runtimeTag(): string {
  let runtime: object;
  try {
    runtime = getRuntime();
  } catch {
    return 'none';
  }
  let id = runtimeIds.get(runtime);
  if (id === undefined) runtimeIds.set(runtime, (id = ++runtimesSeen));
  return String(id);
}

/**
 * A cache of promises by key (per GPU runtime): the first caller starts the work, later callers share
 * it; a failure is forgotten so the next call retries (e.g. after `npx pastiche weights`).
 */
export function once<T>(cache: Map<string, Promise<T>>, name: string, make: () => Promise<T>): Promise<T> {
  const key = `${runtimeTag()}:${name}`;
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
