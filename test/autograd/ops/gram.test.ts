import { describe, expect, it } from 'vitest';
import { gram } from '../../../src/autograd/ops/gram.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

/** The oracle: FᵀF over the pixels with tf.matMul on the reshaped features. */
function tfGram(f: tf.Tensor, normalize: boolean): tf.Tensor {
  const [n, h, w, c] = f.shape as [number, number, number, number];
  const flat = tf.reshape(f, [n, h * w, c]);
  const g = tf.matMul(flat, flat, true, false);
  return normalize ? tf.div(g, c * h * w) : g;
}

async function check(shape: [number, number, number, number], normalize: boolean, seed: number): Promise<void> {
  const rt = runtime();
  const [n, h, w, c] = shape;
  const fs = randomValues(n * h * w * c, seed);
  const ws = randomValues(n * c * c, seed + 1);
  const tfF = tf.tensor(fs, shape);
  const tw = tf.tensor(ws, [n, c, c]);
  const f = rt.upload(fs, shape);
  const wt = rt.upload(ws, [n, c, c]);
  // Tolerances: sums over H·W products; without normalisation the values are O(H·W).
  const scale = normalize ? 1 / (c * h * w) : 1;
  const atol = 4e-6 * Math.max(8, h * w) * scale;

  const g = gram(f, { normalize });
  expect([...g.shape]).toEqual([n, c, c]);
  expectClose(await g.data(), await tfValues(tfGram(tfF, normalize)), 1e-4, atol, 'gram forward');

  const { grads } = valueAndGrad((f: Tensor) => sum(mul(gram(f, { normalize }), wt)))(f);
  const expected = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tfGram(f, normalize), tw)))(tfF);
  expect([...grads[0]!.shape]).toEqual(shape);
  // dF sums C products of O(1)·O(scale) terms (two of them: dG and dGᵀ).
  expectClose(await grads[0]!.data(), await tfValues(expected), 1e-4, 4e-6 * Math.max(8, c) * scale, 'gram gradient');
  for (const t of [f, wt, g, ...grads]) t.dispose();
}

describe('gram: forward and gradient against tf.matMul on reshaped features', () => {
  it('batch 2, 7×5 pixels, 3 channels (scalar kernel)', () => check([2, 7, 5, 3], true, 10));
  it('batch 1, 6×5 pixels, 13 channels, not normalised', () => check([1, 6, 5, 13], false, 20));
  it('batch 2, 4×4 pixels, 8 channels (vec4 kernel)', () => check([2, 4, 4, 8], true, 30));
  it('70 channels: several tiles, mirrored below the diagonal', () => check([1, 3, 5, 70], true, 40));
  it('32×32 pixels, 16 channels: the pixel axis split over workgroups', () => check([1, 32, 32, 16], true, 50));
  it('odd channel count over many pixels: split-K with the scalar kernel', () => check([2, 17, 19, 5], true, 60));
});

describe('gram errors', () => {
  it('throws before dispatch for non-NHWC features', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(12, 1), [3, 4]);
    const before = rt.stats().dispatches;
    expect(() => gram(x)).toThrow(/gram: features must be NHWC \(rank 4\), got shape \[3, 4\]/);
    expect(rt.stats().dispatches).toBe(before);
    x.dispose();
  });
});
