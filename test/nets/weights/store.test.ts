import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWeightsManifest } from '../../../src/nets/weights/manifest.ts';
import { parseNcnnTransformerNet } from '../../../src/nets/weights/formats/ncnn-transformer-net.ts';
import {
  convertedWeightsPath,
  defaultCacheDir,
  ensureModelFiles,
  listInstalledModels,
  loadModelWeights,
  type FetchLike,
  type FileProgress,
} from '../../../src/nets/weights/node/store.ts';
import { REPO_ROOT, SHARED_WEIGHTS_DIR, sharedWeightsPath } from '../../helpers/shared-data.ts';

const CANDY_URL_SUFFIX = '/app/src/main/assets/candy.bin';
const temporaryDirs: string[] = [];

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pastiche-${label}-`));
  temporaryDirs.push(dir);
  return dir;
}

/** Every file under `dir`, temp files included, relative to it. */
function allFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string, prefix: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else found.push(`${prefix}${name}`);
    }
  };
  walk(dir, '');
  return found.sort();
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A fetch that serves bytes from ../shared/weights for the manifest URLs, in 64 KiB chunks. */
function mirrorFetch(bodyFor: (url: string) => Uint8Array | null): FetchLike {
  return async (url) => {
    const body = bodyFor(url);
    if (body === null) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += 65536) controller.enqueue(body.slice(i, i + 65536));
        controller.close();
      },
    });
    return new Response(stream, { status: 200 });
  };
}

afterEach(() => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('weight store', () => {
  it('copies a model from the mirror into the cache, verified, and reuses it afterwards', async () => {
    const cacheDir = tempDir('cache');
    const events: FileProgress[] = [];
    const first = await ensureModelFiles('candy', { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR, onProgress: (p) => events.push(p) });
    const target = join(cacheDir, 'transformer-net', 'candy.bin');
    expect(first.paths).toEqual([target]);
    expect(first.transferredBytes).toBe(3368140);
    expect(readFileSync(target).equals(readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')))).toBe(true);
    expect(events.at(-1)).toEqual({ model: 'candy', file: 'transformer-net/candy.bin', source: 'mirror', bytesDone: 3368140, bytesTotal: 3368140 });
    expect(allFiles(cacheDir)).toEqual(['transformer-net/candy.bin']);

    events.length = 0;
    const again = await ensureModelFiles('candy', { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR, onProgress: (p) => events.push(p) });
    expect(again.transferredBytes).toBe(0);
    expect(events.map((e) => e.source)).toEqual(['cache']);
  });

  it('refuses a truncated mirror copy, naming file and both checksums, and leaves nothing in the cache', async () => {
    const mirrorDir = tempDir('mirror');
    mkdirSync(join(mirrorDir, 'transformer-net'));
    const truncated = readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')).subarray(0, 1_000_000);
    writeFileSync(join(mirrorDir, 'transformer-net', 'candy.bin'), truncated);
    const manifest = await loadWeightsManifest();
    const expectedSha = manifest.models.find((m) => m.name === 'candy')!.files[0]!.sha256;
    const cacheDir = tempDir('cache');

    const attempt = ensureModelFiles('candy', { cacheDir, mirrorDir, manifest });
    await expect(attempt).rejects.toThrow(`transformer-net/candy.bin failed verification`);
    await expect(attempt).rejects.toThrow(`expected 3368140 bytes with sha256 ${expectedSha}, got 1000000 bytes with sha256 ${sha256(truncated)}`);
    await expect(attempt).rejects.toThrow(/mirror copy .*candy\.bin.*replace it with the file from https:\/\//);
    expect(allFiles(cacheDir)).toEqual([]);
    await expect(loadModelWeights('candy', { cacheDir, mirrorDir, manifest })).rejects.toThrow(/failed verification/);
    expect(allFiles(cacheDir)).toEqual([]);
  });

  it('says which file is missing from the mirror', async () => {
    const mirrorDir = tempDir('mirror');
    await expect(ensureModelFiles('udnie', { cacheDir: tempDir('cache'), mirrorDir })).rejects.toThrow(
      /udnie: transformer-net\/udnie\.bin is missing from the weights mirror .*put the file from https:\/\/raw\.githubusercontent\.com\//,
    );
  });

  it('replaces a damaged cached file', async () => {
    const cacheDir = tempDir('cache');
    await ensureModelFiles('magenta-transfer', { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR });
    const cached = join(cacheDir, 'magenta', 'style_transfer_int8_384.tflite');
    const damaged = readFileSync(cached);
    damaged[100] = damaged[100]! ^ 1; // same size, different bytes
    writeFileSync(cached, damaged);
    const repaired = await ensureModelFiles('magenta-transfer', { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR });
    expect(repaired.transferredBytes).toBe(284398);
    expect(repaired.repairedFiles).toEqual(['magenta/style_transfer_int8_384.tflite']);
    expect(readFileSync(cached).equals(readFileSync(sharedWeightsPath('magenta', 'style_transfer_int8_384.tflite')))).toBe(true);
  });

  it('downloads with fetch when no mirror is set, streaming progress', async () => {
    const cacheDir = tempDir('cache');
    const candy = new Uint8Array(readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')));
    const events: FileProgress[] = [];
    const fetch = mirrorFetch((url) => (url.endsWith(CANDY_URL_SUFFIX) ? candy : null));
    const files = await ensureModelFiles('candy', { cacheDir, mirrorDir: '', fetch, onProgress: (p) => events.push(p) });
    expect(readFileSync(files.paths[0]!).equals(candy)).toBe(true);
    expect(events.length).toBe(Math.ceil(candy.length / 65536));
    expect(events.every((e) => e.source === 'download')).toBe(true);
    expect(events.at(-1)!.bytesDone).toBe(candy.length);
  });

  it('rejects a cut-short download or an HTTP error and leaves no partial file', async () => {
    const cacheDir = tempDir('cache');
    const candy = new Uint8Array(readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')));
    const short = mirrorFetch(() => candy.subarray(0, 123_457));
    await expect(ensureModelFiles('candy', { cacheDir, mirrorDir: '', fetch: short })).rejects.toThrow(
      /candy: transformer-net\/candy\.bin failed verification \(the download from https:.*got 123457 bytes/,
    );
    const missing = mirrorFetch(() => null);
    await expect(ensureModelFiles('candy', { cacheDir, mirrorDir: '', fetch: missing })).rejects.toThrow(/failed with HTTP 404 Not Found/);
    const offline: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(ensureModelFiles('candy', { cacheDir, mirrorDir: '', fetch: offline })).rejects.toThrow(
      /cannot download transformer-net\/candy\.bin .*fetch failed.*PASTICHE_WEIGHTS_MIRROR/,
    );
    expect(allFiles(cacheDir)).toEqual([]);
  });

  it('converts once to <cache>/<name>.safetensors and afterwards loads only that', async () => {
    const cacheDir = tempDir('cache');
    const converted: string[] = [];
    const opts = { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR, onConverted: (name: string) => converted.push(name) };
    const first = await loadModelWeights('candy', opts);
    expect(converted).toEqual(['candy']);
    expect(allFiles(cacheDir)).toEqual(['candy.safetensors', 'candy.safetensors.sha256', 'transformer-net/candy.bin']);
    const direct = parseNcnnTransformerNet(readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')));
    expect([...first.keys()]).toEqual([...direct.keys()]);
    expect(Array.from(first.get('res3.conv2.conv2d.weight')!.data.subarray(0, 50))).toEqual(
      Array.from(direct.get('res3.conv2.conv2d.weight')!.data.subarray(0, 50)),
    );

    // With the source file gone and an empty mirror, only the converted file can serve the load.
    rmSync(join(cacheDir, 'transformer-net'), { recursive: true });
    const second = await loadModelWeights('candy', { ...opts, mirrorDir: tempDir('empty-mirror') });
    expect(converted).toEqual(['candy']);
    expect(second.get('in5.bias')!.shape).toEqual([32]);
    expect(Array.from(second.get('in5.bias')!.data)).toEqual(Array.from(direct.get('in5.bias')!.data));
  });

  it('rebuilds a converted file that is not safetensors any more from the sources', async () => {
    const cacheDir = tempDir('cache');
    const converted: string[] = [];
    const repaired: string[] = [];
    const opts = {
      cacheDir,
      mirrorDir: SHARED_WEIGHTS_DIR,
      onConverted: (name: string) => converted.push(name),
      onRepaired: (name: string) => repaired.push(name),
    };
    await loadModelWeights('matta', opts);
    writeFileSync(convertedWeightsPath('matta', cacheDir), 'garbage');
    const tensors = await loadModelWeights('matta', opts);
    expect(converted).toEqual(['matta', 'matta']);
    expect(repaired).toEqual(['matta']);
    expect(tensors.get('deconv1.weight')!.shape).toEqual([3, 3, 64, 128]);
  });

  it('errors on unknown models and tflite loads, returns tflite paths, lists what is installed', async () => {
    const cacheDir = tempDir('cache');
    await expect(loadModelWeights('picasso', { cacheDir })).rejects.toThrow(/unknown model "picasso"; known models: vgg19, candy, mosaic/);
    await expect(loadModelWeights('magenta-predict', { cacheDir })).rejects.toThrow(/TensorFlow Lite model: .*ensureModelFiles\("magenta-predict"\)/);
    const files = await ensureModelFiles('magenta-predict', { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR });
    expect(files.paths).toEqual([join(cacheDir, 'magenta', 'style_predict_int8_256.tflite')]);
    await loadModelWeights('mosaic', { cacheDir, mirrorDir: SHARED_WEIGHTS_DIR });
    expect(await listInstalledModels({ cacheDir })).toEqual([
      { name: 'mosaic', kind: 'transformer-net', format: 'ncnn-bin', filesComplete: true, safetensorsPath: join(cacheDir, 'mosaic.safetensors'), converted: 'ok' },
      { name: 'magenta-predict', kind: 'magenta', format: 'tflite', filesComplete: true, safetensorsPath: null, converted: null },
    ]);
  });

  it('takes the default cache folder from PASTICHE_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache, never the package', () => {
    expect(defaultCacheDir({ PASTICHE_CACHE_DIR: '/somewhere/cache', XDG_CACHE_HOME: '/xdg' })).toBe('/somewhere/cache');
    expect(defaultCacheDir({ PASTICHE_CACHE_DIR: '', XDG_CACHE_HOME: '/xdg' })).toBe(join('/xdg', 'pastiche'));
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative' })).toBe(join(homedir(), '.cache', 'pastiche'));
    expect(defaultCacheDir({})).toBe(join(homedir(), '.cache', 'pastiche'));
    expect(defaultCacheDir({})).not.toContain(REPO_ROOT);
  });
});
