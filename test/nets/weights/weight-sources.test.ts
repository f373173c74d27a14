/** The WeightSources methods load through: the store on disk (Node) and plain HTTP (the browser). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WeightsNotFoundError, type Progress } from '../../../src/nets/methods/contract.ts';
import { fetchWeightSource } from '../../../src/nets/weights/fetch-weight-source.ts';
import { serializeSafetensors } from '../../../src/nets/weights/formats/safetensors.ts';
import { hostTensor } from '../../../src/nets/weights/host-tensor.ts';
import { nodeWeightSource } from '../../../src/nets/weights/node/weight-source.ts';
import { testStoreOptions } from '../../helpers/shared-data.ts';

const tensors = new Map([['w', hostTensor([2, 2], new Float32Array([1, -2, 3.5, 4]))]]);
const file = serializeSafetensors(tensors);

describe('fetchWeightSource', () => {
  it('reads <base><name>.safetensors and raw files by their path, reporting progress; a 404 is WeightsNotFoundError', async () => {
    const asked: string[] = [];
    const source = fetchWeightSource({
      baseUrl: 'https://example.test/weights/',
      fetch: async (url) => {
        asked.push(url);
        if (url.endsWith('/mosaic.safetensors')) return new Response(file.slice(), { headers: { 'Content-Length': String(file.length) } });
        if (url.endsWith('/magenta/style_predict_int8_256.tflite')) return new Response(new Uint8Array([7, 8, 9]));
        return new Response('no', { status: 404 });
      },
    });
    const progress: Progress[] = [];
    const got = await source.tensors('mosaic', (p) => progress.push(p));
    expect(Array.from(got.get('w')!.data)).toEqual([1, -2, 3.5, 4]);
    expect(progress.at(-1)?.fraction).toBe(1);
    expect(Array.from(await source.bytes!('magenta-predict'))).toEqual([7, 8, 9]);
    expect(asked).toEqual(['https://example.test/weights/mosaic.safetensors', 'https://example.test/weights/magenta/style_predict_int8_256.tflite']);
    await expect(source.tensors('adain-decoder')).rejects.toBeInstanceOf(WeightsNotFoundError);
  });
});

describe('nodeWeightSource', () => {
  it('gives manifest models from the store, trained files from the cache, and user files; a missing one is named', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'pastiche-weight-source-'));
    const source = nodeWeightSource({ ...testStoreOptions(), cacheDir });
    const mosaic = await source.tensors('mosaic');
    expect(mosaic.size).toBeGreaterThan(10);
    await expect(source.tensors('adain-decoder')).rejects.toThrow(WeightsNotFoundError);
    writeFileSync(join(cacheDir, 'adain-decoder.safetensors'), file);
    expect(Array.from((await source.tensors('adain-decoder')).get('w')!.data)).toEqual([1, -2, 3.5, 4]);
    await expect(source.file!(join(cacheDir, 'nope.pth'))).rejects.toThrow(`file not found: ${join(cacheDir, 'nope.pth')}`);
    expect((await source.bytes!('magenta-predict')).length).toBeGreaterThan(1000);
  });
});
