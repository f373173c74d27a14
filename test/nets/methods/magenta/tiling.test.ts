/** Magenta's transfer net under a buffer limit: its footprint against real allocations, and tiling. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageFile } from '../../../../src/io/image-file.ts';
import type { RgbImage } from '../../../../src/io/image.ts';
import { resizeImage } from '../../../../src/io/resize.ts';
import { Magenta, MAGENTA_TRANSFER_FOOTPRINT } from '../../../../src/nets/methods/magenta/magenta.ts';
import { largestActivationBytes, planTiles } from '../../../../src/nets/image/tiling.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { largestBufferDuring, maxColumnJump } from '../../../helpers/tiling-probes.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { sharedReferencePath, sharedWeightsPath, testStoreOptions } from '../../../helpers/shared-data.ts';
import { loadPretrainedMagenta } from '../../../../src/nets/weights/node/pretrained.ts';

const getRuntime = useRuntime();
const MiB = 2 ** 20;

describe('Magenta transfer net within a buffer limit', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pastiche-magenta-tiling-'));
  let magenta: Magenta;
  let content: RgbImage;
  let embedding: Float32Array;

  beforeAll(async () => {
    magenta = await loadPretrainedMagenta(getRuntime(), { ...testStoreOptions(), cacheDir });
    content = await readImageFile(sharedReferencePath('magenta.content.png'));
    embedding = parseSafetensors(readFileSync(sharedReferencePath('magenta.safetensors'))).tensors.get('style_vector')!.data;
  });

  afterAll(() => {
    magenta?.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('the footprint bounds the real allocations: exact for the plain interpretation, above the fused one', async () => {
    const rt = getRuntime();
    const plain = Magenta.fromTflite(
      rt,
      readFileSync(sharedWeightsPath('magenta', 'style_predict_int8_256.tflite')),
      readFileSync(sharedWeightsPath('magenta', 'style_transfer_int8_384.tflite')),
      { fuse: false },
    );
    try {
      const small = resizeImage(content, 44, 36);
      const expected = largestActivationBytes(MAGENTA_TRANSFER_FOOTPRINT, 44, 36);
      // The 16-channel upsampled map, reflection-padded by 1 px: 46 × 38 × 16 × 4 bytes.
      expect(expected).toBe(46 * 38 * 16 * 4);
      expect((await largestBufferDuring(rt, () => plain.transfer(small, embedding))).largest).toBe(expected);
      const fused = (await largestBufferDuring(rt, () => magenta.transfer(small, embedding))).largest;
      expect(fused).toBeLessThanOrEqual(expected);
      expect(fused).toBe(44 * 36 * 16 * 4);
    } finally {
      plain.dispose();
    }
  });

  it('tiles a 96×64 content so every buffer fits, close to the whole-image result', async () => {
    const rt = getRuntime();
    const small = resizeImage(content, 96, 64);
    const limit = 0.3 * MiB;
    expect(planTiles(MAGENTA_TRANSFER_FOOTPRINT, 96, 64, limit)).toMatchObject({ tile: 64, overlap: 16 });
    const whole = await largestBufferDuring(rt, () => magenta.transfer(small, embedding));
    expect(whole.largest).toBeGreaterThan(limit);
    const tiled = await largestBufferDuring(rt, () => magenta.stylize(small, embedding, { bufferLimit: limit }));
    expect(tiled.largest).toBeLessThanOrEqual(limit);
    expect([tiled.result.width, tiled.result.height]).toEqual([96, 64]);
    // Conditional instance norm sees each tile's own statistics, so the result is close, not equal
    // (about 0.14 with 64 px tiles on a 96 px image; real tiles are over 1000 px) — and shows no seam.
    expect(relativeL2(tiled.result.data, whole.result.data)).toBeLessThan(0.2);
    expect(maxColumnJump(tiled.result)).toBeLessThan(maxColumnJump(whole.result) * 1.25);
  });
});
