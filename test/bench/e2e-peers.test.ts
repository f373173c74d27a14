/**
 * The tfjs-webgpu peers of the end-to-end bench lines compute what pastiche computes: the same Gatys
 * loss and image gradient, the same TransformerNet output, from the same weights and inputs (at the
 * smallest sizes the nets take, so the check is cheap). Also checks that tfjs autodiff loads in Node.
 */
import type { Tensor as TfTensor, Tensor4D } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createTfjsPeer, type TfjsPeer } from '../../bench/peers/tfjs-webgpu.ts';
import { TfGatysLoss, disposeTfVgg, tfImage, tfTransformerNet, tfVgg, uploadWeights } from '../../bench/peers/tfjs-nets.ts';
import { hostImage, randomTransformerNet, randomTransformerNetWeights, randomVgg, randomVggWeights } from '../../bench/nets.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { GatysLoss } from '../../src/nets/methods/gatys/gatys.ts';
import { useRuntime } from '../helpers/gpu.ts';

const runtime = useRuntime();

let peer: TfjsPeer | null = null;
async function tfjs(): Promise<TfjsPeer> {
  peer ??= await createTfjsPeer(runtime());
  return peer;
}

/** ‖a − e‖ / ‖e‖ */
function relativeL2(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.length; i++) {
    num += (a[i]! - e[i]!) ** 2;
    den += e[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

async function read(t: TfTensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

describe('tfjs-webgpu peers of the end-to-end lines', () => {
  it('has tfjs autodiff: tf.grad of Σ x³ is 3x²', async () => {
    const { tf } = await tfjs();
    const x = tf.tensor1d([-1.5, 0.25, 2]);
    const dx = tf.grad((v: TfTensor) => tf.sum(tf.pow(v, 3)))(x);
    const got = await read(dx);
    [-1.5, 0.25, 2].forEach((v, i) => expect(got[i]).toBeCloseTo(3 * v * v, 5));
    tf.dispose([x, dx]);
  });

  it('computes the Gatys loss terms and image gradient of pastiche (VGG19, 32 px)', async () => {
    const { tf } = await tfjs();
    const rt = runtime();
    const s = 32;
    const [content, style, start] = [hostImage(s, 1), hostImage(s, 2), hostImage(s, 3)];
    // Default weights for the terms; γ = 0 for the gradient, which the TV term of a noise image would
    // otherwise dominate (hiding any difference in the VGG parts).
    const cases = [{}, { tvWeight: 0 }];

    const vgg = await randomVgg(rt);
    const image = rt.upload(start.data, [1, s, s, 3]);
    const ours: { terms: Float32Array; grad: Float32Array }[] = [];
    for (const options of cases) {
      const loss = await GatysLoss.create(vgg, content, [style], options);
      const { loss: value, grad, report } = loss.objective(image);
      ours.push({ terms: await report!.data(), grad: await grad.data() });
      for (const t of [value, grad, report!]) t.dispose();
      loss.dispose();
    }
    image.dispose();
    vgg.dispose();

    const tvgg = tfVgg(tf, await randomVggWeights(), 'avg');
    const [tc, ts, x] = [tfImage(tf, content), tfImage(tf, style), tfImage(tf, start)];
    const theirs: { terms: Float32Array; grad: Float32Array }[] = [];
    for (const options of cases) {
      const loss = await TfGatysLoss.create(tf, tvgg, tc, ts, options);
      const packed = tf.tidy(() => {
        const t = loss.terms(x);
        return tf.stack([t.total, t.content, t.style, t.tv]);
      });
      const grad = tf.grad((v) => loss.total(v as Tensor4D))(x);
      theirs.push({ terms: await read(packed), grad: await read(grad) });
      tf.dispose([packed, grad]);
      loss.dispose();
    }
    tf.dispose([tc, ts, x]);
    disposeTfVgg(tvgg);

    const [withTv, withoutTv] = [0, 1].map((i) => ({ ours: ours[i]!, theirs: theirs[i]! }));
    // total, content, style, tv: each term present, each the same within 1e-3 relative.
    withTv!.ours.terms.forEach((term, k) => {
      expect(term, `term ${k}`).toBeGreaterThan(1e-3);
      expect(Math.abs(withTv!.theirs.terms[k]! - term) / term, `term ${k}`).toBeLessThan(1e-3);
    });
    expect(withoutTv!.ours.terms[3]).toBe(0);
    expect(relativeL2(withoutTv!.theirs.grad, withoutTv!.ours.grad)).toBeLessThan(1e-3);
    expect(relativeL2(withTv!.theirs.grad, withTv!.ours.grad)).toBeLessThan(1e-3);
  });

  it('computes the TransformerNet output of pastiche (64 px)', async () => {
    const { tf } = await tfjs();
    const rt = runtime();
    const s = 64;
    const net = await randomTransformerNet(rt);
    const image = rt.upload(hostImage(s, 1).data, [1, s, s, 3]);
    const y = noGrad(() => net.forward(image));
    const ours = await y.data();
    for (const t of [y, image]) t.dispose();
    net.dispose();

    const params = uploadWeights(tf, await randomTransformerNetWeights());
    const x = tfImage(tf, hostImage(s, 1));
    const ty = tf.tidy(() => tfTransformerNet(tf, params, x));
    expect(ty.shape).toEqual([1, s, s, 3]);
    const theirs = await read(ty);
    tf.dispose([x, ty, ...params.values()]);

    expect(relativeL2(theirs, ours)).toBeLessThan(1e-3);
  });
});
