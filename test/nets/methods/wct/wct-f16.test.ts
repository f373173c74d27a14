import { describe, expect, it } from 'vitest';
import { wctMethod } from '../../../../src/nets/methods/wct/definition.ts';
import { DistilledStylizer } from '../../../../src/nets/methods/wct/stylizer.ts';
import { DistilledVgg, DISTILLED_MODEL } from '../../../../src/nets/models/distilled-vgg.ts';
import { loadModelWeights } from '../../../../src/nets/weights/node/store.ts';
import { greyLevelError, readGoldenImage, readGoldenNhwc } from '../../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { testStoreOptions } from '../../../helpers/shared-data.ts';

/**
 * WCT (levels 5→1, α 0.6) with the distilled nets in f16 storage against the wct16x-stylize golden
 * (128×96 px). Five encoder/decoder passes compound the f16 rounding: measured on lavapipe, relative
 * L2 7.3e-3 (f32: 4.2e-4) and the 8-bit PNG 0.65 grey levels off on average, 10 at most (f32: 0.035, 1).
 */

const runtime = useRuntime();

describe('WCT on the distilled nets in f16 precision', () => {
  it('matches the wct16x-stylize golden: relative L2 < 1.5e-2, PNG mean < 1.3, max ≤ 20 grey levels', async () => {
    const rt = runtime();
    expect(rt.hasF16, 'lavapipe has shader-f16').toBe(true);
    const nets = DistilledVgg.fromHost(rt, await loadModelWeights(DISTILLED_MODEL, testStoreOptions()), DISTILLED_MODEL, true);
    const stylizer = new DistilledStylizer(nets, 'wct');
    const content = await readGoldenImage('wct16x-stylize.content.png');
    const style = await readGoldenImage('wct16x-stylize.style.png');
    const golden = readGoldenNhwc('wct16x-stylize');
    const raw = await stylizer.stylizeUnclamped(content, [style], { alpha: 0.6 });
    const rel = relativeL2(raw.data, golden.get('output')!.data);
    expect(rel).toBeLessThan(1.5e-2);
    // It ran in f16: f32 is within 4.2e-4.
    expect(rel).toBeGreaterThan(1e-3);
    const png = greyLevelError(await stylizer.stylize(content, [style], { alpha: 0.6 }), await readGoldenImage('wct16x-stylize.output.png'));
    expect(png.mean).toBeLessThan(1.3);
    expect(png.max).toBeLessThanOrEqual(20);
    nets.dispose();
  });

  it('is an option of the wct definition, f32 by default', () => {
    const spec = wctMethod.options.find((o) => o.id === 'precision');
    if (spec?.kind !== 'choice') throw new Error('precision must be a choice option');
    expect(spec.choices.map((c) => c.value)).toEqual(['f32', 'f16']);
    expect(spec.default).toBe('f32');
  });
});
