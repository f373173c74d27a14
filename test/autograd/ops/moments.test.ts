import { describe, expect, it } from 'vitest';
import { moments, variance } from '../../../src/autograd/ops/moments.ts';
import { add, mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { momentsKernel } from '../../../src/gpu/kernels/moments.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/** float64 two-pass reference over arbitrary axes. */
function reference(xs: ArrayLike<number>, shape: number[], axes: number[]): { mean: Float64Array; variance: Float64Array } {
  const strides = shape.map((_, i) => size(shape.slice(i + 1)));
  const outIndex = (flat: number) => {
    let o = 0;
    shape.forEach((d, i) => {
      if (!axes.includes(i)) o = o * d + (Math.floor(flat / strides[i]!) % d);
    });
    return o;
  };
  const outputs = size(shape.filter((_, i) => !axes.includes(i)));
  const n = size(axes.map((a) => shape[a]!));
  const mean = new Float64Array(outputs);
  const variance = new Float64Array(outputs);
  for (let i = 0; i < xs.length; i++) mean[outIndex(i)] += xs[i]! / n;
  for (let i = 0; i < xs.length; i++) variance[outIndex(i)] += (xs[i]! - mean[outIndex(i)]!) ** 2 / n;
  return { mean, variance };
}

type Case = [name: string, shape: number[], axes: number[] | undefined, keepDims: boolean];
const cases: Case[] = [
  ['instance-norm axes [1,2], odd image 7×5, 3 channels, batch 2', [2, 7, 5, 3], [1, 2], true],
  ['batch-norm axes [0,1,2], 13 channels', [2, 7, 5, 13], [0, 1, 2], false],
  ['all axes', [2, 7, 5, 3], undefined, false],
  ['last axis (one thread per output)', [2, 7, 5, 3], [3], true],
  ['axes [0,2] that are not one block (strided fallback)', [2, 7, 5, 3], [0, 2], false],
  ['64×64 pixels, 3 channels: reduction split over workgroups, then merged', [1, 64, 64, 3], [1, 2], true],
  ['16×16 pixels, 13 channels: one workgroup per output tile', [2, 16, 16, 13], [1, 2], false],
  ['70 channels: 64-channel tiles, per-channel over N·H·W', [1, 8, 8, 70], [0, 1, 2], true],
  ['one long row, all axes, 1 lane × 256 rows', [1, 32, 32, 3], undefined, false],
];

describe('moments forward against tf.moments', () => {
  for (const [name, shape, axes, keepDims] of cases) {
    it(name, async () => {
      const rt = runtime();
      const xs = randomValues(size(shape), shape.length * 100 + size(shape), -2, 3);
      const x = rt.upload(xs, shape);
      const { mean, variance: v } = momentsKernel(x, axes, { keepDims });
      const expected = tf.moments(tf.tensor(xs, shape), axes, keepDims);
      expect([...mean.shape]).toEqual(expected.mean.shape);
      expect([...v.shape]).toEqual(expected.variance.shape);
      expectClose(await mean.data(), await tfValues(expected.mean), 1e-4, 1e-5, `${name} mean`);
      expectClose(await v.data(), await tfValues(expected.variance), 1e-4, 1e-5, `${name} variance`);
      for (const t of [x, mean, v]) t.dispose();
    });
  }
});

describe('moments are numerically stable (large mean, small spread) against a float64 reference', () => {
  // E[x²] − E[x]² in float32 loses every digit here: x² ≈ 1e8 carries absolute errors ≈ 4, the variance is ≈ 0.08.
  for (const [name, shape, axes] of [
    ['split workgroup path', [1, 64, 64, 3], [1, 2]],
    ['single workgroup path', [2, 16, 16, 13], [1, 2]],
    ['one thread per output', [2, 7, 5, 3], [1, 2]],
    ['strided fallback', [2, 7, 5, 3], [0, 2]],
  ] as [string, number[], number[]][]) {
    it(name, async () => {
      const rt = runtime();
      const xs = randomValues(size(shape), 77, 1e4 - 0.5, 1e4 + 0.5);
      const x = rt.upload(xs, shape);
      const { mean, variance: v } = momentsKernel(x, axes);
      const ref = reference(xs, shape, axes);
      expectClose(await mean.data(), ref.mean, 1e-6, 0, `${name} mean`);
      expectClose(await v.data(), ref.variance, 2e-3, 0, `${name} variance`);
      for (const t of [x, mean, v]) t.dispose();
    });
  }
});

describe('moments gradients against tf.grad of tf.moments', () => {
  for (const [name, shape, axes, keepDims] of [cases[0]!, cases[1]!, cases[3]!, cases[4]!, cases[5]!]) {
    it(`mean and variance: ${name}`, async () => {
      const rt = runtime();
      const xs = randomValues(size(shape), 5 + size(shape), -2, 3);
      const tx = tf.tensor(xs, shape);
      const outShape = tf.moments(tx, axes, keepDims).mean.shape;
      const w1s = randomValues(size(outShape), 6);
      const w2s = randomValues(size(outShape), 7);
      const x = rt.upload(xs, shape);
      const w1 = rt.upload(w1s, outShape);
      const w2 = rt.upload(w2s, outShape);
      const tw1 = tf.tensor(w1s, outShape);
      const tw2 = tf.tensor(w2s, outShape);

      const both = valueAndGrad((x: Tensor) => {
        const m = moments(x, axes, { keepDims });
        return add(sum(mul(m.mean, w1)), sum(mul(m.variance, w2)));
      })(x);
      const expectedBoth = tf.grad((x: tf.Tensor) => {
        const m = tf.moments(x, axes, keepDims);
        return tf.add(tf.sum(tf.mul(m.mean, tw1)), tf.sum(tf.mul(m.variance, tw2)));
      })(tx);
      expectClose(await both.grads[0]!.data(), await tfValues(expectedBoth), 1e-4, 1e-5, `${name}: d(mean·w1 + var·w2)/dx`);

      const onlyVar = valueAndGrad((x: Tensor) => sum(mul(variance(x, axes, keepDims), w2)))(x);
      const expectedVar = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.moments(x, axes, keepDims).variance, tw2)))(tx);
      expectClose(await onlyVar.grads[0]!.data(), await tfValues(expectedVar), 1e-4, 1e-5, `${name}: d(var·w)/dx`);
      expectClose([await onlyVar.value.item()], await tfValues(tf.sum(tf.mul(tf.moments(tx, axes, keepDims).variance, tw2))), 1e-4, 1e-5, 'value');
      for (const t of [x, w1, w2, both.value, onlyVar.value, ...both.grads, ...onlyVar.grads]) t.dispose();
    });
  }
});

describe('moments errors and memory', () => {
  it('throws before dispatch for a bad axis or an empty reduction', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(6, 1), [2, 3]);
    const e = rt.empty([2, 0]);
    const before = rt.stats().dispatches;
    expect(() => moments(x, [2])).toThrow(/moments: axis 2 is out of range for rank 2/);
    expect(() => variance(e, [1])).toThrow(/variance: cannot take moments over zero elements \(shape \[2, 0\]/);
    expect(rt.stats().dispatches).toBe(before);
    x.dispose();
    e.dispose();
  });

  it('frees the saved mean with the tape, and everything when no gradient is needed', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 2), [2, 7, 5, 3]);
    const before = rt.stats();
    const { value, grads } = valueAndGrad((x: Tensor) => {
      const m = moments(x, [1, 2]);
      m.mean.dispose(); // the variance's backward must not depend on the caller keeping `mean`
      return sum(m.variance);
    })(x);
    expect(Number.isFinite(await grads[0]!.data().then((d) => d[0]!))).toBe(true);
    value.dispose();
    grads.forEach((g) => g.dispose());
    const v = variance(x, [1, 2]);
    v.dispose();
    await rt.flush();
    expect(rt.stats().liveTensors).toBe(before.liveTensors);
    expect(rt.stats().liveBytes).toBe(before.liveBytes);
    x.dispose();
  });
});
