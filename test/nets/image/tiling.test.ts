import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/io/image.ts';
import { readImageFile } from '../../../src/io/image-file.ts';
import { resizeImage } from '../../../src/io/resize.ts';
import { johnsonNetFootprint, stylizeFeedForward, transformerNetFootprint } from '../../../src/nets/methods/feed-forward/feed-forward.ts';
import { loadFeedForwardModel } from '../../../src/nets/methods/feed-forward/node/load-model.ts';
import { JohnsonNet } from '../../../src/nets/models/johnson-net.ts';
import { largestActivationBytes, planTiles } from '../../../src/nets/image/tiling.ts';
import { TransformerNet } from '../../../src/nets/models/transformer-net.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { largestBufferDuring, maxColumnJump } from '../../helpers/tiling-probes.ts';
import { relativeL2 } from '../../helpers/oracle.ts';
import { SHARED_IMAGES_DIR, testStoreOptions } from '../../helpers/shared-data.ts';

const runtime = useRuntime();
const MiB = 2 ** 20;
/** lavapipe's maxStorageBufferBindingSize. */
const LAVAPIPE_LIMIT = 128 * MiB;

function gradientImage(width: number, height: number): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x * y) % 97) * 2.5;
    }
  }
  return { width, height, data };
}

describe('tile planning from the nets\' real footprints', () => {
  it('TransformerNet at 1024×768 does not fit lavapipe untiled; the plan\'s tiles do', () => {
    const net = transformerNetFootprint();
    // The upsampled 64-channel map at full size: 1024 × 768 × 64 × 4 bytes = 192 MiB.
    expect(largestActivationBytes(net, 1024, 768)).toBe(192 * MiB);
    const plan = planTiles(net, 1024, 768, LAVAPIPE_LIMIT);
    expect(plan.tile).not.toBeNull();
    expect(plan.largestBytes).toBeLessThan(LAVAPIPE_LIMIT);
    expect(largestActivationBytes(net, plan.tile!, plan.tile!)).toBe(plan.largestBytes);
    // The largest tile that fits: one size step more would not.
    expect(largestActivationBytes(net, plan.tile! + 4, plan.tile! + 4)).toBeGreaterThan(LAVAPIPE_LIMIT * 0.9);
    expect(plan.overlap).toBe(64);
  });

  it('plans a phone photo (4032×3024) and leaves small images whole', () => {
    const plan = planTiles(transformerNetFootprint(), 4032, 3024, LAVAPIPE_LIMIT);
    expect(plan.tile).not.toBeNull();
    expect(plan.largestBytes).toBeLessThan(LAVAPIPE_LIMIT);
    expect(planTiles(transformerNetFootprint(), 512, 512, LAVAPIPE_LIMIT).tile).toBeNull();
    // The Johnson net peaks at 32 channels, so it runs larger images whole.
    expect(planTiles(johnsonNetFootprint(), 1024, 768, LAVAPIPE_LIMIT).tile).toBeNull();
    expect(planTiles(johnsonNetFootprint(), 4032, 3024, LAVAPIPE_LIMIT).largestBytes).toBeLessThan(LAVAPIPE_LIMIT);
  });

  it('refuses a requested tile that does not fit, naming the largest one that does', () => {
    expect(() => planTiles(transformerNetFootprint(), 4032, 3024, LAVAPIPE_LIMIT, 2048)).toThrow(/2048 px tile needs .* use --tile \d+ or less/);
    expect(planTiles(transformerNetFootprint(), 4032, 3024, LAVAPIPE_LIMIT, 256)).toMatchObject({ tile: 256, overlap: 64 });
  });

  it('the footprints match the largest buffers the nets really allocate', async () => {
    const rt = runtime();
    const image = gradientImage(44, 36);
    for (const [net, footprint] of [
      [TransformerNet.initialize(rt, 3), transformerNetFootprint()],
      [JohnsonNet.initialize(rt, 5), johnsonNetFootprint()],
    ] as const) {
      const { largest } = await largestBufferDuring(rt, () => stylizeFeedForward(net, image));
      expect(largest).toBe(largestActivationBytes(footprint, 44, 36));
      net.dispose();
    }
  });
});

describe('feed-forward stylization under a small buffer limit', () => {
  it('tiles a 96×64 image so every buffer fits, and matches the whole-image result', async () => {
    const rt = runtime();
    const content = resizeImage(await readImageFile(join(SHARED_IMAGES_DIR, 'content_chelsea.png')), 96, 64);
    const net = await loadFeedForwardModel(rt, 'candy', testStoreOptions());
    const limit = 1.2 * MiB;
    const plan = planTiles(transformerNetFootprint(), 96, 64, limit);
    expect(plan).toMatchObject({ tile: 64, overlap: 16 });
    const whole = await largestBufferDuring(rt, () => stylizeFeedForward(net, content));
    expect(whole.largest).toBeGreaterThan(limit);
    const tiled = await largestBufferDuring(rt, () => stylizeFeedForward(net, content, { bufferLimit: limit }));
    expect(tiled.largest).toBeLessThanOrEqual(limit);
    // Instance norm sees each tile's own statistics, so the result differs a little (about 0.10 here,
    // with 64 px tiles on a 96 px image) — but shows no seam: no column jump beyond the untiled image's.
    expect(relativeL2(tiled.result.data, whole.result.data)).toBeLessThan(0.15);
    expect(maxColumnJump(tiled.result)).toBeLessThan(maxColumnJump(whole.result) * 1.25);
    net.dispose();
  });
});

describe('images too small for a net', () => {
  it('TransformerNet refuses sides under 5 px with the minimum and the fix; 5 px runs', async () => {
    const rt = runtime();
    const net = TransformerNet.initialize(rt, 7);
    await expect(stylizeFeedForward(net, gradientImage(256, 1))).rejects.toThrow(/256×1 px but this method needs at least 5 px a side; use a larger --size/);
    await expect(stylizeFeedForward(net, gradientImage(4, 4))).rejects.toThrow(/at least 5 px/);
    expect((await stylizeFeedForward(net, gradientImage(5, 5))).data.length).toBe(75);
    net.dispose();
  });

  it('the Johnson net (zero padding) runs even 1-px-wide images', async () => {
    const rt = runtime();
    const net = JohnsonNet.initialize(rt, 9);
    const out = await stylizeFeedForward(net, gradientImage(7, 1));
    expect([out.width, out.height]).toEqual([7, 1]);
    net.dispose();
  });
});
