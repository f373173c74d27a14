/**
 * Data augmentation for training on photos: random scale, random square crop, horizontal flip and a
 * small colour jitter. Everything random comes from a SeededRandom passed in, and every call draws the
 * same number of values whatever the options, so a seed fixes the whole stream of training crops.
 */
import type { RgbImage } from '../../io/image.ts';
import { cropImage, resizeImage } from '../../io/resize.ts';
import type { SeededRandom } from '../random.ts';

export interface AugmentOptions {
  /**
   * The image is resized so its short side is `size · u`, u uniform in this range, before a random
   * size×size crop: 1 keeps as much of the photo as fits, larger values zoom in. Default [1, 1.5].
   */
  scale?: readonly [number, number];
  /** Mirror left–right with probability ½. Default true. */
  flip?: boolean;
  /** Largest relative change of brightness, contrast and saturation (each uniform in ±jitter). Default 0.1. */
  jitter?: number;
}

export const DEFAULT_AUGMENT: Required<AugmentOptions> = { scale: [1, 1.5], flip: true, jitter: 0.1 };

function checkOptions(o: Required<AugmentOptions>): void {
  const [lo, hi] = o.scale;
  if (!(lo >= 1 && hi >= lo && Number.isFinite(hi))) throw new Error(`augment: scale range must satisfy 1 ≤ min ≤ max, got [${lo}, ${hi}]`);
  if (!(o.jitter >= 0 && o.jitter < 1)) throw new Error(`augment: jitter must be in [0, 1), got ${o.jitter}`);
}

/** Resizes (keeping the aspect ratio) so the short side is `short` pixels. */
function resizeShortSide(image: RgbImage, short: number): RgbImage {
  const k = short / Math.min(image.width, image.height);
  const width = Math.max(short, Math.round(image.width * k));
  const height = Math.max(short, Math.round(image.height * k));
  return resizeImage(image, width, height);
}

/** One random training crop of `size`×`size` pixels (RGB 0..255). */
export function augmentImage(image: RgbImage, size: number, rng: SeededRandom, options: AugmentOptions = {}): RgbImage {
  const o = { ...DEFAULT_AUGMENT, ...options };
  checkOptions(o);
  // Draw everything up front: the stream of draws is the same whichever options are on.
  const u = rng.uniform(o.scale[0], o.scale[1]);
  const cropU = rng.next();
  const cropV = rng.next();
  const flip = rng.next() < 0.5;
  const brightness = 1 + o.jitter * (2 * rng.next() - 1);
  const contrast = 1 + o.jitter * (2 * rng.next() - 1);
  const saturation = 1 + o.jitter * (2 * rng.next() - 1);

  const scaled = resizeShortSide(image, Math.max(size, Math.round(size * u)));
  const x = Math.min(scaled.width - size, Math.floor(cropU * (scaled.width - size + 1)));
  const y = Math.min(scaled.height - size, Math.floor(cropV * (scaled.height - size + 1)));
  const crop = cropImage(scaled, x, y, size, size);
  if (o.flip && flip) flipHorizontal(crop);
  if (o.jitter > 0) jitterColour(crop, brightness, contrast, saturation);
  return crop;
}

/** The deterministic view used for validation: short side resized to `size`, centre square crop. */
export function centerSquare(image: RgbImage, size: number): RgbImage {
  const scaled = resizeShortSide(image, size);
  return cropImage(scaled, Math.floor((scaled.width - size) / 2), Math.floor((scaled.height - size) / 2), size, size);
}

function flipHorizontal(image: RgbImage): void {
  const { width, height, data } = image;
  for (let row = 0; row < height; row++) {
    for (let left = 0, right = width - 1; left < right; left++, right--) {
      const a = (row * width + left) * 3;
      const b = (row * width + right) * 3;
      for (let c = 0; c < 3; c++) {
        const t = data[a + c]!;
        data[a + c] = data[b + c]!;
        data[b + c] = t;
      }
    }
  }
}

/**
 * Brightness scales every value; contrast scales the distance from the image's mean luma; saturation
 * scales each pixel's distance from its own luma (Rec. 601 weights). Results are clamped to 0..255.
 */
function jitterColour(image: RgbImage, brightness: number, contrast: number, saturation: number): void {
  const { data } = image;
  const pixels = data.length / 3;
  let lumaSum = 0;
  for (let p = 0; p < pixels; p++) lumaSum += 0.299 * data[3 * p]! + 0.587 * data[3 * p + 1]! + 0.114 * data[3 * p + 2]!;
  const meanLuma = (brightness * lumaSum) / pixels;
  for (let p = 0; p < pixels; p++) {
    const r = brightness * data[3 * p]!;
    const g = brightness * data[3 * p + 1]!;
    const b = brightness * data[3 * p + 2]!;
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    data[3 * p] = adjust(r, luma, meanLuma, saturation, contrast);
    data[3 * p + 1] = adjust(g, luma, meanLuma, saturation, contrast);
    data[3 * p + 2] = adjust(b, luma, meanLuma, saturation, contrast);
  }
}

function adjust(v: number, luma: number, meanLuma: number, saturation: number, contrast: number): number {
  const saturated = luma + saturation * (v - luma);
  const contrasted = meanLuma + contrast * (saturated - meanLuma);
  return Math.min(255, Math.max(0, contrasted));
}
