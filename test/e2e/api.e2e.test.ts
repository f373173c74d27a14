// The library's browser entry (src/index.browser.ts, what `from 'pastiche'` gives a bundled page),
// in Chromium on SwiftShader WebGPU: every browser input kind reads to the same pixels, weights come
// from `weights/` beside the page, progress is reported, and dispose() frees the GPU memory.

import path from 'node:path';
import type { Page } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collectErrors, launchChromium, repoRoot, startDevServer, type LaunchedBrowser } from './browser.ts';

let server: ViteDevServer;
let url: string;
let chromium: LaunchedBrowser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  ({ server, url } = await startDevServer());
  chromium = await launchChromium({ webgpu: true });
  page = await chromium.browser.newPage();
  errors = collectErrors(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

it('stylizes ImageData, <img>, <canvas>, OffscreenCanvas, ImageBitmap, Blob and PNG bytes to the same pixels', async () => {
  // Page code as text: the test runner would rewrite a dynamic import() inside a function.
  const src = (file: string) => JSON.stringify(`/@fs${path.join(repoRoot, 'src', file)}`);
  const result = (await page.evaluate(`(async () => {
    const api = await import(${src('index.browser.ts')});
    const { getRuntime } = await import(${src('gpu/runtime.ts')});
    const photo = await (await fetch('/samples/content_chelsea.png')).blob();
    const small = await createImageBitmap(photo, { resizeWidth: 48, resizeHeight: 32 });
    const canvas = document.createElement('canvas');
    canvas.width = 48;
    canvas.height = 32;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(small, 0, 0);
    const imageData = ctx.getImageData(0, 0, 48, 32);
    const png = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const img = new Image();
    img.src = URL.createObjectURL(png);
    await img.decode();
    const offscreen = new OffscreenCanvas(48, 32);
    offscreen.getContext('2d').drawImage(canvas, 0, 0);
    const inputs = {
      imageData,
      img,
      canvas,
      offscreen,
      bitmap: await createImageBitmap(canvas),
      blob: png,
      bytes: new Uint8Array(await png.arrayBuffer()),
    };
    const live = () => getRuntime().stats().liveBytes;
    const before = live();
    const messages = [];
    const model = await api.load('feed-forward', { model: 'mosaic', onProgress: (p) => messages.push(p.message ?? '') });
    const loaded = live();
    const reference = await model.stylize(imageData);
    const same = {};
    for (const [kind, input] of Object.entries(inputs)) {
      const out = await model.stylize(input);
      same[kind] = out.width === 48 && out.height === 32 && out.data.every((v, i) => v === reference.data[i]);
    }
    model.dispose();
    let refused = '';
    await api.stylize(42).catch((err) => (refused = err.message));
    const input = imageData.data.filter((_, i) => i % 4 !== 3);
    const output = reference.data.filter((_, i) => i % 4 !== 3);
    const changed = output.reduce((a, v, i) => a + Math.abs(v - input[i]), 0) / output.length;
    return { same, messages, grew: loaded > before, freed: live() === before, refused, changed, png: reference.toPng().length };
  })()`)) as { same: Record<string, boolean>; messages: string[]; grew: boolean; freed: boolean; refused: string; changed: number; png: number };
  expect(result.same).toEqual({ imageData: true, img: true, canvas: true, offscreen: true, bitmap: true, blob: true, bytes: true });
  expect(result.messages).toContain("loading 'mosaic'");
  expect(result.grew).toBe(true);
  expect(result.freed).toBe(true);
  expect(result.changed).toBeGreaterThan(10); // restyled, not the photo
  expect(result.png).toBeGreaterThan(100);
  expect(result.refused).toMatch(/^content: cannot read an image from number; give ImageData, an <img>, a <canvas>, an ImageBitmap, a Blob or PNG\/JPEG bytes/);
  expect(errors).toEqual([]);
});
