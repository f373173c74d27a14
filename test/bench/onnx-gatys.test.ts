/**
 * The Gatys gradient graph given to the onnxruntime-cpu peer (bench/peers/onnx-gatys.ts), checked
 * without onnxruntime: the decoded graphs run on tfjs-cpu (test/helpers/onnx-decoder.ts) must give
 * pastiche's GatysLoss gradient for the bench line's images, weights and loss. (With onnxruntime-node
 * installed, `npm run bench -- --quick -f "e2e Gatys"` checks ORT's own result the same way.)
 */
import { describe, expect, it } from 'vitest';
import { hostImage, randomVgg, randomVggWeights } from '../../bench/nets.ts';
import { CONTENT_TAPS, gatysGradientModel, STYLE_TAPS, vggTapsModel } from '../../bench/peers/onnx-gatys.ts';
import { nchwToNhwc, nhwcToNchw } from '../../bench/peers/onnx-transformer-net.ts';
import { keep, scope } from '../../src/gpu/scope.ts';
import { GatysLoss } from '../../src/nets/methods/gatys/gatys.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { interpret, interpretAll, readModel } from '../helpers/onnx-decoder.ts';
import { relativeL2 } from '../helpers/oracle.ts';

const runtime = useRuntime();

describe('Gatys loss gradient as ONNX graphs (the onnxruntime-cpu peer of the Gatys lines)', () => {
  it('gives the image gradient of pastiche’s GatysLoss (decoded graphs run on tfjs-cpu, 16 px)', async () => {
    const s = 16;
    const [content, style, start] = [hostImage(s, 1), hostImage(s, 2), hostImage(s, 3)];
    const weights = await randomVggWeights();
    const taps = (names: string[], image: typeof content) => {
      const out = interpretAll(readModel(vggTapsModel(weights, names, image)), nhwcToNchw(image.data, s, s, 3));
      return new Map(names.map((n) => [n, out.get(`tap_${n}`)!]));
    };
    const model = readModel(gatysGradientModel(weights, content, style, { content: taps(CONTENT_TAPS, content), style: taps(STYLE_TAPS, style) }));
    // Backward structure: one ConvTranspose per conv up to conv5_1, and the pooling gradients.
    expect(model.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(13);
    expect(model.nodes.filter((n) => n.opType === 'ConvTranspose')).toHaveLength(13);
    expect(model.nodes.filter((n) => n.opType === 'Resize')).toHaveLength(4);
    const theirs = nchwToNhwc(interpret(model, nhwcToNchw(start.data, s, s, 3)), s, s, 3);

    const rt = runtime();
    const vgg = await randomVgg(rt);
    const loss = await GatysLoss.create(vgg, content, [style]);
    const x = rt.upload(start.data, [1, s, s, 3]);
    const grad = scope(() => keep(loss.objective(x).grad));
    const ours = await grad.data();
    for (const t of [grad, x]) t.dispose();
    loss.dispose();
    vgg.dispose();

    expect(ours.some((v) => v !== 0)).toBe(true);
    expect(relativeL2(theirs, ours)).toBeLessThan(1e-4);
  });

  it('refuses image sides that four 2×2 poolings do not divide', async () => {
    const weights = await randomVggWeights();
    const none = { content: new Map(), style: new Map() };
    expect(() => gatysGradientModel(weights, { width: 40, height: 32 }, { width: 32, height: 32 }, none)).toThrow(/multiples of 16/);
  });
});
