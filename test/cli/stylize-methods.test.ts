/**
 * Every method of the registry run through `pastiche stylize` on small images, weights from the mirror:
 * the one generic path loads the definition, stylizes, writes and reports for each of them.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime } from '../../src/gpu/runtime.ts';
import { readImageFile } from '../../src/io/image-file.ts';
import { AdainDecoder, serializeAdainDecoder } from '../../src/nets/models/adain-decoder.ts';
import { METHODS } from '../../src/nets/methods/registry.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';
import { IMAGES, runStylize, writeSmallPhoto } from './stylize-helpers.ts';

let dir: string;
let mirror: string;
let photo: string;
let decoderPath: string;
const STARRY = join(IMAGES, 'starry_night_vangogh.jpg');
const SCREAM = join(IMAGES, 'the_scream_munch.jpg');
const tested = new Set<string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pastiche-stylize-methods-'));
  mirror = testStoreOptions().mirrorDir;
  photo = join(dir, 'photo.png');
  await writeSmallPhoto(photo, 40);
  // A randomly initialised decoder: checks the plumbing, not the quality.
  const decoder = AdainDecoder.initialize(await initRuntime(), 7);
  decoderPath = join(dir, 'decoder.safetensors');
  await writeFile(decoderPath, serializeAdainDecoder(await decoder.toHost()));
  decoder.dispose();
});

async function expectImage(path: string, width: number, height: number): Promise<void> {
  const image = await readImageFile(path);
  expect([image.width, image.height]).toEqual([width, height]);
  expect(image.data.every((v) => Number.isFinite(v) && v >= 0 && v <= 255)).toBe(true);
}

describe('pastiche stylize runs every method through its definition', () => {
  it('feed-forward: with no method and no style, the default model mathura; colour preservation as a post-process', async () => {
    const out = join(dir, 'ff.png');
    const run = await runStylize([photo, '--mirror', mirror, '--preserve-color', '-o', out]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toContain("loading 'mathura'");
    await expectImage(out, 40, 27);
    const tiled = join(dir, 'ff-tiled.png');
    expect((await runStylize([photo, '-m', 'transformer', '--model', 'mosaic', '--tile', '64', '--size', '32', '--mirror', mirror, '-o', tiled])).error).toBeUndefined();
    await expectImage(tiled, 32, 22);
    tested.add('feed-forward');
  });

  it('feed-forward: --model takes an ml5 checkpoint folder, giving the same pixels as the named model', async () => {
    const named = join(dir, 'named.png');
    const folder = join(dir, 'folder.png');
    expect((await runStylize([photo, '--model', 'matta', '--size', '32', '--mirror', mirror, '-o', named])).error).toBeUndefined();
    expect((await runStylize([photo, '--model', join(mirror, 'lengstrom', 'matta') + '/', '--size', '32', '-o', folder])).error).toBeUndefined();
    expect(Array.from((await readImageFile(folder)).data)).toEqual(Array.from((await readImageFile(named)).data));
    const missing = await runStylize([photo, '--model', join(dir, 'no-such-folder'), '-o', join(dir, 'x.png')]);
    expect(missing.error?.message).toMatch(/file not found: .*no-such-folder\/manifest\.json/);
  });

  it('magenta: with no method and two styles, blended by --blend, at a strength', async () => {
    const out = join(dir, 'magenta.png');
    const run = await runStylize([photo, '-s', STARRY, '-s', SCREAM, '--blend', '3,1', '--strength', '0.7', '--mirror', mirror, '-o', out]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toMatch(/→ .*magenta\.png: magenta/);
    expect(run.stderr.match(/embedding in/g)?.length).toBe(2);
    await expectImage(out, 40, 27);
    tested.add('magenta');
  });

  it('adain: two weighted styles and a decoder file; without a decoder the bundled distilled pair; a missing trained decoder says how to get one', async () => {
    const out = join(dir, 'adain.png');
    const run = await runStylize([photo, '-m', 'adain', '-s', STARRY, '-s', SCREAM, '--blend', '0.6,0.4', '--alpha', '0.8', '--decoder', decoderPath, '--size', '32', '--mirror', mirror, '-o', out]);
    expect(run.error).toBeUndefined();
    await expectImage(out, 32, 22);
    const empty = mkdtempSync(join(tmpdir(), 'pastiche-empty-cache-'));
    const distilled = await runStylize([photo, '-m', 'adain', '-s', STARRY, '--cache', empty, '--mirror', '', '--size', '32', '-o', join(dir, 'distilled.png')]);
    expect(distilled.error).toBeUndefined();
    expect(distilled.stderr).toMatch(/distilled VGG-19 nets, level 4; α=1/);
    await expectImage(join(dir, 'distilled.png'), 32, 22);
    const none = await runStylize([photo, '-m', 'adain', '-s', STARRY, '--decoder', 'adain-decoder', '--cache', empty, '--mirror', mirror, '-o', join(dir, 'none.png')]);
    expect(none.error?.message).toMatch(/no trained decoder "adain-decoder".*pastiche train adain --content-dir .*decoder\.pth.*leave --decoder out/s);
    tested.add('adain');
  });

  it('wct: two styles blended, chosen levels, α; from the bundled nets with an empty cache and no mirror', async () => {
    const out = join(dir, 'wct.png');
    const empty = mkdtempSync(join(tmpdir(), 'pastiche-empty-cache-'));
    const run = await runStylize([photo, '-m', 'wct', '-s', STARRY, '-s', SCREAM, '--blend', '3,1', '--levels', '4,2', '--alpha', '0.7', '--size', '32', '--cache', empty, '--mirror', '', '-o', out]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toMatch(/distilled VGG-19 nets, levels 4,2; α=0\.7/);
    await expectImage(out, 32, 22);
    tested.add('wct');
  });

  it('gatys: --style-weight is β, --save-every writes snapshots, and a summary line ends the run', async () => {
    const out = join(dir, 'gatys', 'out.png');
    // Shallow layers: the full VGG19 costs seconds per evaluation on the software rasteriser.
    const args = [photo, '-m', 'gatys', '-s', STARRY, '--size', '24', '--iterations', '2', '--save-every', '1', '--style-weight', '5'];
    args.push('--content-layers', 'relu2_1', '--style-layers', 'relu1_1,relu2_1', '--mirror', mirror, '-o', out);
    const run = await runStylize(args);
    expect(run.error).toBeUndefined();
    expect(readdirSync(join(dir, 'gatys')).sort()).toEqual(['out.0001.png', 'out.0002.png', 'out.png']);
    await expectImage(out, 24, 16);
    expect(run.stderr).toMatch(/24×16, lbfgs for 2 iterations, α=1 β=5 γ=0\.001/);
    expect(run.stderr).toMatch(/out\.png: 24×16 in [\d.]+ s; total [\d.e+-]+ \(content [\d.e+-]+, style [\d.e+-]+, tv [\d.e+-]+\); style loss [\d.]+ % of the content image's; 2 iterations in/);
    expect(existsSync(join(dir, 'gatys', '.out.png.tmp'))).toBe(false);
    tested.add('gatys');
  });

  it('fails a diverged gatys run with the cause and the fix, writing nothing when no image improved on the start', async () => {
    const out = join(dir, 'diverged.png');
    const args = [photo, '-m', 'gatys', '-s', STARRY, '--size', '32', '--iterations', '3', '--optimizer', 'adam', '--learning-rate', '1e12'];
    const run = await runStylize([...args, '--content-layers', 'relu2_1', '--style-layers', 'relu1_1,relu2_1', '--mirror', mirror, '-o', out]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/the loss became (NaN|-?Infinity) at iteration \d+: .*lower --learning-rate \(now 1e\+12\); no image improved on the start, nothing is written/);
    expect(existsSync(out)).toBe(false);
  });

  it('covered every registered method', () => {
    expect([...tested].sort()).toEqual(METHODS.map((m) => m.id).sort());
  });
});
