import { cropImage } from '../io/resize.ts';
import type { RgbImage } from '../io/image.ts';

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
