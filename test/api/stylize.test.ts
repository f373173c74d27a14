/**
 * The library API as users call it (`from 'pastiche'`, the Node entry): every input kind, progress,
 * cancellation, option checking against the definitions, and GPU memory freed by `dispose()`.
 * Small images, weights from the mirror as the CLI tests take them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, load, methods, stylize, toRgba8, type Progress } from 'pastiche';
import { initRuntime, type Runtime } from '../../src/gpu/runtime.ts';
import { readImageFile } from '../../src/io/image-file.ts';
import { AdainDecoder, serializeAdainDecoder } from '../../src/nets/models/adain-decoder.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';
import { IMAGES, writeSmallPhoto } from '../cli/stylize-helpers.ts';

let runtime: Runtime;
let photo: string;
const STARRY = join(IMAGES, 'starry_night_vangogh.jpg');
const SCREAM = join(IMAGES, 'the_scream_munch.jpg');
/** Shallow VGG layers: the full VGG19 costs seconds per evaluation on the software rasteriser. */
const SHALLOW = { contentLayers: 'relu2_1', styleLayers: 'relu1_1,relu2_1' };

beforeAll(async () => {
  process.env.PASTICHE_WEIGHTS_MIRROR ??= testStoreOptions().mirrorDir;
  runtime = await initRuntime();
  photo = join(mkdtempSync(join(tmpdir(), 'pastiche-api-')), 'photo.png');
  await writeSmallPhoto(photo, 40);
});

const liveBytes = () => runtime.stats().liveBytes;

describe('stylize and load from pastiche', () => {
  it('with no method and no style runs feed-forward mathura; the result is RGBA with a PNG of the same pixels', async () => {
    const before = liveBytes();
    const messages: string[] = [];
    const image = await stylize(photo, { onProgress: (p) => messages.push(p.message ?? '') });
    expect(liveBytes()).toBe(before);
    expect(messages).toContain("loading 'mathura'");
    expect([image.width, image.height]).toEqual([40, 27]);
    expect(image.data).toBeInstanceOf(Uint8ClampedArray);
    expect(image.data.length).toBe(40 * 27 * 4);
    expect(image.data.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
    // The PNG decodes to exactly the RGBA pixels (alpha aside).
    expect(toRgba8(decodeImage(image.toPng()))).toEqual(image.data);
    // Not the photo: the net changed it.
    expect(toRgba8(await readImageFile(photo))).not.toEqual(image.data);
  });

  it('reads every Node input kind to the same pixels: path, bytes, Buffer, ArrayBuffer, ImageData-like RGBA, RGB floats', async () => {
    const model = await load('transformer', { model: 'mosaic' });
    expect(model.method.id).toBe('feed-forward');
    try {
      const buffer = await readFile(photo);
      const rgb = await readImageFile(photo);
      const rgba = { width: rgb.width, height: rgb.height, data: toRgba8(rgb) };
      const bytes = new Uint8Array(buffer);
      const inputs = { path: photo, buffer, bytes, arrayBuffer: bytes.slice().buffer, rgba, rgb };
      const reference = await model.stylize(photo);
      for (const [kind, input] of Object.entries(inputs)) {
        const out = await model.stylize(input);
        expect([kind, out.width, out.height]).toEqual([kind, 40, 27]);
        expect(out.data, kind).toEqual(reference.data);
      }
      // A load-time option (the model) and a per-call one (size) mix.
      const small = await model.stylize(photo, { size: 20 });
      expect([small.width, small.height]).toEqual([20, 14]);
    } finally {
      model.dispose();
    }
  });

  it('dispose() frees the GPU memory load() took, and a disposed model says so', async () => {
    const before = liveBytes();
    const model = await load('feed-forward', { model: 'candy' });
    expect(liveBytes()).toBeGreaterThan(before);
    await model.stylize(photo, { size: 24 });
    model.dispose();
    expect(liveBytes()).toBe(before);
    model.dispose(); // twice is harmless
    await expect(model.stylize(photo)).rejects.toThrow(/this feed-forward model was disposed; load it again/);
  });

  it('with styles runs magenta by default, blends them, and reports progress', async () => {
    const progress: Progress[] = [];
    const image = await stylize(photo, { style: [STARRY, SCREAM], blend: [3, 1], strength: 0.7, onProgress: (p) => progress.push(p) });
    expect([image.width, image.height]).toEqual([40, 27]);
    expect(image.summary).toBe('strength 0.7');
    expect(progress.some((p) => p.stage === 'weights')).toBe(true);
    expect(progress.filter((p) => p.stage === 'style').map((p) => p.message)).toEqual([
      expect.stringMatching(new RegExp(`^style ${STARRY}: embedding in`)),
      expect.stringMatching(new RegExp(`^style ${SCREAM}: embedding in`)),
    ]);
    // The blend weights matter: all weight on one style is that style's result.
    const model = await load('magenta');
    try {
      const one = await model.stylize(photo, { style: STARRY, strength: 0.7 });
      const weighted = await model.stylize(photo, { style: [STARRY, SCREAM], blend: [1, 0], strength: 0.7 });
      expect(weighted.data).toEqual(one.data);
      expect(image.data).not.toEqual(one.data);
    } finally {
      model.dispose();
    }
  });

  it('an iterative method stopped by its signal resolves with its best image so far', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const before = liveBytes();
    const image = await stylize(photo, {
      method: 'gatys',
      style: STARRY,
      size: 24,
      iterations: 40,
      ...SHALLOW,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === undefined) return;
        steps.push(p.step);
        if (p.step >= 2) controller.abort();
      },
    });
    expect(image.stopped).toBe(true);
    expect([image.width, image.height]).toEqual([24, 16]);
    expect(Math.max(...steps)).toBeLessThan(40);
    expect(liveBytes()).toBe(before);
  });

  it('a one-pass method rejects with the signal’s reason, and frees what it loaded', async () => {
    const before = liveBytes();
    const reason = new Error('user cancelled');
    await expect(stylize(photo, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const controller = new AbortController();
    const model = await load('feed-forward');
    try {
      const run = model.stylize(photo, { signal: controller.signal });
      controller.abort(reason);
      await expect(run).rejects.toBe(reason);
    } finally {
      model.dispose();
    }
    expect(liveBytes()).toBe(before);
  });

  it('checks options and inputs against the definitions before loading anything', async () => {
    const before = liveBytes();
    await expect(stylize(photo, { method: 'magenta', style: STARRY, alpha: 0.5 })).rejects.toThrow("option 'alpha' is not used by method 'magenta'; it is taken by adain");
    await expect(stylize(photo, { style: STARRY, strength: 2 })).rejects.toThrow("option 'strength' must be a number in [0, 1], got 2");
    await expect(stylize(photo, { method: 'feed-forward', style: STARRY })).rejects.toThrow(/method 'feed-forward' takes no style image/);
    await expect(stylize(photo, { method: 'adain' })).rejects.toThrow('adain needs at least one style image');
    await expect(stylize(photo, { method: 'cubism' })).rejects.toThrow(/unknown method 'cubism'; available: feed-forward \(or transformer\), magenta/);
    await expect(stylize(photo, { style: [STARRY, SCREAM], blend: [1] })).rejects.toThrow("option 'blend' needs one weight per style: 2 styles, 1 weight");
    await expect(stylize(42 as unknown as string)).rejects.toThrow('content: cannot read an image from number; give a file path, PNG/JPEG bytes');
    await expect(stylize(new Uint8Array([1, 2, 3]))).rejects.toThrow(/content: .*not a PNG or JPEG|content: .*Supported formats/);
    await expect(load('magenta', { style: STARRY })).rejects.toThrow("load() takes the method's options; give 'style' to stylize() instead");
    expect(liveBytes()).toBe(before);
  });

  it('reads an image option (an AdaIN mask) like any input, and takes a decoder file by path', async () => {
    // A randomly initialised decoder: checks the plumbing, not the quality.
    const decoder = AdainDecoder.initialize(runtime, 7);
    const decoderPath = join(photo, '..', 'decoder.safetensors');
    await writeFile(decoderPath, serializeAdainDecoder(await decoder.toHost()));
    decoder.dispose();
    const white = { width: 2, height: 2, data: new Uint8ClampedArray(16).fill(255) };
    const model = await load('adain', { decoder: decoderPath });
    try {
      const common = { style: [STARRY, SCREAM], size: 24 };
      const masked = await model.stylize(photo, { ...common, mask: white });
      // White everywhere is the first style alone, whether the mask comes as RGBA bytes or RGB floats.
      const first = await model.stylize(photo, { ...common, blend: [1, 0] });
      expect([masked.width, masked.height]).toEqual([24, 16]);
      expect(masked.data).toEqual(first.data);
      const fromBytes = await model.stylize(photo, { ...common, mask: { width: 2, height: 2, data: new Float32Array(12).fill(255) } });
      expect(fromBytes.data).toEqual(masked.data);
      await expect(model.stylize(photo, { ...common, style: [STARRY, SCREAM, STARRY], mask: white })).rejects.toThrow(/the mask blends two styles/);
    } finally {
      model.dispose();
    }
  });

  it('lists the methods of the registry, with their options', () => {
    expect(methods.map((m) => m.id)).toEqual(expect.arrayContaining(['feed-forward', 'magenta', 'adain', 'gatys']));
    expect(methods.find((m) => m.id === 'magenta')?.options.find((o) => o.id === 'strength')).toMatchObject({ kind: 'number', min: 0, max: 1, default: 1 });
  });
});
