import { loadPretrainedDistilled } from '../../../../src/nets/weights/node/pretrained.ts';
import { describe, expect, it } from 'vitest';
import { DistilledAdain } from '../../../../src/nets/methods/adain/distilled-adain.ts';
import { greyLevelError, readGoldenImage, readGoldenNhwc } from '../../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { testStoreOptions } from '../../../helpers/shared-data.ts';

const runtime = useRuntime();

describe('AdaIN on the distilled level-4 nets (no trained decoder needed)', () => {
  it('matches the adain16x goldens at α 1 and 0.5: features and output to 1e-4, PNG to a grey level', async () => {
    const rt = runtime();
    const adain = new DistilledAdain(await loadPretrainedDistilled(rt, testStoreOptions()));
    const content = await readGoldenImage('adain16x.content.png');
    const style = await readGoldenImage('adain16x.style.png');
    const golden = readGoldenNhwc('adain16x');
    for (const [image, key] of [[content, 'enc4_content'], [style, 'enc4_style']] as const) {
      const input = rt.upload(image.data.map((v) => v / 255), [1, image.height, image.width, 3]);
      const features = adain.nets.encode(4, input);
      expect(relativeL2(await features.data(), golden.get(key)!.data), key).toBeLessThan(1e-4);
      input.dispose();
      features.dispose();
    }
    for (const [alpha, key, png] of [[1, 'output', 'adain16x.output.png'], [0.5, 'output_alpha0.5', 'adain16x.alpha0.5.output.png']] as const) {
      const raw = await adain.stylizeUnclamped(content, [style], { alpha });
      const rel = relativeL2(raw.data, golden.get(key)!.data);
      expect(rel, key).toBeLessThan(1e-4);
      const err = greyLevelError(await adain.stylize(content, [style], { alpha }), await readGoldenImage(png));
      expect(err.mean, png).toBeLessThanOrEqual(1);
      expect(err.max, png).toBeLessThanOrEqual(1);
    }
    // The style's statistics are computed once and reused.
    expect(adain.counters.styleEncodes).toBe(1);
    adain.dispose();
  });

  it('at α 0 decodes the content\'s own level-4 features, and checks α', async () => {
    const rt = runtime();
    const nets = await loadPretrainedDistilled(rt, testStoreOptions());
    const adain = new DistilledAdain(nets);
    const content = await readGoldenImage('adain16x.content.png');
    const style = await readGoldenImage('adain16x.style.png');
    const back = await adain.stylizeUnclamped(content, [style], { alpha: 0 });
    const input = rt.upload(content.data.map((v) => v / 255), [1, content.height, content.width, 3]);
    const features = nets.encode(4, input);
    const direct = nets.decode(4, features);
    expect(relativeL2(back.data, await direct.data())).toBeLessThan(1e-5);
    for (const t of [input, features, direct]) t.dispose();
    await expect(adain.stylize(content, [content], { alpha: 2 })).rejects.toThrow(/adain: alpha must be between 0 and 1, got 2/);
    adain.dispose();
  });
});
