import { cropImage } from '../../io/resize.ts';
import type { RgbImage } from '../../io/image.ts';

/** Start offsets of tiles of `tile` px covering `length` px with at least `overlap` px shared. */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const count = Math.ceil((length - overlap) / (tile - overlap));
  const step = (length - tile) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(i * step));
}

/** Blend weight across a tile: ramps from ~0 to 1 over `overlap` px at edges shared with a neighbour. */
function ramp(position: number, size: number, overlap: number, rampStart: boolean, rampEnd: boolean): number {
  let w = 1;
  if (rampStart) w = Math.min(w, (position + 0.5) / overlap);
  if (rampEnd) w = Math.min(w, (size - position - 0.5) / overlap);
  return Math.max(w, 1e-3);
}

/**
 * Applies an image-to-image function tile by tile, for images larger than the device's buffers allow,
 * and blends overlapping tiles with linear ramps so that no seams show.
 */
export async function applyTiled(image: RgbImage, tile: number, overlap: number, fn: (tile: RgbImage) => Promise<RgbImage>): Promise<RgbImage> {
  if (overlap * 2 >= tile) throw new Error(`tiling: overlap ${overlap} must be less than half the tile size ${tile}`);
  const xs = tileStarts(image.width, tile, overlap);
  const ys = tileStarts(image.height, tile, overlap);
  const sum = new Float32Array(image.width * image.height * 3);
  const weight = new Float32Array(image.width * image.height);
  for (const y0 of ys) {
    for (const x0 of xs) {
      const w = Math.min(tile, image.width - x0);
      const h = Math.min(tile, image.height - y0);
      const result = await fn(cropImage(image, x0, y0, w, h));
      for (let y = 0; y < h; y++) {
        const wy = ramp(y, h, overlap, y0 > 0, y0 + h < image.height);
        for (let x = 0; x < w; x++) {
          const wxy = wy * ramp(x, w, overlap, x0 > 0, x0 + w < image.width);
          const dst = (y0 + y) * image.width + (x0 + x);
          const src = (y * w + x) * 3;
          weight[dst] += wxy;
          for (let c = 0; c < 3; c++) sum[dst * 3 + c] += wxy * result.data[src + c]!;
        }
      }
    }
  }
  for (let i = 0; i < weight.length; i++) for (let c = 0; c < 3; c++) sum[i * 3 + c] /= weight[i]!;
  return { width: image.width, height: image.height, data: sum };
}

/** One activation a net holds: `channels` f32 values per pixel at 1/`downsample` of the input's resolution. */
export interface ActivationSpec {
  channels: number;
  downsample: number;
}

/** What a fully convolutional net allocates, as a function of the input size. */
export interface NetFootprint {
  name: string;
  /** Every tensor the forward pass creates (pads and upsampled copies included). */
  activations: readonly ActivationSpec[];
  /** The net pads its input up to a multiple of this before running. */
  sizeMultiple: number;
  /** Extra pixels each side of the padded input that some tensors carry (explicit reflection pads). */
  border: number;
  /** Smallest image side the net runs on (its reflection pads must be smaller than each layer's input). */
  minSide: number;
}

const BYTES_PER_VALUE = 4;
/** Tiles are sized to leave this share of the limit unused (pool rounding, kernel scratch). */
const LIMIT_MARGIN = 0.9;
/** Overlap between tiles: covers the nets' receptive fields (~54 px for TransformerNet) but never a quarter of a tile. */
const MAX_OVERLAP = 64;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Bytes of the largest tensor the net creates for a width × height input. */
export function largestActivationBytes(net: NetFootprint, width: number, height: number): number {
  const padded = (n: number) => Math.ceil(n / net.sizeMultiple) * net.sizeMultiple + 2 * net.border;
  const w = padded(width);
  const h = padded(height);
  let largest = 0;
  for (const a of net.activations) largest = Math.max(largest, Math.ceil(h / a.downsample) * Math.ceil(w / a.downsample) * a.channels * BYTES_PER_VALUE);
  return largest;
}

/** The largest square side (a multiple of the net's size multiple) whose every tensor fits `budget` bytes. */
function largestFittingSide(net: NetFootprint, budget: number): number {
  let lo = 0;
  let hi = 1;
  while (largestActivationBytes(net, hi * net.sizeMultiple, hi * net.sizeMultiple) <= budget) hi *= 2;
  // Invariant: lo multiples fit (0 trivially), hi do not.
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (largestActivationBytes(net, mid * net.sizeMultiple, mid * net.sizeMultiple) <= budget) lo = mid;
    else hi = mid;
  }
  return lo * net.sizeMultiple;
}

export interface TilePlan {
  /** Tile side in pixels, or null when the whole image fits at once. */
  tile: number | null;
  overlap: number;
  /** Bytes of the largest tensor one run (a tile, or the whole image) creates. */
  largestBytes: number;
}

/** Default overlap for a tile side: the existing rule, at most 64 px and a quarter of the tile. */
export function defaultOverlap(tile: number): number {
  return Math.min(MAX_OVERLAP, Math.floor(tile / 4));
}

/**
 * Chooses how to run a net on a width × height image within a buffer limit: whole if its largest
 * tensor fits (with margin), else the largest square tile that does. A requested tile is checked
 * against the same limit.
 */
export function planTiles(net: NetFootprint, width: number, height: number, limitBytes: number, requestedTile?: number): TilePlan {
  const budget = Math.floor(limitBytes * LIMIT_MARGIN);
  const maxSide = largestFittingSide(net, budget);
  if (requestedTile !== undefined && requestedTile > 0) {
    const bytes = largestActivationBytes(net, Math.min(requestedTile, width), Math.min(requestedTile, height));
    if (bytes > budget) {
      throw new Error(`${net.name}: a ${requestedTile} px tile needs ${mib(bytes)} buffers but this device allows ${mib(limitBytes)}; use --tile ${maxSide} or less`);
    }
    if (width <= requestedTile && height <= requestedTile) return { tile: null, overlap: 0, largestBytes: bytes };
    return { tile: requestedTile, overlap: defaultOverlap(requestedTile), largestBytes: bytes };
  }
  const whole = largestActivationBytes(net, width, height);
  if (whole <= budget) return { tile: null, overlap: 0, largestBytes: whole };
  const overlap = defaultOverlap(maxSide);
  if (maxSide < net.minSide || maxSide <= 2 * overlap) {
    throw new Error(`${net.name}: this device's ${mib(limitBytes)} buffer limit is too small to run the net even on small tiles`);
  }
  return { tile: maxSide, overlap, largestBytes: largestActivationBytes(net, Math.min(maxSide, width), Math.min(maxSide, height)) };
}

/** Refuses an image below the net's minimum side with a message naming the size and the fix. */
export function assertMinimumSize(net: NetFootprint, width: number, height: number): void {
  if (width < net.minSide || height < net.minSide) {
    throw new Error(
      `${net.name}: the image is ${width}×${height} px but this method needs at least ${net.minSide} px a side; ` +
        'use a larger --size (or crop a very elongated image)',
    );
  }
}

/** The largest long side (for `--size`) at which a width × height image still runs untiled within the limit. */
export function largestUntiledLongSide(net: NetFootprint, width: number, height: number, limitBytes: number): number {
  const budget = Math.floor(limitBytes * LIMIT_MARGIN);
  const long = Math.max(width, height);
  const fits = (side: number) => {
    const scale = side / long;
    return largestActivationBytes(net, Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))) <= budget;
  };
  let lo = 0;
  let hi = long;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return fits(hi) ? hi : lo;
}

/** The smaller of the two limits a tensor buffer must respect. */
export function bufferLimitOf(limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}
