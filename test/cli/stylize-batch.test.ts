import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../../src/io/image-file.ts';
import { sniffImageFormat } from '../../src/io/image.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';
import { runStylize, writeSmallPhoto } from './stylize-helpers.ts';

// The real mosaic transformer on 24-px photos: the smallest run through the whole command.
let dir: string;
let mirror: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pastiche-stylize-batch-'));
  mirror = testStoreOptions().mirrorDir;
  await writeSmallPhoto(join(dir, 'a', 'photo.png'), 24);
  await writeSmallPhoto(join(dir, 'b', 'photo.jpg'), 20, 'content_coffee.png');
  // A valid PNG header over corrupt pixel data: passes the up-front check, fails while decoding in the run.
  const png = readFileSync(join(dir, 'a', 'photo.png'));
  const broken = png.subarray(0, 60);
  writeFileSync(join(dir, 'broken.png'), broken);
  writeFileSync(join(dir, 'garbage.png'), 'not an image');
});

describe('pastiche stylize batches', () => {
  it('keeps every result under a distinct name, goes on past bad images, reports them and exits 1', async () => {
    const out = join(dir, 'out');
    const inputs = ['a/photo.png', 'broken.png', 'b/photo.jpg', 'garbage.png'].map((p) => join(dir, p));
    const run = await runStylize([...inputs, '--model', 'mosaic', '--mirror', mirror, '-o', out]);
    expect(run.error).toBeUndefined();
    expect(readdirSync(out).sort()).toEqual(['photo-2.png', 'photo.png']);
    expect([(await readImageFile(join(out, 'photo.png'))).width, (await readImageFile(join(out, 'photo-2.png'))).width]).toEqual([24, 20]);
    expect(run.stderr).toContain(`renamed: ${inputs[2]} → ${join(out, 'photo-2.png')}`);
    expect(run.stderr).toMatch(/skipping .*garbage\.png: .*not a PNG or JPEG image/);
    expect(run.stderr).toMatch(/2 of 4 written; failed: \S*garbage\.png: not a PNG or JPEG image .*; \S*broken\.png: corrupt PNG/);
    expect(run.exitCode).toBe(1);
  });

  it('writes JPEG for a .jpg output', async () => {
    const out = join(dir, 'single', 'result.jpg');
    const run = await runStylize([join(dir, 'a', 'photo.png'), '--model', 'mosaic', '--mirror', mirror, '-o', out]);
    expect(run.error).toBeUndefined();
    expect(run.exitCode).toBe(0);
    expect(sniffImageFormat(new Uint8Array(readFileSync(out)))).toBe('jpeg');
    const image = await readImageFile(out);
    expect([image.width, image.height]).toEqual([24, 16]);
  });
});
