// Resampling and cropping of RgbImages. Pure TypeScript over typed arrays, browser-safe.

import { assertRgbImage, type RgbImage } from './image.ts';

/**
 * Resizes to exactly width x height. Each axis is treated on its own: enlarging uses bilinear
 * interpolation (pixel centres aligned, edges clamped); shrinking averages the source area each
 * output pixel covers, which antialiases and keeps the image mean. Same size returns a copy.
 */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  assertRgbImage(image, 'resizeImage');
  assertTargetSize(width, height, 'resizeImage');
  if (width === image.width && height === image.height) {
    return { width, height, data: image.data.slice() };
  }
  const horizontal = axisFilter(image.width, width);
  const vertical = axisFilter(image.height, height);

  // Pass 1: resample every source row to the new width. Float64 keeps the intermediate exact
  // enough that, e.g., a 2x shrink of integer pixels is an exact box average.
  const source = image.data;
  const rows = new Float64Array(image.height * width * 3);
  for (let y = 0; y < image.height; y++) {
    const sourceRow = y * image.width * 3;
    const rowStart = y * width * 3;
    for (let x = 0; x < width; x++) {
      let red = 0;
      let green = 0;
      let blue = 0;
      for (let tap = x * horizontal.taps, end = tap + horizontal.taps; tap < end; tap++) {
        const weight = horizontal.weights[tap]!;
        const at = sourceRow + horizontal.indices[tap]! * 3;
        red += weight * source[at]!;
        green += weight * source[at + 1]!;
        blue += weight * source[at + 2]!;
      }
      const out = rowStart + x * 3;
      rows[out] = red;
      rows[out + 1] = green;
      rows[out + 2] = blue;
    }
  }

  // Pass 2: blend whole rows, which walks memory contiguously.
  const rowLength = width * 3;
  const data = new Float32Array(height * rowLength);
  const accumulator = new Float64Array(rowLength);
  for (let y = 0; y < height; y++) {
    accumulator.fill(0);
    for (let tap = y * vertical.taps, end = tap + vertical.taps; tap < end; tap++) {
      const weight = vertical.weights[tap]!;
      if (weight === 0) continue;
      const rowStart = vertical.indices[tap]! * rowLength;
      for (let i = 0; i < rowLength; i++) accumulator[i] += weight * rows[rowStart + i]!;
    }
    data.set(accumulator, y * rowLength);
  }
  return { width, height, data };
}

/** The size that scales width x height so its longer side is `longSide`, each side at least 1. */
export function sizeForLongSide(width: number, height: number, longSide: number): { width: number; height: number } {
  assertTargetSize(longSide, longSide, 'sizeForLongSide');
  if (width >= height) return { width: longSide, height: Math.max(1, Math.round((height * longSide) / width)) };
  return { width: Math.max(1, Math.round((width * longSide) / height)), height: longSide };
}

/** Resizes so the longer side is `longSide` pixels, keeping the aspect ratio (sides rounded). */
export function resizeToLongSide(image: RgbImage, longSide: number): RgbImage {
  assertRgbImage(image, 'resizeToLongSide');
  const size = sizeForLongSide(image.width, image.height, longSide);
  return resizeImage(image, size.width, size.height);
}

/** Cuts the width x height rectangle from the middle (rounding the offsets down). */
export function centerCrop(image: RgbImage, width: number, height: number): RgbImage {
  assertRgbImage(image, 'centerCrop');
  assertTargetSize(width, height, 'centerCrop');
  if (width > image.width || height > image.height) {
    throw new Error(
      `centerCrop: cannot cut ${width}x${height} out of a ${image.width}x${image.height} image; ` +
        'resize it first (resizeImage / resizeToLongSide) or ask for a smaller crop',
    );
  }
  const x = Math.floor((image.width - width) / 2);
  const y = Math.floor((image.height - height) / 2);
  return cropImage(image, x, y, width, height);
}

/** Copies the width x height rectangle whose top-left corner is (x, y). */
export function cropImage(image: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  assertRgbImage(image, 'cropImage');
  assertTargetSize(width, height, 'cropImage');
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0) {
    throw new Error(`cropImage: corner (${x}, ${y}) is invalid; x and y must be integers >= 0`);
  }
  if (x + width > image.width || y + height > image.height) {
    throw new Error(
      `cropImage: rectangle ${width}x${height} at (${x}, ${y}) extends past the ${image.width}x${image.height} image`,
    );
  }
  const data = new Float32Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const from = ((y + row) * image.width + x) * 3;
    data.set(image.data.subarray(from, from + width * 3), row * width * 3);
  }
  return { width, height, data };
}

/**
 * How each output index along one axis mixes source indices: output i is the sum over
 * k < taps of weights[i*taps+k] * source[indices[i*taps+k]]. Unused taps have weight 0.
 */
interface AxisFilter {
  taps: number;
  indices: Int32Array;
  weights: Float64Array;
}

function axisFilter(sourceLength: number, targetLength: number): AxisFilter {
  return targetLength < sourceLength
    ? areaAverageFilter(sourceLength, targetLength)
    : bilinearFilter(sourceLength, targetLength);
}

/** Bilinear taps with pixel centres at i + 0.5; at the same length this is the identity. */
function bilinearFilter(sourceLength: number, targetLength: number): AxisFilter {
  const scale = sourceLength / targetLength;
  const indices = new Int32Array(targetLength * 2);
  const weights = new Float64Array(targetLength * 2);
  for (let i = 0; i < targetLength; i++) {
    const position = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), sourceLength - 1);
    const left = Math.floor(position);
    const fraction = position - left;
    indices[2 * i] = left;
    indices[2 * i + 1] = Math.min(left + 1, sourceLength - 1);
    weights[2 * i] = 1 - fraction;
    weights[2 * i + 1] = fraction;
  }
  return { taps: 2, indices, weights };
}

/** Output i averages source interval [i*scale, (i+1)*scale), weighting pixels by overlap. */
function areaAverageFilter(sourceLength: number, targetLength: number): AxisFilter {
  const scale = sourceLength / targetLength;
  const taps = Math.ceil(scale) + 1;
  const indices = new Int32Array(targetLength * taps);
  const weights = new Float64Array(targetLength * taps);
  for (let i = 0; i < targetLength; i++) {
    const start = i * scale;
    const end = Math.min((i + 1) * scale, sourceLength);
    const first = Math.floor(start);
    let total = 0;
    let used = 0;
    for (let source = first; source < end && used < taps; source++) {
      const overlap = Math.min(end, source + 1) - Math.max(start, source);
      // Rounding in i*scale can produce slivers of the neighbouring pixel; they carry no signal.
      if (overlap <= 1e-9) continue;
      indices[i * taps + used] = source;
      weights[i * taps + used] = overlap;
      total += overlap;
      used++;
    }
    for (let k = 0; k < taps; k++) {
      if (k < used) weights[i * taps + k] /= total;
      else indices[i * taps + k] = first; // padding: any valid index, weight 0
    }
  }
  return { taps, indices, weights };
}

function assertTargetSize(width: number, height: number, context: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${context}: size ${width}x${height} is invalid; width and height must be positive integers`);
  }
}
