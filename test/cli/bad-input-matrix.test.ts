/**
 * The bad-input matrix: one row per input a user can get wrong (or an unusual image they may give),
 * with the one-line error it must produce or the result it must give. The images are the committed
 * fixtures in test/fixtures/images (made by scripts/make-image-fixtures.mjs; every one shows red, green,
 * blue and yellow quadrants); damaged variants are derived from them here. CLI rows run in this process;
 * those that need a fresh process (file permissions, no GPU driver) spawn one.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageFile, writeImageFile } from '../../src/io/image-file.ts';
import type { RgbImage } from '../../src/io/image.ts';
import { REPO_ROOT, sharedWeightsPath } from '../helpers/shared-data.ts';
import { runStylize } from './stylize-helpers.ts';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'images');
const fixture = (name: string) => join(FIXTURES, name);
let T: string;
const tmp = (name: string) => join(T, name);

/** The reference picture's quadrant colours, read at each quadrant's centre. */
const QUADRANTS = { topLeft: [255, 0, 0], topRight: [0, 255, 0], bottomLeft: [0, 0, 255], bottomRight: [255, 255, 0] };
/** The same colours composited at 50 % alpha over white. */
const HALF_OVER_WHITE = (rgb: number[]) => rgb.map((v) => (v * 128 + 255 * 127) / 255);
/** ITU-R BT.709 luma, which ImageMagick 6's Gray colourspace uses for these fixtures. */
const LUMA = (rgb: number[]) => {
  const y = 0.2126 * rgb[0]! + 0.7152 * rgb[1]! + 0.0722 * rgb[2]!;
  return [y, y, y];
};

function quadrantCentres(image: RgbImage): Record<keyof typeof QUADRANTS, number[]> {
  const at = (x: number, y: number) => Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));
  const [w, h] = [image.width, image.height];
  return { topLeft: at(3, 2), topRight: at(w - 4, 2), bottomLeft: at(3, h - 3), bottomRight: at(w - 4, h - 3) };
}

function expectPicture(image: RgbImage, colour: (rgb: number[]) => number[], tolerance: number): void {
  expect([image.width, image.height]).toEqual([16, 12]);
  const got = quadrantCentres(image);
  for (const [where, rgb] of Object.entries(QUADRANTS)) {
    const want = colour(rgb);
    got[where as keyof typeof QUADRANTS].forEach((v, c) => expect(Math.abs(v - want[c]!), `${where} channel ${c}: ${v} vs ${want[c]}`).toBeLessThanOrEqual(tolerance));
  }
}

const same = (rgb: number[]) => rgb;

// ---- images that must decode, each checked pixel by pixel against the picture they show ----------------
const DECODES: Array<{ input: string; colour: (rgb: number[]) => number[]; tolerance: number }> = [
  { input: 'reference.png', colour: same, tolerance: 0 },
  { input: 'grey.png', colour: LUMA, tolerance: 1 },
  { input: 'grey-alpha.png', colour: (rgb) => HALF_OVER_WHITE(LUMA(rgb)), tolerance: 1.5 },
  { input: 'alpha.png', colour: HALF_OVER_WHITE, tolerance: 1 },
  { input: 'rgb16.png', colour: same, tolerance: 0 },
  { input: 'palette.png', colour: same, tolerance: 0 },
  { input: 'interlaced.png', colour: same, tolerance: 0 },
  { input: 'baseline.jpg', colour: same, tolerance: 6 },
  { input: 'progressive.jpg', colour: same, tolerance: 6 },
  { input: 'grey.jpg', colour: LUMA, tolerance: 3 },
  { input: 'cmyk.jpg', colour: same, tolerance: 6 },
  // EXIF orientations 1..8: stored sideways or mirrored, shown upright (as a browser shows them).
  ...[1, 2, 3, 4, 5, 6, 7, 8].map((tag) => ({ input: `orientation-${tag}.jpg`, colour: same, tolerance: 6 })),
];

// ---- command lines that must be refused with one line naming the problem and the fix -----------------
interface RefusedRow {
  what: string;
  args: () => string[];
  error: RegExp;
}

const MODEL = ['--model', 'mosaic', '-o'];
const REFUSED: RefusedRow[] = [
  { what: 'empty PNG', args: () => [tmp('empty.png'), ...MODEL, tmp('o.png')], error: /empty\.png: the data is empty \(0 bytes\), so it is not an image\. Supported formats: PNG and JPEG/ },
  { what: 'text file renamed .png', args: () => [tmp('notes.png'), ...MODEL, tmp('o.png')], error: /notes\.png: not a PNG or JPEG image \(first bytes: .*\)\. .*Convert the image to PNG or JPEG/ },
  { what: 'GIF renamed .jpg', args: () => [tmp('anim.jpg'), ...MODEL, tmp('o.png')], error: /anim\.jpg: not a PNG or JPEG image \(it looks like a GIF\)/ },
  { what: '20000×20000 PNG header', args: () => [fixture('huge-declared.png'), ...MODEL, tmp('o.png')], error: /huge-declared\.png: the image is 20000x20000 \(400\.0 megapixels\), over the 100 megapixel limit; downscale it first/ },
  { what: '20000×20000 JPEG header', args: () => [fixture('huge-declared.jpg'), ...MODEL, tmp('o.png')], error: /huge-declared\.jpg: the image is 20000x20000 \(400\.0 megapixels\), over the 100 megapixel limit; downscale it first/ },
  { what: 'missing content', args: () => [tmp('nowhere.png'), ...MODEL, tmp('o.png')], error: /image not found: .*nowhere\.png/ },
  { what: 'folder as content', args: () => [T, ...MODEL, tmp('o.png')], error: /is a directory, not an image file; pass the path of a PNG or JPEG file/ },
  { what: 'bad --style image', args: () => [fixture('reference.png'), '-m', 'adain', '-s', tmp('empty.png')], error: /--style: .*empty\.png: the data is empty/ },
  { what: 'unknown model name', args: () => [fixture('reference.png'), '--model', 'nosuch', '-o', tmp('o.png')], error: /unknown feed-forward model 'nosuch': choose one of mathura, candy, mosaic.*or an ml5 checkpoint folder/ },
  { what: 'truncated model file', args: () => [fixture('reference.png'), '--model', tmp('cut.safetensors'), '-o', tmp('o.png')], error: /cut\.safetensors: not a valid safetensors file: header length \d+ runs past the end of the \d+-byte file \(truncated or not safetensors\)/ },
  { what: 'random bytes as model', args: () => [fixture('reference.png'), '--model', tmp('random.safetensors'), '-o', tmp('o.png')], error: /--model .*random\.safetensors: this is an unknown binary format, not a model file; --model takes a model name, a \.safetensors\/\.pth file, or an ml5 checkpoint folder/ },
  { what: 'JPEG as --model', args: () => [fixture('reference.png'), '--model', fixture('baseline.jpg'), '-o', tmp('o.png')], error: /--model .*baseline\.jpg: this is a JPEG image, not a model file/ },
  { what: 'folder without manifest as --model', args: () => [fixture('reference.png'), '--model', FIXTURES, '-o', tmp('o.png')], error: /images is not an ml5 checkpoint folder: no readable manifest\.json \(file not found: .*\); --model takes a model name, a \.safetensors\/\.pth file, or an ml5 checkpoint folder/ },
  { what: 'ncnn weights as --decoder', args: () => [fixture('reference.png'), '-m', 'adain', '-s', fixture('baseline.jpg'), '--decoder', tmp('mirror/transformer-net/mosaic.bin'), '-o', tmp('o.png')], error: /--decoder .*mosaic\.bin: this is an unknown binary format, not a model file; --decoder takes an AdaIN decoder/ },
  { what: 'feed-forward net as --decoder', args: () => [fixture('reference.png'), '-m', 'adain', '-s', fixture('baseline.jpg'), '--decoder', tmp('style-net.safetensors'), '-o', tmp('o.png')], error: /--decoder .*style-net\.safetensors: this file holds a feed-forward style net, not an AdaIN decoder; use it with --method transformer --model/ },
  { what: 'missing --decoder', args: () => [fixture('reference.png'), '-m', 'adain', '-s', fixture('baseline.jpg'), '--decoder', tmp('none.safetensors'), '-o', tmp('o.png')], error: /file not found: .*none\.safetensors/ },
  { what: 'output under a file', args: () => [fixture('reference.png'), ...MODEL, join(fixture('reference.png'), 'x.png')], error: /cannot create the output folder .*reference\.png: a part of that path is a file, not a folder; choose another -o/ },
  { what: 'output under /proc (recursive mkdir never settles there)', args: () => [fixture('reference.png'), ...MODEL, '/proc/pastiche-nope/out.png'], error: /cannot create the output folder \/proc\/pastiche-nope: this file system does not allow creating folders there; choose another -o/ },
  { what: 'unsupported output format', args: () => [fixture('reference.png'), ...MODEL, tmp('o.gif')], error: /unsupported output format .*\.png, \.jpg, \.jpeg/ },
  { what: '--size -5', args: () => [fixture('reference.png'), '--model', 'mosaic', '--size', '-5'], error: /--size must be an integer in \[16, 8192\], got -5/ },
  { what: '--size 3 (under a conv\'s reach)', args: () => [fixture('reference.png'), '--model', 'mosaic', '--size', '3'], error: /--size must be an integer in \[16, 8192\], got 3/ },
  { what: '--alpha 2', args: () => [fixture('reference.png'), '-m', 'adain', '-s', fixture('baseline.jpg'), '--alpha', '2'], error: /--alpha must be a number in \[0, 1\], got 2/ },
  { what: '--strength -1', args: () => [fixture('reference.png'), '-m', 'magenta', '-s', fixture('baseline.jpg'), '--strength', '-1'], error: /--strength must be a number in \[0, 1\], got -1/ },
  { what: '--iterations 0', args: () => [fixture('reference.png'), '-m', 'gatys', '-s', fixture('baseline.jpg'), '--iterations', '0'], error: /--iterations must be an integer in \[1, 100000\], got 0/ },
  { what: '--tile 8', args: () => [fixture('reference.png'), '--model', 'mosaic', '--tile', '8'], error: /--tile must be an integer in \[64, 8192\], got 8/ },
  { what: 'unknown method', args: () => [fixture('reference.png'), '-m', 'picasso'], error: /unknown method 'picasso'; available: feed-forward \(or transformer\), magenta, adain, gatys, wct/ },
  { what: '--alpha with magenta', args: () => [fixture('reference.png'), '-m', 'magenta', '-s', fixture('baseline.jpg'), '--alpha', '0.5'], error: /--alpha is not used by --method magenta; it is taken by adain/ },
  { what: '--style with transformer', args: () => [fixture('reference.png'), '-m', 'transformer', '--model', 'mosaic', '-s', fixture('baseline.jpg')], error: /--style is not used by --method feed-forward/ },
  { what: '--style-weight with one style and magenta', args: () => [fixture('reference.png'), '-m', 'magenta', '-s', fixture('baseline.jpg'), '--style-weight', '0.5'], error: /--style-weight is not used by --method magenta; it is taken by gatys/ },
  { what: 'adain without --style', args: () => [fixture('reference.png'), '-m', 'adain'], error: /--method adain needs at least one --style image/ },
];

beforeAll(async () => {
  T = mkdtempSync(join(tmpdir(), 'pastiche-bad-input-'));
  const flat = (width: number, height: number) => ({ width, height, data: new Float32Array(width * height * 3).fill(128) });
  await writeImageFile(tmp('tiny.png'), flat(3, 2));
  await writeImageFile(tmp('wide.png'), flat(400, 6));
  writeFileSync(tmp('empty.png'), '');
  writeFileSync(tmp('notes.png'), 'shopping list: eggs, paint\n');
  writeFileSync(tmp('anim.jpg'), Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'));
  copyFileSync(fixture('reference.png'), tmp('png-named.jpg'));
  const png = readFileSync(fixture('reference.png'));
  const jpeg = readFileSync(fixture('baseline.jpg'));
  writeFileSync(tmp('cut.png'), png.subarray(0, 60));
  writeFileSync(tmp('cut.jpg'), jpeg.subarray(0, 200));
  const flipped = Buffer.from(png);
  flipped[40]! ^= 0xff;
  writeFileSync(tmp('flipped.png'), flipped);
  const scrambled = Buffer.from(jpeg);
  for (let i = 180; i < 300; i++) scrambled[i]! ^= 0x5a;
  writeFileSync(tmp('scrambled.jpg'), scrambled);
  writeFileSync(tmp('random.safetensors'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 255)));
  // A feed-forward net's tensor names (one tiny tensor is enough for the check of what the file holds).
  const header = Buffer.from(JSON.stringify({ 'conv1.conv2d.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).padEnd(64, ' '));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(tmp('style-net.safetensors'), Buffer.concat([length, header, Buffer.alloc(4)]));
  writeFileSync(tmp('cut.safetensors'), Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22]));
  // A private mirror holding one model, and an empty one: ../shared is never written.
  mkdirSync(tmp('mirror/transformer-net'), { recursive: true });
  copyFileSync(sharedWeightsPath('transformer-net', 'mosaic.bin'), tmp('mirror/transformer-net/mosaic.bin'));
  mkdirSync(tmp('empty-mirror'));
});

describe('bad-input matrix: images that decode', () => {
  it.each(DECODES)('$input decodes to the picture', async ({ input, colour, tolerance }) => {
    expectPicture(await readImageFile(fixture(input)), colour, tolerance);
  });
});

describe('bad-input matrix: refused before any work, in one line', () => {
  it.each(REFUSED)('$what', async ({ args, error }) => {
    const run = await runStylize(args());
    expect(run.exitCode).toBe(1);
    // Option values are refused by the option parser, which prints its line and exits.
    const message = run.error?.message.startsWith('process.exit') ? run.stderr.split('\n')[0]! : run.error?.message;
    expect(message).toMatch(error);
    expect(message).not.toContain('\n');
    // Never a raw errno or a temporary name.
    expect(message).not.toMatch(/\bE[A-Z]{3,}\b|\.tmp|pastiche-write-check/);
  });
});

describe('bad-input matrix: runs on the GPU', () => {
  const store = () => ['--mirror', tmp('mirror'), '--cache', tmp('cache')];

  it('stylizes an EXIF-rotated photo upright and a PNG named .jpg, into a folder that did not exist', async () => {
    const out = tmp('new/folder');
    const run = await runStylize([fixture('orientation-6.jpg'), tmp('png-named.jpg'), ...MODEL, out, ...store()]);
    expect(run.exitCode, run.stderr).toBe(0);
    const rotated = await readImageFile(join(out, 'orientation-6.png'));
    const plain = await readImageFile(join(out, 'png-named.png'));
    // Stored 12×16, shown 16×12: the result is upright, and the same picture gives the same result.
    expect([rotated.width, rotated.height]).toEqual([16, 12]);
    let diff = 0;
    for (let i = 0; i < plain.data.length; i++) diff = Math.max(diff, Math.abs(plain.data[i]! - rotated.data[i]!));
    expect(diff).toBeLessThan(48); // JPEG noise through the net; a rotated result would differ by ~255
  }, 120_000);

  it('damaged content images: each skipped with its reason, an existing output kept, exit 1', async () => {
    const out = tmp('kept');
    mkdirSync(out);
    writeFileSync(join(out, 'cut.png'), 'the earlier result');
    const run = await runStylize([tmp('cut.png'), tmp('cut.jpg'), tmp('flipped.png'), tmp('scrambled.jpg'), ...MODEL, out, ...store()]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/cut\.png: corrupt PNG file: truncated: chunk "IDAT" at byte 33 needs 37 bytes but the file ends at byte 60\. Re-download or re-export the image/);
    expect(run.stderr).toMatch(/cut\.jpg: could not decode JPEG data \(.*\)\. The file may be corrupt or truncated/);
    expect(run.stderr).toMatch(/flipped\.png: corrupt PNG file: .* at byte \d+\. Re-download or re-export the image/);
    expect(run.stderr).toMatch(/scrambled\.jpg: could not decode JPEG data/);
    expect(run.stderr).toMatch(/0 of 4 written; failed: /);
    expect(readFileSync(join(out, 'cut.png'), 'utf8')).toBe('the earlier result');
  }, 120_000);

  it('images too small for the net, also after --size on a very wide image, are named with the fix', async () => {
    const run = await runStylize([tmp('tiny.png'), tmp('wide.png'), ...MODEL, tmp('small'), '--size', '64', ...store()]);
    expect(run.exitCode).toBe(1);
    // 3×2 scaled to 64 px is fine; 400×6 scaled to 64 px is 64×1.
    expect(run.stderr).toMatch(/1 of 2 written; failed: .*wide\.png: transformer: the image is 64×1 px but this method needs at least 5 px a side; use a larger --size \(or crop a very elongated image\)/);
  }, 120_000);

  it('a damaged cached weight file is re-verified and rebuilt from the mirror, giving the same image', async () => {
    const first = tmp('first.png');
    expect((await runStylize([fixture('reference.png'), ...MODEL, first, ...store()])).exitCode).toBe(0);
    const cached = tmp('cache/mosaic.safetensors');
    const bytes = readFileSync(cached);
    for (let i = bytes.length - 4096; i < bytes.length; i += 7) bytes[i]! ^= 0x55;
    writeFileSync(cached, bytes);
    const second = tmp('second.png');
    const run = await runStylize([fixture('reference.png'), ...MODEL, second, ...store()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/mosaic: rebuilt the damaged converted weights .*mosaic\.safetensors from the verified sources/);
    expect(readFileSync(second).equals(readFileSync(first))).toBe(true);
  }, 120_000);

  it('a damaged cached weight with nothing to rebuild it from is refused with the fix', async () => {
    const cache = tmp('lone-cache');
    mkdirSync(cache);
    copyFileSync(tmp('cache/mosaic.safetensors'), join(cache, 'mosaic.safetensors'));
    copyFileSync(tmp('cache/mosaic.safetensors.sha256'), join(cache, 'mosaic.safetensors.sha256'));
    const bytes = readFileSync(join(cache, 'mosaic.safetensors'));
    bytes[bytes.length - 10]! ^= 0xff;
    writeFileSync(join(cache, 'mosaic.safetensors'), bytes);
    const run = await runStylize([fixture('reference.png'), ...MODEL, tmp('never.png'), '--mirror', tmp('empty-mirror'), '--cache', cache]);
    expect(run.exitCode).toBe(1);
    expect(run.error?.message).toMatch(/mosaic: the converted weights .*mosaic\.safetensors are damaged \(.*\) and cannot be rebuilt here .*run `npx pastiche weights mosaic` to fetch and rebuild them, or delete/);
  }, 120_000);

  it('a mirror missing a file names the mirror and the file', async () => {
    const run = await runStylize([fixture('reference.png'), ...MODEL, tmp('never.png'), '--mirror', tmp('empty-mirror'), '--cache', tmp('other-cache')]);
    expect(run.exitCode).toBe(1);
    expect(run.error?.message).toMatch(/mosaic: .*transformer-net\/mosaic\.bin.*empty-mirror/);
    expect(run.error?.message).not.toContain('\n');
  }, 120_000);

  it('an ml5 checkpoint folder as --model gives the same image as the named model', async () => {
    // matta: mathura's named model is the bundled f16 copy, so its pixels differ slightly from the f32 folder's.
    const named = tmp('matta-named.png');
    const folder = tmp('matta-folder.png');
    expect((await runStylize([fixture('reference.png'), '--model', 'matta', '-o', named, '--mirror', SHARED_MIRROR(), '--cache', tmp('cache')])).exitCode).toBe(0);
    const run = await runStylize([fixture('reference.png'), '--model', sharedWeightsPath('lengstrom', 'matta'), '-o', folder]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(folder).equals(readFileSync(named))).toBe(true);
  }, 120_000);
});

const SHARED_MIRROR = () => join(sharedWeightsPath('lengstrom'), '..');

describe('bad-input matrix: in a fresh process', () => {
  const cli = join(REPO_ROOT, 'src', 'cli', 'main.ts');

  it('a read-only output folder is refused before any work (run as an unprivileged user when root)', () => {
    const folder = tmp('read-only');
    mkdirSync(folder);
    chmodSync(T, 0o755);
    chmodSync(folder, 0o555);
    const asRoot = process.getuid?.() === 0;
    const run = spawnSync(process.execPath, ['--import', 'tsx', cli, 'stylize', fixture('reference.png'), ...MODEL, join(folder, 'out.png')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      // Root ignores permissions, so the row runs as `nobody` there.
      ...(asRoot ? { uid: 65534, gid: 65534, env: { ...process.env, HOME: T, PASTICHE_NATIVE_STDERR: '1' } } : {}),
    });
    expect(run.stderr.trim()).toMatch(/^pastiche: cannot write into the output folder .*read-only: permission denied; choose another -o or fix the folder's permissions$/);
    expect(run.status).toBe(1);
  }, 60_000);

  it.each([
    ['no driver manifest at all', '/nonexistent/icd.json', /no Vulkan driver is installed/],
    ['a driver manifest whose library is missing', 'BROKEN', /no usable Vulkan, Metal or D3D12 driver was found/],
  ])('no WebGPU adapter (%s): one message with the fix for each system, nothing before it', (_, icd, reason) => {
    let manifest = icd;
    if (icd === 'BROKEN') {
      manifest = tmp('broken-icd.json');
      writeFileSync(manifest, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: tmp('libvulkan_missing.so'), api_version: '1.3.0' } }));
    }
    const run = spawnSync(process.execPath, ['--import', 'tsx', cli, 'stylize', fixture('reference.png'), ...MODEL, tmp('gpu-less.png')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, VK_ICD_FILENAMES: manifest, VK_DRIVER_FILES: manifest },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^pastiche: No WebGPU adapter: /);
    expect(run.stderr).toMatch(reason);
    for (const system of ['Linux', 'macOS', 'Windows']) expect(run.stderr).toMatch(new RegExp(`^  ${system}: `, 'm'));
    expect(run.stderr).not.toMatch(/Warning|loader|dawn\/native|\.cpp/);
  }, 60_000);
});
