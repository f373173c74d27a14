/** The Collaborative-Distillation goldens of ../shared/reference: NCHW tensors read as NHWC, images as RGB 0..1. */
import { readFileSync } from 'node:fs';
import { readImageFile } from '../../src/io/image-file.ts';
import type { RgbImage } from '../../src/io/image.ts';
import { parseSafetensors } from '../../src/nets/weights/formats/safetensors.ts';
import type { HostTensor } from '../../src/nets/weights/host-tensor.ts';
import { sharedReferencePath } from './shared-data.ts';

/** A golden case's tensors, each [1, C, H, W] turned into [1, H, W, C]. */
export function readGoldenNhwc(name: string): Map<string, HostTensor> {
  const { tensors } = parseSafetensors(new Uint8Array(readFileSync(sharedReferencePath(`${name}.safetensors`))), name);
  const out = new Map<string, HostTensor>();
  for (const [key, t] of tensors) {
    const [n, c, h, w] = t.shape as [number, number, number, number];
    const data = new Float32Array(t.data.length);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data[(y * w + x) * c + k] = t.data[(k * h + y) * w + x]!;
    out.set(key, { shape: [n, h, w, c], data });
  }
  return out;
}

export async function readGoldenImage(file: string): Promise<RgbImage> {
  return readImageFile(sharedReferencePath(file));
}

/** Mean and max absolute difference in grey levels between two RGB 0..255 images of one size, after rounding. */
export function greyLevelError(actual: RgbImage, expected: RgbImage): { mean: number; max: number } {
  if (actual.width !== expected.width || actual.height !== expected.height) {
    throw new Error(`image sizes differ: ${actual.width}×${actual.height} vs ${expected.width}×${expected.height}`);
  }
  let sum = 0;
  let max = 0;
  const q = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
  for (let i = 0; i < actual.data.length; i++) {
    const d = Math.abs(q(actual.data[i]!) - q(expected.data[i]!));
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / actual.data.length, max };
}
