import { describe, expect, it } from 'vitest';
import { gram, type GramAlgorithm } from '../../../src/autograd/ops/gram.ts';
import { hasEightWideSubgroups } from '../../../src/gpu/kernels/conv2d/rules.ts';
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

async function check(shape: [number, number, number, number], normalize: boolean, seed: number, algorithm: GramAlgorithm = 'auto'): Promise<void> {
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

  const g = gram(f, { normalize, algorithm });
  expect([...g.shape]).toEqual([n, c, c]);
  expectClose(await g.data(), await tfValues(tfGram(tfF, normalize)), 1e-4, atol, 'gram forward');

  const { grads } = valueAndGrad((f: Tensor) => sum(mul(gram(f, { normalize, algorithm }), wt)))(f);
  const expected = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tfGram(f, normalize), tw)))(tfF);
  expect([...grads[0]!.shape]).toEqual(shape);
  // dF sums C products of O(1)·O(scale) terms (two of them: dG and dGᵀ).
  expectClose(await grads[0]!.data(), await tfValues(expected), 1e-4, 4e-6 * Math.max(8, c) * scale, 'gram gradient');
  for (const t of [f, wt, g, ...grads]) t.dispose();
}

describe('gram: forward and gradient against tf.matMul on reshaped features', () => {
  it('batch 2, 7×5 pixels, 3 channels (scalar kernel)', () => check([2, 7, 5, 3], true, 10));
  it('batch 1, 6×5 pixels, 13 channels, not normalised', () => check([1, 6, 5, 13], false, 20));
  it('batch 2, 4×4 pixels, 8 channels (vec4 loads)', () => check([2, 4, 4, 8], true, 30));
  it('70 channels: several tiles, mirrored below the diagonal', () => check([1, 3, 5, 70], true, 40));
  it('32×32 pixels, 16 channels: the pixel axis split over workgroups', () => check([1, 32, 32, 16], true, 50));
  it('odd channel count over many pixels: split-K with the scalar kernel', () => check([2, 17, 19, 5], true, 60));
});

// With 8-wide subgroups and a multiple of 4 channels 'auto' runs the subgroup kernels; elsewhere
// the same cases run the matmul path, which the 'matmul' cases below force everywhere.
describe('gram: subgroup-sized cases (the subgroup kernels where the adapter has them)', () => {
  it('36 channels: a partial second 32-channel block, batch 2', () => check([2, 7, 5, 36], true, 70));
  it('64 channels over 33×31 pixels: 4 pixel chunks, the last one short', () => check([1, 33, 31, 64], true, 80));
  it('96 channels, 3×2 pixels, batch 2: three blocks, a single row tile', () => check([2, 3, 2, 96], false, 90));
  it('40 channels over 19×17 pixels, batch 2: 2 pixel chunks, several row tiles, a partial column tile', () => check([2, 19, 17, 40], true, 100));
  it('200 channels over 3×3 pixels: 7 blocks (28 pairs), the last one partial', () => check([1, 3, 3, 200], true, 105));
});

describe('gram: the matmul kernels (the path without 8-wide subgroups)', () => {
  it('64 channels over 9×7 pixels', () => check([2, 9, 7, 64], true, 110, 'matmul'));
  it('8 channels over 16×16 pixels (split-K)', () => check([1, 16, 16, 8], false, 120, 'matmul'));
});

describe('gram: choosing the subgroup kernels', () => {
  it("'subgroup' runs where the adapter has 8-wide subgroups and throws before dispatch elsewhere", async () => {
    const rt = runtime();
    if (hasEightWideSubgroups(rt)) {
      await check([1, 5, 6, 12], true, 130, 'subgroup');
    } else {
      const x = rt.upload(randomValues(5 * 6 * 12, 130), [1, 5, 6, 12]);
      const before = rt.stats().dispatches;
      expect(() => gram(x, { algorithm: 'subgroup' })).toThrow(/gram: algorithm 'subgroup' needs the 'subgroups' feature with 8-wide subgroups/);
      expect(rt.stats().dispatches).toBe(before);
      x.dispose();
    }
  });
  it("'subgroup' throws for a channel count that is not a multiple of 4", () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 3 * 6, 140), [1, 2, 3, 6]);
    expect(() => gram(x, { algorithm: 'subgroup' })).toThrow(/gram: algorithm 'subgroup' needs .* a multiple of 4 channels \(got 6\)/);
    x.dispose();
  });
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
