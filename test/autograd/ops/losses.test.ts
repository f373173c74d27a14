import { describe, expect, it } from 'vitest';
import { mse, sumSquaredError, sumSquares } from '../../../src/autograd/ops/losses.ts';
import { scale } from '../../../src/autograd/ops/elementwise.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

const shapes: [string, number[]][] = [
  ['odd 7×5 image, 3 channels, batch 2 (scalar loads)', [2, 7, 5, 3]],
  ['8 channels (vec4 loads)', [2, 4, 4, 8]],
  ['13 channels, 64×64: two stages, vec4', [1, 64, 64, 13]],
  ['odd 67×67×3, batch 3: two stages, scalar loads', [3, 67, 67, 3]],
];

type Loss = [name: string, ours: (a: Tensor, b: Tensor) => Tensor, theirs: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor];
const losses: Loss[] = [
  ['mse', mse, (a, b) => tf.mean(tf.squaredDifference(a, b))],
  ['mse (tf.losses)', mse, (a, b) => tf.losses.meanSquaredError(a, b)],
  ['sumSquaredError', sumSquaredError, (a, b) => tf.sum(tf.squaredDifference(a, b))],
  ['sumSquares', (a) => sumSquares(a), (a) => tf.sum(tf.square(a))],
];

describe('losses: value and gradients against tfjs-cpu', () => {
  for (const [lossName, ours, theirs] of losses) {
    for (const [shapeName, shape] of shapes) {
      if (lossName === 'mse (tf.losses)' && shape[3] !== 3) continue;
      it(`${lossName}: ${shapeName}`, async () => {
        const rt = runtime();
        const as = randomValues(size(shape), size(shape) + 1);
        const bs = randomValues(size(shape), size(shape) + 2);
        const a = rt.upload(as, shape);
        const b = rt.upload(bs, shape);
        const ta = tf.tensor(as, shape);
        const tb = tf.tensor(bs, shape);
        // Scaled so that the upstream gradient reaching the loss is not 1.
        const { value, grads } = valueAndGrad((a: Tensor, b: Tensor) => scale(ours(a, b), 1.7))(a, b);
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.mul(theirs(a, b), 1.7);
        // sumSquares ignores b: tf.grads refuses an unused input, and our gradient for it is zero.
        const [ga, gb] = lossName === 'sumSquares' ? [tf.grad((a: tf.Tensor) => f(a, tb))(ta), tf.zerosLike(tb)] : tf.grads(f)([ta, tb]);
        expect([...value.shape]).toEqual([]);
        expectClose([await value.item()], await tfValues(tf.mul(theirs(ta, tb), 1.7)), 1e-4, 1e-5, `${lossName} value`);
        expectClose(await grads[0]!.data(), await tfValues(ga!), 1e-4, 1e-6, `${lossName} d/da`);
        expectClose(await grads[1]!.data(), await tfValues(gb!), 1e-4, 1e-6, `${lossName} d/db`);
        for (const t of [a, b, value, ...grads]) t.dispose();
      });
    }
  }
});

describe('losses stay on the GPU and check shapes first', () => {
  it('computes a scalar without reading anything back', async () => {
    const rt = runtime();
    const a = rt.upload(randomValues(64 * 64 * 13, 3), [1, 64, 64, 13]);
    const b = rt.upload(randomValues(64 * 64 * 13, 4), [1, 64, 64, 13]);
    const before = rt.stats().readbacks;
    const l = mse(a, b);
    const s = sumSquares(a);
    await rt.flush();
    expect(rt.stats().readbacks).toBe(before);
    expect(l.size).toBe(1);
    for (const t of [a, b, l, s]) t.dispose();
  });

  it('throws before dispatch on mismatched shapes, naming the op and both shapes', () => {
    const rt = runtime();
    const a = rt.upload(randomValues(6, 1), [2, 3]);
    const b = rt.upload(randomValues(6, 2), [3, 2]);
    const before = rt.stats().dispatches;
    expect(() => mse(a, b)).toThrow(/mse: shapes \[2, 3\] and \[3, 2\] differ/);
    expect(() => sumSquaredError(a, b)).toThrow(/sumSquaredError: shapes \[2, 3\] and \[3, 2\] differ/);
    expect(rt.stats().dispatches).toBe(before);
    a.dispose();
    b.dispose();
  });

  it('frees every temporary of the two-stage reduction and the backward', async () => {
    const rt = runtime();
    const a = rt.upload(randomValues(3 * 67 * 67 * 3, 5), [3, 67, 67, 3]);
    const b = rt.upload(randomValues(3 * 67 * 67 * 3, 6), [3, 67, 67, 3]);
    const before = rt.stats();
    const { value, grads } = valueAndGrad((a: Tensor, b: Tensor) => mse(a, b))(a, b);
    value.dispose();
    grads.forEach((g) => g.dispose());
    await rt.flush();
    expect(rt.stats().liveTensors).toBe(before.liveTensors);
    expect(rt.stats().liveBytes).toBe(before.liveBytes);
    a.dispose();
    b.dispose();
  });
});
