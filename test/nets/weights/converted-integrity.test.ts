import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseNcnnTransformerNet } from '../../../src/nets/weights/formats/ncnn-transformer-net.ts';
import {
  checkConvertedWeights,
  convertedWeightsPath,
  listInstalledModels,
  loadModelWeights,
  prepareModelWeights,
  type FetchLike,
  type StoreOptions,
} from '../../../src/nets/weights/node/store.ts';
import { sharedWeightsPath, testStoreOptions } from '../../helpers/shared-data.ts';

const temporaryDirs: string[] = [];
function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pastiche-${label}-`));
  temporaryDirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temporaryDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Flips one bit deep in the data section (a weight value), keeping the size and a valid header. */
function flipDataByte(path: string): void {
  const bytes = readFileSync(path);
  const at = bytes.length - 1000;
  bytes[at] = bytes[at]! ^ 0x10;
  writeFileSync(path, bytes);
}

const noDownload: FetchLike = async (url) => {
  throw new Error(`unexpected download of ${url}`);
};

/** A cache holding candy converted from the mirror, and options that record repairs. */
async function convertedCandy(): Promise<{ cacheDir: string; path: string; opts: StoreOptions; repairs: string[] }> {
  const cacheDir = tempDir('cache');
  const repairs: string[] = [];
  const opts: StoreOptions = { ...testStoreOptions(), cacheDir, fetch: noDownload, onRepaired: (_name, _path, problem) => repairs.push(problem) };
  expect((await prepareModelWeights('candy', opts)).outcome).toBe('converted');
  return { cacheDir, path: convertedWeightsPath('candy', cacheDir), opts, repairs };
}

const candyFromSource = (): ReturnType<typeof parseNcnnTransformerNet> =>
  parseNcnnTransformerNet(readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')));

function expectSameTensors(actual: Map<string, { data: Float32Array }>, expected: Map<string, { data: Float32Array }>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  const bytesOf = (data: Float32Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const differing = [...expected].filter(([name, tensor]) => !bytesOf(actual.get(name)!.data).equals(bytesOf(tensor.data)));
  expect(differing.map(([name]) => name)).toEqual([]);
}

describe('converted weights integrity', () => {
  it('records the sha256 of the converted file beside it, in sha256sum format, and reuses an intact file', async () => {
    const { path, opts, repairs } = await convertedCandy();
    expect(readFileSync(`${path}.sha256`, 'utf8')).toBe(`${sha256(readFileSync(path))}  candy.safetensors\n`);
    const again = await prepareModelWeights('candy', opts);
    expect(again.outcome).toBe('ok');
    expect(repairs).toEqual([]);
    expectSameTensors(again.tensors, candyFromSource());
  });

  it('rebuilds a converted file with a flipped byte from the cached source, with a notice', async () => {
    const { path, opts, repairs } = await convertedCandy();
    const intact = readFileSync(path);
    flipDataByte(path);
    const loaded = await prepareModelWeights('candy', opts);
    expect(loaded.outcome).toBe('repaired');
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatch(/its \d+ bytes have sha256 [0-9a-f]{64}, not the recorded [0-9a-f]{64}/);
    expectSameTensors(loaded.tensors, candyFromSource());
    expect(readFileSync(path).equals(intact)).toBe(true);
    expect((await prepareModelWeights('candy', opts)).outcome).toBe('ok');
  });

  it('rebuilds a truncated converted file from the mirror when the cached source is gone', async () => {
    const { cacheDir, path, opts, repairs } = await convertedCandy();
    rmSync(join(cacheDir, 'transformer-net'), { recursive: true });
    truncateSync(path, 1_000_000);
    const loaded = await prepareModelWeights('candy', opts);
    expect(loaded.outcome).toBe('repaired');
    expect(repairs[0]).toMatch(/its 1000000 bytes have sha256/);
    expectSameTensors(loaded.tensors, candyFromSource());
  });

  it('treats a converted file without its checksum record as damaged', async () => {
    const { path, opts, repairs } = await convertedCandy();
    rmSync(`${path}.sha256`);
    expect(await checkConvertedWeights('candy', opts)).toBe('damaged');
    expect((await prepareModelWeights('candy', opts)).outcome).toBe('repaired');
    expect(repairs[0]).toBe(`its checksum record ${path}.sha256 is missing`);
    expect(existsSync(`${path}.sha256`)).toBe(true);
  });

  it('refuses a damaged converted file when no verified source is at hand, naming the file and the fix, without downloading', async () => {
    const { cacheDir, path, opts } = await convertedCandy();
    rmSync(join(cacheDir, 'transformer-net'), { recursive: true });
    flipDataByte(path);
    const damaged = readFileSync(path);
    for (const mirrorDir of ['', tempDir('empty-mirror')]) {
      const attempt = loadModelWeights('candy', { ...opts, mirrorDir });
      await expect(attempt).rejects.toThrow(`candy: the converted weights ${path} are damaged (its`);
      await expect(attempt).rejects.toThrow(`run \`npx pastiche weights candy\` to fetch and rebuild them, or delete ${path}`);
    }
    await expect(loadModelWeights('candy', { ...opts, mirrorDir: '' })).rejects.toThrow(/transformer-net\/candy\.bin is missing in the cache .* and no weights mirror is set/);
    await expect(loadModelWeights('candy', { ...opts, mirrorDir: tempDir('empty-mirror') })).rejects.toThrow(
      /transformer-net\/candy\.bin is missing from the weights mirror .*empty-mirror/,
    );
    expect(readFileSync(path).equals(damaged)).toBe(true); // refused, not deleted or overwritten
  });

  it('prints a one-line notice on stderr when nobody listens for repairs', async () => {
    const { path, opts } = await convertedCandy();
    flipDataByte(path);
    let printed = '';
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    try {
      await loadModelWeights('candy', { ...opts, onRepaired: undefined });
    } finally {
      err.mockRestore();
    }
    expect(printed).toMatch(new RegExp(`^pastiche: candy: rebuilt the damaged converted weights ${path} from the verified sources \\(.*\\)\\n$`));
  });

  it('reports the state of each converted file without rebuilding it', async () => {
    const { cacheDir, path, opts } = await convertedCandy();
    expect(await checkConvertedWeights('candy', opts)).toBe('ok');
    expect(await checkConvertedWeights('mosaic', opts)).toBe(null);
    flipDataByte(path);
    const damaged = readFileSync(path);
    expect(await checkConvertedWeights('candy', opts)).toBe('damaged');
    const listed = await listInstalledModels({ cacheDir });
    expect(listed.find((m) => m.name === 'candy')!.converted).toBe('damaged');
    expect(readFileSync(path).equals(damaged)).toBe(true);
  });
});
