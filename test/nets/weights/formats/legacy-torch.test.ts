import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { distilledVggFromCheckpoints } from '../../../../src/nets/weights/formats/distilled-vgg-checkpoints.ts';
import { looksLikeLegacyTorch, readLegacyTorch } from '../../../../src/nets/weights/formats/legacy-torch.ts';
import { readPth } from '../../../../src/nets/weights/formats/pth.ts';
import { sharedWeightsPath } from '../../../helpers/shared-data.ts';

interface KeyInfo {
  shape: number[];
  dtype: string;
  used: boolean;
}
/** The mirror's key listing, made by PyTorch's own torch.load of the same files. */
const listing = JSON.parse(readFileSync(sharedWeightsPath('collaborative-distillation', 'state-dicts.json'), 'utf8')) as {
  files: Record<string, { bytes: number; tensors: Record<string, KeyInfo> }>;
};
const FILES = Object.keys(listing.files);
const fileBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(sharedWeightsPath('collaborative-distillation', ...path.split('/'))));
const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

describe('legacy torch.save reader', () => {
  it('reads all ten real checkpoints with the keys and shapes torch.load gives', () => {
    expect(FILES).toHaveLength(10);
    for (const path of FILES) {
      const bytes = fileBytes(path);
      expect(looksLikeLegacyTorch(bytes), path).toBe(true);
      const tensors = readLegacyTorch(bytes, path);
      const expected = listing.files[path]!.tensors;
      expect([...tensors.keys()], path).toEqual(Object.keys(expected));
      for (const [key, info] of Object.entries(expected)) {
        expect(tensors.get(key)!.shape, `${path} ${key}`).toEqual(info.shape);
        expect(tensors.get(key)!.data.every(Number.isFinite), `${path} ${key}`).toBe(true);
      }
    }
  });

  it('decodes the values: conv0 is the learned 255 × RGB→BGR swap minus the Caffe mean', () => {
    const tensors = readLegacyTorch(fileBytes(FILES[0]!), FILES[0]);
    const bias = Array.from(tensors.get('conv0.bias')!.data);
    expect(bias[0]).toBeCloseTo(-104, 0);
    expect(bias[1]).toBeCloseTo(-116.8, 0);
    expect(bias[2]).toBeCloseTo(-123.6, 0);
    // weight [out, in, 1, 1]: out channel 0 (B) reads input channel 2 (R) with about 255.
    const w = tensors.get('conv0.weight')!.data;
    expect(w[0 * 3 + 2]).toBeGreaterThan(200);
    expect(Math.abs(w[0 * 3 + 0]!)).toBeLessThan(50);
  });

  it('is what readPth gives for a legacy file', async () => {
    const bytes = fileBytes(FILES[1]!);
    const viaPth = await readPth(bytes, 'x.pth');
    const direct = readLegacyTorch(bytes, 'x.pth');
    for (const [key, t] of direct) expect(Array.from(viaPth.get(key)!.data), key).toEqual(Array.from(t.data));
  });

  it('refuses a global outside the allow-list, running nothing', () => {
    const text = latin1(fileBytes(FILES[0]!));
    expect(text).toContain('collections\nOrderedDict\n');
    const evil = Uint8Array.from(Buffer.from(text.replace('collections\nOrderedDict\n', 'os\nsystem\n'), 'latin1'));
    expect(() => readLegacyTorch(evil, 'evil.pth')).toThrow(/evil\.pth: refusing to load: the checkpoint refers to 'os\.system'/);
  });

  it('names truncation, trailing bytes and a wrong magic number', () => {
    const bytes = fileBytes(FILES[0]!);
    expect(() => readLegacyTorch(bytes.subarray(0, bytes.length - 10), 'cut.pth')).toThrow(/cut\.pth: the file ends inside the data of storage '\d+'.*truncated/);
    expect(() => readLegacyTorch(Uint8Array.from([...bytes, 0]), 'long.pth')).toThrow(/long\.pth: 1 unexpected bytes after the last storage/);
    const wrongMagic = bytes.slice();
    wrongMagic[5] ^= 0xff;
    expect(() => readLegacyTorch(wrongMagic, 'm.pth')).toThrow(/m\.pth: not a torch\.save file/);
    expect(() => readLegacyTorch(bytes.subarray(0, 30), 'head.pth')).toThrow(/head\.pth/);
  });

  it('renames the ten files into one map in HWIO, without the training-only aux convs', async () => {
    const checkpoints = FILES.map((path) => ({ path, bytes: fileBytes(path) }));
    const weights = await distilledVggFromCheckpoints(checkpoints);
    expect(weights.get('enc1.conv11.weight')!.shape).toEqual([3, 3, 3, 24]);
    expect(weights.get('dec5.conv51.weight')!.shape).toEqual([3, 3, 128, 128]);
    expect([...weights.keys()].some((k) => k.includes('aux'))).toBe(false);
    const used = FILES.flatMap((f) => Object.values(listing.files[f]!.tensors).filter((t) => t.used));
    expect(weights.size).toBe(used.length);
    await expect(distilledVggFromCheckpoints(checkpoints.slice(1))).rejects.toThrow(/no checkpoint for enc1/);
  });
});
