import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyOrientation, jpegOrientation } from '../../src/io/exif-orientation.ts';
import { REPO_ROOT } from '../helpers/shared-data.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'images', name)));

describe('EXIF orientation', () => {
  it('reads the tag in both byte orders, and 1 where there is none', () => {
    for (let tag = 1; tag <= 8; tag++) expect(jpegOrientation(fixture(`orientation-${tag}.jpg`))).toBe(tag);
    expect(jpegOrientation(fixture('baseline.jpg'))).toBe(1);
  });

  it('a damaged EXIF block (cut short, bad byte order, tag out of range) reads as upright instead of failing', () => {
    const good = fixture('orientation-6.jpg');
    const cut = good.slice(0, 30); // ends inside the IFD
    expect(jpegOrientation(cut)).toBe(1);
    const badOrder = good.slice();
    badOrder[12] = 0x58; // 'X' instead of 'M'
    expect(jpegOrientation(badOrder)).toBe(1);
    const outOfRange = good.slice();
    // The TIFF data starts at byte 12 (SOI, APP1 marker and length, "Exif\0\0"); tag 6's file is
    // little-endian, so the value's low byte is at TIFF offset 18.
    expect(outOfRange[30]).toBe(6);
    outOfRange[30] = 9;
    expect(jpegOrientation(outOfRange)).toBe(1);
  });

  it('turns a 3×2 image by each orientation to the expected pixel order', () => {
    // Pixels numbered 0..5 row by row; one channel carries the number.
    const image = { width: 3, height: 2, data: Float32Array.from([0, 1, 2, 3, 4, 5].flatMap((v) => [v, 0, 0])) };
    const order = (tag: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8) => {
      const out = applyOrientation(image, tag);
      return [out.width, out.height, ...Array.from({ length: 6 }, (_, i) => out.data[i * 3])];
    };
    expect(order(1)).toEqual([3, 2, 0, 1, 2, 3, 4, 5]);
    expect(order(2)).toEqual([3, 2, 2, 1, 0, 5, 4, 3]);
    expect(order(3)).toEqual([3, 2, 5, 4, 3, 2, 1, 0]);
    expect(order(4)).toEqual([3, 2, 3, 4, 5, 0, 1, 2]);
    expect(order(5)).toEqual([2, 3, 0, 3, 1, 4, 2, 5]);
    expect(order(6)).toEqual([2, 3, 3, 0, 4, 1, 5, 2]);
    expect(order(7)).toEqual([2, 3, 5, 2, 4, 1, 3, 0]);
    expect(order(8)).toEqual([2, 3, 2, 5, 1, 4, 0, 3]);
  });
});
