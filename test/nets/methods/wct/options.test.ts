import { loadPretrainedDistilled } from '../../../../src/nets/weights/node/pretrained.ts';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../../src/io/image.ts';
import { resizeImage, resizeToLongSide } from '../../../../src/io/resize.ts';
import { DistilledVgg } from '../../../../src/nets/models/distilled-vgg.ts';
import { DistilledStylizer } from '../../../../src/nets/methods/wct/stylizer.ts';
import { greyLevelError, readGoldenImage } from '../../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../../helpers/gpu.ts';

const runtime = useRuntime();

function solid(width: number, height: number, value: number): RgbImage {
  return { width, height, data: new Float32Array(width * height * 3).fill(value) };
}

function meanColour(image: RgbImage): number[] {
  const m = [0, 0, 0];
  for (let p = 0; p < image.width * image.height; p++) for (let k = 0; k < 3; k++) m[k]! += image.data[3 * p + k]! / (image.width * image.height);
  return m;
}

async function fixtures(): Promise<{ stylizer: DistilledStylizer; nets: DistilledVgg; content: RgbImage; styleA: RgbImage; styleB: RgbImage }> {
  const nets = await loadPretrainedDistilled(runtime(), (await import('../../../helpers/shared-data.ts')).testStoreOptions());
  const content = resizeImage(await readGoldenImage('wct16x-stylize.content.png'), 72, 56); // not a multiple of 16: padded and cropped
  const styleA = resizeImage(await readGoldenImage('wct16x-stylize.style.png'), 68, 50);
  const styleB = resizeImage(await readGoldenImage('adain16x.style.png'), 62, 50);
  return { stylizer: new DistilledStylizer(nets, 'wct'), nets, content, styleA, styleB };
}

describe('WCT options', () => {
  it('blends styles by weight, masks two styles onto two regions, and keeps the content size', async () => {
    const { stylizer, nets, content, styleA, styleB } = await fixtures();
    const levels = [3, 1] as const;
    const onlyA = await stylizer.stylize(content, [styleA], { levels });
    expect([onlyA.width, onlyA.height]).toEqual([72, 56]);
    const onlyB = await stylizer.stylize(content, [styleB], { levels });
    // Weight 0 for a style removes it exactly.
    expect(greyLevelError(await stylizer.stylize(content, [styleA, styleB], { levels, weights: [1, 0] }), onlyA).max).toBeLessThanOrEqual(1);
    const half = await stylizer.stylize(content, [styleA, styleB], { levels, weights: [0.5, 0.5] });
    expect(greyLevelError(half, onlyA).mean).toBeGreaterThan(1);
    expect(greyLevelError(half, onlyB).mean).toBeGreaterThan(1);
    // An all-white mask is the first style, all-black the second.
    expect(greyLevelError(await stylizer.stylize(content, [styleA, styleB], { levels, mask: solid(72, 56, 255) }), onlyA).max).toBeLessThanOrEqual(1);
    expect(greyLevelError(await stylizer.stylize(content, [styleA, styleB], { levels, mask: solid(72, 56, 0) }), onlyB).max).toBeLessThanOrEqual(1);
    // Left half white: the left looks like style A's result, the right like style B's.
    const split = solid(72, 56, 0);
    for (let y = 0; y < 56; y++) for (let x = 0; x < 36; x++) split.data.fill(255, (y * 72 + x) * 3, (y * 72 + x) * 3 + 3);
    const masked = await stylizer.stylize(content, [styleA, styleB], { levels: [1], mask: split });
    const a1 = await stylizer.stylize(content, [styleA], { levels: [1] });
    const b1 = await stylizer.stylize(content, [styleB], { levels: [1] });
    const region = (img: RgbImage, x0: number, x1: number): RgbImage => {
      const data = new Float32Array((x1 - x0) * 56 * 3);
      for (let y = 0; y < 56; y++) data.set(img.data.subarray((y * 72 + x0) * 3, (y * 72 + x1) * 3), y * (x1 - x0) * 3);
      return { width: x1 - x0, height: 56, data };
    };
    expect(greyLevelError(region(masked, 0, 30), region(a1, 0, 30)).mean).toBeLessThan(1);
    expect(greyLevelError(region(masked, 42, 72), region(b1, 42, 72)).mean).toBeLessThan(1);
    nets.dispose();
  });

  it('preserves colour, honours the style size, and runs only the chosen levels', async () => {
    const { stylizer, nets, content, styleA } = await fixtures();
    const plain = await stylizer.stylize(content, [styleA], { levels: [2, 1] });
    const kept = await stylizer.stylize(content, [styleA], { levels: [2, 1], preserveColor: true });
    const dist = (a: number[], b: number[]): number => Math.hypot(...a.map((v, i) => v - b[i]!));
    expect(dist(meanColour(kept), meanColour(content))).toBeLessThan(dist(meanColour(plain), meanColour(content)));
    const sized = await stylizer.stylize(content, [styleA], { levels: [2, 1], styleSize: 40 });
    const preSized = await stylizer.stylize(content, [resizeToLongSide(styleA, 40)], { levels: [2, 1] });
    expect(greyLevelError(sized, preSized).max).toBe(0);
    const before = stylizer.counters.contentEncodes;
    await stylizer.stylize(content, [styleA], { levels: [1] });
    expect(stylizer.counters.contentEncodes - before).toBe(1); // one level, one tile, encoded once
    await expect(stylizer.stylize(content, [styleA], { levels: [6 as 1] })).rejects.toThrow(/wct: level 6 is not one of 1, 2, 3, 4, 5/);
    await expect(stylizer.stylize(content, [styleA], { levels: [] })).rejects.toThrow(/choose at least one level/);
    await expect(stylizer.stylize(solid(20, 20, 9), [styleA])).rejects.toThrow(/at least 32×32 pixels for level 5, got 20×20/);
    nets.dispose();
  });

  it('gives the untiled result when run in tiles (statistics summed over all tiles)', async () => {
    const { stylizer, nets, styleA } = await fixtures();
    const content = resizeImage(await readGoldenImage('wct16x-stylize.content.png'), 160, 112);
    for (const levels of [[2, 1], [5, 4, 3, 2, 1]] as const) {
      const whole = await stylizer.stylize(content, [styleA], { levels, alpha: 0.8 });
      const before = stylizer.counters.contentEncodes;
      const tiled = await stylizer.stylize(content, [styleA], { levels, alpha: 0.8, tileSize: 64 });
      expect(stylizer.counters.contentEncodes - before, `tiles ran for ${levels.join(',')}`).toBe(2 * levels.length * 6); // 3×2 tiles, encoded for the statistics and again to decode
      const err = greyLevelError(tiled, whole);
      console.log(`tiled vs untiled, levels ${levels.join(',')}: mean ${err.mean.toFixed(4)}, max ${err.max} grey levels`);
      expect(err.mean, `levels ${levels.join(',')}`).toBeLessThanOrEqual(0.05);
      expect(err.max, `levels ${levels.join(',')}`).toBeLessThanOrEqual(2);
    }
    nets.dispose();
  });
});
