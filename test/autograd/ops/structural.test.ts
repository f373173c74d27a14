import { describe, expect, it } from 'vitest';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { concat, slice, transpose } from '../../../src/autograd/ops/structural.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { float32ToFloat16, float16ToFloat32 } from '../../../src/gpu/half.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { hasShaderF16 } from '../../helpers/adapter-features.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
let seed = 100;

/** Uploads seeded values and makes the matching tfjs tensor. */
function pair(shape: number[]): { ours: Tensor; theirs: tf.Tensor; values: Float32Array } {
  const values = randomValues(count(shape), seed++);
  return { ours: runtime().upload(values, shape), theirs: tf.tensor(values, shape), values };
}

/**
 * Forward against tfjs, then the gradient of Σ w·f(inputs) against tf.grads (w random so that
 * the upstream gradient is not all ones). Structural ops only move values: everything is exact.
 */
async function check(
  what: string,
  shapes: number[][],
  ours: (xs: Tensor[]) => Tensor,
  theirs: (xs: tf.Tensor[]) => tf.Tensor,
): Promise<void> {
  const rt = runtime();
  const inputs = shapes.map(pair);
  const expected = theirs(inputs.map((p) => p.theirs));
  const y = ours(inputs.map((p) => p.ours));
  expect([...y.shape], `${what} shape`).toEqual(expected.shape);
  expectClose(await y.data(), await tfValues(expected), 0, 0, `${what} forward`);
  const ws = randomValues(Math.max(1, expected.size), seed++).subarray(0, expected.size);
  const w = rt.upload(ws, expected.shape);
  const tw = tf.tensor(ws, expected.shape);
  const { value, grads } = valueAndGrad((...xs: Tensor[]) => sum(mul(ours(xs), w)))(...inputs.map((p) => p.ours));
  const tgrads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(theirs(xs), tw)))(inputs.map((p) => p.theirs));
  for (let i = 0; i < shapes.length; i++) {
    expect([...grads[i]!.shape]).toEqual(shapes[i]);
    expectClose(await grads[i]!.data(), await tfValues(tgrads[i]!), 0, 0, `${what} gradient ${i}`);
  }
  for (const t of [y, w, value, ...grads, ...inputs.map((p) => p.ours)]) t.dispose();
}

describe('concat: forward and gradients against tfjs-cpu', () => {
  const cases: [number[][], number][] = [
    [[[2, 7, 5, 3], [1, 7, 5, 3], [2, 7, 5, 3]], 0],
    [[[2, 7, 5, 3], [2, 2, 5, 3]], 1],
    [[[2, 7, 5, 3], [2, 7, 4, 3], [2, 7, 1, 3]], 2],
    [[[2, 7, 5, 3], [2, 7, 5, 13]], -1],
    // vec4 path: every part's channel run is a multiple of 4
    [[[2, 3, 5, 8], [2, 3, 5, 4]], 3],
    [[[2, 3, 5, 8], [2, 3, 5, 8]], 1],
    [[[7], [1], [13]], 0],
    [[[2, 1, 3, 1, 2, 3, 1, 2], [2, 1, 3, 1, 2, 2, 1, 2]], 5],
    [[[4, 9], [4, 0], [4, 2]], 1],
    [[[5, 3]], 0],
    // a part whose run could be vec4 but starts at an offset that is not a multiple of 4
    [[[1, 3], [1, 4]], 1],
  ];
  for (const [shapes, axis] of cases) {
    it(`${shapes.map((s) => JSON.stringify(s)).join(' ')} on axis ${axis}`, () =>
      check('concat', shapes, (xs) => concat(xs, axis), (xs) => tf.concat(xs, axis)));
  }
});

describe('slice: forward and gradient against tfjs-cpu', () => {
  const cases: [number[], number[], number[]][] = [
    [[2, 7, 5, 3], [1, 2, 1, 0], [1, 4, 3, 3]],
    [[2, 7, 5, 3], [0, 0, 0, 1], [-1, -1, -1, 2]],
    [[2, 9, 11, 13], [0, 3, 4, 5], [2, 5, 6, 7]],
    [[2, 7, 5, 8], [1, 1, 1, 4], [1, 5, 3, 4]], // vec4 path
    [[2, 7, 5, 8], [0, 2, 0, 0], [2, 3, 5, 8]], // contiguous runs merged
    [[13], [3], [9]],
    [[3, 8], [1, 2], [2, 4]], // vec4-sized run at an offset that is not a multiple of 4
    [[2, 3, 1, 2, 3, 2, 1, 3], [1, 1, 0, 0, 1, 1, 0, 1], [1, 2, 1, 2, 2, 1, 1, 2]],
    [[4, 6], [1, 2], [0, 3]], // empty result
    [[7, 5], [0, 0], [7, 5]], // whole tensor
  ];
  for (const [shape, begin, size] of cases) {
    it(`${JSON.stringify(shape)} begin ${JSON.stringify(begin)} size ${JSON.stringify(size)}`, () =>
      check('slice', [shape], ([x]) => slice(x!, begin, size), ([x]) => tf.slice(x!, begin, size)));
  }
  it('pads a short begin with 0 and a short size with -1, as tf.slice', () =>
    check('slice', [[3, 7, 5]], ([x]) => slice(x!, [1, 2]), ([x]) => tf.slice(x!, [1, 2])));
  it('takes a number for begin and size', () => check('slice', [[9, 4]], ([x]) => slice(x!, 2, 5), ([x]) => tf.slice(x!, 2, 5)));
});

describe('transpose: forward and gradient against tfjs-cpu', () => {
  const cases: [number[], number[] | undefined][] = [
    [[2, 7, 5, 3], [0, 3, 1, 2]], // NHWC → NCHW
    [[2, 3, 7, 5], [0, 2, 3, 1]], // NCHW → NHWC
    [[2, 7, 5, 13], [3, 2, 1, 0]],
    [[2, 7, 5, 8], [2, 0, 1, 3]], // last axis kept: vec4 path
    [[9, 11], undefined],
    [[2, 7, 5, 3], [0, 1, 2, 3]],
    [[2, 1, 3, 2, 1, 3, 2, 2], [7, 2, 5, 0, 3, 6, 1, 4]],
    [[13], [0]],
  ];
  for (const [shape, perm] of cases) {
    it(`${JSON.stringify(shape)} perm ${JSON.stringify(perm)}`, () =>
      check('transpose', [shape], ([x]) => transpose(x!, perm), ([x]) => tf.transpose(x!, perm)));
  }
});

describe('structural ops: composition, f16, errors and memory', () => {
  it('chains slice → transpose → concat with gradients flowing through all three', () =>
    check(
      'chain',
      [[2, 7, 5, 3], [2, 3, 7, 2]],
      ([a, b]) => concat([transpose(slice(a!, [0, 1, 0, 0], [2, 5, 5, 3]), [0, 3, 1, 2]), slice(b!, [0, 0, 1, 0], [2, 3, 5, 2])], 3),
      ([a, b]) => tf.concat([tf.transpose(tf.slice(a!, [0, 1, 0, 0], [2, 5, 5, 3]), [0, 3, 1, 2]), tf.slice(b!, [0, 0, 1, 0], [2, 3, 5, 2])], 3),
    ));

  it.skipIf(!hasShaderF16)('copies f16 tensors exactly (scalar and vec4 paths; needs shader-f16)', async () => {
    const rt = runtime();
    const shape = [2, 3, 5, 8];
    const values = float16ToFloat32(float32ToFloat16(randomValues(count(shape), 7)));
    const x = rt.upload(values, shape, 'f16');
    const tx = tf.tensor(values, shape);
    const cases: [Tensor, tf.Tensor][] = [
      [transpose(x, [0, 3, 1, 2]), tf.transpose(tx, [0, 3, 1, 2])],
      [transpose(x, [1, 0, 2, 3]), tf.transpose(tx, [1, 0, 2, 3])],
      [slice(x, [0, 1, 1, 4], [2, 2, 3, 4]), tf.slice(tx, [0, 1, 1, 4], [2, 2, 3, 4])],
      [slice(x, [0, 1, 1, 1], [2, 2, 3, 5]), tf.slice(tx, [0, 1, 1, 1], [2, 2, 3, 5])],
      [concat([x, slice(x, [0, 0, 0, 0], [2, 3, 5, 3])], 3), tf.concat([tx, tf.slice(tx, [0, 0, 0, 0], [2, 3, 5, 3])], 3)],
    ];
    for (const [ours, theirs] of cases) {
      expect(ours.dtype).toBe('f16');
      expectClose(await ours.data(), await tfValues(theirs), 0, 0, 'f16 copy');
    }
  });

  it('throws on bad arguments before dispatching anything, naming the op and the shapes', () => {
    const rt = runtime();
    const a = rt.upload(randomValues(2 * 7 * 5 * 3, 1), [2, 7, 5, 3]);
    const b = rt.upload(randomValues(2 * 6 * 5 * 3, 2), [2, 6, 5, 3]);
    const before = rt.stats().dispatches;
    expect(() => concat([a, b], 3)).toThrow(/concat: shapes \[2, 7, 5, 3\], \[2, 6, 5, 3\] must match except along axis 3/);
    expect(() => concat([a, b], 4)).toThrow(/concat: axis 4 is out of range for shape \[2, 7, 5, 3\]/);
    expect(() => concat([], 0)).toThrow(/concat: needs at least one tensor/);
    expect(() => concat([a, rt.upload([1, 2], [2])], 0)).toThrow(/concat: shapes .* must match/);
    expect(() => slice(a, [0, 5, 0, 0], [1, 3, 5, 3])).toThrow(/slice: begin \[0, 5, 0, 0\] and size \[1, 3, 5, 3\] for shape \[2, 7, 5, 3\] is out of bounds on axis 1/);
    expect(() => slice(a, [0, 0, 0, 0, 0])).toThrow(/slice: .*more entries than the rank 4/);
    expect(() => slice(a, [-1])).toThrow(/slice: .*out of bounds on axis 0/);
    expect(() => transpose(a, [0, 1, 1, 3])).toThrow(/transpose: perm \[0, 1, 1, 3\] is not a permutation of the axes of shape \[2, 7, 5, 3\]/);
    expect(() => transpose(a, [0, 1, 2])).toThrow(/transpose: perm/);
    const big = rt.upload([1], [1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(() => transpose(big)).toThrow(/transpose: rank 9 exceeds 8/);
    expect(rt.stats().dispatches).toBe(before);
  });

  it('frees every intermediate of forward and backward', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 3), [2, 7, 5, 3]);
    const run = () => {
      const { value, grads } = valueAndGrad((x: Tensor) => sum(concat([transpose(x, [0, 2, 1, 3]), transpose(slice(x, [0, 0, 0, 0], [2, 7, 5, 2]), [0, 2, 1, 3])], 3)))(x);
      value.dispose();
      grads.forEach((g) => g.dispose());
    };
    run();
    await rt.flush();
    const before = rt.stats();
    for (let i = 0; i < 3; i++) run();
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });
});
