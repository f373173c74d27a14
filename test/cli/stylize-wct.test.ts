import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../../src/io/image-file.ts';
import { SHARED_WEIGHTS_DIR } from '../helpers/shared-data.ts';
import { runStylize, writeSmallPhoto } from './stylize-helpers.ts';

let dir: string;
let photo: string;
let style: string;
let store: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pastiche-stylize-wct-'));
  photo = join(dir, 'photo.png');
  style = join(dir, 'style.jpg');
  await writeSmallPhoto(photo, 48);
  await writeSmallPhoto(style, 40, 'starry_night_vangogh.jpg');
  // An empty cache: no trained AdaIN decoder there, weights copied from the mirror.
  store = ['--mirror', process.env.PASTICHE_WEIGHTS_MIRROR ?? SHARED_WEIGHTS_DIR, '--cache', join(dir, 'cache')];
});

describe('pastiche stylize --method wct / adain without a decoder', () => {
  it('writes a WCT image with the chosen levels, α and mask', async () => {
    const out = join(dir, 'wct.png');
    const run = await runStylize([photo, '-m', 'wct', '-s', style, '--levels', '3,1', '--alpha', '0.7', '--mask', photo, '-o', out, ...store]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toMatch(/distilled VGG-19 nets, levels 3,1; α=0\.7/);
    const image = await readImageFile(out);
    expect([image.width, image.height]).toEqual([48, 32]);
  });

  it('runs AdaIN on the distilled level-4 nets when no decoder is given', async () => {
    const out = join(dir, 'adain.png');
    const run = await runStylize([photo, '-m', 'adain', '-s', style, '-o', out, ...store]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toMatch(/distilled VGG-19 nets, level 4; α=1/);
    expect((await readImageFile(out)).width).toBe(48);
  });

  it('refuses options the method does not take', async () => {
    expect((await runStylize([photo, '-m', 'wct', '-s', style, '--iterations', '3'])).error?.message).toMatch(/--iterations is not used by --method wct/);
    expect((await runStylize([photo, '-m', 'adain', '-s', style, '--levels', '4'])).error?.message).toMatch(/--levels is not used by --method adain; it is taken by wct/);
  });
});
