import { loadPretrainedDistilled } from '../../../../src/nets/weights/node/pretrained.ts';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../../src/io/image.ts';
import { DistilledStylizer } from '../../../../src/nets/methods/wct/stylizer.ts';
import { greyLevelError, readGoldenImage, readGoldenNhwc } from '../../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { testStoreOptions } from '../../../helpers/shared-data.ts';

const runtime = useRuntime();

/** The golden output [1, H, W, 3] (RGB 0..1) as an image in 0..255. */
function goldenAsImage(data: Float32Array, width: number, height: number): RgbImage {
  return { width, height, data: data.map((v) => v * 255) };
}

describe('WCT on the distilled nets', () => {
  it('matches the PyTorch run of the authors\' code (wct16x-stylize: levels 5→1, α 0.6)', async () => {
    const nets = await loadPretrainedDistilled(runtime(), testStoreOptions());
    const stylizer = new DistilledStylizer(nets, 'wct');
    const content = await readGoldenImage('wct16x-stylize.content.png');
    const style = await readGoldenImage('wct16x-stylize.style.png');
    const golden = readGoldenNhwc('wct16x-stylize');
    const raw = await stylizer.stylizeUnclamped(content, [style], { alpha: 0.6 });
    const expected = golden.get('output')!;
    const rel = relativeL2(raw.data, expected.data);
    expect(rel).toBeLessThan(1e-2);
    const image = await stylizer.stylize(content, [style], { alpha: 0.6 });
    const png = greyLevelError(image, await readGoldenImage('wct16x-stylize.output.png'));
    expect(png.mean).toBeLessThanOrEqual(1);
    const unclampedVsPng = greyLevelError(goldenAsImage(expected.data, content.width, content.height), await readGoldenImage('wct16x-stylize.output.png'));
    expect(unclampedVsPng.max).toBeLessThanOrEqual(1); // the golden PNG is the golden tensor, rounded
    console.log(`wct16x-stylize: relative L2 ${rel.toExponential(2)}, PNG mean ${png.mean.toFixed(3)} max ${png.max} grey levels`);
    nets.dispose();
  });
});
