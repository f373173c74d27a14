import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImageFile } from '../../../../src/io/image-file.ts';
import { DistilledAdain } from '../../../../src/nets/methods/adain/distilled-adain.ts';
import { DistilledVgg, DISTILLED_MODEL } from '../../../../src/nets/models/distilled-vgg.ts';
import { loadModelWeights } from '../../../../src/nets/weights/node/store.ts';
import { runStylize, writeSmallPhoto } from '../../../cli/stylize-helpers.ts';
import { greyLevelError, readGoldenImage, readGoldenNhwc } from '../../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { testStoreOptions } from '../../../helpers/shared-data.ts';

/**
 * The distilled encoder and decoder in f16 storage (f16 weights and activations inside the nets, f32
 * arithmetic; AdaIN's statistics between them in f32) against the same adain16x goldens as the f32
 * test (128×96 px). Measured on lavapipe: relative L2 1.3e-3 (α 1) and 1.1e-3 (α 0.5) against under
 * 1e-4 in f32; the 8-bit PNG off by 0.12 / 0.11 grey levels on average, at most 2.
 */

const runtime = useRuntime();

describe('AdaIN on the distilled nets in f16 precision, against the adain16x goldens', () => {
  it('matches the outputs at α 1 and 0.5: relative L2 < 5e-3, PNG mean < 0.5 and max ≤ 3 grey levels', async () => {
    const rt = runtime();
    expect(rt.hasF16, 'lavapipe has shader-f16').toBe(true);
    const nets = DistilledVgg.fromHost(rt, await loadModelWeights(DISTILLED_MODEL, testStoreOptions()), DISTILLED_MODEL, true);
    expect(nets.half).toBe(true);
    const adain = new DistilledAdain(nets);
    const content = await readGoldenImage('adain16x.content.png');
    const style = await readGoldenImage('adain16x.style.png');
    const golden = readGoldenNhwc('adain16x');
    for (const [alpha, key, png] of [[1, 'output', 'adain16x.output.png'], [0.5, 'output_alpha0.5', 'adain16x.alpha0.5.output.png']] as const) {
      const raw = await adain.stylizeUnclamped(content, [style], { alpha });
      const rel = relativeL2(raw.data, golden.get(key)!.data);
      expect(rel, key).toBeLessThan(5e-3);
      // It ran in f16: the f32 nets are within 1e-4.
      expect(rel, key).toBeGreaterThan(1e-4);
      const err = greyLevelError(await adain.stylize(content, [style], { alpha }), await readGoldenImage(png));
      expect(err.mean, png).toBeLessThan(0.5);
      expect(err.max, png).toBeLessThanOrEqual(3);
    }
    // Every f16 intermediate and cast is freed.
    const live = rt.stats().liveTensors;
    await adain.stylize(content, [style], { alpha: 0.5 });
    expect(rt.stats().liveTensors).toBe(live);
    adain.dispose();
  });

  it('is the --precision option of --method adain, for the distilled nets only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-adain-f16-'));
    try {
      const photo = join(dir, 'photo.png');
      const painting = join(dir, 'painting.png');
      await writeSmallPhoto(photo, 48);
      await writeSmallPhoto(painting, 48, 'great_wave_hokusai.jpg');
      const out = join(dir, 'out.png');
      const run = await runStylize([photo, '--method', 'adain', '--style', painting, '--precision', 'f16', '-o', out]);
      expect(run.error).toBeUndefined();
      const [written, source] = await Promise.all([readImageFile(out), readImageFile(photo)]);
      expect([written.width, written.height]).toEqual([source.width, source.height]);
      const withDecoder = await runStylize([photo, '--method', 'adain', '--style', painting, '--decoder', join(dir, 'decoder.pth'), '--precision', 'f16', '-o', out]);
      expect(withDecoder.error?.message).toMatch(/adain: precision 'f16' runs the distilled nets only; with --decoder use --precision f32/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
