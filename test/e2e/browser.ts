// Shared set-up for the browser tests: Vite's dev server on a free port, and Debian's Chromium
// (never a downloaded one) with the flags that give navigator.gpu a SwiftShader adapter on a
// machine without a GPU.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { createServer, type ViteDevServer } from 'vite';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.PASTICHE_CHROMIUM ?? '/usr/bin/chromium';

/** Flags verified to give navigator.gpu an adapter ("google / swiftshader") here. */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader'];

const BASE_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--no-first-run',
  // Without these Chromium tries to reach the network, which these machines refuse.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  // A synthetic camera, granted without a prompt, for the webcam input.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--hide-scrollbars',
];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startDevServer(): Promise<{ server: ViteDevServer; url: string }> {
  const port = await freePort();
  const server = await createServer({
    configFile: path.join(repoRoot, 'vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false },
  });
  await server.listen();
  return { server, url: `http://127.0.0.1:${port}/` };
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(options: { webgpu: boolean }): Promise<LaunchedBrowser> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'pastiche-e2e-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_FLAGS, ...(options.webgpu ? WEBGPU_FLAGS : []), `--user-data-dir=${userDataDir}`],
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? os.tmpdir() },
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Page errors and console errors, so a test can assert the page stayed clean. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${(err as Error).message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
  });
  return errors;
}

export interface ChannelStats {
  mean: [number, number, number];
  std: [number, number, number];
}

/** Per-channel mean and standard deviation of interleaved RGB values. */
export function channelStats(rgb: ArrayLike<number>): ChannelStats {
  const n = rgb.length / 3;
  const mean: [number, number, number] = [0, 0, 0];
  const std: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < rgb.length; i++) mean[i % 3]! += rgb[i]! / n;
  for (let i = 0; i < rgb.length; i++) std[i % 3]! += (rgb[i]! - mean[i % 3]!) ** 2 / n;
  return { mean, std: std.map(Math.sqrt) as [number, number, number] };
}

/** RGB values (0..255) of a canvas on the page, with its size. */
export async function canvasPixels(page: Page, selector: string): Promise<{ width: number; height: number; rgb: number[] }> {
  return page.$eval(selector, (el) => {
    const canvas = el as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const rgb: number[] = [];
    for (let i = 0; i < rgba.length; i += 4) rgb.push(rgba[i]!, rgba[i + 1]!, rgba[i + 2]!);
    return { width: canvas.width, height: canvas.height, rgb };
  });
}
