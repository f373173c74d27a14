/**
 * The page survives GPU faults (injected through the dev server's fault hooks): an allocation beyond
 * the adapter's limits and a lost device each end the run with the GPU panel, whose Retry starts a
 * fresh device, after which the same run works. Uses colour transfer (no weights, quick on SwiftShader).
 */
import type { Page } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectErrors, launchChromium, startDevServer, type LaunchedBrowser } from './browser.ts';

let server: ViteDevServer;
let url: string;
let chromium: LaunchedBrowser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  ({ server, url } = await startDevServer());
  chromium = await launchChromium({ webgpu: true });
  page = await chromium.browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  errors = collectErrors(page);
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

type FaultWindow = { __pasticheFaults: { loseDevice(): void; failNextAllocation(): void } };

const resultVersion = async () => Number(await page.$eval('#result-canvas', (c) => (c as HTMLElement).dataset['version']));

async function runAndWait(): Promise<void> {
  const before = await resultVersion();
  await page.click('#run-button');
  await page.waitForFunction(
    (v) => {
      const canvas = document.querySelector<HTMLCanvasElement>('#result-canvas')!;
      return !document.body.dataset['busy'] && Number(canvas.dataset['version']) > v && canvas.dataset['state'] === 'done';
    },
    { timeout: 120_000, polling: 250 },
    before,
  );
}

/** Waits for the GPU panel of `problem`, checks its message, presses Retry and waits for a fresh device. */
async function retryAfter(problem: string, message: RegExp): Promise<void> {
  await page.waitForSelector(`.gpu-panel[data-problem="${problem}"]`, { timeout: 60_000 });
  expect(await page.$eval('.gpu-panel-detail', (el) => el.textContent)).toMatch(message);
  expect(await page.$eval('#gpu-badge', (el) => (el as HTMLElement).dataset['state'])).toBe('error');
  await page.waitForFunction(() => !document.body.dataset['busy'], { timeout: 60_000 });
  await page.click('#gpu-retry');
  await page.waitForFunction(() => !document.querySelector('.gpu-panel') && document.querySelector<HTMLElement>('#gpu-badge')?.dataset['state'] !== 'error', { timeout: 60_000 });
  // The page kept its tab and inputs.
  expect(await page.$eval('#tab-colour', (el) => el.getAttribute('aria-selected'))).toBe('true');
  expect(await page.$$eval('.style-item', (els) => els.length)).toBe(1);
}

describe('GPU faults in the page', () => {
  it('starts, and stylizes with colour transfer', async () => {
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.$eval('body', (b) => b.dataset['gpu'])).toBe('ready');
    expect(await page.evaluate(() => typeof (window as unknown as FaultWindow).__pasticheFaults)).toBe('object');
    await page.click('#tab-colour');
    await page.click('#content-samples .sample[data-sample="content_chelsea.png"]');
    await page.waitForSelector('#content-preview');
    await page.click('#style-samples .sample[data-sample="starry_night_vangogh.jpg"]');
    await page.waitForSelector('.style-item');
    await runAndWait();
  });

  it('an allocation beyond the adapter’s limits ends the run with the GPU panel; Retry works', async () => {
    await page.evaluate(() => (window as unknown as FaultWindow).__pasticheFaults.failNextAllocation());
    const before = await resultVersion();
    await page.click('#run-button');
    await retryAfter('out-of-memory', /needs a [\d.]+ MiB buffer but this adapter allows at most [\d.]+ MiB/);
    expect(await resultVersion()).toBe(before);
    await runAndWait();
  });

  it('a lost device ends the run with the GPU panel; Retry starts a fresh device that works', async () => {
    await page.click('#run-button');
    await page.evaluate(() => (window as unknown as FaultWindow).__pasticheFaults.loseDevice());
    await retryAfter('lost', /The GPU device was lost/);
    await runAndWait();
    // And once more, to show the fresh device is itself watched for loss.
    await page.evaluate(() => (window as unknown as FaultWindow).__pasticheFaults.loseDevice());
    await retryAfter('lost', /The GPU device was lost/);
    await runAndWait();
  });

  it('logged no page errors beyond the injected faults', () => {
    const unexpected = errors.filter((e) => !/lost|destroyed|needs a [\d.]+ MiB buffer|Stopped|Superseded/i.test(e));
    expect(unexpected).toEqual([]);
  });
});
