/**
 * The images the library API takes and gives back, platform-neutral: encoded PNG/JPEG bytes and
 * ImageData-like objects in; an ImageData-like result (RGBA bytes) with `toPng()` out. The Node and
 * browser entries add their own input kinds (file paths; DOM images, canvases, bitmaps).
 */
import { decodeImage, encodePng, fromRgba8, toRgba8, type RgbImage } from '../io/image.ts';

/** `{ width, height, data }` with RGBA bytes (ImageData), or an RgbImage (RGB floats 0..255). */
export interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array | Float32Array;
}

/** What every platform accepts: encoded PNG/JPEG bytes (a Buffer is a Uint8Array) or ImageData-like pixels. */
export type CoreImageInput = Uint8Array | ArrayBuffer | ImageDataLike;

/** A stylized image: ImageData-like (RGBA bytes) plus its encodings. */
export interface StylizedImage {
  readonly width: number;
  readonly height: number;
  /** RGBA, 8 bits a channel, row-major (the layout of ImageData). */
  readonly data: Uint8ClampedArray<ArrayBuffer>;
  /** An iterative method was stopped by its signal: this is its best image so far. */
  readonly stopped: boolean;
  /** What the method reports about the run (iterations, losses, timings), if anything. */
  readonly summary?: string;
  toPng(): Uint8Array;
  /** RGB floats 0..255: the form the engine works in (e.g. to feed the image to another run). */
  toRgbImage(): RgbImage;
}

const isImageDataLike = (value: unknown): value is ImageDataLike => {
  const v = value as Partial<ImageDataLike> | null;
  return typeof v === 'object' && v !== null && typeof v.width === 'number' && typeof v.height === 'number' && (v.data instanceof Uint8ClampedArray || v.data instanceof Uint8Array || v.data instanceof Float32Array);
};

/**
 * The RgbImage for a core input kind, or undefined when `input` is none of them (the platform's own
 * kinds are tried next). `what` names the input in errors ('content', 'style 2').
 */
export function coreImage(input: unknown, what: string): RgbImage | undefined {
  if (input instanceof ArrayBuffer) return decodeImage(new Uint8Array(input), what);
  if (isImageDataLike(input)) {
    const { width, height, data } = input;
    if (data instanceof Float32Array) {
      if (data.length !== width * height * 3) throw new Error(`${what}: a Float32Array image holds RGB (3 floats a pixel): ${width}×${height} needs ${width * height * 3} values, got ${data.length}`);
      return { width, height, data };
    }
    return fromRgba8(width, height, data);
  }
  // Encoded bytes last: ImageData's data is a Uint8ClampedArray, never taken for a file.
  if (input instanceof Uint8Array) return decodeImage(input, what);
  return undefined;
}

export function stylizedImage(image: RgbImage, stopped: boolean, summary: string | undefined): StylizedImage {
  const data = toRgba8(image);
  return {
    width: image.width,
    height: image.height,
    data,
    stopped,
    ...(summary !== undefined ? { summary } : {}),
    toPng: () => encodePng(image),
    toRgbImage: () => image,
  };
}
