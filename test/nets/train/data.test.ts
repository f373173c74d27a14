import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng, type RgbImage } from '../../../src/io/image.ts';
import { SeededRandom } from '../../../src/nets/random.ts';
import { augmentImage, centerSquare } from '../../../src/nets/train/augment.ts';
import { AugmentedBatches, combineSources, ImageFolder, listImageFiles, loadValidationBatches, splitValidation } from '../../../src/nets/train/node/dataset.ts';

/** A w×h test image with a different smooth pattern per `seed`. */
function pattern(width: number, height: number, seed: number): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 7 + seed * 40) % 256;
      data[i + 1] = (y * 5 + seed * 90) % 256;
      data[i + 2] = ((x + y) * 3 + seed * 10) % 256;
    }
  }
  return { width, height, data };
}

/** A folder with photos of mixed sizes (one in a subfolder), a broken .jpg, a truncated .png and a text file. */
function photoFolder(): { dir: string; good: string[]; bad: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'pastiche-data-'));
  mkdirSync(join(dir, 'more'));
  const good = [join(dir, 'a.png'), join(dir, 'b.png'), join(dir, 'more', 'c.png'), join(dir, 'd.png')];
  const sizes: [number, number][] = [
    [40, 30],
    [24, 50],
    [64, 64],
    [33, 21],
  ];
  good.forEach((path, i) => writeFileSync(path, encodePng(pattern(sizes[i]![0], sizes[i]![1], i + 1))));
  const truncated = encodePng(pattern(20, 20, 9)).subarray(0, 60);
  const bad = [join(dir, 'broken.jpg'), join(dir, 'more', 'truncated.png')];
  writeFileSync(bad[0]!, 'this is not a JPEG');
  writeFileSync(bad[1]!, truncated);
  writeFileSync(join(dir, 'notes.txt'), 'ignored');
  return { dir, good, bad };
}

describe('augmentation', () => {
  const photo = pattern(57, 43, 3);

  it('is deterministic for a seed and differs between seeds', () => {
    const crops = (seed: number) => {
      const rng = new SeededRandom(seed);
      return Array.from({ length: 6 }, () => augmentImage(photo, 32, rng));
    };
    const a = crops(7);
    const b = crops(7);
    const c = crops(8);
    a.forEach((crop, i) => {
      expect([crop.width, crop.height]).toEqual([32, 32]);
      expect(crop.data).toEqual(b[i]!.data);
    });
    expect(a.some((crop, i) => crop.data.some((v, k) => v !== c[i]!.data[k]))).toBe(true);
    // Random crops: not all the same.
    expect(a.slice(1).some((crop) => crop.data.some((v, k) => v !== a[0]!.data[k]))).toBe(true);
  });

  it('draws the same random numbers whichever options are on, and respects them', () => {
    const plain = new SeededRandom(5);
    const off = augmentImage(photo, 24, plain, { flip: false, jitter: 0, scale: [1, 1] });
    const full = new SeededRandom(5);
    augmentImage(photo, 24, full);
    expect(plain.state).toBe(full.state);
    // scale [1, 1], no flip, no jitter: a plain crop of the short-side resize, values unchanged in range.
    expect(off.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    const flipOnly = (seed: number) => augmentImage(photo, 24, new SeededRandom(seed), { jitter: 0, scale: [1, 1] });
    const noFlip = (seed: number) => augmentImage(photo, 24, new SeededRandom(seed), { jitter: 0, scale: [1, 1], flip: false });
    let mirrored = 0;
    for (let seed = 0; seed < 12; seed++) {
      const f = flipOnly(seed);
      const n = noFlip(seed);
      if (f.data.some((v, i) => v !== n.data[i])) {
        mirrored++;
        // Pixel (x, y) of the flipped crop is pixel (w − 1 − x, y) of the unflipped one.
        for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) for (let ch = 0; ch < 3; ch++) expect(f.data[(y * 24 + x) * 3 + ch]).toBe(n.data[(y * 24 + 23 - x) * 3 + ch]);
      }
    }
    expect(mirrored).toBeGreaterThan(0);
    expect(mirrored).toBeLessThan(12);
  });

  it('jitters colours only slightly and keeps values in 0..255', () => {
    const rng = new SeededRandom(11);
    for (let k = 0; k < 5; k++) {
      const state = rng.state;
      const jittered = augmentImage(photo, 32, rng, { jitter: 0.1 });
      const plain = augmentImage(photo, 32, new SeededRandom(state), { jitter: 0 });
      const meanDiff = jittered.data.reduce((s, v, i) => s + Math.abs(v - plain.data[i]!), 0) / jittered.data.length;
      expect(meanDiff).toBeLessThan(0.12 * 255);
      expect(jittered.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    }
  });

  it('centre-crops validation images deterministically', () => {
    const a = centerSquare(photo, 32);
    expect([a.width, a.height]).toEqual([32, 32]);
    expect(a.data).toEqual(centerSquare(photo, 32).data);
  });
});

describe('training data', () => {
  it('lists JPEG/PNG files recursively in a stable order and ignores other files', async () => {
    const { dir, good, bad } = photoFolder();
    const listing = await listImageFiles(dir);
    expect(listing.files).toEqual([...good, ...bad].sort());
    expect(listing.ignored).toBe(1);
    await expect(listImageFiles(join(dir, 'missing'))).rejects.toThrow(/not found/);
  });

  it('splits off a seeded validation set, disjoint from training', () => {
    const files = Array.from({ length: 10 }, (_, i) => `f${i}.png`);
    const a = splitValidation(files, 3, 1);
    expect(a).toEqual(splitValidation(files, 3, 1));
    expect(a.validation).toHaveLength(3);
    expect(a.train).toHaveLength(7);
    expect(new Set([...a.train, ...a.validation]).size).toBe(10);
    expect(splitValidation(files, 3, 2).validation).not.toEqual(a.validation);
    expect(() => splitValidation(['only.png'], 1, 0)).toThrow(/at least 2/);
  });

  it('skips unreadable files, reporting each once, and streams the same batches for a seed', async () => {
    const { dir, good, bad } = photoFolder();
    const { files } = await listImageFiles(dir);
    const reports: string[] = [];
    const folder = new ImageFolder({ onUnreadable: (path) => reports.push(path) });
    const stream = new AugmentedBatches(folder, files, { batchSize: 3, size: 16, seed: 4 });
    const batches = [];
    for (let i = 0; i < 6; i++) batches.push(await stream.next()); // 18 crops: 4+ epochs over 6 files
    expect(reports.sort()).toEqual([...bad].sort());
    expect(folder.skipped.size).toBe(2);
    for (const b of batches) {
      expect(b.count).toBe(3);
      expect(b.data.length).toBe(3 * 16 * 16 * 3);
    }

    // A fresh stream with the same seed, knowing nothing about the bad files, yields the same batches.
    const again = new AugmentedBatches(new ImageFolder({ onUnreadable: () => undefined }), files, { batchSize: 3, size: 16, seed: 4 });
    for (const b of batches) expect((await again.next()).data).toEqual(b.data);

    // Restoring a saved position continues exactly (this is what --resume relies on).
    const first = new AugmentedBatches(new ImageFolder(), files, { batchSize: 3, size: 16, seed: 4 });
    await first.next();
    await first.next();
    const saved = JSON.parse(JSON.stringify(first.saveState()));
    const resumed = new AugmentedBatches(new ImageFolder(), files, { batchSize: 3, size: 16, seed: 4 });
    resumed.restoreState(saved);
    for (const b of batches.slice(2)) expect((await resumed.next()).data).toEqual(b.data);

    // Validation: centre crops of the readable files only.
    const valReports: string[] = [];
    const val = await loadValidationBatches(new ImageFolder({ onUnreadable: (p) => valReports.push(p) }), [good[0]!, bad[0]!, good[1]!], 16, 4);
    expect(val.map((b) => b.count)).toEqual([2]);
    expect(valReports).toEqual([bad[0]]);

    const hopeless = new AugmentedBatches(new ImageFolder({ onUnreadable: () => undefined }), bad, { batchSize: 1, size: 16, seed: 0 });
    await expect(hopeless.next()).rejects.toThrow(/none of the 2 training images can be read/);
  });

  it('combines sources drawn in step (content and style folders for AdaIN), with one saved state', async () => {
    const { dir, good } = photoFolder();
    const { files } = await listImageFiles(dir);
    const make = () =>
      combineSources({
        content: new AugmentedBatches(new ImageFolder({ onUnreadable: () => undefined }), files, { batchSize: 2, size: 16, seed: 1 }),
        style: new AugmentedBatches(new ImageFolder(), good, { batchSize: 2, size: 24, seed: 2 }),
      });
    const a = make();
    expect(a.batchSize).toBe(2);
    const first = await a.next();
    expect([first.content.size, first.style.size]).toEqual([16, 24]);
    const saved = JSON.parse(JSON.stringify(a.saveState()));
    const next = await a.next();
    const b = make();
    b.restoreState(saved);
    const again = await b.next();
    expect(again.content.data).toEqual(next.content.data);
    expect(again.style.data).toEqual(next.style.data);
    expect(() => b.restoreState({ content: saved.content })).toThrow(/no 'style' entry/);
  });
});
