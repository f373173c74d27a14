/**
 * Training the AdaIN decoder (src/nets/adain-training.ts) for real at CI size: 32 px crops of a few
 * photos and paintings from ../shared/images, the frozen VGG19 encoder, the reference learning rate.
 * The loss falls substantially within 24 iterations, the run resumes from its checkpoint, and it
 * leaves a decoder file that stylize can load and a loss curve.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { readImageFile, writePngFile } from '../../../src/io/image-file.ts';
import { resizeToLongSide } from '../../../src/io/resize.ts';
import { registerTrainAdainCommand, resumeAdainConfig } from '../../../src/cli/commands/train-adain.ts';
import { adainDecoderWeightsFromBytes } from '../../../src/nets/models/adain-decoder.ts';
import { AdainBatches, adainTrainConfig, trainAdainDecoder, type AdainTrainConfig } from '../../../src/nets/train/node/adain-decoder.ts';
import { readCheckpoint } from '../../../src/nets/train/node/checkpoint.ts';
import { AugmentedBatches, ImageFolder } from '../../../src/nets/train/node/dataset.ts';
import { Vgg } from '../../../src/nets/models/vgg.ts';
import { parseSafetensors } from '../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { SHARED_IMAGES_DIR, testStoreOptions } from '../../helpers/shared-data.ts';
import { loadPretrainedVgg } from '../../../src/nets/weights/node/pretrained.ts';

const runtime = useRuntime();
const IMAGES = SHARED_IMAGES_DIR;
let vgg: Vgg;
let contentDir: string;
let styleDir: string;

beforeAll(async () => {
  vgg = await loadPretrainedVgg(runtime(), testStoreOptions());
  // Small copies keep decoding and augmentation cheap; the crops are 32 px anyway.
  const root = mkdtempSync(join(tmpdir(), 'pastiche-adain-data-'));
  contentDir = join(root, 'content');
  styleDir = join(root, 'style');
  mkdirSync(contentDir);
  mkdirSync(styleDir);
  const contents = ['content_chelsea.png', 'content_coffee.png', 'content_astronaut.png', 'content_rocket.jpg'];
  const styles = ['starry_night_vangogh.jpg', 'the_scream_munch.jpg', 'great_wave_hokusai.jpg', 'udnie_picabia.jpg'];
  for (const [i, name] of contents.entries()) await writePngFile(join(contentDir, `${i}.png`), resizeToLongSide(await readImageFile(join(IMAGES, name)), 64));
  for (const [i, name] of styles.entries()) await writePngFile(join(styleDir, `${i}.png`), resizeToLongSide(await readImageFile(join(IMAGES, name)), 64));
});

afterAll(() => vgg?.dispose());

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('AdaIN decoder training', () => {
  it('lowers the loss substantially in 24 iterations at 32 px, resumes from its checkpoint and writes the decoder and the loss curve', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-adain-train-'));
    const output = join(dir, 'decoder.safetensors');
    // The reference learning rate and style weight; 32 px crops, one pair per batch.
    const config = adainTrainConfig({ contentDir, styleDir, size: 32, batch: 1, iterations: 12, valCount: 1, valEvery: 6, patience: 0, checkpointEvery: 0, seed: 5 });
    const first = await trainAdainDecoder(runtime(), { config, output, vgg });
    expect(first.iteration).toBe(12);
    expect(existsSync(first.checkpoint)).toBe(true);
    const checkpoint = await readCheckpoint(first.checkpoint);
    expect(checkpoint.state.iteration).toBe(12);

    const resumed = await trainAdainDecoder(runtime(), { config: { ...config, iterations: 24 }, output, vgg, resume: checkpoint });
    const { train, validation } = resumed.history;
    expect(train.iteration).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(Object.keys(train.terms).sort()).toEqual(['content', 'style']);
    expect(validation.iteration).toEqual([6, 12, 18, 24]);
    // Each iteration sees a different crop, so compare averages: the fresh decoder's loss against the last ones.
    const before = mean(train.total.slice(0, 2));
    const after = mean(train.total.slice(-4));
    expect(after, `train loss ${before.toExponential(2)} → ${after.toExponential(2)}`).toBeLessThan(0.1 * before);
    // The validation pair is fixed: its loss falls too.
    const firstVal = validation.loss[0]!;
    const bestVal = Math.min(...validation.loss);
    expect(bestVal, `validation ${validation.loss.map((v) => v.toExponential(2)).join(' → ')}`).toBeLessThan(0.5 * firstVal);
    expect(resumed.best!.loss).toBe(bestVal);

    // The decoder file holds the best validation's weights and loads as a decoder.
    const bytes = new Uint8Array(await readFile(output));
    expect(parseSafetensors(bytes, output).metadata).toMatchObject({ format: 'pastiche-adain-decoder', iteration: String(resumed.best!.iteration) });
    const weights = await adainDecoderWeightsFromBytes(bytes, output);
    expect(weights.get('dec1_1.weight')!.data).toEqual(resumed.weights.get('dec1_1.weight')!.data);
    expect(existsSync(resumed.lossCurve!)).toBe(true);
  }, 300_000);

  it('draws content and style crops from two seeded streams that save and restore exactly', async () => {
    const folder = new ImageFolder();
    const files = (dir: string) => [0, 1, 2, 3].map((i) => join(dir, `${i}.png`));
    const make = () =>
      new AdainBatches(
        new AugmentedBatches(folder, files(contentDir), { batchSize: 2, size: 16, seed: 1 }),
        new AugmentedBatches(folder, files(styleDir), { batchSize: 2, size: 16, seed: 2 }),
      );
    const a = make();
    await a.next();
    const state = a.saveState();
    const expected = [await a.next(), await a.next(), await a.next()];
    const b = make();
    b.restoreState(JSON.parse(JSON.stringify(state)));
    for (const batch of expected) {
      const got = await b.next();
      expect(got.content.data).toEqual(batch.content.data);
      expect(got.style.data).toEqual(batch.style.data);
      expect(got.content.data).not.toEqual(got.style.data);
    }
    expect(() => b.restoreState({ content: null })).toThrow(/invalid saved stream state/);
    expect(() => new AdainBatches(new AugmentedBatches(folder, files(contentDir), { batchSize: 2, size: 16, seed: 1 }), new AugmentedBatches(folder, files(styleDir), { batchSize: 3, size: 16, seed: 2 }))).toThrow();
  });

  it('`pastiche train adain` parses its options; --resume keeps the run and only lets its length and schedule change', async () => {
    const program = new Command().exitOverride();
    const train = program.command('train');
    registerTrainAdainCommand(train);
    const adain = train.commands.find((c) => c.name() === 'adain')!;
    expect(adain.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--content-dir', '--style-dir', '--size', '--batch', '--iterations', '--lr', '--style-weight', '--output', '--resume']));
    const stored: AdainTrainConfig = adainTrainConfig({ contentDir, styleDir, size: 32, batch: 2, iterations: 10 });
    const checkpoint = { state: { config: { run: stored }, model: { model: 'adain-decoder' } } } as unknown as Parameters<typeof resumeAdainConfig>[0];
    const raw = { ...stored, scaleRange: stored.augment.scale, flip: true, jitter: stored.augment.jitter, iterations: 50, batch: 4 } as unknown as Parameters<typeof resumeAdainConfig>[1];
    expect(resumeAdainConfig(checkpoint, raw, (k) => k === 'iterations').iterations).toBe(50);
    expect(() => resumeAdainConfig(checkpoint, raw, (k) => k === 'batch')).toThrow(/--batch 4 differs from the checkpoint's 2/);
    const other = { state: { config: { run: stored }, model: { model: 'feed-forward' } } } as unknown as Parameters<typeof resumeAdainConfig>[0];
    expect(() => resumeAdainConfig(other, raw, () => false)).toThrow(/not written by `pastiche train adain`/);
  });
});
