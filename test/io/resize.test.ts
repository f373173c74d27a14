import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/io/image.ts';
import { centerCrop, cropImage, resizeImage, resizeToLongSide, sizeForLongSide } from '../../src/io/resize.ts';

/** An image whose every channel is `valueAt(x, y, channel)`. */
function imageFrom(width: number, height: number, valueAt: (x: number, y: number, channel: number) => number): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let channel = 0; channel < 3; channel++) data[(y * width + x) * 3 + channel] = valueAt(x, y, channel);
    }
  }
  return { width, height, data };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const at = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(at, at + 3));
}

function mean(image: RgbImage): number {
  let sum = 0;
  for (const value of image.data) sum += value;
  return sum / image.data.length;
}

/** Integer pseudo-random values 0..255, reproducible. */
function noiseImage(width: number, height: number): RgbImage {
  let state = 12345;
  return imageFrom(width, height, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % 256;
  });
}

describe('resizeImage', () => {
  it('keeps a constant image constant, whatever the sizes', () => {
    const flat = imageFrom(10, 7, (_x, _y, channel) => [37.5, 200, 0][channel]!);
    for (const [width, height] of [
      [23, 15], // up both ways
      [3, 2], // down both ways, non-integer factors
      [31, 4], // up in x, down in y
      [1, 1],
    ] as const) {
      const resized = resizeImage(flat, width, height);
      expect([resized.width, resized.height]).toEqual([width, height]);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const [r, g, b] = pixel(resized, x, y);
          expect(r).toBeCloseTo(37.5, 4);
          expect(g).toBeCloseTo(200, 4);
          expect(b).toBeCloseTo(0, 4);
        }
      }
    }
  });

  it('halving each side is exactly the 2x2 box average', () => {
    const image = noiseImage(8, 6);
    const half = resizeImage(image, 4, 3);
    const expected = imageFrom(4, 3, (x, y, channel) => {
      const at = (sx: number, sy: number) => image.data[(sy * 8 + sx) * 3 + channel]!;
      return (at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1)) / 4;
    });
    expect(half.data).toEqual(expected.data);
  });

  it('returns an identical copy at the same size', () => {
    const image = noiseImage(9, 5);
    const same = resizeImage(image, 9, 5);
    expect(same.data).toEqual(image.data);
    expect(same.data).not.toBe(image.data);
  });

  it('keeps a linear ramp linear when enlarging (away from the clamped edges)', () => {
    // Horizontal ramp enlarged 6 -> 17 (factor 2.83) and vertical ramp 5 -> 13.
    const ramp = imageFrom(6, 5, (x, y) => 10 * x + 3 * y + 1);
    const big = resizeImage(ramp, 17, 13);
    const sourceX = (i: number) => (i + 0.5) * (6 / 17) - 0.5;
    const sourceY = (i: number) => (i + 0.5) * (5 / 13) - 0.5;
    let interiorPixels = 0;
    for (let y = 0; y < 13; y++) {
      for (let x = 0; x < 17; x++) {
        const sx = sourceX(x);
        const sy = sourceY(y);
        if (sx < 0 || sx > 5 || sy < 0 || sy > 4) continue; // edge pixels are clamped, not extrapolated
        interiorPixels++;
        for (const value of pixel(big, x, y)) expect(value).toBeCloseTo(10 * sx + 3 * sy + 1, 4);
      }
    }
    expect(interiorPixels).toBeGreaterThan(100);
  });

  it('preserves the image mean when shrinking by a non-integer factor', () => {
    const image = noiseImage(10, 7);
    const small = resizeImage(image, 3, 4); // 10/3 across, 7/4 down
    expect(mean(small)).toBeCloseTo(mean(image), 3);
  });

  it('antialiases: a one-pixel line survives an 8x shrink as its average', () => {
    const line = imageFrom(8, 2, (x) => (x === 0 ? 255 : 0));
    const shrunk = resizeImage(line, 1, 1);
    expect(pixel(shrunk, 0, 0)).toEqual([255 / 8, 255 / 8, 255 / 8]);
  });

  it('rejects sizes that are not positive integers', () => {
    const image = noiseImage(4, 4);
    expect(() => resizeImage(image, 0, 4)).toThrow(/resizeImage: size 0x4 is invalid/);
    expect(() => resizeImage(image, 2.5, 4)).toThrow(/positive integers/);
  });
});

describe('resizeToLongSide', () => {
  it('scales the longer side to the target and keeps the aspect ratio', () => {
    expect(sizeForLongSide(640, 427, 256)).toEqual({ width: 256, height: 171 }); // 170.8 rounds up
    expect(sizeForLongSide(300, 1000, 512)).toEqual({ width: 154, height: 512 }); // 153.6
    expect(sizeForLongSide(50, 50, 20)).toEqual({ width: 20, height: 20 });
    expect(sizeForLongSide(1000, 1, 10)).toEqual({ width: 10, height: 1 }); // never below 1
    const resized = resizeToLongSide(noiseImage(64, 40), 32);
    expect([resized.width, resized.height]).toEqual([32, 20]);
    expect(resized.width / resized.height).toBeCloseTo(64 / 40, 5);
  });
});

describe('cropping', () => {
  const indexed = imageFrom(5, 4, (x, y, channel) => 100 * y + 10 * x + channel);

  it('cropImage copies the requested rectangle', () => {
    const crop = cropImage(indexed, 2, 1, 3, 2);
    expect([crop.width, crop.height]).toEqual([3, 2]);
    expect(pixel(crop, 0, 0)).toEqual([120, 121, 122]);
    expect(pixel(crop, 2, 1)).toEqual([240, 241, 242]);
  });

  it('centerCrop takes the middle, rounding the offsets down', () => {
    const crop = centerCrop(indexed, 2, 2); // offsets (1.5, 1) -> (1, 1)
    expect(pixel(crop, 0, 0)).toEqual([110, 111, 112]);
    expect(pixel(crop, 1, 1)).toEqual([220, 221, 222]);
  });

  it('explains crops that do not fit', () => {
    expect(() => cropImage(indexed, 3, 0, 3, 1)).toThrow(/rectangle 3x1 at \(3, 0\) extends past the 5x4 image/);
    expect(() => cropImage(indexed, -1, 0, 1, 1)).toThrow(/corner \(-1, 0\) is invalid/);
    expect(() => centerCrop(indexed, 6, 4)).toThrow(/cannot cut 6x4 out of a 5x4 image/);
  });
});
