import { describe, expect, it } from 'vitest';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { avgPool2d, maxPool2d } from '../../../src/autograd/ops/pool.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/gpu/half.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { hasShaderF16 } from '../../helpers/adapter-features.ts';
import { expectClose, randomValues, seededRandom, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

type Kind = 'max' | 'avg';
const ours: Record<Kind, (x: Tensor) => Tensor> = { max: maxPool2d, avg: avgPool2d };
const theirs: Record<Kind, (x: tf.Tensor4D) => tf.Tensor> = {
  max: (x) => tf.maxPool(x, 2, 2, 'valid'),
  avg: (x) => tf.avgPool(x, 2, 2, 'valid'),
};

/** Forward against tfjs, and the gradient of Σ w·pool(x) against tf.grad. */
async function check(kind: Kind, shape: number[], xs: Float32Array, seed: number): Promise<void> {
  const rt = runtime();
  const x = rt.upload(xs, shape);
  const tx = tf.tensor4d(xs, shape as [number, number, number, number]);
  const expected = theirs[kind](tx);
  const y = ours[kind](x);
  expect([...y.shape]).toEqual(expected.shape);
  expectClose(await y.data(), await tfValues(expected), 1e-6, 1e-6, `${kind} forward`);
  const ws = randomValues(expected.size, seed);
  const w = rt.upload(ws, expected.shape);
  const tw = tf.tensor(ws, expected.shape);
  const { value, grads } = valueAndGrad((x: Tensor) => sum(mul(ours[kind](x), w)))(x);
  const expectedGrad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(theirs[kind](x as tf.Tensor4D), tw)))(tx);
  expect([...grads[0]!.shape]).toEqual(shape);
  expectClose(await grads[0]!.data(), await tfValues(expectedGrad), 1e-6, 1e-6, `${kind} gradient`);
  for (const t of [x, y, w, value, ...grads]) t.dispose();
}

// Odd H and W (last row / column dropped), C = 3 and 13 (scalar path), C = 8 (vec4 path), batch 2.
const shapes = [
  [2, 7, 5, 3],
  [1, 9, 11, 13],
  [2, 6, 4, 8],
  [2, 7, 9, 8],
  [1, 2, 2, 1],
];

describe('2×2 stride-2 pooling: forward and gradient against tfjs-cpu', () => {
  for (const kind of ['max', 'avg'] as const) {
    for (const [i, shape] of shapes.entries()) {
      it(`${kind} ${JSON.stringify(shape)}`, () => check(kind, shape, randomValues(count(shape), 40 + i), 50 + i));
    }
  }

  it('max routes the gradient to the first maximum on ties, as tfjs does', async () => {
    // Values from {0, 1, 2}: most windows hold repeated maxima.
    for (const shape of [
      [2, 7, 5, 3],
      [1, 6, 6, 8],
    ]) {
      const rand = seededRandom(61);
      const xs = Float32Array.from({ length: count(shape) }, () => Math.floor(rand() * 3));
      await check('max', shape, xs, 62);
    }
  });

  it('gives an empty output for H or W below 2, with a zero gradient', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 1 * 5 * 3, 70), [2, 1, 5, 3]);
    const y = maxPool2d(x);
    expect([...y.shape]).toEqual([2, 0, 2, 3]);
    const { grads } = valueAndGrad((x: Tensor) => sum(avgPool2d(x)))(x);
    expect([...(await grads[0]!.data())]).toEqual(new Array(30).fill(0));
  });

  it.skipIf(!hasShaderF16)('pools f16 tensors (f32 arithmetic, f16 storage; needs shader-f16)', async () => {
    const rt = runtime();
    for (const shape of [
      [2, 7, 5, 3],
      [2, 6, 4, 8],
    ]) {
      const xs = float16ToFloat32(float32ToFloat16(randomValues(count(shape), 80)));
      const x = rt.upload(xs, shape, 'f16');
      const tx = tf.tensor4d(xs, shape as [number, number, number, number]);
      const mx = maxPool2d(x);
      const av = avgPool2d(x);
      expect(mx.dtype).toBe('f16');
      expectClose(await mx.data(), await tfValues(theirs.max(tx)), 0, 0, 'f16 max');
      // One f16 rounding of the average.
      expectClose(await av.data(), await tfValues(theirs.avg(tx)), 1e-3, 1e-3, 'f16 avg');
    }
  });

  it('rejects inputs that are not rank 4 before dispatching, naming the op and the shape', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(35, 1), [7, 5]);
    const before = rt.stats().dispatches;
    expect(() => maxPool2d(x)).toThrow(/maxPool2d: input must have rank 4, got shape \[7, 5\]/);
    expect(() => avgPool2d(x)).toThrow(/avgPool2d: input must have rank 4, got shape \[7, 5\]/);
    expect(rt.stats().dispatches).toBe(before);
  });

  it('frees every intermediate of forward and backward', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 8, 90), [2, 7, 5, 8]);
    const run = () => {
      const { value, grads } = valueAndGrad((x: Tensor) => sum(avgPool2d(maxPool2d(x))))(x);
      value.dispose();
      grads.forEach((g) => g.dispose());
    };
    run();
    await rt.flush();
    const before = rt.stats();
    run();
    run();
    await rt.flush();
    expect(rt.stats().liveTensors).toBe(before.liveTensors);
    expect(rt.stats().liveBytes).toBe(before.liveBytes);
  });
});
