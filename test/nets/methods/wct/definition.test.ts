import { describe, expect, it } from 'vitest';
import { resizeImage } from '../../../../src/io/resize.ts';
import type { Progress, WeightSource } from '../../../../src/nets/methods/contract.ts';
import { wctMethod } from '../../../../src/nets/methods/wct/definition.ts';
import { loadModelWeights } from '../../../../src/nets/weights/node/store.ts';
import { greyLevelError, readGoldenImage } from '../../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { testStoreOptions } from '../../../helpers/shared-data.ts';

const runtime = useRuntime();
const weights: WeightSource = { tensors: (name) => loadModelWeights(name, testStoreOptions()) };

describe('the wct method definition', () => {
  it('loads, reports each level, stylizes like the golden, and stops on abort', async () => {
    const stylizer = await wctMethod.load({ runtime: runtime(), weights }, {});
    const content = await readGoldenImage('wct16x-stylize.content.png');
    const style = await readGoldenImage('wct16x-stylize.style.png');
    const seen: Progress[] = [];
    const result = await stylizer.stylize(content, [{ image: style, name: 'style', weight: 1 }], { alpha: 0.6 }, { onProgress: (p) => seen.push(p) });
    expect(greyLevelError(result.image, await readGoldenImage('wct16x-stylize.output.png')).mean).toBeLessThanOrEqual(1);
    expect(seen.map((p) => p.message)).toEqual(['wct level 5', 'wct level 4', 'wct level 3', 'wct level 2', 'wct level 1']);
    const controller = new AbortController();
    controller.abort(new Error('stopped by the user'));
    const small = resizeImage(content, 64, 48);
    await expect(stylizer.stylize(small, [{ image: style, name: 's', weight: 1 }], { levels: [1] }, { signal: controller.signal })).rejects.toThrow(/stopped by the user/);
    stylizer.dispose();
  });

  it('declares its options with defaults inside their ranges', () => {
    expect(wctMethod.id).toBe('wct');
    for (const option of wctMethod.options) {
      if ((option.kind === 'number' || option.kind === 'integer') && option.default !== undefined) {
        expect(option.default).toBeGreaterThanOrEqual(option.min);
        expect(option.default).toBeLessThanOrEqual(option.max);
      }
    }
  });
});
