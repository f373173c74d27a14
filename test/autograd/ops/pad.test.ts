import { describe, expect, it } from 'vitest';
import { pad2d, type Pads } from '../../../src/autograd/ops/pad.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { numericGradient, weightedSum } from '../../helpers/gradcheck.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const tfPads = ([t, b, l, r]: Pads): [number, number][] => [[0, 0], [t, b], [l, r], [0, 0]];

/** Reflect-pad index map, written independently of the kernel (PyTorch ReflectionPad2d). */
function mirror(i: number, n: number): number {
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

/** Plain float64 reference of pad2d, for finite differences. */
function padReference(x: Float64Array, [n, h, w, c]: number[], [t, b, l, r]: Pads, mode: 'zeros' | 'reflect'): Float64Array {
  const oh = h! + t + b;
  const ow = w! + l + r;
  const out = new Float64Array(n! * oh * ow * c!);
  for (let ni = 0; ni < n!; ni++)
    for (let ph = 0; ph < oh; ph++)
      for (let pw = 0; pw < ow; pw++) {
        let hi = ph - t;
        let wi = pw - l;
        if (mode === 'reflect') {
          hi = mirror(hi, h!);
          wi = mirror(wi, w!);
        } else if (hi < 0 || hi >= h! || wi < 0 || wi >= w!) continue;
        for (let ci = 0; ci < c!; ci++) out[((ni * oh + ph) * ow + pw) * c! + ci] = x[((ni * h! + hi) * w! + wi) * c! + ci]!;
      }
  return out;
}

/** Mirror padding by gathers: tf.mirrorPad's gradient only slices (it drops mirrored pixels), gather's scatters. */
function mirrorPadByGather(x: tf.Tensor, [t, b, l, r]: Pads): tf.Tensor {
  const idx = (n: number, lo: number, hi: number) => Array.from({ length: n + lo + hi }, (_, p) => mirror(p - lo, n));
  const rows = tf.gather(x, tf.tensor1d(idx(x.shape[1]!, t, b), 'int32'), 1);
  return tf.gather(rows, tf.tensor1d(idx(x.shape[2]!, l, r), 'int32'), 2);
}

type PadCase = [shape: number[], pads: Pads];
const padCases: PadCase[] = [
  [[2, 7, 5, 3], [1, 2, 3, 0]],
  [[2, 7, 5, 3], [6, 6, 4, 4]], // the largest reflect pads: dim - 1 on every side
  [[2, 9, 11, 8], [4, 4, 4, 4]], // vec4 channels
  [[1, 3, 2, 13], [2, 2, 1, 1]], // pads reaching past the middle: pixels mirrored from both sides
  [[2, 5, 4, 4], [0, 0, 0, 0]],
];

describe('pad2d: forward and gradient', () => {
  for (const mode of ['zeros', 'reflect'] as const) {
    padCases.forEach(([shape, pads], k) => {
      it(`${mode} ${JSON.stringify(shape)} pads ${JSON.stringify(pads)}`, async () => {
        const rt = runtime();
        const xs = randomValues(size(shape), 40 + k);
        const tx = tf.tensor(xs, shape);
        const expected = mode === 'zeros' ? tf.pad(tx, tfPads(pads)) : tf.mirrorPad(tx, tfPads(pads), 'reflect');
        const x = rt.upload(xs, shape);
        const y = pad2d(x, pads, mode);
        expect([...y.shape]).toEqual(expected.shape);
        expectClose(await y.data(), await tfValues(expected), 0, 0, `${mode} forward`);
        if (mode === 'reflect') expectClose(await y.data(), await tfValues(mirrorPadByGather(tx, pads)), 0, 0, 'gather oracle agrees with tf.mirrorPad');

        const gs = randomValues(size(expected.shape), 60 + k);
        const g = rt.upload(gs, expected.shape);
        const tg = tf.tensor(gs, expected.shape);
        const { grads } = valueAndGrad((x: Tensor) => sum(mul(pad2d(x, pads, mode), g)))(x);
        const theirs = (x: tf.Tensor) => (mode === 'zeros' ? tf.pad(x, tfPads(pads)) : mirrorPadByGather(x, pads));
        const tfGrad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(theirs(x), tg)))(tx);
        const ours = await grads[0]!.data();
        expectClose(ours, await tfValues(tfGrad), 1e-5, 1e-5, `${mode} gradient vs tf`);
        // and against float64 central differences of a plain reference
        const fd = numericGradient((v) => weightedSum(padReference(v, shape, pads, mode), gs), xs, 1e-3);
        expectClose(ours, fd, 1e-4, 1e-4, `${mode} gradient vs finite differences`);
        for (const t of [x, y, g, ...grads]) t.dispose();
      });
    });
  }
});

describe('pad2d: errors throw before any dispatch, naming the op and the shapes', () => {
  it('rejects bad pads and shapes', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 1), [2, 7, 5, 3]);
    const flat = rt.upload(randomValues(6, 2), [2, 3]);
    const before = rt.stats().dispatches;
    expect(() => pad2d(x, [7, 0, 0, 0], 'reflect')).toThrow(/pad2d: reflect padding \[7, 0, 0, 0\] must be smaller than the padded dimensions of x \[2, 7, 5, 3\] \(height 7, width 5\)/);
    expect(() => pad2d(x, [0, 0, 0, 5], 'reflect')).toThrow(/pad2d: reflect padding \[0, 0, 0, 5\]/);
    expect(() => pad2d(x, [-1, 0, 0, 0])).toThrow(/pad2d: pads must be four non-negative integers .* for x \[2, 7, 5, 3\]/);
    expect(() => pad2d(x, [1, 1, 1] as unknown as Pads)).toThrow(/pad2d: pads must be four/);
    expect(() => pad2d(flat, [1, 1, 1, 1])).toThrow(/pad2d: x must be NHWC with rank 4, got shape \[2, 3\]/);
    expect(() => pad2d(x, [1, 1, 1, 1], 'edge' as 'zeros')).toThrow(/pad2d: unknown pad mode 'edge'/);
    expect(rt.stats().dispatches).toBe(before);
    // zero padding may exceed the dimension
    const y = pad2d(x, [9, 0, 0, 6]);
    expect([...y.shape]).toEqual([2, 16, 11, 3]);
  });
});
