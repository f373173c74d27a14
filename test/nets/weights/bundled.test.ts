import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readImageFile } from '../../../src/io/image-file.ts';
import { stylizeFeedForward } from '../../../src/nets/methods/feed-forward/feed-forward.ts';
import { loadFeedForwardModel } from '../../../src/nets/methods/feed-forward/node/load-model.ts';
import { loadTfliteGraph } from '../../../src/nets/methods/magenta/node/store.ts';
import { parseSafetensors } from '../../../src/nets/weights/formats/safetensors.ts';
import { loadWeightsManifest, parseWeightsManifest } from '../../../src/nets/weights/manifest.ts';
import { defaultBundledDir, listBundledModels } from '../../../src/nets/weights/node/bundled.ts';
import { prepareModelWeights, type FetchLike } from '../../../src/nets/weights/node/store.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { relativeL2 } from '../../helpers/oracle.ts';
import { REPO_ROOT, sharedReferencePath, testStoreOptions } from '../../helpers/shared-data.ts';

const runtime = useRuntime();
const BUNDLED_DIR = join(REPO_ROOT, 'weights', 'bundled');
const temporaryDirs: string[] = [];
const noNetwork: FetchLike = (url) => Promise.reject(new Error(`network used for ${url}`));

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pastiche-${label}-`));
  temporaryDirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Every file under `dir`, relative to it. */
function allFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

describe('bundled default weights (weights/bundled/)', () => {
  it('are the files the manifest pins, with licence notices, within the size budget', async () => {
    const manifest = await loadWeightsManifest();
    expect(defaultBundledDir()).toBe(BUNDLED_DIR + '/');
    const bundled = manifest.models.filter((m) => m.bundled !== undefined);
    expect(bundled.map((m) => m.name)).toEqual(expect.arrayContaining(['mathura', 'magenta-predict', 'magenta-transfer']));
    let total = 0;
    for (const model of bundled) {
      const bytes = readFileSync(join(BUNDLED_DIR, model.bundled!.path));
      expect(bytes.length, model.name).toBe(model.bundled!.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), model.name).toBe(model.bundled!.sha256);
      total += bytes.length;
    }
    // The whole bundle stays under 15 MB; mathura and the Magenta pair take 6.5 MB of it.
    expect(total).toBeLessThan(15e6);
    const defaults = bundled.filter((m) => ['mathura', 'magenta-predict', 'magenta-transfer'].includes(m.name));
    expect(defaults.reduce((s, m) => s + m.bundled!.bytes, 0)).toBeLessThan(7e6);
    // Every bundled file has its licence beside it.
    expect(readFileSync(join(BUNDLED_DIR, 'mathura.LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(readFileSync(join(BUNDLED_DIR, 'magenta', 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    expect((await listBundledModels(manifest)).filter((m) => m.state !== 'ok')).toEqual([]);
  });

  it('load mathura with no cache, no mirror and no network, writing nothing', async () => {
    const cacheDir = tempDir('cache');
    const loaded = await prepareModelWeights('mathura', { cacheDir, mirrorDir: '', fetch: noNetwork });
    expect(loaded.outcome).toBe('bundled');
    expect(loaded.path).toBe(join(BUNDLED_DIR, 'mathura.safetensors'));
    expect(allFiles(cacheDir)).toEqual([]);
  });

  it('load the Magenta graphs with no mirror and no network (the conversion goes to the cache)', async () => {
    const cacheDir = tempDir('cache');
    for (const name of ['magenta-predict', 'magenta-transfer']) {
      const graph = await loadTfliteGraph(name, { cacheDir, mirrorDir: '', fetch: noNetwork });
      expect(graph.converted).toBe(true);
      expect(graph.weights.size).toBeGreaterThan(10);
    }
    expect(allFiles(cacheDir).sort()).toEqual(['magenta-predict.graph.json', 'magenta-predict.safetensors', 'magenta-transfer.graph.json', 'magenta-transfer.safetensors']);
  });

  it('mathura in f16 stays within 1 grey level of the f32 reference output', async () => {
    const rt = runtime();
    const input = await readImageFile(sharedReferencePath('lengstrom-mathura.input.png'));
    const golden = parseSafetensors(new Uint8Array(await readFile(sharedReferencePath('lengstrom-mathura.safetensors'))), 'golden').tensors.get('output')!.data;
    const errors = async (store: Parameters<typeof loadFeedForwardModel>[2]) => {
      const net = await loadFeedForwardModel(rt, 'mathura', store);
      const { data } = await stylizeFeedForward(net, input);
      net.dispose();
      let maxAbs = 0;
      let sumAbs = 0;
      for (let i = 0; i < data.length; i++) {
        const d = Math.abs(data[i]! - golden[i]!);
        maxAbs = Math.max(maxAbs, d);
        sumAbs += d;
      }
      return { relL2: relativeL2(data, golden), maxAbs, meanAbs: sumAbs / data.length };
    };
    const f16 = await errors({ cacheDir: tempDir('cache'), mirrorDir: '', fetch: noNetwork });
    const f32 = await errors({ ...testStoreOptions(), cacheDir: tempDir('cache') });
    process.stdout.write(`mathura vs reference: f32 ${JSON.stringify(f32)}, f16 ${JSON.stringify(f16)}\n`);
    expect(f32.relL2).toBeLessThan(1e-3);
    // Measured: f16 relative L2 2.3e-4, max 0.34 / mean 0.03 grey levels (f32: 7e-7).
    expect(f16.relL2).toBeLessThan(1e-3);
    expect(f16.maxAbs).toBeLessThan(1);
    expect(f16.meanAbs).toBeLessThan(0.1);
  });

  it('skip a damaged bundled file with a notice and fall back to the mirror', async () => {
    const bundledDir = tempDir('bundled');
    const damaged = join(bundledDir, 'mathura.safetensors');
    mkdirSync(dirname(damaged), { recursive: true });
    copyFileSync(join(BUNDLED_DIR, 'mathura.safetensors'), damaged);
    const bytes = readFileSync(damaged);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(damaged, bytes);
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let outcome: string;
    try {
      outcome = (await prepareModelWeights('mathura', { ...testStoreOptions(), bundledDir, cacheDir: tempDir('cache') })).outcome;
    } finally {
      process.stderr.write = original;
    }
    expect(outcome).toBe('converted');
    expect(writes.join('')).toMatch(/bundled mathura weights .* do not match their sha256/);
  });

  it('refuses a manifest whose bundled entry is malformed', () => {
    const model = { name: 'm', kind: 'lengstrom', format: 'ml5-checkpoint', license: 'MIT', source: { repository: 'a/b', commit: 'c', path: 'p' } };
    const files = [{ path: 'm/x', url: 'https://x', bytes: 1, sha256: 'a'.repeat(64) }];
    const parse = (bundled: unknown) => () => parseWeightsManifest({ version: 1, models: [{ ...model, files, bundled }] }, 'test manifest');
    expect(parse({ path: '../m.safetensors', bytes: 1, sha256: 'a'.repeat(64) })).toThrow(/bundled: path "..\/m.safetensors" must be relative/);
    expect(parse({ path: 'm.safetensors', bytes: -1, sha256: 'a'.repeat(64) })).toThrow(/bundled: "bytes"/);
    expect(parse({ path: 'm.safetensors', bytes: 1, sha256: 'XYZ' })).toThrow(/bundled: "sha256"/);
    expect(parse({ path: 'm.safetensors', bytes: 1, sha256: 'a'.repeat(64) })().models[0]!.bundled).toEqual({ path: 'm.safetensors', bytes: 1, sha256: 'a'.repeat(64) });
  });
});
