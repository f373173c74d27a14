/**
 * `stylize` and `load` over a platform (how to start the GPU, read an input, get a model's weights):
 * the default path, a feed-forward net (bundled 'mathura' unless a model is named).
 */
import type { Runtime } from '../gpu/runtime.ts';
import { decodeImage, encodePng, fromRgba8, toRgba8, type RgbImage } from '../io/image.ts';
import { feedForwardFromWeights, stylizeFeedForward } from '../nets/methods/feed-forward/feed-forward.ts';
import type { HostTensorMap } from '../nets/weights/host-tensor.ts';

/** Pixels as canvases hold them: straight 8-bit RGBA, row by row. */
export interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

/** A stylized image: ImageData-like RGBA pixels, and a PNG encoder. */
export interface StylizedImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
  toPng(): Uint8Array;
}

export interface StylizeOptions {
  /** 'feed-forward' (alias 'transformer'), the default. */
  method?: string;
  /** A feed-forward model name; default 'mathura' (bundled). */
  model?: string;
  onProgress?: (progress: { stage: string; fraction: number }) => void;
  signal?: AbortSignal;
}

export interface Model {
  stylize(content: unknown, options?: Omit<StylizeOptions, 'method' | 'model'>): Promise<StylizedImage>;
  dispose(): void;
}

export interface Platform<Input> {
  runtime(): Promise<Runtime>;
  /** A model's tensors by name. */
  weights(model: string): Promise<HostTensorMap>;
  /** Pixels for inputs the core does not know (file paths, DOM images); undefined: not one of them. */
  readImage(input: Input): Promise<RgbImage | undefined>;
  inputKinds: string;
}

export interface Pastiche<Input> {
  stylize(content: Input, options?: StylizeOptions): Promise<StylizedImage>;
  load(method?: string, options?: { model?: string }): Promise<Model>;
}

const FEED_FORWARD_IDS = new Set(['feed-forward', 'transformer']);
const DEFAULT_MODEL = 'mathura';

function isImageDataLike(input: unknown): input is ImageDataLike {
  if (typeof input !== 'object' || input === null) return false;
  const candidate = input as Partial<ImageDataLike>;
  return typeof candidate.width === 'number' && typeof candidate.height === 'number' && (candidate.data instanceof Uint8ClampedArray || candidate.data instanceof Uint8Array);
}

function stylized(image: RgbImage): StylizedImage {
  return { width: image.width, height: image.height, data: toRgba8(image), toPng: () => encodePng(image) };
}

function abortIfAsked(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('stylize was aborted');
}

export function createPastiche<Input>(platform: Platform<Input>): Pastiche<Input> {
  async function toImage(input: unknown): Promise<RgbImage> {
    const read = await platform.readImage(input as Input);
    if (read) return read;
    if (input instanceof Uint8Array) return decodeImage(input, 'content image');
    if (isImageDataLike(input)) return fromRgba8(input.width, input.height, input.data);
    throw new Error(`the content image must be ${platform.inputKinds}`);
  }

  async function load(method = 'feed-forward', options: { model?: string } = {}): Promise<Model> {
    if (!FEED_FORWARD_IDS.has(method)) throw new Error(`method '${method}' is not available from this entry yet; use 'feed-forward'`);
    const model = options.model ?? DEFAULT_MODEL;
    const runtime = await platform.runtime();
    const net = feedForwardFromWeights(runtime, await platform.weights(model), `${model} weights`);
    let disposed = false;
    return {
      async stylize(content, callOptions = {}) {
        if (disposed) throw new Error('this model was disposed; load it again');
        abortIfAsked(callOptions.signal);
        const image = await toImage(content);
        callOptions.onProgress?.({ stage: 'stylize', fraction: 0 });
        const result = await stylizeFeedForward(net, image);
        abortIfAsked(callOptions.signal);
        callOptions.onProgress?.({ stage: 'stylize', fraction: 1 });
        return stylized(result);
      },
      dispose() {
        if (!disposed) net.dispose();
        disposed = true;
      },
    };
  }

  async function stylize(content: Input, options: StylizeOptions = {}): Promise<StylizedImage> {
    const { method, model, ...callOptions } = options;
    const loaded = await load(method, model === undefined ? {} : { model });
    try {
      return await loaded.stylize(content, callOptions);
    } finally {
      loaded.dispose();
    }
  }

  return { stylize, load };
}
