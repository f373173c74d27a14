// The dev server's read-only folders: /weights/ is the cache laid over weights/bundled/, so the page
// finds the bundled defaults with an empty cache and a cached file wins over a bundled one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLED_WEIGHTS_DIR, servedFoldersMiddleware } from '../../vite.config.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const undo of cleanup.splice(0)) undo();
});

async function serve(roots: string[]): Promise<string> {
  const middleware = servedFoldersMiddleware([{ prefix: '/weights/', dirs: () => roots, recursive: true }]);
  const server: Server = createServer((req, res) =>
    middleware(req, res, () => {
      res.statusCode = 418;
      res.end();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/weights/`;
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pastiche-served-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

describe('dev server /weights/', () => {
  it('serves the first folder holding a file and lists every folder once', async () => {
    const cache = folder({ 'mathura.safetensors': 'cached', 'candy.safetensors': 'candy' });
    const bundled = folder({ 'mathura.safetensors': 'bundled copy', 'magenta/p.tflite': 'graph' });
    const base = await serve([cache, bundled]);
    expect(await (await fetch(`${base}mathura.safetensors`)).text()).toBe('cached');
    expect(await (await fetch(`${base}magenta/p.tflite`)).text()).toBe('graph');
    expect((await fetch(`${base}missing.safetensors`)).status).toBe(404);
    expect((await fetch(`${base}..%2fsecret`)).status).toBe(404);
    const index = (await (await fetch(`${base}index.json`)).json()) as { files: { path: string; bytes: number }[] };
    expect(index.files).toEqual([
      { path: 'candy.safetensors', bytes: 5 },
      { path: 'magenta/p.tflite', bytes: 5 },
      { path: 'mathura.safetensors', bytes: 6 },
    ]);
  });

  it('lays the cache over the repository bundle, which holds the page\'s default models', async () => {
    const base = await serve([folder({}), BUNDLED_WEIGHTS_DIR]);
    const index = (await (await fetch(`${base}index.json`)).json()) as { files: { path: string }[] };
    expect(index.files.map((f) => f.path)).toEqual(expect.arrayContaining(['mathura.safetensors', 'magenta/style_predict_int8_256.tflite', 'magenta/style_transfer_int8_384.tflite']));
    expect((await fetch(`${base}mathura.safetensors`, { method: 'HEAD' })).status).toBe(200);
  });
});
