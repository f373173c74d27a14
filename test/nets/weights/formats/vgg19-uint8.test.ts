import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import UPNG from 'upng-js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReadRelativeFile } from '../../../../src/nets/weights/file-source.ts';
import type { HostTensorMap } from '../../../../src/nets/weights/host-tensor.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { importVgg19Uint8, importVgg19Uint8Directory, VGG19_CAFFE_MEAN_RGB } from '../../../../src/nets/weights/formats/vgg19-uint8.ts';
import { sharedReferencePath, sharedWeightsPath } from '../../../helpers/shared-data.ts';

interface RawEntry {
  filename: string;
  shape: number[];
  quantization: { scale: number; min_value: number };
}

const CHANNELS: [string, number, number][] = [
  ['conv1_1', 3, 64], ['conv1_2', 64, 64], ['conv2_1', 64, 128], ['conv2_2', 128, 128],
  ['conv3_1', 128, 256], ['conv3_2', 256, 256], ['conv3_3', 256, 256], ['conv3_4', 256, 256],
  ['conv4_1', 256, 512], ['conv4_2', 512, 512], ['conv4_3', 512, 512], ['conv4_4', 512, 512],
  ['conv5_1', 512, 512], ['conv5_2', 512, 512], ['conv5_3', 512, 512], ['conv5_4', 512, 512],
];

/** Serves the real files from memory, with optional replacements, to exercise the error paths. */
function memoryReader(directory: string, replace: Record<string, Uint8Array> = {}): ReadRelativeFile {
  return async (relativePath) => replace[relativePath] ?? new Uint8Array(readFileSync(join(directory, relativePath)));
}

describe('VGG19 uint8 importer', () => {
  const directory = sharedWeightsPath('vgg19-uint8');
  const manifest = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8')) as { weights: Record<string, RawEntry> };
  let tensors: HostTensorMap;

  beforeAll(async () => {
    tensors = await importVgg19Uint8Directory(directory);
  });

  it('produces weight and bias for all 16 convs in HWIO shapes, in layer order', () => {
    const expectedNames = CHANNELS.flatMap(([name]) => [`${name}.weight`, `${name}.bias`]);
    expect([...tensors.keys()]).toEqual(expectedNames);
    for (const [name, cin, cout] of CHANNELS) {
      expect(tensors.get(`${name}.weight`)!.shape, name).toEqual([3, 3, cin, cout]);
      expect(tensors.get(`${name}.bias`)!.shape, name).toEqual([cout]);
    }
  });

  it('dequantizes q*scale+min and swaps the stored [W,H,in,out] to [H,W,in,out]', () => {
    // Expected values computed here straight from the raw bytes and the manifest.
    const check = (layer: string, samples: [number, number, number, number][]): void => {
      const entry = manifest.weights[`${layer}/kernel`]!;
      const raw = readFileSync(join(directory, entry.filename));
      const [, , cin, cout] = entry.shape as [number, number, number, number];
      const weight = tensors.get(`${layer}.weight`)!;
      for (const [h, w, i, o] of samples) {
        const storedIndex = ((w * 3 + h) * cin + i) * cout + o; // file order is [W, H, in, out]
        const expected = Math.fround(raw[storedIndex]! * entry.quantization.scale + entry.quantization.min_value);
        expect(weight.data[((h * 3 + w) * cin + i) * cout + o], `${layer}[${h},${w},${i},${o}]`).toBe(expected);
      }
    };
    check('conv1_1', [[0, 1, 0, 0], [1, 0, 0, 0], [2, 0, 2, 63], [0, 2, 1, 17], [1, 2, 2, 5]]);
    check('conv5_4', [[0, 1, 511, 3], [2, 1, 100, 200], [1, 2, 7, 511]]);

    const bias = manifest.weights['conv3_2/bias']!;
    const rawBias = readFileSync(join(directory, bias.filename));
    expect(tensors.get('conv3_2.bias')!.data[77]).toBe(Math.fround(rawBias[77]! * bias.quantization.scale + bias.quantization.min_value));
  });

  it('the axis swap matters: conv1_1 is not symmetric in H and W', () => {
    const weight = tensors.get('conv1_1.weight')!.data;
    const at = (h: number, w: number): number => weight[(h * 3 + w) * 3 * 64]!;
    expect(at(0, 1)).not.toBe(at(1, 0));
  });

  it('conv1_1 fed RGB minus the Caffe mean reproduces the independent reference relu1_1', () => {
    const png = UPNG.decode(readFileSync(sharedReferencePath('vgg19.input.png')));
    const rgba = new Uint8Array(UPNG.toRGBA8(png)[0]!);
    const { width, height } = png;
    const reference = parseSafetensors(readFileSync(sharedReferencePath('vgg19.safetensors'))).tensors.get('relu1_1')!;
    expect(reference.shape).toEqual([height, width, 64]);
    const weight = tensors.get('conv1_1.weight')!.data;
    const bias = tensors.get('conv1_1.bias')!.data;
    // relu(bias + sum over the 3x3 window, zero padded, of weight[dy][dx][c][o] * (pixel[c] - mean[c]))
    const relu11 = (y: number, x: number, o: number): number => {
      let sum = bias[o]!;
      for (let dy = 0; dy < 3; dy++) {
        for (let dx = 0; dx < 3; dx++) {
          const py = y + dy - 1;
          const px = x + dx - 1;
          if (py < 0 || py >= height || px < 0 || px >= width) continue;
          for (let c = 0; c < 3; c++) {
            sum += weight[((dy * 3 + dx) * 3 + c) * 64 + o]! * (rgba[(py * width + px) * 4 + c]! - VGG19_CAFFE_MEAN_RGB[c]!);
          }
        }
      }
      return Math.max(0, sum);
    };
    let maxError = 0;
    let maxValue = 0;
    for (const [y, x] of [[0, 0], [10, 20], [47, 63], [30, 5], [24, 40]] as [number, number][]) {
      for (let o = 0; o < 64; o++) {
        const expected = reference.data[(y * width + x) * 64 + o]!;
        maxError = Math.max(maxError, Math.abs(relu11(y, x, o) - expected));
        maxValue = Math.max(maxValue, Math.abs(expected));
      }
    }
    expect(maxValue).toBeGreaterThan(10);
    expect(maxError / maxValue).toBeLessThan(1e-4);
  });

  it('rejects a file whose md5 does not match, naming it', async () => {
    const damaged = new Uint8Array(readFileSync(join(directory, 'conv2_1_bias')));
    damaged[5] = damaged[5]! ^ 0xff;
    await expect(importVgg19Uint8(memoryReader(directory, { conv2_1_bias: damaged }), 'vgg-test')).rejects.toThrow(
      /vgg-test\/conv2_1_bias: md5 [0-9a-f]{32} does not match the manifest's [0-9a-f]{32}.*download it again/,
    );
  });

  it('rejects a manifest that lacks a layer or has a wrong shape', async () => {
    const withoutLayer = structuredClone(manifest);
    delete withoutLayer.weights['conv4_3/bias'];
    const missingReader = memoryReader(directory, { 'manifest.json': new TextEncoder().encode(JSON.stringify(withoutLayer)) });
    await expect(importVgg19Uint8(missingReader, 'vgg-test')).rejects.toThrow(/"conv4_3\/bias" is missing/);

    const wrongShape = structuredClone(manifest);
    wrongShape.weights['conv1_2/kernel']!.shape = [3, 3, 32, 64];
    const shapeReader = memoryReader(directory, { 'manifest.json': new TextEncoder().encode(JSON.stringify(wrongShape)) });
    await expect(importVgg19Uint8(shapeReader, 'vgg-test')).rejects.toThrow(/"conv1_2\/kernel" has shape \[3,3,32,64\], expected \[3, 3, 64, 64\]/);
  });
});
