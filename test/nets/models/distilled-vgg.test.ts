import { loadPretrainedDistilled } from '../../../src/nets/weights/node/pretrained.ts';
import { describe, expect, it } from 'vitest';
import { DISTILLED_LEVELS, decoderSteps, encoderSteps } from '../../../src/nets/models/distilled-vgg.ts';
import { readGoldenImage, readGoldenNhwc } from '../../helpers/distilled-goldens.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { relativeL2 } from '../../helpers/oracle.ts';
import { testStoreOptions } from '../../helpers/shared-data.ts';

const runtime = useRuntime();

describe('distilled VGG-19 (Collaborative Distillation, 16x)', () => {
  it('matches PyTorch for every encoder and decoder (wct16x-levels) within 1e-4 relative L2', async () => {
    const rt = runtime();
    const nets = await loadPretrainedDistilled(rt, testStoreOptions());
    const golden = readGoldenNhwc('wct16x-levels');
    const image = await readGoldenImage('wct16x-levels.input.png');
    const input = rt.upload(image.data.map((v) => v / 255), [1, image.height, image.width, 3]);
    for (const level of DISTILLED_LEVELS) {
      const features = nets.encode(level, input);
      const expectedEnc = golden.get(`enc${level}`)!;
      expect([...features.shape], `enc${level}`).toEqual(expectedEnc.shape);
      expect(relativeL2(await features.data(), expectedEnc.data), `enc${level}`).toBeLessThan(1e-4);
      // The decoder is checked on the golden features, so its error is its own.
      const goldenFeatures = rt.upload(expectedEnc.data, expectedEnc.shape);
      const decoded = nets.decode(level, goldenFeatures);
      const expectedDec = golden.get(`dec${level}`)!;
      expect([...decoded.shape], `dec${level}`).toEqual(expectedDec.shape);
      expect(relativeL2(await decoded.data(), expectedDec.data), `dec${level}`).toBeLessThan(1e-4);
      for (const t of [features, goldenFeatures, decoded]) t.dispose();
    }
    input.dispose();
    nets.dispose();
  });

  it('lays out the documented layers and refuses inputs that are too small', async () => {
    expect(encoderSteps(2)).toEqual(['conv11', 'conv12', 'P', 'conv21']);
    expect(decoderSteps(3)).toEqual(['conv31', 'U', 'conv22', 'conv21', 'U', 'conv12', 'conv11']);
    const rt = runtime();
    const nets = await loadPretrainedDistilled(rt, testStoreOptions());
    const tiny = rt.upload(new Float32Array(8 * 8 * 3), [1, 8, 8, 3]);
    expect(() => nets.encode(5, tiny)).toThrow(/distilled encoder 5: the image \(8×8\) must be at least 32×32 pixels/);
    const wrong = rt.upload(new Float32Array(4 * 4 * 7), [1, 4, 4, 7]);
    expect(() => nets.decode(4, wrong)).toThrow(/distilled decoder 4: expects features \[N, h, w, 128\]/);
    tiny.dispose();
    wrong.dispose();
    nets.dispose();
  });
});
