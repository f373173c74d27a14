import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readImageFile } from '../../../../src/io/image-file.ts';
import type { RgbImage } from '../../../../src/io/image.ts';
import { resizeImage } from '../../../../src/io/resize.ts';
import { DamagedModelError } from '../../../../src/nets/image/checked-output.ts';
import { stylizeFeedForward } from '../../../../src/nets/methods/feed-forward/feed-forward.ts';
import { loadFeedForwardModel } from '../../../../src/nets/methods/feed-forward/node/load-model.ts';
import { tileStarts } from '../../../../src/nets/image/tiling.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { maxColumnJump } from '../../../helpers/tiling-probes.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { sharedReferencePath, testStoreOptions } from '../../../helpers/shared-data.ts';

const runtime = useRuntime();

async function reference(name: string): Promise<{ input: RgbImage; output: Float32Array }> {
  const input = await readImageFile(sharedReferencePath(`${name}.input.png`));
  const tensors = parseSafetensors(new Uint8Array(await readFile(sharedReferencePath(`${name}.safetensors`))), name).tensors;
  return { input, output: tensors.get('output')!.data };
}

describe('pretrained feed-forward nets against the reference outputs', () => {
  it('transformer-net candy (reflection padding, upsample + conv)', async () => {
    const rt = runtime();
    const { input, output } = await reference('transformer-net-candy');
    const net = await loadFeedForwardModel(rt, 'candy', testStoreOptions());
    const result = await stylizeFeedForward(net, input);
    // The reference output is unclamped; ours is clamped to 0..255 like the image it becomes.
    const expected = output.map((v) => Math.min(255, Math.max(0, v)));
    expect(relativeL2(result.data, expected)).toBeLessThan(1e-3);
    net.dispose();
  });

  it('lengstrom mathura (TF SAME padding, transposed convs, tanh output)', async () => {
    const rt = runtime();
    const { input, output } = await reference('lengstrom-mathura');
    const net = await loadFeedForwardModel(rt, 'mathura', testStoreOptions());
    const result = await stylizeFeedForward(net, input);
    expect(relativeL2(result.data, output)).toBeLessThan(1e-3);
    net.dispose();
  });

  it('stylizes sizes that are not multiples of 4 and keeps the size', async () => {
    const rt = runtime();
    const { input } = await reference('transformer-net-candy');
    const odd = resizeImage(input, 37, 29);
    const net = await loadFeedForwardModel(rt, 'mosaic', testStoreOptions());
    const result = await stylizeFeedForward(net, odd);
    expect([result.width, result.height]).toEqual([37, 29]);
    expect(result.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    // Stylized, not a copy of the input.
    expect(relativeL2(result.data, odd.data)).toBeGreaterThan(0.1);
    net.dispose();
  });

  it('fails, naming the model as damaged, when NaN weights give a NaN image (not a black one)', async () => {
    const rt = runtime();
    const { input } = await reference('transformer-net-candy');
    const small = resizeImage(input, 20, 16);
    const net = await loadFeedForwardModel(rt, 'candy', testStoreOptions());
    // The output convolution: no ReLU after it to turn NaN into 0 on the GPU.
    const name = 'deconv3.conv2d.weight';
    const weight = net.params.get(name);
    net.params.set(name, rt.upload(new Float32Array(weight.size).fill(NaN), weight.shape));
    weight.dispose();
    await expect(stylizeFeedForward(net, small)).rejects.toThrow(/^the feed-forward model .*candy.* produced NaN at pixel \(0, 0\): .*the model file is damaged/);
    await expect(stylizeFeedForward(net, small)).rejects.toThrow(DamagedModelError);
    net.dispose();
  });

  it('blends tiles without seams: tiled output stays close to the whole-image output', async () => {
    const rt = runtime();
    const { input } = await reference('transformer-net-candy');
    const net = await loadFeedForwardModel(rt, 'candy', testStoreOptions());
    const whole = await stylizeFeedForward(net, input);
    const tiled = await stylizeFeedForward(net, input, { tileSize: 64, tileOverlap: 16 });
    // Instance norm sees different statistics per tile, so outputs differ a little — but no seam:
    // the largest jump between neighbouring columns is no bigger than in the untiled image.
    expect(relativeL2(tiled.data, whole.data)).toBeLessThan(0.25);
    expect(maxColumnJump(tiled)).toBeLessThan(maxColumnJump(whole) * 1.25);
    net.dispose();
  });

  it('covers an axis with overlapping tiles', () => {
    expect(tileStarts(100, 128, 16)).toEqual([0]);
    const starts = tileStarts(300, 128, 32);
    expect(starts[0]).toBe(0);
    expect(starts[starts.length - 1]).toBe(300 - 128);
    for (let i = 1; i < starts.length; i++) expect(starts[i - 1]! + 128 - starts[i]!).toBeGreaterThanOrEqual(32);
  });

  it('rejects a model that is not a feed-forward style', async () => {
    const rt = runtime();
    await expect(loadFeedForwardModel(rt, 'vgg19', testStoreOptions())).rejects.toThrow(/vgg19 model, not a feed-forward style/);
    await expect(loadFeedForwardModel(rt, 'no-such-style', testStoreOptions())).rejects.toThrow(/no-such-style/);
    await expect(loadFeedForwardModel(rt, '/tmp/missing-model.safetensors', testStoreOptions())).rejects.toThrow(/model file not found/);
  });
});
