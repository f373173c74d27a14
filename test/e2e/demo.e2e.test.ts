// The demo page in a real browser: Vite's dev server, Debian's Chromium on SwiftShader WebGPU.
// Loads the page, brings in images by every route (file picker, sample gallery, paste, drag and drop,
// webcam), runs the colour-transfer method on the GPU and checks its output against a float64
// computation here, moves sliders for live re-renders, drives Stop / Resume of an iterative run, and
// checks the panel shown without a WebGPU adapter. Screenshots go to test-artifacts/, and one
// polished screenshot to docs/demo.png.

import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ElementHandle, Page } from 'puppeteer';
import UPNG from 'upng-js';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, type RgbImage } from '../../src/io/image.ts';
import { resizeToLongSide } from '../../src/io/resize.ts';
import { samplesDir } from '../../vite.config.ts';
import { canvasPixels, channelStats, collectErrors, launchChromium, repoRoot, startDevServer, type LaunchedBrowser } from './browser.ts';

const ARTIFACTS = path.join(repoRoot, 'test-artifacts');
const DEMO_SCREENSHOT = path.join(repoRoot, 'docs', 'demo.png');
const SIZE = 128;

let server: ViteDevServer;
let url: string;
let chromium: LaunchedBrowser;
let page: Page;
let errors: string[];

function sample(file: string): RgbImage {
  return decodeImage(readFileSync(path.join(samplesDir(), file)), file);
}

function atWorkingSize(image: RgbImage): RgbImage {
  return Math.max(image.width, image.height) > SIZE ? resizeToLongSide(image, SIZE) : image;
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
async function waitForResult(after: number, state = 'done'): Promise<void> {
  await page.waitForFunction(
    (v, s) => {
      const canvas = document.querySelector<HTMLCanvasElement>('#result-canvas')!;
      return !document.body.dataset['busy'] && Number(canvas.dataset['version']) > v && canvas.dataset['state'] === s;
    },
    { timeout: 90_000 },
    after,
    state,
  );
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

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ server, url } = await startDevServer());
  chromium = await launchChromium({ webgpu: true });
  page = await chromium.browser.newPage();
  await page.setViewport({ width: 1360, height: 900 });
  errors = collectErrors(page);
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
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
    const cached = weights.files.find((f) => f.path.endsWith('.safetensors'));
    if (cached) {
      // The same bytes as the file in weights/cache (filled by `npx pastiche weights`).
      const res = await fetch(new URL(`weights/${cached.path}`, url));
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.length).toBe(statSync(path.join(repoRoot, 'weights', 'cache', cached.path)).size);
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
    expect(tabs.map((t) => t.id)).toEqual(expect.arrayContaining(['feed-forward', 'gatys', 'adain', 'magenta', 'colour']));
    // The one method the engine can run today is selected; the others say they are coming.
    expect(tabs.find((t) => t.id === 'colour')).toMatchObject({ disabled: 'false', selected: 'true' });
    for (const id of ['feed-forward', 'gatys', 'adain', 'magenta']) expect(tabs.find((t) => t.id === id)?.disabled).toBe('true');

    await page.click('#tab-feed-forward');
    expect(await text('#method-notice')).toMatch(/coming soon/i);
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    expect(await page.$$eval('[data-control="model"] [role="radio"]', (els) => els.map((e) => (e as HTMLElement).dataset['value']))).toEqual([
      'candy', 'mosaic', 'pointilism', 'rain_princess', 'udnie', 'mathura', 'matilde_perez', 'matta',
    ]);
    await page.click('#tab-colour');
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(false);

    // Samples come from the served folder.
    expect(await page.$$eval('#content-samples .sample', (els) => els.length)).toBeGreaterThanOrEqual(3);
    expect(await page.$$eval('#style-samples .sample', (els) => els.length)).toBeGreaterThanOrEqual(3);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.sample img')].every((img) => img.complete));
    await shot('01-loaded.png');
  });

  it('takes the content from the file picker and a style from the gallery, and transfers colours on the GPU', async () => {
    const picker = (await page.$('input#content-file')) as ElementHandle<HTMLInputElement> | null;
    await picker!.uploadFile(path.join(samplesDir(), 'content_chelsea.png'));
    await page.waitForSelector('#content-preview');
    expect(await text('#content-slot .slot-name')).toBe('content_chelsea.png');

    await page.click('#style-samples .sample[data-sample="starry_night_vangogh.jpg"]');
    await page.waitForSelector('.style-item');
    await clickSegment('size', String(SIZE));

    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before);
    await shot('02-colour-transfer.png');

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
    await shot('03-slider-50.png');
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
    await shot('04-two-styles.png');

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
    await shot('05-stopped.png');
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
    await shot('06-resumed.png');
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

  it('renders a polished result for the README screenshot', async () => {
    // A larger working size and the two-style blend at full strength.
    await clickSegment('size', '512');
    const before = await resultVersion();
    await page.click('#run-button');
    await waitForResult(before);
    await page.mouse.move(0, 0);
    await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
    await page.setViewport({ width: 1360, height: 940 });
    await page.evaluate(() => window.scrollTo(0, 0));
    mkdirSync(path.dirname(DEMO_SCREENSHOT), { recursive: true });
    // A 256-colour palette keeps the README image small; photos survive it well at this size.
    const png = UPNG.decode(await page.screenshot({ type: 'png' }));
    const rgba = UPNG.toRGBA8(png)[0]!;
    writeFileSync(DEMO_SCREENSHOT, new Uint8Array(UPNG.encode([rgba], png.width, png.height, 256)));
    expect(statSync(DEMO_SCREENSHOT).size).toBeLessThan(400 * 1024);
    await shot('07-final.png');
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
      await p.screenshot({ path: path.join(ARTIFACTS, '08-no-adapter.png'), fullPage: true });
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
      await p.screenshot({ path: path.join(ARTIFACTS, '09-no-webgpu-api.png') });
    } finally {
      await p.close();
    }
  });
});
