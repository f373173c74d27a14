import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../../src/autograd/grad.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { readImageFile } from '../../../src/io/image-file.ts';
import { vggLayers, vggTapNames } from '../../../src/nets/models/vgg.ts';
import { parseSafetensors } from '../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { relativeL2 } from '../../helpers/oracle.ts';
import { sharedReferencePath, testStoreOptions } from '../../helpers/shared-data.ts';
import { loadPretrainedVgg } from '../../../src/nets/weights/node/pretrained.ts';

const runtime = useRuntime();

describe('VGG19 with the pretrained weights', () => {
  it('matches every reference tap (relu1_1 … relu5_1) within 1e-3 relative L2', async () => {
    const rt = runtime();
    const vgg = await loadPretrainedVgg(rt, testStoreOptions());
    const image = await readImageFile(sharedReferencePath('vgg19.input.png'));
    const reference = parseSafetensors(new Uint8Array(await readFile(sharedReferencePath('vgg19.safetensors'))), 'vgg19.safetensors').tensors;
    const input = rt.upload(image.data, [1, image.height, image.width, 3]);
    const taps = [...reference.keys()];
    const features = vgg.features(input, taps);
    for (const name of taps) {
      const expected = reference.get(name)!;
      const actual = features.get(name)!;
      expect([...actual.shape], name).toEqual([1, ...expected.shape]);
      const err = relativeL2(await actual.data(), expected.data);
      expect(err, `${name} relative L2`).toBeLessThan(1e-3);
    }
    for (const t of features.values()) t.dispose();
    input.dispose();
    vgg.dispose();
  });

  it('stops at the deepest tap, can return pre-activation taps, and backpropagates to the image', async () => {
    const rt = runtime();
    const vgg = await loadPretrainedVgg(rt, testStoreOptions());
    const image = rt.upload(Array.from({ length: 16 * 12 * 3 }, (_, i) => (i * 37) % 255), [1, 12, 16, 3]);
    const before = rt.stats().dispatches;
    const shallow = vgg.features(image, ['relu1_1']);
    const shallowDispatches = rt.stats().dispatches - before;
    const deep = vgg.features(image, ['conv2_1', 'relu2_1']);
    expect(rt.stats().dispatches - before - shallowDispatches).toBeGreaterThan(shallowDispatches);
    const pre = await deep.get('conv2_1')!.data();
    const post = await deep.get('relu2_1')!.data();
    expect(pre.some((v) => v < 0)).toBe(true);
    post.forEach((v, i) => expect(v).toBe(Math.max(pre[i]!, 0)));
    // d/dimage of Σ relu1_1·w exists and is non-zero.
    const w = rt.upload(Array.from({ length: 12 * 16 * 64 }, (_, i) => Math.sin(i)), [1, 12, 16, 64]);
    const { value, grads } = valueAndGradOf(() => sum(mul(vgg.features(image, ['relu1_1']).get('relu1_1')!, w)), [image]);
    const g = await grads[0]!.data();
    expect(g.some((v) => v !== 0)).toBe(true);
    expect(Number.isFinite(await value.item())).toBe(true);
    for (const t of [...shallow.values(), ...deep.values(), w, value, ...grads, image]) t.dispose();
    vgg.dispose();
  });

  it('describes VGG16 and VGG19 and rejects unknown taps', () => {
    expect(vggLayers('vgg16').length).toBe(13);
    expect(vggLayers('vgg19').length).toBe(16);
    expect(vggTapNames('vgg19')).toContain('relu5_4');
    expect(vggTapNames('vgg16')).not.toContain('relu5_4');
  });
});
