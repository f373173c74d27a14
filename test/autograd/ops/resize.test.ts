import { describe, expect, it } from 'vitest';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { resizeNearest, upsampleNearest, type ResizeNearestOptions } from '../../../src/autograd/ops/resize.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { nearestAxisMap, nearestSourceIndex, resizeNearestBackwardKernel, resizeNearestKernel } from '../../../src/gpu/kernels/resize.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/gpu/half.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { hasShaderF16 } from '../../helpers/adapter-features.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
type Shape4 = [number, number, number, number];

/**
 * The adjoint of tfjs's forward resize, as the gradient oracle: tfjs resizes an image whose
 * values are pixel indices, which gives the pixel each output reads; dy is then added there.
 * tf.grad of resizeNearestNeighbor is a second oracle only where tfjs-cpu's gradient kernel is
 * right: it ignores halfPixelCenters, and for batch > 1 it offsets dy by the input's batch stride.
 */
async function adjointOracle(inShape: Shape4, size: [number, number], options: ResizeNearestOptions, dy: Float32Array): Promise<Float64Array> {
  const [n, h, w, c] = inShape;
  const indices = tf.tensor4d(
    Float32Array.from({ length: n * h * w }, (_, i) => i),
    [n, h, w, 1],
  );
  const source = await tfValues(tf.image.resizeNearestNeighbor(indices, size, options.alignCorners ?? false, options.halfPixelCenters ?? false));
  const dx = new Float64Array(count(inShape));
  source.forEach((pixel, o) => {
    for (let ch = 0; ch < c; ch++) dx[pixel * c + ch]! += dy[o * c + ch]!;
  });
  return dx;
}

async function checkResize(inShape: Shape4, size: [number, number], options: ResizeNearestOptions, seed: number): Promise<void> {
  const rt = runtime();
  const xs = randomValues(count(inShape), seed);
  const x = rt.upload(xs, inShape);
  const tx = tf.tensor4d(xs, inShape);
  const theirs = (t: tf.Tensor4D) => tf.image.resizeNearestNeighbor(t, size, options.alignCorners ?? false, options.halfPixelCenters ?? false);
  const expected = theirs(tx);
  const y = resizeNearest(x, size, options);
  expect([...y.shape]).toEqual(expected.shape);
  expectClose(await y.data(), await tfValues(expected), 0, 0, 'resizeNearest forward');
  const ws = randomValues(expected.size, seed + 1);
  const w = rt.upload(ws, expected.shape);
  const { value, grads } = valueAndGrad((x: Tensor) => sum(mul(resizeNearest(x, size, options), w)))(x);
  const ours = await grads[0]!.data();
  expectClose(ours, await adjointOracle(inShape, size, options, ws), 1e-5, 1e-5, 'resizeNearest gradient vs adjoint');
  if (!options.halfPixelCenters && inShape[0] === 1) {
    const tw = tf.tensor(ws, expected.shape);
    const tfGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(theirs(t as tf.Tensor4D), tw)))(tx);
    expectClose(ours, await tfValues(tfGrad), 1e-5, 1e-5, 'resizeNearest gradient vs tf.grad');
  }
  for (const t of [x, y, w, value, ...grads]) t.dispose();
}

const modes: [string, ResizeNearestOptions][] = [
  ['plain', {}],
  ['alignCorners', { alignCorners: true }],
  ['halfPixelCenters', { halfPixelCenters: true }],
];

describe('resizeNearest: forward and gradient against tfjs-cpu', () => {
  const cases: [Shape4, [number, number]][] = [
    [[2, 7, 5, 3], [9, 11]],
    [[1, 9, 11, 13], [7, 5]],
    [[2, 7, 5, 8], [14, 10]],
    [[1, 5, 7, 3], [1, 1]],
    [[2, 1, 1, 8], [3, 4]],
    [[1, 6, 4, 1], [6, 4]],
  ];
  for (const [name, options] of modes) {
    for (const [i, [shape, size]] of cases.entries()) {
      it(`${name} ${JSON.stringify(shape)} → ${JSON.stringify(size)}`, () => checkResize(shape, size, options, 10 * i + 7));
    }
  }

  it('matches tfjs on every pair of sizes from 1 to 16 in every mode (forward and backward)', async () => {
    const rt = runtime();
    const pending: Promise<void>[] = [];
    for (const [name, options] of modes) {
      for (let a = 1; a <= 16; a++) {
        for (let b = 1; b <= 16; b++) {
          // H goes a → b, W goes b → a: every ordered pair appears on both axes.
          const inShape: Shape4 = [1, a, b, 1];
          const size: [number, number] = [b, a];
          const xs = Float32Array.from({ length: a * b }, (_, i) => i);
          const x = rt.upload(xs, inShape);
          const y = resizeNearestKernel(x, size, options);
          const dys = Float32Array.from({ length: a * b }, (_, i) => (i % 7) + 1);
          const dy = rt.upload(dys, [1, b, a, 1]);
          const dx = resizeNearestBackwardKernel(dy, inShape, options);
          pending.push(
            (async () => {
              const expected = await tfValues(tf.image.resizeNearestNeighbor(tf.tensor4d(xs, inShape), size, options.alignCorners ?? false, options.halfPixelCenters ?? false));
              expectClose(await y.data(), expected, 0, 0, `${name} ${a}×${b} → ${b}×${a} forward`);
              expectClose(await dx.data(), await adjointOracle(inShape, size, options, dys), 0, 0, `${name} ${a}×${b} → ${b}×${a} backward`);
              for (const t of [x, y, dy, dx]) t.dispose();
            })(),
          );
        }
      }
    }
    await Promise.all(pending);
  });

  it('uses exact fractions where float products miss a tie (a documented difference from tfjs-cpu)', async () => {
    // 2 → 98 rows: output row 49 sits exactly on source row 1 (49·2/98 = 1); float64 gives 0.9999….
    const rt = runtime();
    const y = await resizeNearest(rt.upload([10, 20], [1, 2, 1, 1]), [98, 1]).data();
    expect(nearestSourceIndex(nearestAxisMap(2, 98), 49, 2)).toBe(1);
    expect([y[48], y[49], y[50]]).toEqual([10, 20, 20]);
    const theirs = await tfValues(tf.image.resizeNearestNeighbor(tf.tensor4d([10, 20], [1, 2, 1, 1]), [98, 1]));
    expect(theirs[49]).toBe(10);
  });

  it.skipIf(!hasShaderF16)('resizes f16 tensors (needs shader-f16)', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 7, 5, 8];
    const xs = float16ToFloat32(float32ToFloat16(randomValues(count(shape), 3)));
    const y = resizeNearest(rt.upload(xs, shape, 'f16'), [9, 11], { halfPixelCenters: true });
    expect(y.dtype).toBe('f16');
    expectClose(await y.data(), await tfValues(tf.image.resizeNearestNeighbor(tf.tensor4d(xs, shape), [9, 11], false, true)), 0, 0, 'f16 resize');
    const up = upsampleNearest(rt.upload(xs, shape, 'f16'), 2);
    expect(up.dtype).toBe('f16');
    expectClose(await up.data(), await tfValues(tf.image.resizeNearestNeighbor(tf.tensor4d(xs, shape), [14, 10])), 0, 0, 'f16 upsample');
  });
});

describe('upsampleNearest: forward and block-sum gradient against tfjs-cpu', () => {
  const cases: [Shape4, number | [number, number]][] = [
    [[2, 7, 5, 3], 2],
    [[1, 4, 3, 8], 3],
    [[2, 3, 5, 13], [2, 3]],
    [[1, 5, 7, 4], 1],
    [[2, 3, 4, 12], [3, 2]], // vec4 with a channel count (3 vec4s) that is not a power of two
    [[2, 4, 4, 16], 2], // the TransformerNet case: vec4, power-of-two channels, several samples
  ];
  for (const [i, [shape, factor]] of cases.entries()) {
    it(`${JSON.stringify(shape)} × ${JSON.stringify(factor)}`, async () => {
      const rt = runtime();
      const [fh, fw] = typeof factor === 'number' ? [factor, factor] : factor;
      const size: [number, number] = [shape[1] * fh, shape[2] * fw];
      const xs = randomValues(count(shape), 20 + i);
      const x = rt.upload(xs, shape);
      const tx = tf.tensor4d(xs, shape);
      const expected = tf.image.resizeNearestNeighbor(tx, size);
      const y = upsampleNearest(x, factor);
      expect([...y.shape]).toEqual(expected.shape);
      expectClose(await y.data(), await tfValues(expected), 0, 0, 'upsample forward');
      const ws = randomValues(expected.size, 30 + i);
      const w = rt.upload(ws, expected.shape);
      const tw = tf.tensor(ws, expected.shape);
      const { grads } = valueAndGrad((x: Tensor) => sum(mul(upsampleNearest(x, factor), w)))(x);
      const ours = await grads[0]!.data();
      expectClose(ours, await adjointOracle(shape, size, {}, ws), 1e-5, 1e-5, 'upsample gradient vs adjoint');
      if (shape[0] === 1) {
        const tfGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, size), tw)))(tx);
        expectClose(ours, await tfValues(tfGrad), 1e-5, 1e-5, 'upsample gradient vs tf.grad');
      }
    });
  }
});

describe('resize ops: errors and memory', () => {
  it('throws on bad arguments before dispatching, naming the op and the shapes', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 1), [2, 7, 5, 3]);
    const flat = rt.upload(randomValues(35, 1), [7, 5]);
    const before = rt.stats().dispatches;
    expect(() => resizeNearest(flat, [3, 3])).toThrow(/resizeNearest: input must have rank 4, got shape \[7, 5\]/);
    expect(() => resizeNearest(x, [0, 3])).toThrow(/resizeNearest: size must be two positive integers/);
    expect(() => resizeNearest(x, [3, 3], { alignCorners: true, halfPixelCenters: true })).toThrow(/alignCorners must be false/);
    expect(() => upsampleNearest(x, 1.5)).toThrow(/upsampleNearest: factor must be a positive integer/);
    expect(() => upsampleNearest(flat)).toThrow(/upsampleNearest: input must have rank 4, got shape \[7, 5\]/);
    expect(() => resizeNearestBackwardKernel(x, [2, 3, 3, 4])).toThrow(/resizeNearest backward: dy has shape \[2, 7, 5, 3\], expected \[2, 7, 5, 4\]/);
    expect(rt.stats().dispatches).toBe(before);
  });

  it('frees every intermediate of forward and backward', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 5), [2, 7, 5, 3]);
    const run = () => {
      const { value, grads } = valueAndGrad((x: Tensor) => sum(resizeNearest(upsampleNearest(x, 2), [9, 11], { alignCorners: true })))(x);
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
