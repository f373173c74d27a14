import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findModel, loadWeightsManifest, parseWeightsManifest, type WeightsManifest } from '../../../src/nets/weights/manifest.ts';
import { SHARED_WEIGHTS_DIR, sharedWeightsPath } from '../../helpers/shared-data.ts';

const EXPECTED_MODELS: [string, string, string][] = [
  ['vgg19', 'vgg19', 'vgg19-uint8'],
  ['candy', 'transformer-net', 'ncnn-bin'],
  ['mosaic', 'transformer-net', 'ncnn-bin'],
  ['pointilism', 'transformer-net', 'ncnn-bin'],
  ['rain_princess', 'transformer-net', 'ncnn-bin'],
  ['udnie', 'transformer-net', 'ncnn-bin'],
  ['mathura', 'lengstrom', 'ml5-checkpoint'],
  ['matilde_perez', 'lengstrom', 'ml5-checkpoint'],
  ['matta', 'lengstrom', 'ml5-checkpoint'],
  ['magenta-predict', 'magenta', 'tflite'],
  ['magenta-transfer', 'magenta', 'tflite'],
  ['distilled-16x', 'distilled-vgg', 'legacy-torch'],
];

/** Files of the mirror the models need: everything but licence copies, placeholders, the optional ncnn graph and the mirror's own key listing. */
function mirrorWeightFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!['LICENSE.source-repo', '.keep', 'transformer-net.ncnn.param.bin', 'state-dicts.json'].includes(name)) files.push(relative(SHARED_WEIGHTS_DIR, path).split('\\').join('/'));
    }
  };
  walk(sharedWeightsPath());
  return files.sort();
}

describe('weights manifest', () => {
  it('lists every known model with its kind and format', async () => {
    const manifest = await loadWeightsManifest();
    expect(manifest.models.map((m) => [m.name, m.kind, m.format])).toEqual(EXPECTED_MODELS);
    for (const model of manifest.models) expect(model.license.length, model.name).toBeGreaterThan(0);
  });

  it('pins size and sha256 of exactly the files in ../shared/weights', async () => {
    const manifest = await loadWeightsManifest();
    const listed = manifest.models.flatMap((m) => m.files);
    expect(listed.map((f) => f.path).sort()).toEqual(mirrorWeightFiles());
    for (const file of listed) {
      const bytes = readFileSync(sharedWeightsPath(...file.path.split('/')));
      expect(bytes.length, file.path).toBe(file.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), file.path).toBe(file.sha256);
    }
  });

  it('points every file at raw.githubusercontent.com at the model source commit', async () => {
    const manifest = await loadWeightsManifest();
    for (const model of manifest.models) {
      expect(model.source.commit, model.name).toMatch(/^[0-9a-f]{40}$/);
      for (const file of model.files) {
        const prefix = `https://raw.githubusercontent.com/${model.source.repository}/${model.source.commit}/${model.source.path}/`;
        expect(file.url.startsWith(prefix), file.url).toBe(true);
      }
    }
    expect(findModel(manifest, 'magenta-transfer').files[0]!.url).toMatch(/\/example\/assets\/models\/transfer\.tflite$/);
  });

  it('rejects invalid manifests with the offending model and field named', async () => {
    const valid: WeightsManifest = await loadWeightsManifest();
    const mutate = (change: (m: { version: number; models: Record<string, unknown>[] }) => void): unknown => {
      const copy = structuredClone(valid) as unknown as { version: number; models: Record<string, unknown>[] };
      change(copy);
      return copy;
    };
    const file0 = (m: { models: Record<string, unknown>[] }): Record<string, unknown> =>
      (m.models[1]!.files as Record<string, unknown>[])[0]!;
    const cases: [unknown, RegExp][] = [
      [mutate((m) => { m.version = 2; }), /version: is 2/],
      [mutate((m) => { m.models.push(structuredClone(m.models[0]!)); }), /model "vgg19": listed twice/],
      [mutate((m) => { m.models[2]!.kind = 'gan'; }), /model "mosaic": kind "gan" is not one of/],
      [mutate((m) => { file0(m).sha256 = 'abc'; }), /model "candy" files\[0\]: "sha256" is not 64 lowercase hex digits/],
      [mutate((m) => { file0(m).path = '../candy.bin'; }), /path "\.\.\/candy\.bin" must be relative/],
      [mutate((m) => { file0(m).bytes = -1; }), /"bytes" is not a non-negative integer/],
      [mutate((m) => { file0(m).url = 'http://example.com/x'; }), /is not https/],
    ];
    for (const [json, pattern] of cases) expect(() => parseWeightsManifest(json, 'test manifest')).toThrow(pattern);
  });

  it('names the known models when asked for an unknown one', async () => {
    const manifest = await loadWeightsManifest();
    expect(() => findModel(manifest, 'starry')).toThrow(/unknown model "starry"; known models: vgg19, candy, .*magenta-transfer/);
  });
});
