import { describe, expect, it } from 'vitest';
import * as ops from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { unary } from '../../../src/gpu/kernels/elementwise.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { hasShaderF16 } from '../../helpers/adapter-features.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

/** Weighted sum so that the upstream gradient is not all ones. */
function weightedSum(y: Tensor, weights: Tensor): Tensor {
  return sum(ops.mul(y, weights));
}

type UnaryCase = [name: string, ours: (x: Tensor) => Tensor, theirs: (x: tf.Tensor) => tf.Tensor, lo: number, hi: number];
const unaryCases: UnaryCase[] = [
  ['relu', ops.relu, tf.relu, -2, 2],
  ['relu6', ops.relu6, tf.relu6, -2, 8],
  ['tanh', ops.tanh, tf.tanh, -2, 2],
  ['sigmoid', ops.sigmoid, tf.sigmoid, -3, 3],
  ['sqrt', ops.sqrt, tf.sqrt, 0.5, 3],
  ['rsqrt', ops.rsqrt, tf.rsqrt, 0.5, 3],
  ['square', ops.square, tf.square, -2, 2],
  ['exp', ops.exp, tf.exp, -2, 2],
  ['log', ops.log, tf.log, 0.5, 3],
  ['abs', ops.abs, tf.abs, -2, 2],
  ['neg', ops.neg, tf.neg, -2, 2],
  ['clamp', (x) => ops.clamp(x, -0.5, 0.7), (x) => tf.clipByValue(x, -0.5, 0.7), -2, 2],
  ['affine', (x) => ops.affine(x, 1.5, -0.25), (x) => tf.add(tf.mul(x, 1.5), -0.25), -2, 2],
  ['pow', (x) => ops.pow(x, 2.5), (x) => tf.pow(x, 2.5), 0.5, 2],
];

describe('unary ops: forward and gradient against tfjs-cpu', () => {
  // 210 elements take the one-per-invocation kernel, 168 (a multiple of 4) the vec4 one.
  for (const [name, ours, theirs, lo, hi] of unaryCases) for (const shape of [[2, 7, 5, 3], [2, 7, 4, 3]]) {
    it(`${name} ${JSON.stringify(shape)}`, async () => {
      const n = shape.reduce((a, b) => a * b);
      const xs = randomValues(n, 11, lo, hi);
      const ws = randomValues(n, 12);
      const rt = runtime();
      const x = rt.upload(xs, shape);
      const w = rt.upload(ws, shape);
      const y = ours(x);
      const { value, grads } = valueAndGrad((x: Tensor) => weightedSum(ours(x), w))(x);
      const tx = tf.tensor(xs, shape);
      const tw = tf.tensor(ws, shape);
      expectClose(await y.data(), await tfValues(theirs(tx)), 1e-4, 1e-5, `${name} forward`);
      const tfGrad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(theirs(x), tw)))(tx);
      expectClose(await grads[0]!.data(), await tfValues(tfGrad), 1e-4, 1e-5, `${name} gradient`);
      expectClose([await value.item()], await tfValues(tf.sum(tf.mul(theirs(tx), tw))), 1e-4, 1e-4, `${name} value`);
      for (const t of [x, w, y, value, ...grads]) t.dispose();
    });
  }
});

type BinaryCase = [name: string, ours: (a: Tensor, b: Tensor) => Tensor, theirs: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor];
const binaryCases: BinaryCase[] = [
  ['add', ops.add, tf.add],
  ['sub', ops.sub, tf.sub],
  ['mul', ops.mul, tf.mul],
  ['div', ops.div, tf.div],
];
const shapePairs: [number[], number[]][] = [
  [[2, 7, 5, 3], [2, 7, 5, 3]],
  [[2, 7, 4, 3], [2, 7, 4, 3]],
  [[2, 7, 5, 3], [3]],
  [[2, 1, 5, 3], [7, 1, 1]],
  [[13], [4, 1]],
  [[1], [2, 3]],
];

describe('binary ops with broadcasting: forward and both gradients against tfjs-cpu', () => {
  for (const [name, ours, theirs] of binaryCases) {
    for (const [sa, sb] of shapePairs) {
      it(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, async () => {
        const rt = runtime();
        const na = sa.reduce((p, d) => p * d, 1);
        const nb = sb.reduce((p, d) => p * d, 1);
        // Keep divisors away from zero.
        const as = randomValues(na, 21);
        const bs = randomValues(nb, 22).map((v) => (name === 'div' ? Math.sign(v || 1) * (0.5 + Math.abs(v)) : v));
        const a = rt.upload(as, sa);
        const b = rt.upload(bs, sb);
        const ta = tf.tensor(as, sa);
        const tb = tf.tensor(bs, sb);
        const outShape = theirs(ta, tb).shape;
        const ws = randomValues(outShape.reduce((p, d) => p * d, 1), 23);
        const w = rt.upload(ws, outShape);
        const tw = tf.tensor(ws, outShape);
        const y = ours(a, b);
        expect([...y.shape]).toEqual(outShape);
        expectClose(await y.data(), await tfValues(theirs(ta, tb)), 1e-4, 1e-5, `${name} forward`);
        const { grads } = valueAndGrad((a: Tensor, b: Tensor) => weightedSum(ours(a, b), w))(a, b);
        const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(theirs(a, b), tw)))([ta, tb]);
        expect([...grads[0]!.shape]).toEqual(sa);
        expect([...grads[1]!.shape]).toEqual(sb);
        expectClose(await grads[0]!.data(), await tfValues(ga!), 1e-4, 1e-5, `${name} d/da`);
        expectClose(await grads[1]!.data(), await tfValues(gb!), 1e-4, 1e-5, `${name} d/db`);
      });
    }
  }
});

describe('autodiff bookkeeping', () => {
  it('accumulates gradients of a tensor used twice', async () => {
    const rt = runtime();
    const xs = randomValues(12, 31);
    const x = rt.upload(xs, [3, 4]);
    // f(x) = sum(x*x + 3x) → df/dx = 2x + 3
    const { grads } = valueAndGrad((x: Tensor) => sum(ops.add(ops.mul(x, x), ops.scale(x, 3))))(x);
    expectClose(await grads[0]!.data(), xs.map((v) => 2 * v + 3), 1e-5, 1e-5);
  });

  it('gives zeros for an argument that does not affect the output', async () => {
    const rt = runtime();
    const x = rt.upload([1, 2, 3], [3]);
    const y = rt.upload([4, 5, 6], [3]);
    const { grads } = valueAndGrad((x: Tensor, _y: Tensor) => sum(ops.square(x)))(x, y);
    expect([...(await grads[1]!.data())]).toEqual([0, 0, 0]);
    expect([...(await grads[0]!.data())]).toEqual([2, 4, 6]);
  });

  it('frees every intermediate: live bytes return to where they were', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(64 * 64, 5), [64, 64]);
    const before = rt.stats();
    for (let i = 0; i < 20; i++) {
      const { value, grads } = valueAndGrad((x: Tensor) => sum(ops.tanh(ops.mul(x, ops.sigmoid(x)))))(x);
      await value.item();
      value.dispose();
      grads.forEach((g) => g.dispose());
    }
    await rt.flush();
    const after = rt.stats();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.liveTensors).toBe(before.liveTensors);
  });

  it('throws a clear error on a disposed tensor and on mismatched shapes', () => {
    const rt = runtime();
    const a = rt.upload([1, 2, 3], [3]);
    const b = rt.upload([1, 2], [2]);
    expect(() => ops.add(a, b)).toThrow(/add: shapes \[3\] and \[2\] cannot be broadcast/);
    a.dispose();
    expect(() => ops.relu(a)).toThrow(/used after dispose/);
  });
});

describe('unary maps on f16 tensors', () => {
  // [3, 5] takes the one-per-invocation kernel, [4, 6] the vec4 one.
  for (const shape of [[3, 5], [4, 6]]) {
    it.skipIf(!hasShaderF16)(`affine and relu ${JSON.stringify(shape)} (needs shader-f16)`, async () => {
      const rt = runtime();
      const n = shape.reduce((a, b) => a * b);
      const x = rt.upload(randomValues(n, 41), shape, 'f16');
      const xv = await x.data(); // the values as rounded to f16 on upload
      const y = unary('affine', x, 1.5, -0.25);
      const z = unary('relu', x);
      expect(y.dtype).toBe('f16');
      expectClose(await y.data(), Array.from(xv, (v) => 1.5 * v - 0.25), 2e-3, 2e-3, 'affine f16');
      expectClose(await z.data(), Array.from(xv, (v) => Math.max(v, 0)), 0, 0, 'relu f16');
      for (const t of [x, y, z]) t.dispose();
    });
  }
});
