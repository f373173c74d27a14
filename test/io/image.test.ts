import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import UPNG from 'upng-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng, fromRgba8, sniffImageFormat, toRgba8, type RgbImage } from '../../src/io/image.ts';
import { readImageFile, writePngFile } from '../../src/io/image-file.ts';

const sharedDir = fileURLToPath(new URL('../../../shared/', import.meta.url));

/** Path of a read-only sample in ../shared; fails loudly rather than skipping when it is absent. */
function sharedSample(relativePath: string): string {
  const path = join(sharedDir, relativePath);
  if (!existsSync(path)) {
    throw new Error(`sample ${path} is missing: this test needs the read-only samples in ../shared next to the repository`);
  }
  return path;
}

/** Deterministic pseudo-random integers 0..255 (xorshift), so failures reproduce. */
function randomIntegerImage(width: number, height: number, seed: number): RgbImage {
  const data = new Float32Array(width * height * 3);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = (state >>> 0) % 256;
  }
  return { width, height, data };
}

/** White-background composite of one straight-alpha 8-bit sample, as the decoder defines it. */
function overWhite(value: number, alpha: number): number {
  return Math.fround((value * alpha + 255 * (255 - alpha)) / 255);
}

// A minimal PNG writer for colour types upng cannot encode (grey, grey+alpha, 16-bit).
function pngChunk(type: string, payload: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + payload.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, payload.length);
  chunk.set(new TextEncoder().encode(type), 4);
  chunk.set(payload, 8);
  view.setUint32(8 + payload.length, crc32(chunk.subarray(4, 8 + payload.length)));
  return chunk;
}

function buildPng(width: number, height: number, bitDepth: number, colorType: number, rows: number[][]): Uint8Array {
  // Each scanline: filter type 0 (none), then the packed samples.
  const scanlines = rows.flatMap((row) => [0, ...row]);
  return pngFile(width, height, bitDepth, colorType, 0, deflateSync(new Uint8Array(scanlines)));
}

/** A PNG file around one IDAT payload (zlib data, possibly damaged on purpose), interlace method 0 or 1. */
function pngFile(width: number, height: number, bitDepth: number, colorType: number, interlace: number, idat: Uint8Array): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([bitDepth, colorType, 0, 0, interlace], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', idat),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    png.set(part, offset);
    offset += part.length;
  }
  return png;
}

/** The filtered (filter 0) scanlines of an 8-bit RGB image in Adam7 order: seven sub-images, empty ones skipped. */
function adam7Scanlines(image: RgbImage): Uint8Array {
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ] as const;
  const bytes: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    if (x0 >= image.width) continue;
    for (let y = y0; y < image.height; y += dy) {
      bytes.push(0);
      for (let x = x0; x < image.width; x += dx) for (let c = 0; c < 3; c++) bytes.push(image.data[3 * (y * image.width + x) + c]!);
    }
  }
  return new Uint8Array(bytes);
}

describe('encodePng / decodeImage', () => {
  it('round-trips a many-coloured (RGB) image exactly', () => {
    const image = randomIntegerImage(23, 17, 7);
    const png = encodePng(image);
    expect(UPNG.decode(png).ctype).toBe(2); // really exercised the RGB layout
    const decoded = decodeImage(png, 'roundtrip.png');
    expect(decoded.width).toBe(23);
    expect(decoded.height).toBe(17);
    expect(decoded.data).toEqual(image.data);
  });

  it('round-trips tiny and one-pixel-wide images (which UPNG.encode alone would truncate)', () => {
    for (const [width, height] of [
      [1, 1],
      [13, 8],
      [1, 40],
    ] as const) {
      const image = randomIntegerImage(width, height, width * 100 + height);
      expect(decodeImage(encodePng(image), `${width}x${height}.png`)).toEqual(image);
    }
  });

  it('rounds and clamps values when encoding', () => {
    const data = new Float32Array([-3, 0.4, 0.5, 254.6, 300, 127.49]);
    const decoded = decodeImage(encodePng({ width: 2, height: 1, data }));
    expect(Array.from(decoded.data)).toEqual([0, 0, 1, 255, 255, 127]);
  });

  it('refuses NaN pixels, naming the pixel', () => {
    const image = randomIntegerImage(4, 3, 1);
    image.data[(1 * 4 + 2) * 3 + 1] = Number.NaN;
    expect(() => encodePng(image)).toThrow(/pixel \(2, 1\) channel G is NaN/);
  });

  it('refuses an image whose data length does not match its size', () => {
    expect(() => encodePng({ width: 4, height: 4, data: new Float32Array(10) })).toThrow(/has 10 floats but a 4x4 RGB image needs 48/);
  });

  it('sniffs the format from magic bytes, not the name, and reads from an offset view', () => {
    const image = randomIntegerImage(6, 4, 3);
    const png = encodePng(image);
    expect(sniffImageFormat(png)).toBe('png');
    const padded = new Uint8Array(png.length + 5);
    padded.set(png, 5);
    expect(decodeImage(padded.subarray(5), 'misnamed.jpg').data).toEqual(image.data);
  });

  it('decodes an in-memory JPEG close to its source colours', () => {
    const width = 16;
    const height = 16;
    const rgba = new Uint8Array(width * height * 4);
    for (let pixel = 0; pixel < width * height; pixel++) rgba.set([200, 40, 90, 255], pixel * 4);
    const bytes = new Uint8Array(jpeg.encode({ width, height, data: rgba }, 95).data);
    expect(sniffImageFormat(bytes)).toBe('jpeg');
    const decoded = decodeImage(bytes, 'flat.png'); // wrong extension on purpose
    expect([decoded.width, decoded.height]).toEqual([16, 16]);
    for (let pixel = 0; pixel < width * height; pixel++) {
      expect(Math.abs(decoded.data[pixel * 3]! - 200)).toBeLessThan(4);
      expect(Math.abs(decoded.data[pixel * 3 + 1]! - 40)).toBeLessThan(4);
      expect(Math.abs(decoded.data[pixel * 3 + 2]! - 90)).toBeLessThan(4);
    }
  });
});

describe('decoding the shared samples', () => {
  it('decodes reference/vgg19.input.png to 64x48 with plausible pixel values', async () => {
    const image = await readImageFile(sharedSample('reference/vgg19.input.png'));
    expect([image.width, image.height]).toEqual([64, 48]);
    expect(image.data.length).toBe(64 * 48 * 3);
    let sum = 0;
    for (const value of image.data) sum += value;
    expect(image.data.every((value) => Number.isInteger(value) && value >= 0 && value <= 255)).toBe(true);
    const mean = sum / image.data.length;
    let variance = 0;
    for (const value of image.data) variance += (value - mean) ** 2;
    expect(mean).toBeGreaterThan(20);
    expect(mean).toBeLessThan(235);
    expect(Math.sqrt(variance / image.data.length)).toBeGreaterThan(5); // a photo, not a flat fill
  });

  it('decodes the JPEG images/content_rocket.jpg', async () => {
    const path = sharedSample('images/content_rocket.jpg');
    expect(sniffImageFormat(await readFile(path))).toBe('jpeg');
    const image = await readImageFile(path);
    expect([image.width, image.height]).toEqual([640, 427]);
    // One expect per value would take seconds; summarise first.
    const distinct = new Set(image.data);
    expect(Math.min(...distinct)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...distinct)).toBeLessThanOrEqual(255);
    expect(distinct.size).toBeGreaterThan(100);
  });
});

describe('PNG colour types and transparency', () => {
  it('composites 8-bit grey+alpha over white', () => {
    const pixels = [
      [0, 255],
      [200, 0],
      [100, 128],
      [40, 1],
    ];
    const decoded = decodeImage(buildPng(2, 2, 8, 4, [pixels.slice(0, 2).flat(), pixels.slice(2).flat()]), 'grey-alpha.png');
    const expected = pixels.flatMap(([grey, alpha]) => Array(3).fill(overWhite(grey!, alpha!)));
    expect(Array.from(decoded.data)).toEqual(expected);
    expect(decoded.data[0]).toBe(0); // opaque black stays black
    expect(decoded.data[3]).toBe(255); // fully transparent becomes white
  });

  it('decodes 16-bit grey+alpha using the high byte of each sample', () => {
    // grey 0x64ff, alpha 0x80ff -> grey 100, alpha 128
    const decoded = decodeImage(buildPng(1, 1, 16, 4, [[0x64, 0xff, 0x80, 0xff]]));
    expect(Array.from(decoded.data)).toEqual(Array(3).fill(overWhite(100, 128)));
  });

  it('decodes 2-bit grey to the full 0..255 range', () => {
    // Four 2-bit samples packed in one byte: 0, 1, 2, 3.
    const decoded = decodeImage(buildPng(4, 1, 2, 0, [[0b00011011]]));
    expect(Array.from(decoded.data)).toEqual([0, 85, 170, 255].flatMap((grey) => [grey, grey, grey]));
  });

  it('decodes 16-bit RGB', () => {
    const decoded = decodeImage(buildPng(1, 1, 16, 2, [[0x12, 0x34, 0xab, 0xcd, 0xff, 0x00]]));
    expect(Array.from(decoded.data)).toEqual([0x12, 0xab, 0xff]);
  });

  it('composites a palette PNG with per-entry transparency over white', () => {
    const colours = [
      [255, 0, 0, 255],
      [0, 0, 255, 0],
      [0, 128, 0, 64],
    ];
    // Large enough that UPNG.encode's fixed-size output buffer holds the whole file.
    const pixelCount = 16 * 8;
    const rgba = new Uint8Array(pixelCount * 4);
    for (let pixel = 0; pixel < pixelCount; pixel++) rgba.set(colours[pixel % 3]!, pixel * 4);
    const png = new Uint8Array(UPNG.encode([rgba.buffer], 16, 8, 0));
    expect(UPNG.decode(png).ctype).toBe(3); // really a palette image
    const decoded = decodeImage(png, 'palette.png');
    for (let pixel = 0; pixel < pixelCount; pixel++) {
      const [r, g, b, alpha] = colours[pixel % 3]!;
      expect(Array.from(decoded.data.subarray(pixel * 3, pixel * 3 + 3))).toEqual([
        overWhite(r!, alpha!),
        overWhite(g!, alpha!),
        overWhite(b!, alpha!),
      ]);
    }
  });
});

describe('canvas helpers', () => {
  it('toRgba8 rounds, clamps and makes every pixel opaque', () => {
    const rgba = toRgba8({ width: 2, height: 1, data: new Float32Array([1.5, -7, 256, 9.49, 100, 0]) });
    expect(rgba).toBeInstanceOf(Uint8ClampedArray);
    expect(Array.from(rgba)).toEqual([2, 0, 255, 255, 9, 100, 0, 255]);
  });

  it('fromRgba8 composites over white and checks the length', () => {
    const image = fromRgba8(2, 1, new Uint8ClampedArray([10, 20, 30, 255, 10, 20, 30, 0]));
    expect(Array.from(image.data)).toEqual([10, 20, 30, 255, 255, 255]);
    expect(() => fromRgba8(2, 2, new Uint8Array(8))).toThrow(/got 8 bytes but a 2x2 RGBA image needs 16/);
  });
});

describe('bad input', () => {
  it('names the source and the supported formats for unknown bytes', () => {
    const garbage = new Uint8Array([0x13, 0x37, 0x00, 0x42, 0x99, 0x10, 0x20, 0x30, 0x40]);
    expect(() => decodeImage(garbage, 'uploads/cat.png')).toThrow(/^uploads\/cat\.png: not a PNG or JPEG image.*PNG and JPEG/);
  });

  it('says what a recognisable unsupported format is', () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    expect(() => decodeImage(gif, 'anim.gif')).toThrow(/anim\.gif: .*looks like a GIF.*Supported formats: PNG and JPEG/);
  });

  it('rejects empty data', () => {
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow(/empty\.png: the data is empty/);
  });

  it('detects a truncated PNG', () => {
    const png = encodePng(randomIntegerImage(20, 20, 9));
    expect(() => decodeImage(png.subarray(0, png.length - 30), 'cut.png')).toThrow(/cut\.png: corrupt PNG file: truncated/);
  });

  it('detects a flipped bit inside PNG pixel data', () => {
    const png = encodePng(randomIntegerImage(20, 20, 11)).slice();
    png[png.length - 30]! ^= 0x10; // inside the IDAT payload
    expect(() => decodeImage(png, 'flipped.png')).toThrow(/flipped\.png: corrupt PNG file: checksum mismatch in chunk "IDAT"/);
  });

  it('detects PNG pixel data that decompresses too short', () => {
    // A well-formed file whose IDAT holds one scanline of a two-line image.
    const png = buildPng(2, 2, 8, 2, [[1, 2, 3, 4, 5, 6]]);
    expect(() => decodeImage(png, 'short.png')).toThrow(/short\.png: corrupt PNG data .*decompresses to 7 bytes, expected 14/);
  });

  it('decodes an Adam7-interlaced PNG, and detects its pixel data decompressing too short', () => {
    const image = randomIntegerImage(19, 13, 5);
    const scanlines = adam7Scanlines(image);
    const whole = pngFile(19, 13, 8, 2, 1, deflateSync(scanlines));
    expect(Array.from(decodeImage(whole, 'whole.png').data)).toEqual(Array.from(image.data));
    // The zlib stream cut at 60 %, inside a chunk whose length and checksum are right.
    const compressed = deflateSync(scanlines);
    const cut = pngFile(19, 13, 8, 2, 1, compressed.subarray(0, Math.floor(compressed.length * 0.6)));
    expect(() => decodeImage(cut, 'cut.png')).toThrow(new RegExp(`^cut\\.png: corrupt PNG data .*decompresses to \\d+ bytes, expected ${scanlines.length}`));
  });

  it('calls a PNG over the megapixel limit too large, not corrupt, and says how to fix it', () => {
    const png = pngFile(12000, 9000, 8, 2, 0, deflateSync(new Uint8Array(1)));
    expect(() => decodeImage(png, 'huge.png')).toThrow(/^huge\.png: the image is 12000x9000 \(108\.0 megapixels\), over the 100 megapixel limit; downscale it first/);
    expect(() => decodeImage(png, 'huge.png')).not.toThrow(/corrupt/);
  });

  it('names the source for corrupt JPEG data', () => {
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0x13, 0x37, 0x00, 0x00]);
    expect(() => decodeImage(bytes, 'broken.jpg')).toThrow(/^broken\.jpg: could not decode JPEG data/);
  });
});

describe('image files', () => {
  let folder = '';
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'pastiche-image-test-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('reports a missing file as "image not found: <path>"', async () => {
    const path = join(folder, 'nope.png');
    await expect(readImageFile(path)).rejects.toThrow(`image not found: ${path}`);
  });

  it('reports a directory clearly', async () => {
    await expect(readImageFile(folder)).rejects.toThrow(`${folder} is a directory, not an image file`);
  });

  it('puts the path into decode errors', async () => {
    const path = join(folder, 'notes.png');
    await writeFile(path, 'these are not pixels');
    await expect(readImageFile(path)).rejects.toThrow(`${path}: not a PNG or JPEG image`);
  });

  it('writes a PNG into folders that do not exist yet and reads it back', async () => {
    const image = randomIntegerImage(13, 8, 5);
    const path = join(folder, 'deep', 'er', 'out.png');
    await writePngFile(path, image);
    expect((await readImageFile(path)).data).toEqual(image.data);
  });

  it('refuses to write PNG data under another extension', async () => {
    const path = join(folder, 'out.jpg');
    await expect(writePngFile(path, randomIntegerImage(2, 2, 1))).rejects.toThrow(/does not end in "\.png"/);
    expect(existsSync(path)).toBe(false);
  });
});
