import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { batchNorm, type RunningStats } from '../../../src/autograd/ops/norm.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';
import { moments64, sizeOf, type Shape4 } from './norm-helpers.ts';

const runtime = useRuntime();

const loss = (y: Tensor, w: Tensor): Tensor => sum(mul(y, w));

/**
 * Training-mode batch norm composed in tfjs: batch moments over N, H, W, then tf.batchNorm (whose
 * gradient needs a scale; without one, the same formula from elementwise ops).
 */
function tfBatchNormTrain(x: tf.Tensor, scale: tf.Tensor | undefined, shift: tf.Tensor | undefined, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  if (!scale) return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.batchNorm(x, mean, variance, shift, scale, eps);
}

interface Setup {
  x: Tensor;
  w: Tensor;
  scale: Tensor | null;
  shift: Tensor | null;
  tx: tf.Tensor;
  tw: tf.Tensor;
  tscale: tf.Tensor | undefined;
  tshift: tf.Tensor | undefined;
  dispose(): void;
}

function setup(shape: Shape4, affine: boolean, seed: number): Setup {
  const rt = runtime();
  const c = shape[3];
  const xs = randomValues(sizeOf(shape), seed, -1, 3);
  const ws = randomValues(sizeOf(shape), seed + 1);
  const gs = randomValues(c, seed + 2, 0.5, 1.5);
  const bs = randomValues(c, seed + 3);
  const s: Setup = {
    x: rt.upload(xs, shape),
    w: rt.upload(ws, shape),
    scale: affine ? rt.upload(gs, [c]) : null,
    shift: affine ? rt.upload(bs, [c]) : null,
    tx: tf.tensor(xs, shape),
    tw: tf.tensor(ws, shape),
    tscale: affine ? tf.tensor(gs, [c]) : undefined,
    tshift: affine ? tf.tensor(bs, [c]) : undefined,
    dispose: () => [s.x, s.w, s.scale, s.shift].forEach((t) => t?.dispose()),
  };
  return s;
}

function makeRunning(c: number, seed: number): { running: RunningStats; mean: Float32Array; variance: Float32Array } {
  const rt = runtime();
  const mean = randomValues(c, seed, -0.5, 0.5);
  const variance = randomValues(c, seed + 1, 0.5, 2);
  return { running: { mean: rt.upload(mean, [c]), variance: rt.upload(variance, [c]) }, mean, variance };
}

describe('batchNorm training: forward and gradients against tfjs-cpu', () => {
  const cases: [Shape4, eps: number, affine: boolean][] = [
    [[2, 7, 5, 3], 1e-5, true],
    [[2, 5, 7, 13], 1e-3, true],
    [[1, 8, 8, 8], 1e-5, false],
    [[2, 64, 64, 3], 1e-5, true], // several splits over the batch with the default chunk
  ];
  for (const [shape, eps, affine] of cases) {
    it(`${JSON.stringify(shape)} eps ${eps} ${affine ? 'with' : 'without'} scale and shift`, async () => {
      const s = setup(shape, affine, 601);
      const y = batchNorm(s.x, { scale: s.scale, shift: s.shift, eps, training: true });
      expectClose(await y.data(), await tfValues(tfBatchNormTrain(s.tx, s.tscale, s.tshift, eps)), 1e-4, 1e-5, 'forward');
      const params = [s.x, ...(affine ? [s.scale!, s.shift!] : [])];
      const { grads } = valueAndGrad((...a: Tensor[]) => loss(batchNorm(a[0]!, { scale: a[1], shift: a[2], eps, training: true }), s.w))(...params);
      const tfParams = [s.tx, ...(affine ? [s.tscale!, s.tshift!] : [])];
      const tfGrads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(tfBatchNormTrain(a[0]!, a[1], a[2], eps), s.tw)))(tfParams);
      const names = ['dx', 'dscale', 'dshift'];
      for (let i = 0; i < params.length; i++) {
        expect([...grads[i]!.shape]).toEqual([...params[i]!.shape]);
        expectClose(await grads[i]!.data(), await tfValues(tfGrads[i]!), 1e-4, 1e-5, names[i]);
      }
      for (const t of [y, ...grads]) t.dispose();
      s.dispose();
    });
  }
});

describe('batchNorm running statistics and eval mode', () => {
  it('updates the running mean and unbiased variance in place over two steps, then eval uses them', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 7, 5, 13];
    const c = 13;
    const momentum = 0.3;
    const eps = 1e-3;
    const { running, mean: m0, variance: v0 } = makeRunning(c, 611);
    const x1 = randomValues(sizeOf(shape), 612, -1, 3);
    const x2 = randomValues(sizeOf(shape), 613, -4, 0);
    const expectedMean = Float64Array.from(m0);
    const expectedVar = Float64Array.from(v0);
    const n = 2 * 7 * 5;
    for (const xs of [x1, x2]) {
      const x = rt.upload(xs, shape);
      batchNorm(x, { eps, momentum, training: true, running }).dispose();
      x.dispose();
      const batch = moments64(xs, shape, false);
      for (let i = 0; i < c; i++) {
        expectedMean[i] = (1 - momentum) * expectedMean[i]! + momentum * batch.mean[i]!;
        expectedVar[i] = (1 - momentum) * expectedVar[i]! + momentum * batch.variance[i]! * (n / (n - 1));
      }
    }
    expectClose(await running.mean.data(), expectedMean, 1e-5, 1e-6, 'running mean');
    expectClose(await running.variance.data(), expectedVar, 1e-5, 1e-6, 'running variance');

    // Eval: normalises with the running statistics and leaves them alone.
    const s = setup(shape, true, 614);
    const trm = tf.tensor(Float32Array.from(expectedMean), [c]);
    const trv = tf.tensor(Float32Array.from(expectedVar), [c]);
    const y = batchNorm(s.x, { scale: s.scale, shift: s.shift, eps, training: false, running });
    const tfEval = (x: tf.Tensor, g?: tf.Tensor, b?: tf.Tensor) => tf.batchNorm(x, trm, trv, b, g, eps);
    expectClose(await y.data(), await tfValues(tfEval(s.tx, s.tscale, s.tshift)), 1e-4, 1e-5, 'eval forward');
    const { grads } = valueAndGrad((x: Tensor, g: Tensor, b: Tensor) => loss(batchNorm(x, { scale: g, shift: b, eps, training: false, running }), s.w))(s.x, s.scale!, s.shift!);
    const tfGrads = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tfEval(x, g, b), s.tw)))([s.tx, s.tscale!, s.tshift!]);
    for (let i = 0; i < 3; i++) expectClose(await grads[i]!.data(), await tfValues(tfGrads[i]!), 1e-4, 1e-5, `eval ${['dx', 'dscale', 'dshift'][i]}`);
    expectClose(await running.mean.data(), expectedMean, 1e-5, 1e-6, 'running mean after eval');
    expectClose(await running.variance.data(), expectedVar, 1e-5, 1e-6, 'running variance after eval');
    for (const t of [y, running.mean, running.variance, ...grads]) t.dispose();
    s.dispose();
  });

  it('default momentum is 0.1; training without running statistics tracks nothing', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 7, 5, 3];
    const { running, mean: m0, variance: v0 } = makeRunning(3, 621);
    const xs = randomValues(210, 622);
    const x = rt.upload(xs, shape);
    batchNorm(x, { training: true, running }).dispose();
    const batch = moments64(xs, shape, false);
    expectClose(await running.mean.data(), Array.from(m0, (m, i) => 0.9 * m + 0.1 * batch.mean[i]!), 1e-5, 1e-6, 'running mean');
    expectClose(await running.variance.data(), Array.from(v0, (v, i) => 0.9 * v + 0.1 * batch.variance[i]! * (70 / 69)), 1e-5, 1e-6, 'running variance');
    const y = batchNorm(x, { training: true });
    expectClose(await y.data(), await tfValues(tfBatchNormTrain(tf.tensor(xs, shape), undefined, undefined, 1e-5)), 1e-4, 1e-5, 'forward');
    for (const t of [x, y, running.mean, running.variance]) t.dispose();
  });

  it('eval gradients when only one of x, scale, shift wants one', async () => {
    const shape: Shape4 = [2, 5, 7, 8];
    const s = setup(shape, true, 631);
    const { running, mean, variance } = makeRunning(8, 632);
    const eps = 1e-5;
    const tfEval = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(x, tf.tensor(mean), tf.tensor(variance), b, g, eps), s.tw));
    const tfGrads = tf.grads(tfEval)([s.tx, s.tscale!, s.tshift!]);
    const bn = (x: Tensor, g: Tensor, b: Tensor) => loss(batchNorm(x, { scale: g, shift: b, eps, training: false, running }), s.w);
    const gx = valueAndGrad((x: Tensor) => bn(x, s.scale!, s.shift!))(s.x);
    const gg = valueAndGrad((g: Tensor) => bn(s.x, g, s.shift!))(s.scale!);
    const gb = valueAndGrad((b: Tensor) => bn(s.x, s.scale!, b))(s.shift!);
    expectClose(await gx.grads[0]!.data(), await tfValues(tfGrads[0]!), 1e-4, 1e-5, 'dx');
    expectClose(await gg.grads[0]!.data(), await tfValues(tfGrads[1]!), 1e-4, 1e-5, 'dscale');
    expectClose(await gb.grads[0]!.data(), await tfValues(tfGrads[2]!), 1e-4, 1e-5, 'dshift');
    for (const r of [gx, gg, gb]) [r.value, ...r.grads].forEach((t) => t.dispose());
    running.mean.dispose();
    running.variance.dispose();
    s.dispose();
  });
});

describe('batchNorm bookkeeping', () => {
  it('throws before any dispatch on bad shapes and options', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(210, 641), [2, 7, 5, 3]);
    const one = rt.upload([1, 2, 3], [1, 1, 1, 3]);
    const c3 = rt.upload([1, 2, 3], [3]);
    const c4 = rt.upload([1, 2, 3, 4], [4]);
    const before = rt.stats().dispatches;
    expect(() => batchNorm(x, { training: false })).toThrow(/batchNorm: eval mode \(training: false\) needs the running statistics/);
    expect(() => batchNorm(x, { training: true, running: { mean: c4, variance: c3 } })).toThrow(/batchNorm: running mean has shape \[4\], expected \[3\] for input \[2, 7, 5, 3\]/);
    expect(() => batchNorm(x, { training: true, scale: c4 })).toThrow(/batchNorm: scale has shape \[4\]/);
    expect(() => batchNorm(x, { training: true, momentum: 1.5 })).toThrow(/batchNorm: momentum must be in \[0, 1\]/);
    expect(() => batchNorm(x, { training: true, running: { mean: c3, variance: c3 } })).toThrow(/different tensors/);
    expect(() => batchNorm(one, { training: true })).toThrow(/batchNorm: training needs more than one value per channel, got input \[1, 1, 1, 3\]/);
    expect(rt.stats().dispatches).toBe(before);
    for (const t of [x, one, c3, c4]) t.dispose();
  });

  it('frees every intermediate and saved tensor in both modes', async () => {
    const rt = runtime();
    const s = setup([2, 7, 5, 3], true, 651);
    const { running } = makeRunning(3, 652);
    const before = rt.stats();
    for (let i = 0; i < 3; i++) {
      for (const training of [true, false]) {
        const runs = [
          () => valueAndGrad((x: Tensor, g: Tensor, b: Tensor) => loss(batchNorm(x, { scale: g, shift: b, training, running }), s.w))(s.x, s.scale!, s.shift!),
          () => valueAndGrad((x: Tensor) => loss(batchNorm(x, { scale: s.scale, shift: s.shift, training, running }), s.w))(s.x),
          () => valueAndGrad((b: Tensor) => loss(batchNorm(s.x, { scale: s.scale, shift: b, training, running }), s.w))(s.shift!),
        ];
        for (const run of runs) {
          const { value, grads } = run();
          await value.item();
          value.dispose();
          grads.forEach((g) => g.dispose());
        }
        batchNorm(s.x, { training, running }).dispose();
      }
    }
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    running.mean.dispose();
    running.variance.dispose();
    s.dispose();
  });
});
