import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../../../src/gpu/runtime.ts';
import { readImageFile } from '../../../../src/io/image-file.ts';
import type { RgbImage } from '../../../../src/io/image.ts';
import { checkPrecision } from '../../../../src/nets/methods/common-options.ts';
import { feedForwardMethod } from '../../../../src/nets/methods/feed-forward/definition.ts';
import { activationDtype, halfPrecisionCopy, stylizeFeedForward, type FeedForwardPrecision } from '../../../../src/nets/methods/feed-forward/feed-forward.ts';
import { loadFeedForwardModel } from '../../../../src/nets/methods/feed-forward/node/load-model.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { runStylize, writeSmallPhoto } from '../../../cli/stylize-helpers.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { sharedReferencePath, testStoreOptions } from '../../../helpers/shared-data.ts';

/**
 * f16 inference (f16 weights and activations, f32 arithmetic) against the same goldens as the f32
 * tests (../shared/reference, 128×96 px): the difference in grey levels (0..255) from the reference
 * output, clamped like the image. Measured on lavapipe: candy mean 0.053, max 1.13; mathura mean
 * 0.044, max 0.47 (f32: mean 1e-4, max 1e-3 for both). The bounds leave room for a GPU that rounds
 * differently, not for a broken kernel (an unconverted f16 read is off by tens of grey levels).
 */

const runtime = useRuntime();

async function reference(name: string): Promise<{ input: RgbImage; output: Float32Array }> {
  const input = await readImageFile(sharedReferencePath(`${name}.input.png`));
  const tensors = parseSafetensors(new Uint8Array(await readFile(sharedReferencePath(`${name}.safetensors`))), name).tensors;
  return { input, output: tensors.get('output')!.data };
}

function greyLevelError(actual: ArrayLike<number>, expected: ArrayLike<number>): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - Math.min(255, Math.max(0, expected[i]!)));
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / expected.length, max };
}

describe('feed-forward nets in f16 precision against the f32 goldens', () => {
  const cases = [
    { golden: 'transformer-net-candy', model: 'candy', meanBound: 0.15, maxBound: 3 },
    // The Johnson net's two transposed convs run in f32 between casts (no f16 transposed-conv kernel).
    { golden: 'lengstrom-mathura', model: 'mathura', meanBound: 0.15, maxBound: 2 },
  ];
  for (const c of cases) {
    it(`${c.model}: mean error < ${c.meanBound}, max < ${c.maxBound} grey levels`, async () => {
      const rt = runtime();
      expect(rt.hasF16, 'lavapipe has shader-f16').toBe(true);
      const { input, output } = await reference(c.golden);
      const net = await loadFeedForwardModel(rt, c.model, testStoreOptions(), 'f16');
      expect(activationDtype(net)).toBe('f16');
      const result = await stylizeFeedForward(net, input);
      const error = greyLevelError(result.data, output);
      expect(error.mean).toBeLessThan(c.meanBound);
      expect(error.max).toBeLessThan(c.maxBound);
      // It really ran in f16: f32 matches the golden to about 1e-4 on average.
      expect(error.mean).toBeGreaterThan(1e-3);
      net.dispose();
    });
  }

  it('halfPrecisionCopy of an f32 net runs like the net loaded at f16, and leaves the original f32', async () => {
    const rt = runtime();
    const { input } = await reference('lengstrom-mathura');
    for (const model of ['candy', 'mathura']) {
      const full = await loadFeedForwardModel(rt, model, testStoreOptions());
      const copy = halfPrecisionCopy(full);
      const loaded = await loadFeedForwardModel(rt, model, testStoreOptions(), 'f16');
      expect([activationDtype(full), activationDtype(copy)]).toEqual(['f32', 'f16']);
      const [a, b] = [await stylizeFeedForward(copy, input), await stylizeFeedForward(loaded, input)];
      // The same f16 weights (GPU and host rounding agree but for rare ties): the same image.
      expect(greyLevelError(a.data, b.data).max, model).toBeLessThan(0.05);
      for (const net of [full, copy, loaded]) net.dispose();
    }
  });

  it('frees every intermediate: f16 runs leave the live tensor count as it was (TransformerNet and the Johnson net)', async () => {
    const rt = runtime();
    const { input } = await reference('transformer-net-candy');
    for (const model of ['candy', 'mathura']) {
      const net = await loadFeedForwardModel(rt, model, testStoreOptions(), 'f16');
      await stylizeFeedForward(net, input);
      const live = rt.stats().liveTensors;
      await stylizeFeedForward(net, input);
      await stylizeFeedForward(net, input, { tileSize: 64, tileOverlap: 16 });
      expect(rt.stats().liveTensors, model).toBe(live);
      net.dispose();
    }
  });

  it('keeps the size of an odd image and the output range', async () => {
    const rt = runtime();
    const { input } = await reference('transformer-net-candy');
    const small: RgbImage = { width: 37, height: 29, data: input.data.slice(0, 37 * 29 * 3) };
    const net = await loadFeedForwardModel(rt, 'mosaic', testStoreOptions(), 'f16');
    const result = await stylizeFeedForward(net, small);
    expect([result.width, result.height]).toEqual([37, 29]);
    expect(result.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    net.dispose();
  });
});

describe('the precision option', () => {
  const withoutF16 = {
    hasF16: false,
    context: { adapterInfo: { vendor: 'acme', architecture: '', device: 'gpu-1', description: '' } },
  } as unknown as Runtime;

  it('refuses f16 on an adapter without shader-f16, naming the feature and the fix, before loading weights', async () => {
    const message = /precision 'f16' needs the GPU adapter feature 'shader-f16', which acme \/ gpu-1 lacks; use precision 'f32'/;
    expect(() => checkPrecision(withoutF16, 'f16')).toThrow(message);
    expect(() => checkPrecision(withoutF16, 'f32')).not.toThrow();
    let asked = false;
    const weights = {
      tensors: () => {
        asked = true;
        return Promise.reject(new Error('weights must not be read'));
      },
    };
    await expect(feedForwardMethod.load({ runtime: withoutF16, weights } as never, { model: 'candy', precision: 'f16' })).rejects.toThrow(message);
    expect(asked).toBe(false);
  });

  it('is an option of the method definition (f32 by default), and unknown precisions are refused', () => {
    const spec = feedForwardMethod.options.find((o) => o.id === 'precision');
    if (spec?.kind !== 'choice') throw new Error('precision must be a choice option');
    expect(spec.choices.map((c) => c.value)).toEqual(['f32', 'f16']);
    expect(spec.default).toBe('f32');
    expect(() => checkPrecision(runtime(), 'f8' as FeedForwardPrecision)).toThrow(/unknown precision "f8": choose f32 or f16/);
  });

  it('is the CLI flag --precision: f16 runs from the command line, a wrong value is refused with the choices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-f16-'));
    try {
      const photo = join(dir, 'photo.png');
      await writeSmallPhoto(photo, 32);
      const out = join(dir, 'out.png');
      const run = await runStylize([photo, '--model', 'candy', '--precision', 'f16', '-o', out]);
      expect(run.error).toBeUndefined();
      expect(run.exitCode).toBe(0);
      const [written, source] = await Promise.all([readImageFile(out), readImageFile(photo)]);
      expect([written.width, written.height]).toEqual([source.width, source.height]);
      const bad = await runStylize([photo, '--precision', 'f8', '-o', out]);
      expect(bad.error?.message).toMatch(/--precision for --method feed-forward takes f32 \| f16, got 'f8'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
