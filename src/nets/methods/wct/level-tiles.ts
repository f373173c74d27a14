/**
 * Tiles for running one encoder/decoder level over an image too large for the GPU in one piece.
 * The image is cut into cores (aligned to the deepest pool, so feature grids line up); each core is
 * encoded and decoded inside a window that adds a halo covering the receptive fields of both nets,
 * so the core's features and pixels equal those of the whole image (away from the image border the
 * window's own reflection padding never reaches the core; at the border the window meets the image's).
 */
import { decoderSteps, downsampling, encoderSteps, type DistilledLevel } from '../../models/distilled-vgg.ts';

/** Image sides are padded to a multiple of this (2⁴: level 5 pools four times). */
export const SIDE_MULTIPLE = 16;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LevelTile {
  /** The pixels this tile is responsible for. */
  core: Box;
  /** The pixels it reads (core plus halo, clipped to the image). */
  window: Box;
}

/** Pixels of context a level's encoder plus decoder need around a core, rounded up to SIDE_MULTIPLE. */
export function levelHalo(level: DistilledLevel): number {
  let radius = 0;
  let scale = 1;
  for (const step of encoderSteps(level)) {
    if (step === 'P') scale *= 2;
    else radius += scale;
  }
  for (const step of decoderSteps(level)) {
    if (step === 'U') scale /= 2;
    else radius += scale;
  }
  // One extra feature cell of slack for the pooling grid.
  radius += downsampling(level);
  return Math.ceil(radius / SIDE_MULTIPLE) * SIDE_MULTIPLE;
}

/** Tiles covering a width × height image (both multiples of SIDE_MULTIPLE) with cores of at most `core` pixels a side. */
export function levelTiles(width: number, height: number, level: DistilledLevel, core: number): LevelTile[] {
  if (width % SIDE_MULTIPLE || height % SIDE_MULTIPLE) throw new Error(`levelTiles: ${width}×${height} is not a multiple of ${SIDE_MULTIPLE}`);
  const step = Math.max(SIDE_MULTIPLE, Math.floor(core / SIDE_MULTIPLE) * SIDE_MULTIPLE);
  const halo = levelHalo(level);
  const tiles: LevelTile[] = [];
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      const c: Box = { x, y, width: Math.min(step, width - x), height: Math.min(step, height - y) };
      const x0 = Math.max(0, x - halo);
      const y0 = Math.max(0, y - halo);
      const x1 = Math.min(width, c.x + c.width + halo);
      const y1 = Math.min(height, c.y + c.height + halo);
      tiles.push({ core: c, window: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } });
    }
  }
  return tiles;
}

/** An HWC float image's box, copied out (3 channels). */
export function cropPixels(data: Float32Array, width: number, box: Box): Float32Array {
  const out = new Float32Array(box.width * box.height * 3);
  for (let row = 0; row < box.height; row++) {
    const from = ((box.y + row) * width + box.x) * 3;
    out.set(data.subarray(from, from + box.width * 3), row * box.width * 3);
  }
  return out;
}

/** Writes `pixels` (box.width × box.height × 3) into `data` at `box`. */
export function pastePixels(data: Float32Array, width: number, box: Box, pixels: Float32Array): void {
  for (let row = 0; row < box.height; row++) {
    data.set(pixels.subarray(row * box.width * 3, (row + 1) * box.width * 3), ((box.y + row) * width + box.x) * 3);
  }
}

/** Mirror-pads an HWC image on the right and bottom (no edge repeat) to width + right, height + bottom. */
export function reflectPadPixels(data: Float32Array, width: number, height: number, right: number, bottom: number): Float32Array {
  if (right === 0 && bottom === 0) return data;
  if (right >= width || bottom >= height) throw new Error(`reflectPadPixels: cannot mirror ${right}×${bottom} pixels of a ${width}×${height} image`);
  const w2 = width + right;
  const out = new Float32Array(w2 * (height + bottom) * 3);
  const mirror = (i: number, n: number): number => (i < n ? i : 2 * n - 2 - i);
  for (let y = 0; y < height + bottom; y++) {
    const sy = mirror(y, height);
    for (let x = 0; x < w2; x++) {
      const sx = mirror(x, width);
      const from = (sy * width + sx) * 3;
      const to = (y * w2 + x) * 3;
      out[to] = data[from]!;
      out[to + 1] = data[from + 1]!;
      out[to + 2] = data[from + 2]!;
    }
  }
  return out;
}
