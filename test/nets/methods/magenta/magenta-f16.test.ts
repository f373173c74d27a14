import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readImageFile } from '../../../../src/io/image-file.ts';
import { magentaMethod } from '../../../../src/nets/methods/magenta/definition.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { loadPretrainedMagenta } from '../../../../src/nets/weights/node/pretrained.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { sharedReferencePath, testStoreOptions } from '../../../helpers/shared-data.ts';

/**
 * Magenta's transfer net with f16 weights and activations (f32 arithmetic; the style predictor stays
 * f32) against the reference output for the 384×384 content. Measured on lavapipe: mean 0.115, max
 * 3.6 grey levels (f32: 7e-4 and 4e-3).
 */

const runtime = useRuntime();

describe('Magenta transfer net in f16 precision', () => {
  it('stylizes the 384×384 reference content within 0.3 grey levels on average, 8 at most', async () => {
    const rt = runtime();
    expect(rt.hasF16, 'lavapipe has shader-f16').toBe(true);
    const content = await readImageFile(sharedReferencePath('magenta.content.png'));
    const style = await readImageFile(sharedReferencePath('magenta.style.png'));
    const expected = parseSafetensors(readFileSync(sharedReferencePath('magenta.safetensors'))).tensors.get('output')!;
    const magenta = await loadPretrainedMagenta(rt, testStoreOptions(), { half: true });
    const out = await magenta.stylize(content, await magenta.predictStyle(style));
    expect([out.width, out.height]).toEqual([384, 384]);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < expected.data.length; i++) {
      const d = Math.abs(out.data[i]! - expected.data[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    const mean = sum / expected.data.length;
    expect(mean).toBeLessThan(0.3);
    expect(max).toBeLessThan(8);
    // It ran in f16: f32 is within 1e-3 on average.
    expect(mean).toBeGreaterThan(0.01);
    // The casts in and out of the f16 graph are freed with its intermediates.
    const small = { width: 64, height: 48, data: content.data.slice(0, 64 * 48 * 3) };
    const embedding = await magenta.predictStyle(style);
    const live = rt.stats().liveTensors;
    await magenta.stylize(small, embedding);
    expect(rt.stats().liveTensors).toBe(live);
    magenta.dispose();
  });

  it('is an option of the magenta definition, f32 by default', () => {
    const spec = magentaMethod.options.find((o) => o.id === 'precision');
    if (spec?.kind !== 'choice') throw new Error('precision must be a choice option');
    expect(spec.choices.map((c) => c.value)).toEqual(['f32', 'f16']);
    expect(spec.default).toBe('f32');
  });
});
