import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchSummary, stylizeExitCode } from '../../src/cli/stylize/batch.ts';
import { stylizePlanFor } from '../../src/cli/commands/stylize.ts';
import { planOutputs } from '../../src/cli/stylize/output-plan.ts';
import { readImageHeader } from '../../src/io/image-file.ts';
import { runStylize, writeSmallPhoto } from './stylize-helpers.ts';

// Every case here must be refused before a runtime or model is loaded, so none needs the GPU.
let dir: string;
let photo: string;
let jpegPhoto: string;
let style: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pastiche-stylize-checks-'));
  photo = join(dir, 'photo.png');
  jpegPhoto = join(dir, 'other', 'photo.jpg');
  style = join(dir, 'style.jpg');
  await writeSmallPhoto(photo, 24);
  await writeSmallPhoto(jpegPhoto, 20);
  await writeSmallPhoto(style, 16, 'starry_night_vangogh.jpg');
});

describe('stylize output plan', () => {
  it('de-duplicates results that share a name and maps a single output to itself', () => {
    const plan = planOutputs(['a/photo.png', 'b/photo.jpg', 'c/photo.png', 'd/cat.png'], join(dir, 'out'), []);
    expect(plan.items.map((i) => i.output)).toEqual(['photo.png', 'photo-2.png', 'photo-3.png', 'cat.png'].map((n) => join(dir, 'out', n)));
    expect(plan.renamed.map((r) => r.content)).toEqual(['b/photo.jpg', 'c/photo.png']);
    expect(planOutputs(['a/photo.png'], join(dir, 'x.JPEG'), []).items).toEqual([{ content: 'a/photo.png', output: join(dir, 'x.JPEG') }]);
  });

  it('keeps folder mode when some of several contents were set aside', () => {
    expect(planOutputs(['a/photo.png'], join(dir, 'out'), [], 2).items[0]!.output).toBe(join(dir, 'out', 'photo.png'));
  });
});

describe('pastiche stylize refuses before any work', () => {
  it('an unsupported output extension, listing the supported ones', async () => {
    for (const name of ['out.gif', 'out']) {
      const run = await runStylize([photo, '--model', 'mosaic', '-o', join(dir, name)]);
      expect(run.error?.message).toMatch(/unsupported output format .*\.png, \.jpg, \.jpeg/);
    }
  });

  it('an output folder that is the inputs\' own, naming the input, and leaves the input as it was', async () => {
    const original = readFileSync(photo);
    const run = await runStylize([photo, jpegPhoto, '--model', 'mosaic', '-o', dir]);
    expect(run.error?.message).toMatch(new RegExp(`would overwrite the input ${photo.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}; choose another output folder`));
    expect(readFileSync(photo).equals(original)).toBe(true);
  });

  it('an output file that is an input through a symbolic link', async () => {
    const link = join(dir, 'link.png');
    symlinkSync(photo, link);
    const run = await runStylize([photo, '--model', 'mosaic', '-o', link]);
    expect(run.error?.message).toMatch(/would overwrite the input/);
  });

  it('an output folder that cannot be created, naming it and not a temporary file', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const run = await runStylize([photo, '--model', 'mosaic', '-o', join(file, 'sub', 'out.png')]);
    expect(run.error?.message).toMatch(/cannot create the output folder .*a-file\/sub: a part of that path is a file, not a folder; choose another -o/);
    expect(run.error?.message).not.toMatch(/\.tmp|pastiche-write-check/);
  });

  it('an option the method does not use, naming the methods that take it', async () => {
    expect((await runStylize([photo, '--model', 'mosaic', '-m', 'feed-forward', '-s', style, '-o', join(dir, 'o.png')])).error?.message).toMatch(
      /--style is not used by --method feed-forward \(the feed-forward net's style is fixed by its --model.*\); it is taken by magenta, adain, gatys/,
    );
    expect((await runStylize([photo, '-m', 'magenta', '-s', style, '--alpha', '0.5'])).error?.message).toMatch(/--alpha is not used by --method magenta; it is taken by adain/);
    expect((await runStylize([photo, '-m', 'transformer', '--model', 'mosaic', '--iterations', '5'])).error?.message).toMatch(/--iterations is not used by --method feed-forward; it is taken by gatys/);
    // With no --method, the default for the styles given is named.
    expect((await runStylize([photo, '-s', style, '--model', 'mosaic'])).error?.message).toMatch(/--model is not used by --method magenta \(the default with --style\); it is taken by feed-forward/);
    expect((await runStylize([photo, '--strength', '0.5'])).error?.message).toMatch(/--strength is not used by --method feed-forward \(the default without --style\); it is taken by magenta/);
    await expect(stylizePlanFor([photo, '-m', 'gatys', '-s', style, '--iterations', '5', '--style-scale', '2', '--preserve-color'])).resolves.toBeDefined();
  });

  it('--blend weights that do not fit the styles, and --style-weight as blend weights', async () => {
    const run = await runStylize([photo, '-m', 'magenta', '-s', style, '-s', style, '--blend', '0.9']);
    expect(run.error?.message).toMatch(/--blend has 1 value\(s\) for 2 --style images: give one weight per style \(for example --blend 0\.7,0\.30\)/);
    expect((await runStylize([photo, '-m', 'adain', '-s', style, '--blend', '0.9'])).error?.message).toMatch(/with one --style there is nothing to blend/);
    expect((await runStylize([photo, '-m', 'magenta', '-s', style, '-s', style, '--blend', '0,0'])).error?.message).toMatch(/--blend: the weights must not all be zero/);
    expect((await runStylize([photo, '-m', 'magenta', '-s', style, '-s', style, '--blend', '1,x'])).error?.message).toMatch(/--blend takes non-negative numbers/);
    // --style-weight means Gatys' β only.
    expect((await runStylize([photo, '-m', 'magenta', '-s', style, '-s', style, '--style-weight', '0.6,0.4'])).error?.message).toMatch(/--style-weight is not used by --method magenta; it is taken by gatys/);
  });

  it('a value out of its range, before any work', async () => {
    expect((await runStylize([photo, '-m', 'magenta', '-s', style, '--strength', '2'])).error?.message).toMatch(/--strength must be a number in \[0, 1\], got 2/);
    expect((await runStylize([photo, '--size', '12.5'])).error?.message).toMatch(/--size must be an integer in \[16, 8192\], got 12\.5/);
    expect((await runStylize([photo, '-m', 'nope'])).error?.message).toMatch(/unknown method 'nope'; available: feed-forward \(or transformer\), magenta, adain, gatys/);
    expect((await runStylize([photo, '--model', 'mosiac', '-o', join(dir, 'm.png')])).error?.message).toMatch(/unknown feed-forward model 'mosiac': choose one of mathura, candy/);
  });

  it('content images that are all unreadable, with each reason', async () => {
    const garbage = join(dir, 'garbage.png');
    writeFileSync(garbage, 'not an image');
    const run = await runStylize([garbage, join(dir, 'missing.png'), '--model', 'mosaic', '-o', join(dir, 'none')]);
    expect(run.error?.message).toMatch(/no content image can be read: .*garbage\.png: not a PNG or JPEG image.*; image not found: .*missing\.png/);
    expect(readdirSync(dir)).not.toContain('none');
  });

  it('a value the method does not accept', async () => {
    expect((await runStylize([photo, '-m', 'gatys', '-s', style, '--preserve-color', 'sepia'])).error?.message).toMatch(/--preserve-color for --method gatys takes none \| luminance \| histogram \(or no value\)/);
    expect((await runStylize([photo, '-m', 'adain', '-s', style, '-s', style, '-s', style, '--mask', photo])).error?.message).toMatch(/the mask blends two styles/);
  });

  it('a bad style image', async () => {
    const run = await runStylize([photo, '-m', 'magenta', '-s', join(dir, 'nope.jpg')]);
    expect(run.error?.message).toMatch(/--style: image not found: .*nope\.jpg/);
  });
});

describe('image headers', () => {
  it('reads PNG and JPEG sizes without decoding, and rejects non-images', async () => {
    expect(await readImageHeader(photo)).toEqual({ format: 'png', width: 24, height: 16 });
    expect(await readImageHeader(jpegPhoto)).toEqual({ format: 'jpeg', width: 20, height: 13 });
    writeFileSync(join(dir, 'empty.png'), '');
    await expect(readImageHeader(join(dir, 'empty.png'))).rejects.toThrow(/empty \(0 bytes\)/);
  });
});

describe('stylize exit code and summary', () => {
  it('is 130 after Ctrl-C, 1 when an image failed, else 0', () => {
    const failed = [{ content: 'x.png', reason: 'corrupt PNG data' }];
    expect(stylizeExitCode({ total: 3, written: 3, failed: [], interrupted: false })).toBe(0);
    expect(stylizeExitCode({ total: 3, written: 2, failed, interrupted: false })).toBe(1);
    expect(stylizeExitCode({ total: 3, written: 1, failed, interrupted: true })).toBe(130);
    expect(batchSummary({ total: 3, written: 3, failed: [], interrupted: false })).toBeNull();
    expect(batchSummary({ total: 3, written: 2, failed, interrupted: false })).toBe('2 of 3 written; failed: x.png: corrupt PNG data');
    expect(batchSummary({ total: 3, written: 1, failed: [], interrupted: true })).toBe('interrupted: 1 of 3 written');
  });
});
