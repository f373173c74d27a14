// The demo page in a real browser: Vite's dev server, Debian's Chromium on SwiftShader WebGPU.
// Loads the page and runs the real style-transfer nets in it: a feed-forward net (mosaic), webcam
// live mode on the synthetic camera, and Magenta (style prediction + transfer, strength slider,
// two-style blend). Then the colour-transfer method: brings in images by every route (file picker,
// sample gallery, paste, drag and drop, webcam), checks its output against a float64 computation
// here, moves sliders for live re-renders, drives Stop / Resume of an iterative run. Then Gatys
// (VGG19 forward and backward passes in the page: L-BFGS at 32 px, stopped and resumed) and AdaIN
// with a decoder file loaded through the tab's picker. Finally the panel shown without a WebGPU
// adapter. Screenshots go to test-artifacts/ (git-ignored), the README's picture of the Magenta result
// too: `npm run demo:shot` copies it to docs/demo.png. The run leaves every tracked file as it was.
//
// SwiftShader runs WebGPU on the CPU: the nets run at 128 px here (a 128×85 feed-forward pass takes
// 10-20 s), AdaIN at 64 px, Gatys at 32 px (a VGG19 forward and backward pass takes ~2 s even
// there; the first run compiles the backward kernels, another ~10 s).
//
// No trained AdaIN decoder exists in this project's data (training one takes a GPU), so the test
// writes a randomly initialised one with the project's own code, in the format `pastiche train adain`
// writes. Its pictures are noise-like: it proves the plumbing (file → weights → GPU, α, blending),
// checked against the same decoder run by the library in Node, not the quality of AdaIN.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ElementHandle, Page } from 'puppeteer';
import UPNG from 'upng-js';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, type Runtime } from '../../src/gpu/runtime.ts';
import { decodeImage, type RgbImage } from '../../src/io/image.ts';
import { resizeToLongSide } from '../../src/io/resize.ts';
import { AdainDecoder, adainDecoderWeightsFromBytes, serializeAdainDecoder } from '../../src/nets/models/adain-decoder.ts';
import { AdainStylizer } from '../../src/nets/methods/adain/adain.ts';
import { wctMethod } from '../../src/nets/methods/wct/definition.ts';
import { adainMethod } from '../../src/nets/methods/adain/definition.ts';
import { Vgg } from '../../src/nets/models/vgg.ts';
import type { HostTensorMap } from '../../src/nets/weights/host-tensor.ts';
import { ensureModelFiles, loadModelWeights } from '../../src/nets/weights/node/store.ts';
import { BUNDLED_WEIGHTS_DIR, samplesDir, weightsDir } from '../../vite.config.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';
import { canvasPixels, channelStats, collectErrors, launchChromium, repoRoot, startDevServer, type LaunchedBrowser } from './browser.ts';

const ARTIFACTS = path.join(repoRoot, 'test-artifacts');
/** The README's screenshot; `npm run demo:shot` copies it to docs/demo.png (tests never write there). */
const DEMO_SCREENSHOT = path.join(ARTIFACTS, 'demo.png');
const SIZE = 128;
/** AdaIN runs at its smallest working size: each VGG19 pass is slow on SwiftShader. */
const SMALL = 64;
/** Gatys even smaller (a VGG19 forward and backward pass per evaluation, several per iteration). */
const TINY = 32;
/** Timings of the slow steps, printed at the end (SwiftShader speed varies a lot with machine load). */
const timings: string[] = [];

let server: ViteDevServer;
let url: string;
let chromium: LaunchedBrowser;
let page: Page;
let errors: string[];
/** Files made for the test (the AdaIN decoders), removed at the end. */
let scratch: string;
let vgg19Weights: HostTensorMap;
/** WebGPU in Node (the `webgpu` package), for the AdaIN decoder file and the reference results. */
let nodeRuntime: Runtime | null = null;

function sample(file: string): RgbImage {
  return decodeImage(readFileSync(path.join(samplesDir(), file)), file);
}

function atWorkingSize(image: RgbImage): RgbImage {
  return Math.max(image.width, image.height) > SIZE ? resizeToLongSide(image, SIZE) : image;
}

/** A sample at the working size of the AdaIN (or, with `TINY`, Gatys) test. */
function atSmallSize(image: RgbImage, size = SMALL): RgbImage {
  return resizeToLongSide(image, size);
}

/** The library's AdaIN in Node (lavapipe) with a decoder file: what the page should show for the same inputs. */
let adainInNode: { vgg: Vgg; decoder: AdainDecoder; stylizer: AdainStylizer } | null = null;

async function adainReference(decoderFile: string, styles: string[], weights: number[], alpha: number): Promise<Float32Array> {
  if (!adainInNode) {
    const runtime = (nodeRuntime ??= await initRuntime());
    const vgg = Vgg.fromHost(runtime, vgg19Weights, { arch: 'vgg19' }, 'vgg19');
    const decoder = AdainDecoder.fromWeights(runtime, await adainDecoderWeightsFromBytes(readFileSync(decoderFile), decoderFile), decoderFile);
    adainInNode = { vgg, decoder, stylizer: new AdainStylizer(vgg, decoder) };
  }
  const content = atSmallSize(sample('content_chelsea.png'));
  const result = await adainInNode.stylizer.stylize(content, styles.map((f) => atSmallSize(sample(f))), { alpha, weights });
  return result.data;
}

/** The closed-form colour transfer in float64: what the GPU should produce. */
function expectedTransfer(content: RgbImage, targetMean: number[], targetStd: number[], strength: number): Float64Array {
  const c = channelStats(content.data);
  const out = new Float64Array(content.data.length);
  for (let i = 0; i < out.length; i++) {
    const ch = i % 3;
    const x = content.data[i]!;
    const styled = ((x - c.mean[ch]!) / Math.sqrt(c.std[ch]! ** 2 + 1e-3)) * targetStd[ch]! + targetMean[ch]!;
    out[i] = Math.min(255, Math.max(0, x + strength * (styled - x)));
  }
  return out;
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += Math.abs(a[i]! - b[i]!);
  return total / a.length;
}

/** Pearson correlation of the luminance of two RGB arrays (the picture's structure, whatever its colours). */
function lumaCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const luma = (rgb: ArrayLike<number>) => {
    const out = new Float64Array(rgb.length / 3);
    for (let p = 0; p < out.length; p++) out[p] = 0.299 * rgb[3 * p]! + 0.587 * rgb[3 * p + 1]! + 0.114 * rgb[3 * p + 2]!;
    return out;
  };
  const x = luma(a);
  const y = luma(b);
  const mean = (v: Float64Array) => v.reduce((s, t) => s + t, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  let cov = 0;
  let vx = 0;
  let vy = 0;
  for (let i = 0; i < x.length; i++) {
    cov += (x[i]! - mx) * (y[i]! - my);
    vx += (x[i]! - mx) ** 2;
    vy += (y[i]! - my) ** 2;
  }
  return cov / Math.sqrt(vx * vy);
}

/** Mean absolute difference of horizontally adjacent pixels: how much fine texture an image has. */
function texture(rgb: ArrayLike<number>, width: number): number {
  let total = 0;
  let n = 0;
  for (let i = 3; i < rgb.length; i++) {
    if (Math.floor(i / 3) % width === 0) continue;
    total += Math.abs(rgb[i]! - rgb[i - 3]!);
    n++;
  }
  return total / n;
}

/** Pearson correlation of one channel of two RGB arrays. */
function channelCorrelation(a: ArrayLike<number>, b: ArrayLike<number>, ch: number): number {
  const sa = channelStats(a);
  const sb = channelStats(b);
  let cov = 0;
  const n = a.length / 3;
  for (let i = ch; i < a.length; i += 3) cov += (a[i]! - sa.mean[ch]!) * (b[i]! - sb.mean[ch]!);
  return cov / n / (sa.std[ch]! * sb.std[ch]!);
}

async function shot(name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage });
}

async function resultVersion(): Promise<number> {
  return Number(await page.$eval('#result-canvas', (c) => (c as HTMLElement).dataset['version']));
}

/** Waits until no run is going or pending and the result is newer than `after`. */
async function waitForResult(after: number, state = 'done', timeout = 90_000): Promise<void> {
  await page.waitForFunction(
    (v, s) => {
      const canvas = document.querySelector<HTMLCanvasElement>('#result-canvas')!;
      return !document.body.dataset['busy'] && Number(canvas.dataset['version']) > v && canvas.dataset['state'] === s;
    },
    { timeout, polling: 250 },
    after,
    state,
  );
}

/** Clicks Stylize and waits for the result; returns how long it took. */
async function stylizeAndWait(label: string, timeout = 150_000): Promise<number> {
  const before = await resultVersion();
  const started = performance.now();
  await page.click('#run-button');
  await waitForResult(before, 'done', timeout);
  return note(label, started);
}

function note(label: string, started: number): number {
  const ms = performance.now() - started;
  timings.push(`${label}: ${(ms / 1000).toFixed(1)} s`);
  return ms;
}

/** Records every text the status line shows from now on (read with `statusLog()`). */
async function recordStatus(): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __status: string[]; __statusObserver?: MutationObserver };
    w.__statusObserver?.disconnect();
    w.__status = [];
    const line = document.querySelector('#status-line')!;
    w.__statusObserver = new MutationObserver(() => w.__status.push(line.textContent ?? ''));
    w.__statusObserver.observe(line, { childList: true, characterData: true, subtree: true });
  });
}

async function statusLog(): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __status: string[] }).__status);
}

async function clickSegment(control: string, value: string): Promise<void> {
  await page.click(`[data-control="${control}"] button[data-value="${value}"]`);
}

/** Presses arrow keys on a focused range input, as a keyboard user would. */
async function nudgeSlider(selector: string, key: 'ArrowLeft' | 'ArrowRight', times: number): Promise<void> {
  await page.focus(selector);
  for (let i = 0; i < times; i++) await page.keyboard.press(key);
}

/** Dispatches a paste (target 'document') or drop (target: a selector) carrying a sample file. */
async function deliverFile(kind: 'paste' | 'drop', file: string, target = 'document'): Promise<void> {
  await page.evaluate(
    async (kind, file, target) => {
      const blob = await (await fetch(`/samples/${file}`)).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], file, { type: blob.type }));
      if (kind === 'paste') {
        document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      } else {
        const el = document.querySelector(target)!;
        for (const type of ['dragenter', 'dragover', 'drop']) el.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
      }
    },
    kind,
    file,
    target,
  );
}

const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');

/** The tracked files' changes against HEAD (a digest), to check that the run changes none of them. */
function trackedChanges(): string {
  const diff = execFileSync('git', ['diff', '--binary', 'HEAD'], { cwd: repoRoot, maxBuffer: 1 << 30 });
  return createHash('sha256').update(diff).digest('hex');
}
let trackedBefore: string;

beforeAll(async () => {
  trackedBefore = trackedChanges();
  mkdirSync(ARTIFACTS, { recursive: true });
  // The nets the page runs, in the folder the dev server serves as /weights/ (copied from the
  // weights mirror, verified, and converted once; later runs only check them).
  const store = { ...testStoreOptions(), cacheDir: weightsDir() };
  await loadModelWeights('mosaic', store);
  vgg19Weights = await loadModelWeights('vgg19', store); // Gatys and AdaIN use it
  await ensureModelFiles('magenta-predict', store);
  await ensureModelFiles('magenta-transfer', store);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'pastiche-e2e-files-'));
  ({ server, url } = await startDevServer());
  chromium = await launchChromium({ webgpu: true });
  page = await chromium.browser.newPage();
  await page.setViewport({ width: 1360, height: 900 });
  errors = collectErrors(page);
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  adainInNode?.decoder.dispose();
  adainInNode?.vgg.dispose();
  nodeRuntime?.destroy();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (timings.length) console.log(`e2e timings (SwiftShader):\n  ${timings.join('\n  ')}`);
});

describe('dev server folders', () => {
  it('serves the sample images and the weights cache read-only, with listings', async () => {
    const samples = (await (await fetch(new URL('samples/index.json', url))).json()) as { files: { path: string; bytes: number }[] };
    const chelsea = samples.files.find((f) => f.path === 'content_chelsea.png');
    expect(chelsea?.bytes).toBe(statSync(path.join(samplesDir(), 'content_chelsea.png')).size);
    const head = await fetch(new URL('samples/content_chelsea.png', url), { method: 'HEAD' });
    expect(head.headers.get('content-type')).toBe('image/png');
    expect(Number(head.headers.get('content-length'))).toBe(chelsea!.bytes);
    // Only images are served from the samples folder, and nothing outside either folder.
    expect((await fetch(new URL('samples/..%2f..%2fpackage.json', url))).status).toBe(404);
    expect((await fetch(new URL('weights/..%2fmanifest.json', url))).status).toBe(404);
    // (An encoded '..' segment is resolved by the URL parser before the server sees it: the request
    // leaves /weights/ and gets the page, not weights/manifest.json.)
    expect(await (await fetch(new URL('weights/%2e%2e/manifest.json', url))).text()).not.toContain('"models"');

    const weights = (await (await fetch(new URL('weights/index.json', url))).json()) as { files: { path: string }[] };
    expect(Array.isArray(weights.files)).toBe(true);
    // mosaic was converted into the cache above; mathura ships in weights/bundled/ (a copy in the cache wins).
    const mathuraDir = existsSync(path.join(weightsDir(), 'mathura.safetensors')) ? weightsDir() : BUNDLED_WEIGHTS_DIR;
    for (const [file, dir] of [['mosaic.safetensors', weightsDir()], ['mathura.safetensors', mathuraDir]] as const) {
      expect(weights.files.map((f) => f.path)).toContain(file);
      const res = await fetch(new URL(`weights/${file}`, url));
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.length).toBe(statSync(path.join(dir, file)).size);
    }
  });
});

describe('demo page with WebGPU', () => {
  it('starts the engine and lists the methods', async () => {
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.$eval('body', (b) => b.dataset['gpu'])).toBe('ready');
    expect(await text('#gpu-badge')).toMatch(/WebGPU · .*swiftshader/i);

    const tabs = await page.$$eval('[role="tab"]', (els) =>
      els.map((el) => ({ id: (el as HTMLElement).dataset['method'], disabled: el.getAttribute('aria-disabled'), selected: el.getAttribute('aria-selected'), text: el.textContent })),
    );
    expect(tabs.map((t) => t.id)).toEqual(['feed-forward', 'gatys', 'adain', 'wct', 'magenta', 'colour']);
    // The first method that can run is selected: the feed-forward nets.
    expect(tabs.find((t) => t.id === 'feed-forward')).toMatchObject({ disabled: 'false', selected: 'true' });
    // AdaIN and WCT run on the bundled distilled nets with nothing installed; AdaIN's decoder file is optional.
    for (const id of ['magenta', 'colour', 'gatys', 'adain', 'wct']) expect(tabs.find((t) => t.id === id)?.disabled).toBe('false');
    if (!existsSync(path.join(weightsDir(), 'adain-decoder.safetensors'))) {
      await page.click('#tab-adain');
      expect(await page.$eval('#method-notice', (el) => (el as HTMLElement).hidden)).toBe(true);
      expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
      expect(await page.$eval('#weights-file', (el) => (el as HTMLElement).dataset['state'])).toBe('missing');
      expect(await page.$eval('#weights-file-button', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    }
    await page.click('#tab-gatys');
    expect(await page.$eval('#method-notice', (el) => (el as HTMLElement).hidden)).toBe(true);
    expect(await page.$$eval('[data-control="preserveColor"] [role="radio"]', (els) => els.length)).toBe(3);

    await page.click('#tab-feed-forward');
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    expect(await page.$eval('#live-button', (b) => (b as HTMLElement).hidden)).toBe(false);
    expect(await page.$$eval('[data-control="model"] [role="radio"]', (els) => els.map((e) => (e as HTMLElement).dataset['value']))).toEqual([
      'candy', 'mosaic', 'pointilism', 'rain_princess', 'udnie', 'mathura', 'matilde_perez', 'matta',
    ]);
    expect(await page.$$eval('[data-control="size"] [role="radio"]', (els) => els.map((e) => (e as HTMLElement).dataset['value']))).toEqual(['128', '256', '512', '1024']);
    // Tiles: Udnie shows Picabia's painting (a sample image); the others their initial on a colour chip.
    const tiles = await page.$$eval('[data-control="model"] .gallery-art', (els) =>
      els.map((e) => ({ image: (e as HTMLElement).style.backgroundImage, initial: (e as HTMLElement).dataset['initial'] })),
    );
    expect(tiles[4]!.image).toMatch(/udnie_picabia/);
    expect(tiles[1]).toMatchObject({ initial: 'M', image: expect.stringMatching(/gradient/) });

    // Samples come from the served folder.
    expect(await page.$$eval('#content-samples .sample', (els) => els.length)).toBeGreaterThanOrEqual(3);
    expect(await page.$$eval('#style-samples .sample', (els) => els.length)).toBeGreaterThanOrEqual(3);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.sample img')].every((img) => img.complete));
    await shot('01-loaded.png');
  });

  it('stylizes a photo from the file picker with the mosaic feed-forward net at 128 px', async () => {
    const picker = (await page.$('input#content-file')) as ElementHandle<HTMLInputElement> | null;
    await picker!.uploadFile(path.join(samplesDir(), 'content_chelsea.png'));
    await page.waitForSelector('#content-preview');
    expect(await text('#content-slot .slot-name')).toBe('content_chelsea.png');
    await page.click('[data-control="model"] [data-value="mosaic"]');
    await clickSegment('size', String(SIZE));

    await stylizeAndWait('feed-forward mosaic 128 px (download, first run)', 180_000);
    await shot('02-feed-forward.png');
    expect(await text('#result-meta')).toMatch(/^Feed-forward/);

    const content = atWorkingSize(sample('content_chelsea.png'));
    const result = await canvasPixels(page, '#result-canvas');
    expect([result.width, result.height]).toEqual([content.width, content.height]);
    const got = channelStats(result.rgb);
    for (let ch = 0; ch < 3; ch++) expect(got.std[ch]).toBeGreaterThan(20); // not blank
    // Clearly restyled: far from the photo, with the mosaic's tiles (much more fine texture)…
    const diff = meanAbsDiff(result.rgb, content.data);
    const contentTexture = texture(content.data, content.width);
    const resultTexture = texture(result.rgb, result.width);
    // …yet still the same picture.
    const structure = lumaCorrelation(result.rgb, content.data);
    timings.push(`  mosaic vs photo: mean abs diff ${diff.toFixed(1)}, texture ${contentTexture.toFixed(1)} → ${resultTexture.toFixed(1)}, luma correlation ${structure.toFixed(2)}`);
    expect(diff).toBeGreaterThan(10);
    expect(resultTexture).toBeGreaterThan(1.5 * contentTexture);
    expect(structure).toBeGreaterThan(0.2);
    // The model's tile now shows this result.
    expect(await page.$eval('[data-control="model"] [data-value="mosaic"] .gallery-art', (el) => (el as HTMLElement).dataset['result'])).toBe('true');
  });

  it('runs webcam live mode: frames stream with an fps readout, on reused GPU buffers', async () => {
    const started = performance.now();
    await page.click('#live-button');
    await page.waitForSelector('#content-frame video.live-video');
    await page.waitForSelector('#stop-button:not([hidden])');
    // After the first frame, remember how many GPU buffers exist; later frames (same size) create none.
    const first = await page.waitForFunction(
      () => {
        const badge = document.querySelector<HTMLElement>('#live-fps')!;
        return Number(badge.dataset['frames']) >= 1 && { created: Number(badge.dataset['buffersCreated']), frames: Number(badge.dataset['frames']) };
      },
      { timeout: 120_000, polling: 100 },
    );
    const afterFirst = (await first.jsonValue()) as { created: number; frames: number };
    note('webcam live: first frame', started);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#live-fps')!.dataset['frames']) >= 2, { timeout: 120_000, polling: 100 });
    note('webcam live: two frames', started);
    const badge = await page.$eval('#live-fps', (el) => {
      const d = (el as HTMLElement).dataset;
      return { text: el.textContent ?? '', hidden: (el as HTMLElement).hidden, fps: d['fps'], frames: d['frames'], buffersCreated: d['buffersCreated'] };
    });
    expect(badge.hidden).toBe(false);
    expect(badge.text).toMatch(/^Live · [\d.]+ fps · /);
    expect(Number(badge.fps)).toBeGreaterThan(0);
    expect(Number(badge.buffersCreated)).toBe(afterFirst.created);
    timings.push(`  live readout: "${badge.text}", ${badge.frames} frames, ${badge.buffersCreated} GPU buffers created in all`);
    expect(await page.$eval('#result-canvas', (c) => (c as HTMLElement).dataset['state'])).toBe('live');
    const frame = await canvasPixels(page, '#result-canvas');
    // Frames are grabbed at the working size (the synthetic camera is 4:3).
    expect(Math.max(frame.width, frame.height)).toBe(SIZE);
    expect(channelStats(frame.rgb).std[1]).toBeGreaterThan(10);
    await shot('03-webcam-live.png');

    // Stop keeps the last frame as a result.
    const before = await resultVersion();
    await page.click('#stop-button');
    await waitForResult(before);
    expect(await text('#stage .pane[data-pane="content"] .pane-meta')).toBe('Webcam frame');
    expect(await page.$('#content-frame video')).toBeNull();
    expect(await text('#status-line')).toMatch(/^Live mode ended: \d+ frames at [\d.]+ fps/);
  });

  it('runs Magenta: predicts a style vector, and re-renders on the strength slider without re-predicting', async () => {
    await page.waitForFunction(() => !document.body.dataset['busy']);
    await page.click('#tab-magenta');
    await page.click('#content-samples .sample[data-sample="content_chelsea.png"]');
    await page.waitForFunction(() => document.querySelector('#content-slot .slot-name')?.textContent === 'Chelsea the cat');
    await page.click('#style-samples .sample[data-sample="starry_night_vangogh.jpg"]');
    await page.waitForSelector('.style-item');
    await clickSegment('size', String(SIZE));

    await recordStatus();
    await stylizeAndWait('magenta 128 px, strength 100% (download, convert, 2 predictions, transfer)', 180_000);
    // The painting's vector, and the photo's own (which the strength slider mixes in).
    expect((await statusLog()).filter((m) => m.startsWith('Predicting'))).toEqual([
      'Predicting the style vector of The Starry Night — van Gogh',
      'Predicting the style vector of the photo',
    ]);
    const content = atWorkingSize(sample('content_chelsea.png'));
    const full = await canvasPixels(page, '#result-canvas');
    expect([full.width, full.height]).toEqual([content.width, content.height]);
    const fullDiff = meanAbsDiff(full.rgb, content.data);
    expect(fullDiff).toBeGreaterThan(10);
    expect(lumaCorrelation(full.rgb, content.data)).toBeGreaterThan(0.2);
    await shot('04-magenta.png');

    // 50%: halfway between the painting's vector and the photo's; both are reused, only the transfer runs.
    await recordStatus();
    let before = await resultVersion();
    let started = performance.now();
    await nudgeSlider('#control-strength', 'ArrowLeft', 10);
    await waitForResult(before, 'done', 120_000);
    note('magenta strength 50% (transfer only)', started);
    expect(await text('[data-control-row="strength"] output')).toBe('50%');
    expect((await statusLog()).filter((m) => m.startsWith('Predicting'))).toEqual([]);
    const half = await canvasPixels(page, '#result-canvas');
    expect(meanAbsDiff(half.rgb, full.rgb)).toBeGreaterThan(3);

    // 0%: only the transfer net runs, with the photo's own vector: its reconstruction of itself.
    await recordStatus();
    before = await resultVersion();
    started = performance.now();
    await nudgeSlider('#control-strength', 'ArrowLeft', 10);
    await waitForResult(before, 'done', 120_000);
    note('magenta strength 0% (transfer only)', started);
    const log = await statusLog();
    expect(log.filter((m) => m.startsWith('Predicting'))).toEqual([]);
    expect(log).toContain(`Transfer at ${content.width}×${content.height}, strength 0% (style vectors cached)`);
    const zero = await canvasPixels(page, '#result-canvas');
    const zeroDiff = meanAbsDiff(zero.rgb, content.data);
    timings.push(`  magenta vs photo: mean abs diff ${fullDiff.toFixed(1)} at 100%, ${zeroDiff.toFixed(1)} at 0%`);
    expect(zeroDiff).toBeLessThan(fullDiff);
    expect(lumaCorrelation(zero.rgb, content.data)).toBeGreaterThan(0.6);
    await shot('05-magenta-strength-0.png');

    // The same reconstruction computed here by the library: transfer(photo, the photo's own vector).
    started = performance.now();
    // (Page code as text: the test runner would rewrite a dynamic import() inside a function.)
    const src = (file: string) => JSON.stringify(`/@fs${path.join(repoRoot, 'src', file)}`);
    const reference = (await page.evaluate(`(async () => {
      const { loadUrl } = await import('/images.ts');
      const { fetchWeights } = await import('/weights.ts');
      const { getRuntime } = await import(${src('gpu/runtime.ts')});
      const { Magenta } = await import(${src('nets/methods/magenta/magenta.ts')});
      const { resizeToLongSide } = await import(${src('io/resize.ts')});
      const photo = (await loadUrl('/samples/content_chelsea.png')).image;
      const m = Magenta.fromTflite(getRuntime(), await fetchWeights('magenta/style_predict_int8_256.tflite'), await fetchWeights('magenta/style_transfer_int8_384.tflite'));
      try {
        const own = await m.contentEmbedding(photo);
        const image = await m.transfer(resizeToLongSide(photo, ${SIZE}), own);
        return Array.from(image.data, (v) => Math.round(Math.min(255, Math.max(0, v))));
      } finally {
        m.dispose();
      }
    })()`)) as number[];
    note('magenta reference reconstruction in the page', started);
    expect(meanAbsDiff(zero.rgb, reference)).toBeLessThan(1);
  });

  it('blends two styles in Magenta by mixing their vectors', async () => {
    let before = await resultVersion();
    await nudgeSlider('#control-strength', 'ArrowRight', 20);
    await waitForResult(before, 'done', 120_000);
    expect(await text('[data-control-row="strength"] output')).toBe('100%');
    await page.click('#style-samples .sample[data-sample="great_wave_hokusai.jpg"]');
    await page.waitForFunction(() => document.querySelectorAll('.style-item').length === 2);
    // A larger working size for this one: it becomes the README screenshot.
    await clickSegment('size', '256');
    await recordStatus();
    await stylizeAndWait('magenta 256 px, two styles (predicts the second)', 180_000);
    expect((await statusLog()).filter((m) => m.startsWith('Predicting'))).toEqual(['Predicting the style vector of The Great Wave — Hokusai']);
    expect(await text('#stage .pane[data-pane="style"] .pane-meta')).toBe('2 styles blended');
    const blend = await canvasPixels(page, '#result-canvas');
    expect(Math.max(blend.width, blend.height)).toBe(256);
    const content = resizeToLongSide(sample('content_chelsea.png'), 256);
    expect(meanAbsDiff(blend.rgb, content.data)).toBeGreaterThan(10);
    await shot('06-magenta-blend.png');

    // Weight 0 for the Great Wave: a live re-render, from the cached vectors, with the Starry Night's alone.
    await recordStatus();
    before = await resultVersion();
    const started = performance.now();
    await nudgeSlider('.style-weight[data-style-weight="1"]', 'ArrowLeft', 20);
    await waitForResult(before, 'done', 120_000);
    note('magenta 256 px, blend weights 100/0 (transfer only)', started);
    expect((await statusLog()).filter((m) => m.startsWith('Predicting'))).toEqual([]);
    const starryOnly = await canvasPixels(page, '#result-canvas');
    expect(meanAbsDiff(starryOnly.rgb, blend.rgb)).toBeGreaterThan(3);
    await nudgeSlider('.style-weight[data-style-weight="1"]', 'ArrowRight', 20);
    await waitForResult(before + 1, 'done', 120_000);
  }, 420_000); // its own waits add up to more than the default test timeout

  it('shows the Magenta blend from the history, for the README screenshot', async () => {
    // The two-style Magenta result (256 px): picking it in the history brings back its tab, settings
    // and inputs, without running anything.
    const items = await page.$$('.history-item');
    const labels = await page.$$eval('.history-item .history-label', (els) => els.map((e) => e.textContent));
    const index = labels.indexOf('Magenta');
    expect(index).toBeGreaterThanOrEqual(0);
    await items[index]!.click();
    await page.waitForFunction(() => document.querySelector('#tab-magenta')?.getAttribute('aria-selected') === 'true');
    expect(await text('#stage .pane[data-pane="style"] .pane-meta')).toBe('2 styles blended');
    expect(await page.$eval('#result-canvas', (c) => (c as HTMLCanvasElement).width)).toBe(256);
    await page.mouse.move(0, 0);
    await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
    await page.evaluate(() => {
      document.querySelector('#status-line')!.textContent = '';
    });
    await page.setViewport({ width: 1360, height: 940 });
    await page.evaluate(() => window.scrollTo(0, 0));
    // A 256-colour palette keeps the README image small; photos survive it well at this size.
    const png = UPNG.decode(await page.screenshot({ type: 'png' }));
    const rgba = UPNG.toRGBA8(png)[0]!;
    writeFileSync(DEMO_SCREENSHOT, new Uint8Array(UPNG.encode([rgba], png.width, png.height, 256)));
    expect(statSync(DEMO_SCREENSHOT).size).toBeLessThan(400 * 1024);
    await shot('07-readme.png');
  });

  it('takes a style from the gallery and transfers colours on the GPU', async () => {
    await page.click('#tab-colour');
    // Start from the photo alone: remove the styles the Magenta tests left.
    while (await page.$('.style-item')) {
      const count = await page.$$eval('.style-item', (els) => els.length);
      await page.click('.style-item button[aria-label^="Remove"]');
      await page.waitForFunction((n) => document.querySelectorAll('.style-item').length === n - 1, {}, count);
    }
    const picker = (await page.$('input#content-file')) as ElementHandle<HTMLInputElement> | null;
    await picker!.uploadFile(path.join(samplesDir(), 'content_chelsea.png'));
    await page.waitForFunction(() => document.querySelector('#content-slot .slot-name')?.textContent === 'content_chelsea.png');
    await page.click('#style-samples .sample[data-sample="starry_night_vangogh.jpg"]');
    await page.waitForSelector('.style-item');
    await clickSegment('size', String(SIZE));

    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before);
    await shot('08-colour-transfer.png');

    const content = atWorkingSize(sample('content_chelsea.png'));
    const style = channelStats(atWorkingSize(sample('starry_night_vangogh.jpg')).data);
    const result = await canvasPixels(page, '#result-canvas');
    expect([result.width, result.height]).toEqual([content.width, content.height]);

    const got = channelStats(result.rgb);
    const photo = channelStats(content.data);
    const expected = expectedTransfer(content, style.mean, style.std, 1);
    const want = channelStats(expected);
    for (let ch = 0; ch < 3; ch++) {
      // Not blank, not the photo: the colours moved to the painting's (clipping to 0..255 shifts
      // them a little, which the float64 reference includes).
      expect(got.std[ch]).toBeGreaterThan(10);
      expect(Math.abs(got.mean[ch]! - want.mean[ch]!)).toBeLessThan(1);
      expect(Math.abs(got.std[ch]! - want.std[ch]!)).toBeLessThan(1);
      expect(Math.abs(got.mean[ch]! - style.mean[ch]!)).toBeLessThan(8);
      // Each channel is an affine map of the photo's, so the picture itself is intact.
      expect(channelCorrelation(result.rgb, content.data, ch)).toBeGreaterThan(0.9);
    }
    expect(Math.abs(got.mean[2]! - photo.mean[2]!) + Math.abs(got.mean[0]! - photo.mean[0]!)).toBeGreaterThan(40);
    // And pixel by pixel it matches the float64 formula (up to JPEG decoder differences and rounding).
    expect(meanAbsDiff(result.rgb, expected)).toBeLessThan(1.5);
  });

  it('re-renders live when a slider moves', async () => {
    const full = await canvasPixels(page, '#result-canvas');
    const before = await resultVersion();
    await nudgeSlider('#control-strength', 'ArrowLeft', 10); // 100% -> 50%
    await waitForResult(before);
    expect(await text('[data-control-row="strength"] output')).toBe('50%');
    const half = await canvasPixels(page, '#result-canvas');
    const content = atWorkingSize(sample('content_chelsea.png'));
    // Halfway between the photo and the full transfer, pixel by pixel.
    const midpoint = content.data.map((v, i) => (v + full.rgb[i]!) / 2);
    expect(meanAbsDiff(half.rgb, midpoint)).toBeLessThan(1.5);
    expect(meanAbsDiff(half.rgb, full.rgb)).toBeGreaterThan(5);
    await shot('09-colour-slider-50.png');
    await nudgeSlider('#control-strength', 'ArrowRight', 10);
    await waitForResult(before + 1);
  });

  it('blends two styles: one pasted, weights set with the blend sliders', async () => {
    await page.hover('#style-card');
    await deliverFile('paste', 'great_wave_hokusai.jpg');
    await page.waitForFunction(() => document.querySelectorAll('.style-item').length === 2);
    expect(await page.$$eval('.style-weight', (els) => els.length)).toBe(2);

    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before);
    expect(await text('#stage .pane[data-pane="style"] .pane-meta')).toBe('2 styles blended');
    const starry = channelStats(atWorkingSize(sample('starry_night_vangogh.jpg')).data);
    const wave = channelStats(atWorkingSize(sample('great_wave_hokusai.jpg')).data);
    const content = atWorkingSize(sample('content_chelsea.png'));
    const blend = (c: number) => ({ mean: (starry.mean[c]! + wave.mean[c]!) / 2, std: (starry.std[c]! + wave.std[c]!) / 2 });
    let got = (await canvasPixels(page, '#result-canvas')).rgb;
    let expected = expectedTransfer(content, [0, 1, 2].map((c) => blend(c).mean), [0, 1, 2].map((c) => blend(c).std), 1);
    expect(meanAbsDiff(got, expected)).toBeLessThan(1.5);
    await shot('10-colour-two-styles.png');

    // Weight 0 for the first style: the result takes the second style's colours, live.
    const v = await resultVersion();
    await nudgeSlider('.style-weight[data-style-weight="0"]', 'ArrowLeft', 20);
    await waitForResult(v);
    got = (await canvasPixels(page, '#result-canvas')).rgb;
    expected = expectedTransfer(content, wave.mean, wave.std, 1);
    expect(meanAbsDiff(got, expected)).toBeLessThan(1.5);
    await nudgeSlider('.style-weight[data-style-weight="0"]', 'ArrowRight', 20);
    await waitForResult(v + 1);
  });

  it('shows live previews and a loss curve for an iterative run, and stops and resumes it', async () => {
    await clickSegment('solver', 'descent');
    expect(await page.$eval('[data-control-row="matchContrast"]', (el) => (el as HTMLElement).hidden)).toBe(true);
    // The default 60 steps of size 0.08. Stop at step 10 from inside the page, in the same task
    // as the progress report, so the test does not depend on how fast the adapter is.
    expect(await text('[data-control-row="steps"] output')).toBe('60');
    await page.evaluate(() => {
      const status = document.querySelector('#status-line')!;
      const observer = new MutationObserver(() => {
        const step = Number(/Step (\d+) \//.exec(status.textContent ?? '')?.[1]);
        if (!(step >= 10)) return;
        observer.disconnect();
        const seen = window as unknown as Record<string, unknown>;
        seen['__previewState'] = document.querySelector('#result-canvas')!.getAttribute('data-state');
        seen['__lossKeys'] = document.querySelectorAll('.loss-key').length;
        document.querySelector<HTMLButtonElement>('#stop-button')!.click();
      });
      observer.observe(status, { childList: true, characterData: true, subtree: true });
    });
    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before, 'stopped');
    // While it ran, previews were drawn and both loss terms plotted.
    expect(await page.evaluate(() => (window as unknown as Record<string, unknown>)['__previewState'])).toBe('running');
    expect(await page.evaluate(() => (window as unknown as Record<string, unknown>)['__lossKeys'])).toBe(2);
    expect(await text('#status-line')).toMatch(/Stopped after .* at step \d+/);
    const stoppedAt = Number((await text('#status-line')).match(/at step (\d+)/)![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(10);
    expect(stoppedAt).toBeLessThan(60);
    await page.waitForSelector('#resume-button:not([hidden])');
    await shot('11-colour-stopped.png');
    const stoppedImage = await canvasPixels(page, '#result-canvas');

    await page.click('#resume-button');
    await waitForResult(before + 1);
    expect(await text('#status-line')).toMatch(/^Done in/);
    const finished = await canvasPixels(page, '#result-canvas');
    // Resuming continued from the stopped image towards the closed-form answer.
    const content = atWorkingSize(sample('content_chelsea.png'));
    const starry = channelStats(atWorkingSize(sample('starry_night_vangogh.jpg')).data);
    const wave = channelStats(atWorkingSize(sample('great_wave_hokusai.jpg')).data);
    const target = expectedTransfer(
      content,
      [0, 1, 2].map((c) => (starry.mean[c]! + wave.mean[c]!) / 2),
      [0, 1, 2].map((c) => (starry.std[c]! + wave.std[c]!) / 2),
      1,
    );
    expect(meanAbsDiff(finished.rgb, target)).toBeLessThan(meanAbsDiff(stoppedImage.rgb, target));
    expect(meanAbsDiff(finished.rgb, target)).toBeLessThan(6);
    const legend = await page.$$eval('.loss-key', (els) => els.map((e) => e.textContent ?? ''));
    expect(legend.join(' ')).toMatch(/mean²/);
    await shot('12-colour-resumed.png');
    expect(await page.$$eval('.history-item', (els) => els.length)).toBeGreaterThanOrEqual(3);
  });

  it('takes a content photo by drag and drop and from the webcam', async () => {
    await deliverFile('drop', 'content_coffee.png', '#content-card');
    await page.waitForFunction(() => document.querySelector('#content-slot .slot-name')?.textContent === 'content_coffee.png');

    await page.click('[data-action="webcam-content"]');
    await page.waitForFunction(() => (document.querySelector<HTMLVideoElement>('#webcam-dialog video')?.videoWidth ?? 0) > 0, { timeout: 20_000 });
    await page.click('#webcam-capture');
    await page.waitForFunction(() => document.querySelector('#content-slot .slot-name')?.textContent === 'Webcam frame');
    expect(await page.$eval('#webcam-dialog', (d) => (d as HTMLDialogElement).open)).toBe(false);
  });

  it('offers the result as a PNG download', async () => {
    await page.click('#content-samples .sample[data-sample="content_chelsea.png"]');
    await page.waitForFunction(() => document.querySelector('#content-slot .slot-name')?.textContent === 'Chelsea the cat');
    await clickSegment('solver', 'closed');
    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before);
    const download = await page.evaluate(async () => {
      let captured: { name: string; href: string } | null = null;
      const click = HTMLAnchorElement.prototype.click;
      HTMLAnchorElement.prototype.click = function () {
        captured = { name: this.download, href: this.href };
      };
      document.querySelector<HTMLButtonElement>('#download-button')!.click();
      for (let i = 0; i < 50 && !captured; i++) await new Promise((r) => setTimeout(r, 20));
      HTMLAnchorElement.prototype.click = click;
      if (!captured) return null;
      const { name, href } = captured as { name: string; href: string };
      const bytes = new Uint8Array(await (await fetch(href)).arrayBuffer());
      return { name, signature: [...bytes.slice(0, 8)], size: bytes.length };
    });
    expect(download?.name).toBe('pastiche-chelsea-the-cat-colour.png');
    expect(download?.signature).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(download!.size).toBeGreaterThan(1000);
  });

  it('runs Gatys at 32 px: the image evolves with a loss plot, stops and resumes', async () => {
    await page.click('#tab-gatys');
    // One style: the Starry Night (the colour tests left the Great Wave too).
    while ((await page.$$('.style-item')).length > 1) {
      const count = (await page.$$('.style-item')).length;
      await page.click(`.style-item[data-style="${count - 1}"] button[aria-label^="Remove"]`);
      await page.waitForFunction((n) => document.querySelectorAll('.style-item').length === n - 1, {}, count);
    }
    expect(await text('.style-item .style-name')).toBe('The Starry Night — van Gogh');
    // The smallest working size and two L-BFGS iterations (the sliders go down to 32 px and 1
    // iteration for quick looks).
    await page.focus('#control-size');
    await page.keyboard.press('Home');
    expect(await text('[data-control-row="size"] output')).toBe(`${TINY} px`);
    expect(await page.$eval('[data-control="optimizer"] [aria-checked="true"]', (b) => (b as HTMLElement).dataset['value'])).toBe('lbfgs');
    await page.focus('#control-iterations');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    expect(await text('[data-control-row="iterations"] output')).toBe('2');
    // Stop after the first iteration from inside the page, in the same task as its progress report;
    // then resume for the second.
    await page.evaluate(() => {
      const status = document.querySelector('#status-line')!;
      const observer = new MutationObserver(() => {
        const step = Number(/^Iteration (\d+) \//.exec(status.textContent ?? '')?.[1]);
        if (!(step >= 1)) return;
        observer.disconnect();
        const canvas = document.querySelector<HTMLCanvasElement>('#result-canvas')!;
        (window as unknown as Record<string, unknown>)['__gatysAtStop'] = {
          state: canvas.dataset['state'],
          previewShown: !canvas.hidden,
          lossPoints: document.querySelector<HTMLElement>('.loss-plot')!.dataset['points'],
        };
        document.querySelector<HTMLButtonElement>('#stop-button')!.click();
      });
      observer.observe(status, { childList: true, characterData: true, subtree: true });
    });
    let started = performance.now();
    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before, 'stopped', 180_000);
    note('gatys 32 px, L-BFGS iteration 1 (compile, targets, 1 iteration)', started);
    // While it ran, the iterate was drawn as a preview and the loss plotted; the plot stays with the result.
    expect(await page.evaluate(() => (window as unknown as Record<string, unknown>)['__gatysAtStop'])).toEqual({ state: 'running', previewShown: true, lossPoints: '1' });
    await page.waitForFunction(() => document.querySelectorAll('.loss-key').length === 3);
    expect(await page.$$eval('.loss-key', (els) => els.map((e) => e.textContent?.split(' ')[0]))).toEqual(['content', 'style', 'tv']);
    expect(await text('#status-line')).toMatch(/^Stopped after .* at step 1\. Resume to continue\.$/);
    await page.waitForSelector('#resume-button:not([hidden])');
    await shot('15-gatys-stopped.png');

    // The stopped image: the photo after one L-BFGS step (the best iterate so far), the same picture.
    const content = atSmallSize(sample('content_chelsea.png'), TINY);
    const stopped = await canvasPixels(page, '#result-canvas');
    expect([stopped.width, stopped.height]).toEqual([content.width, content.height]);
    for (const std of channelStats(stopped.rgb).std) expect(std).toBeGreaterThan(20); // not blank
    const stoppedDiff = meanAbsDiff(stopped.rgb, content.data);
    expect(stoppedDiff).toBeGreaterThan(2);
    expect(lumaCorrelation(stopped.rgb, content.data)).toBeGreaterThan(0.5);

    started = performance.now();
    const v = await resultVersion();
    await page.click('#resume-button');
    await waitForResult(v, 'done', 180_000);
    note('gatys 32 px, resumed for iteration 2', started);
    expect(await text('#status-line')).toMatch(/^Done in/);
    // The plot continues the stopped run's curve: two points, steps 1 and 2.
    expect(await page.$eval('.loss-plot', (el) => (el as HTMLElement).dataset['points'])).toBe('2');
    const finished = await canvasPixels(page, '#result-canvas');
    // Resuming continued from the stopped image: a second step, not the first one again (which a
    // restart from the photo would repeat).
    const resumedStep = meanAbsDiff(finished.rgb, stopped.rgb);
    const finishedDiff = meanAbsDiff(finished.rgb, content.data);
    timings.push(`  gatys vs photo: mean abs diff ${stoppedDiff.toFixed(1)} after step 1, ${finishedDiff.toFixed(1)} after step 2 (${resumedStep.toFixed(1)} from step 1)`);
    expect(resumedStep).toBeGreaterThan(1);
    expect(finishedDiff).toBeGreaterThan(2);
    expect(lumaCorrelation(finished.rgb, content.data)).toBeGreaterThan(0.5);
    expect(await text('#result-meta')).toMatch(/^Gatys · /);
    await shot('16-gatys-resumed.png');
  });

  it('runs AdaIN with nothing installed: the bundled distilled level-4 pair, as the library does in Node', async () => {
    await page.click('#tab-adain');
    expect(await page.$eval('#weights-file', (el) => (el as HTMLElement).dataset['state'])).toBe('missing');
    await clickSegment('size', String(SMALL));
    await recordStatus();
    await stylizeAndWait('adain 64 px, distilled nets (first use)', 120_000);
    const content = atSmallSize(sample('content_chelsea.png'));
    const result = await canvasPixels(page, '#result-canvas');
    expect([result.width, result.height]).toEqual([content.width, content.height]);
    expect(meanAbsDiff(result.rgb, content.data)).toBeGreaterThan(5);
    const runtime = (nodeRuntime ??= await initRuntime());
    const stylizer = await adainMethod.load({ runtime, weights: { tensors: (name) => loadModelWeights(name, testStoreOptions()) } }, {});
    try {
      const reference = await stylizer.stylize(sample('content_chelsea.png'), [{ image: sample('starry_night_vangogh.jpg'), name: 'starry', weight: 1 }], { size: SMALL, styleScale: 1 });
      const vsLibrary = meanAbsDiff(result.rgb, reference.image.data);
      timings.push(`  adain (distilled) vs the library in Node: mean abs diff ${vsLibrary.toFixed(2)}`);
      expect(vsLibrary).toBeLessThan(1.5);
    } finally {
      stylizer.dispose();
    }
    await shot('17-adain-distilled.png');
  });

  let decoderFile = '';

  it('loads an AdaIN decoder file through the tab\'s picker, and refuses wrong files with a clear error', async () => {
    // An untrained decoder (seeded random initialisation), written as `pastiche train adain` writes
    // a trained one: the same parameters and file format, no training.
    nodeRuntime ??= await initRuntime();
    const fresh = AdainDecoder.initialize(nodeRuntime, 7);
    let bytes: Uint8Array;
    try {
      bytes = serializeAdainDecoder(await fresh.toHost());
    } finally {
      fresh.dispose();
    }
    decoderFile = path.join(scratch, 'untrained-adain-decoder.safetensors');
    writeFileSync(decoderFile, bytes);
    const truncated = path.join(scratch, 'cut-off-decoder.safetensors');
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));

    await page.click('#tab-adain');
    const adainDisabled = () => page.$eval('#tab-adain', (el) => el.getAttribute('aria-disabled'));
    const pick = async (file: string) => {
      const input = (await page.$('#weights-file-input')) as ElementHandle<HTMLInputElement> | null;
      await input!.uploadFile(file);
    };
    const errorText = (pattern: RegExp) =>
      page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#weights-file-error')?.textContent ?? ''), { timeout: 20_000 }, pattern.source);

    // Another model's weights: a valid safetensors file, not a decoder.
    await pick(path.join(weightsDir(), 'mosaic.safetensors'));
    await errorText(/mosaic\.safetensors: not an AdaIN decoder: missing 'dec4_1\.weight'/);
    expect(await page.$eval('#weights-file', (el) => (el as HTMLElement).dataset['state'])).toBe('error');
    expect(await adainDisabled()).toBe('false');
    await shot('17-adain-wrong-file.png');
    // A decoder file cut off halfway (an interrupted download).
    await pick(truncated);
    await errorText(/cut-off-decoder\.safetensors: not a valid safetensors file: .*truncated/);
    expect(await adainDisabled()).toBe('false');

    await pick(decoderFile);
    await page.waitForFunction(() => document.querySelector('#weights-file')?.getAttribute('data-state') === 'loaded', { timeout: 30_000 });
    expect(await page.$('#weights-file-error')).toBeNull();
    expect(await text('#weights-file-current')).toBe('untrained-adain-decoder.safetensors (14.0 MB, no training record in the file)');
    expect(await adainDisabled()).toBe('false');
    expect(await page.$eval('#method-notice', (el) => (el as HTMLElement).hidden)).toBe(true);
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
  });

  it('runs AdaIN with the loaded decoder: α re-renders from cached features, two styles blend', async () => {
    await clickSegment('size', String(SMALL));
    await recordStatus();
    await stylizeAndWait('adain 64 px, loaded decoder (upload, encode, decode)', 120_000);
    const content = atSmallSize(sample('content_chelsea.png'));
    const full = await canvasPixels(page, '#result-canvas');
    expect([full.width, full.height]).toEqual([content.width, content.height]);
    // Not blank, not the photo. (An untrained decoder paints noise-like patterns, not the cat: it is
    // the plumbing that is checked, against the library running the same file in Node.)
    expect(Math.max(...channelStats(full.rgb).std)).toBeGreaterThan(5);
    expect(meanAbsDiff(full.rgb, content.data)).toBeGreaterThan(10);
    const fullVsLibrary = meanAbsDiff(full.rgb, await adainReference(decoderFile, ['starry_night_vangogh.jpg'], [1], 1));
    timings.push(`  adain (untrained decoder) vs photo: mean abs diff ${meanAbsDiff(full.rgb, content.data).toFixed(1)}; vs the library in Node: ${fullVsLibrary.toFixed(2)}`);
    expect(fullVsLibrary).toBeLessThan(1.5);
    expect(await text('#result-meta')).toMatch(/^AdaIN · /);
    await shot('18-adain.png');

    // α 0.5: a live re-render that decodes again from the cached photo features and style statistics.
    await recordStatus();
    let before = await resultVersion();
    let started = performance.now();
    await nudgeSlider('#control-alpha', 'ArrowLeft', 10);
    await waitForResult(before, 'done', 120_000);
    note('adain α 0.5 (decoder only)', started);
    expect(await text('[data-control-row="alpha"] output')).toBe('0.50');
    expect(await statusLog()).toContain('Decoding at α 0.50 (features cached)');
    const half = await canvasPixels(page, '#result-canvas');
    expect(meanAbsDiff(half.rgb, full.rgb)).toBeGreaterThan(1);
    expect(meanAbsDiff(half.rgb, await adainReference(decoderFile, ['starry_night_vangogh.jpg'], [1], 0.5))).toBeLessThan(1.5);

    // A second style: the two styles' statistics are blended (equal weights).
    await page.click('#style-samples .sample[data-sample="great_wave_hokusai.jpg"]');
    await page.waitForFunction(() => document.querySelectorAll('.style-item').length === 2);
    await recordStatus();
    await stylizeAndWait('adain 64 px, two styles (encodes the second)', 120_000);
    const log = await statusLog();
    expect(log).toContain('Re-using the photo’s features');
    expect(log).not.toContain('Encoding the photo with VGG19');
    expect(await text('#stage .pane[data-pane="style"] .pane-meta')).toBe('2 styles blended');
    const blend = await canvasPixels(page, '#result-canvas');
    expect(meanAbsDiff(blend.rgb, half.rgb)).toBeGreaterThan(1);
    expect(meanAbsDiff(blend.rgb, await adainReference(decoderFile, ['starry_night_vangogh.jpg', 'great_wave_hokusai.jpg'], [1, 1], 0.5))).toBeLessThan(1.5);
    await shot('19-adain-two-styles.png');

    // Weight 0 for the Starry Night, live: the Great Wave's statistics alone.
    before = await resultVersion();
    started = performance.now();
    await nudgeSlider('.style-weight[data-style-weight="0"]', 'ArrowLeft', 20);
    await waitForResult(before, 'done', 120_000);
    note('adain blend weights 0/100 (decoder only)', started);
    const waveOnly = await canvasPixels(page, '#result-canvas');
    expect(meanAbsDiff(waveOnly.rgb, blend.rgb)).toBeGreaterThan(1);
    expect(meanAbsDiff(waveOnly.rgb, await adainReference(decoderFile, ['great_wave_hokusai.jpg'], [1], 0.5))).toBeLessThan(1.5);
  });

  it('runs WCT from the bundled distilled nets, as the library does in Node', async () => {
    await page.click('#tab-wct');
    expect(await page.$eval('#method-notice', (el) => (el as HTMLElement).hidden)).toBe(true);
    await clickSegment('size', String(SMALL));
    expect(await page.$$eval('[data-control="levels"] button', (els) => els.map((e) => (e as HTMLElement).dataset['value']))).toEqual(['5,4,3,2,1', '4,3,2,1', '3,2,1', '2,1']);
    // Levels 2→1: at 64 px the deep levels hold fewer pixels than channels, where whitening amplifies
    // rounding differences between GPUs (±1 grey of input noise moves levels 5→1 by 11 grey levels, 2→1 by 1.2).
    await clickSegment('levels', '2,1');
    await recordStatus();
    // The styles are still the Starry Night at weight 0 and the Great Wave (the AdaIN test above).
    await stylizeAndWait('wct 64 px, levels 2→1 (bundled nets, first use)', 150_000);
    const content = atSmallSize(sample('content_chelsea.png'));
    const result = await canvasPixels(page, '#result-canvas');
    expect([result.width, result.height]).toEqual([content.width, content.height]);
    expect(meanAbsDiff(result.rgb, content.data)).toBeGreaterThan(10);
    const runtime = (nodeRuntime ??= await initRuntime());
    const stylizer = await wctMethod.load({ runtime, weights: { tensors: (name) => loadModelWeights(name, testStoreOptions()) } }, {});
    try {
      const styles = ['starry_night_vangogh.jpg', 'great_wave_hokusai.jpg'].map((f, i) => ({ image: sample(f), name: f, weight: i }));
      const reference = await stylizer.stylize(sample('content_chelsea.png'), styles, { size: SMALL, styleSize: SMALL, levels: [2, 1] });
      const vsLibrary = meanAbsDiff(result.rgb, reference.image.data);
      timings.push(`  wct vs the library in Node: mean abs diff ${vsLibrary.toFixed(2)}`);
      expect(vsLibrary).toBeLessThan(1.5);
    } finally {
      stylizer.dispose();
    }
    expect(await text('#result-meta')).toMatch(/^WCT · /);
    await shot('20-wct.png');
  });

  it('stayed free of page errors', () => {
    expect(errors).toEqual([]);
  });
});

describe('demo page without WebGPU', () => {
  it('explains that no adapter is available (Chromium without --enable-unsafe-webgpu)', async () => {
    const plain = await launchChromium({ webgpu: false });
    try {
      const p = await plain.browser.newPage();
      await p.setViewport({ width: 1280, height: 860 });
      await p.goto(url);
      await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(await p.$eval('body', (b) => b.dataset['gpu'])).toBe('unavailable');
      const panel = await p.$eval('.gpu-panel', (el) => ({ problem: (el as HTMLElement).dataset['problem'], text: el.textContent ?? '' }));
      expect(panel.problem).toBe('no-adapter');
      expect(panel.text).toMatch(/chrome:\/\/gpu/);
      expect(panel.text).toMatch(/enable-unsafe-webgpu/);
      expect(await p.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
      await p.screenshot({ path: path.join(ARTIFACTS, '13-no-adapter.png'), fullPage: true });
    } finally {
      await plain.close();
    }
  });

  it('explains a browser without navigator.gpu', async () => {
    const p = await chromium.browser.newPage();
    try {
      await p.evaluateOnNewDocument(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      await p.goto(url);
      await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(await p.$eval('.gpu-panel', (el) => (el as HTMLElement).dataset['problem'])).toBe('no-api');
      expect(await p.$eval('.gpu-panel h2', (el) => el.textContent)).toMatch(/does not offer WebGPU/);
      // The rest of the page still works: images can be chosen.
      await p.click('#content-samples .sample');
      await p.waitForSelector('#content-preview');
      await p.screenshot({ path: path.join(ARTIFACTS, '14-no-webgpu-api.png') });
    } finally {
      await p.close();
    }
  });
});

describe('the test run', () => {
  it('left every tracked file as it was (screenshots go to test-artifacts/ only)', () => {
    expect(trackedChanges()).toBe(trackedBefore);
  });
});
