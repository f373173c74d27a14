import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { adainWithStats, conditionalInstanceNorm, instanceNorm } from '../../../src/autograd/ops/norm.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { channelMoments, channelSums } from '../../../src/gpu/kernels/norm.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { numericGradient } from '../../helpers/gradcheck.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';
import { dot64, instanceNorm64, moments64, sizeOf, type Shape4 } from './norm-helpers.ts';

const runtime = useRuntime();

const loss = (y: Tensor, w: Tensor): Tensor => sum(mul(y, w));

async function readAll(...ts: Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ts.map((t) => t.data()));
}

/** Mean and variance of `x` (then freed) against float64 references, with and without split pixel chunks. */
async function expectMomentsClose(x: Tensor, ref: { mean: ArrayLike<number>; variance: ArrayLike<number> }): Promise<void> {
  for (const chunk of [undefined, 7]) {
    const stats = channelMoments(x, true, 1e-5, { chunk });
    expectClose(await stats.variance.data(), ref.variance, 2e-4, 0, `variance (chunk ${chunk ?? 'auto'})`);
    expectClose(await stats.mean.data(), ref.mean, 1e-6, 0, 'mean');
    for (const t of Object.values(stats)) t.dispose();
  }
  x.dispose();
}

describe('statistics kernels against float64 loops', () => {
  // chunk forces several splits per group, the last one ragged, so the cross-split merge runs.
  const cases: [Shape4, boolean, number | undefined][] = [
    [[2, 7, 5, 13], true, 3],
    [[2, 7, 5, 13], true, undefined],
    [[2, 7, 5, 3], false, 4],
    [[1, 3, 5, 70], true, 2], // two channel blocks, the second partial
    [[2, 5, 7, 8], false, undefined],
    // C % 4 == 0: the vec4 kernel (and the scalar one, forced), lanes merged and splits ragged
    [[2, 7, 5, 12], true, 3],
    [[2, 7, 5, 12], false, 4],
    [[1, 3, 2, 264], true, 2], // 66 vec4s: two channel blocks, the second partial
    [[1, 64, 64, 128], true, undefined], // TransformerNet's residual blocks at 256 px, default chunk
  ];
  for (const [shape, perSample, chunk] of cases) {
    for (const scalar of shape[3] % 4 === 0 ? [false, true] : [true]) {
      it(`channelMoments ${JSON.stringify(shape)} ${perSample ? 'per sample' : 'per channel'} chunk ${chunk ?? 'auto'}${scalar ? '' : ' vec4'}`, async () => {
        const rt = runtime();
        const xs = randomValues(sizeOf(shape), 101, -3, 2);
        const x = rt.upload(xs, shape);
        const eps = 1e-3;
        const stats = channelMoments(x, perSample, eps, { chunk, scalar });
        const ref = moments64(xs, shape, perSample);
        const [mean, variance, rstd, std] = await readAll(stats.mean, stats.variance, stats.rstd, stats.std);
        expect([...stats.mean.shape]).toEqual([perSample ? shape[0] : 1, shape[3]]);
        expectClose(mean!, ref.mean, 1e-5, 1e-6, 'mean');
        expectClose(variance!, ref.variance, 1e-5, 1e-6, 'variance');
        expectClose(rstd!, ref.variance.map((v) => 1 / Math.sqrt(v + eps)), 1e-5, 1e-6, 'rstd');
        expectClose(std!, ref.variance.map((v) => Math.sqrt(v + eps)), 1e-5, 1e-6, 'std');
        for (const t of [x, stats.mean, stats.variance, stats.rstd, stats.std]) t.dispose();
      });
    }
  }

  for (const shape of [
    [2, 7, 5, 3],
    [2, 7, 5, 12], // vec4
  ] as Shape4[]) {
    it(`channelSums ${JSON.stringify(shape)} per sample and per channel, split`, async () => {
      const rt = runtime();
      const ch = shape[3];
      const size = sizeOf(shape);
      const as = randomValues(size, 102);
      const bs = randomValues(size, 103);
      const a = rt.upload(as, shape);
      const b = rt.upload(bs, shape);
      for (const perSample of [true, false]) {
        const { sumA, sumAB } = channelSums(a, b, perSample, { chunk: 4 });
        const groups = perSample ? 2 : 1;
        const per = size / ch / groups;
        const refA = new Float64Array(groups * ch);
        const refAB = new Float64Array(groups * ch);
        for (let g = 0; g < groups; g++) {
          for (let p = 0; p < per; p++) {
            for (let c = 0; c < ch; c++) {
              const i = (g * per + p) * ch + c;
              refA[g * ch + c]! += as[i]!;
              refAB[g * ch + c]! += as[i]! * bs[i]!;
            }
          }
        }
        const [ga, gab] = await readAll(sumA, sumAB);
        expectClose(ga!, refA, 1e-5, 1e-5, 'Σa');
        expectClose(gab!, refAB, 1e-5, 1e-5, 'Σab');
        sumA.dispose();
        sumAB.dispose();
      }
      a.dispose();
      b.dispose();
    });
  }

  it('variance stays accurate when the mean is far larger than the spread (Welford, not E[x²] − E[x]²)', async () => {
    const rt = runtime();
    const shape: Shape4 = [1, 64, 64, 3];
    const xs = randomValues(sizeOf(shape), 104, -1, 1).map((v) => 1000 + v);
    const ref = moments64(xs, shape);
    // The naive one-pass formula in float32 is far off on this data: the test can tell them apart.
    const naive = new Float32Array(3);
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let s2 = 0;
      for (let p = 0; p < 4096; p++) {
        const v = xs[p * 3 + c]!;
        s = Math.fround(s + v);
        s2 = Math.fround(s2 + Math.fround(v * v));
      }
      naive[c] = Math.fround(s2 / 4096 - (s / 4096) ** 2);
    }
    expect(Math.abs(naive[0]! - ref.variance[0]!) / ref.variance[0]!).toBeGreaterThan(0.01);
    await expectMomentsClose(rt.upload(xs, shape), ref);
  });

  it('the vec4 kernel keeps the variance accurate when the mean is far larger than the spread', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 48, 48, 8];
    const xs = randomValues(sizeOf(shape), 105, -1, 1).map((v) => 1000 + v);
    const ref = moments64(xs, shape);
    await expectMomentsClose(rt.upload(xs, shape), ref);
  });
});

/** y = (x − μ) / √(σ² + eps) · scale + shift, composed from tfjs ops so tf.grads differentiates through the moments. */
function tfInstanceNorm(x: tf.Tensor, scale: tf.Tensor | null, shift: tf.Tensor | null, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  if (scale) y = tf.mul(y, scale);
  if (shift) y = tf.add(y, shift);
  return y;
}

describe('instanceNorm: forward and gradients against tfjs-cpu', () => {
  const cases: [Shape4, eps: number, affine: 'both' | 'scale' | 'none'][] = [
    [[2, 7, 5, 3], 1e-5, 'both'],
    [[1, 8, 8, 13], 1e-3, 'scale'],
    [[2, 5, 7, 8], 1e-5, 'none'],
    [[2, 64, 64, 3], 1e-3, 'both'], // several splits per image with the default chunk
  ];
  for (const [shape, eps, affine] of cases) {
    it(`${JSON.stringify(shape)} eps ${eps} affine ${affine}`, async () => {
      const rt = runtime();
      const c = shape[3];
      const size = sizeOf(shape);
      const xs = randomValues(size, 201, -1, 3);
      const ws = randomValues(size, 202);
      const gs = randomValues(c, 203, 0.5, 1.5);
      const bs = randomValues(c, 204);
      const x = rt.upload(xs, shape);
      const w = rt.upload(ws, shape);
      const scale = affine !== 'none' ? rt.upload(gs, [c]) : null;
      const shift = affine === 'both' ? rt.upload(bs, [c]) : null;
      const tx = tf.tensor(xs, shape);
      const tw = tf.tensor(ws, shape);
      const tg = scale ? tf.tensor(gs, [c]) : null;
      const tb = shift ? tf.tensor(bs, [c]) : null;

      const y = instanceNorm(x, { scale, shift, eps });
      const expected = await tfValues(tfInstanceNorm(tx, tg, tb, eps));
      expectClose(await y.data(), expected, 1e-4, 1e-5, 'forward');

      const params = [x, ...(scale ? [scale] : []), ...(shift ? [shift] : [])];
      const { value, grads } = valueAndGrad((...args: Tensor[]) => loss(instanceNorm(args[0]!, { scale: args[1] ?? null, shift: args[2] ?? null, eps }), w))(...params);
      const tfParams = [tx, ...(tg ? [tg] : []), ...(tb ? [tb] : [])];
      const tfGrads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(tfInstanceNorm(args[0]!, args[1] ?? null, args[2] ?? null, eps), tw)))(tfParams);
      const names = ['dx', 'dscale', 'dshift'];
      for (let i = 0; i < params.length; i++) {
        expect([...grads[i]!.shape]).toEqual([...params[i]!.shape]);
        expectClose(await grads[i]!.data(), await tfValues(tfGrads[i]!), 1e-4, 1e-5, names[i]);
      }
      expectClose([await value.item()], [dot64(expected, ws)], 1e-4, 1e-4, 'value');
      for (const t of [x, w, y, value, ...grads, ...(scale ? [scale] : []), ...(shift ? [shift] : [])]) t.dispose();
    });
  }

  it('gradient for scale only (x and shift constant)', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 7, 5, 3];
    const xs = randomValues(210, 211);
    const ws = randomValues(210, 212);
    const gs = randomValues(3, 213);
    const bs = randomValues(3, 214);
    const x = rt.upload(xs, shape);
    const w = rt.upload(ws, shape);
    const shift = rt.upload(bs, [3]);
    const scale = rt.upload(gs, [3]);
    const { grads } = valueAndGrad((s: Tensor) => loss(instanceNorm(x, { scale: s, shift }), w))(scale);
    const tfGrad = tf.grad((s: tf.Tensor) => tf.sum(tf.mul(tfInstanceNorm(tf.tensor(xs, shape), s, tf.tensor(bs, [3]), 1e-5), tf.tensor(ws, shape))))(tf.tensor(gs, [3]));
    expectClose(await grads[0]!.data(), await tfValues(tfGrad), 1e-4, 1e-5, 'dscale');
    for (const t of [x, w, shift, scale, ...grads]) t.dispose();
  });
});

describe('conditionalInstanceNorm and adainWithStats: float64 reference and finite differences', () => {
  const cases: [Shape4, eps: number, perSample: boolean][] = [
    [[2, 7, 5, 3], 1e-3, true],
    [[2, 5, 7, 13], 1e-5, false], // [C] rows broadcast over the batch
  ];
  for (const [shape, eps, perSample] of cases) {
    it(`conditionalInstanceNorm ${JSON.stringify(shape)} eps ${eps} scale/shift ${perSample ? '[N, C]' : '[C]'}`, async () => {
      const rt = runtime();
      const [n, , , c] = shape;
      const pshape = perSample ? [n, c] : [c];
      const size = sizeOf(shape);
      const xs = randomValues(size, 301, -1, 2);
      const ws = randomValues(size, 302);
      const gs = randomValues(sizeOf(pshape), 303, -1.5, 1.5);
      const bs = randomValues(sizeOf(pshape), 304);
      const x = rt.upload(xs, shape);
      const w = rt.upload(ws, shape);
      const scale = rt.upload(gs, pshape);
      const shift = rt.upload(bs, pshape);
      const y = conditionalInstanceNorm(x, scale, shift, eps);
      expectClose(await y.data(), instanceNorm64(xs, shape, gs, bs, eps), 1e-4, 1e-5, 'forward');
      const { grads } = valueAndGrad((a: Tensor, b: Tensor, d: Tensor) => loss(conditionalInstanceNorm(a, b, d, eps), w))(x, scale, shift);
      const f = (xv: ArrayLike<number>, gv: ArrayLike<number>, bv: ArrayLike<number>) => dot64(instanceNorm64(xv, shape, gv, bv, eps), ws);
      expectClose(await grads[0]!.data(), numericGradient((v) => f(v, gs, bs), xs), 1e-4, 1e-5, 'dx');
      expectClose(await grads[1]!.data(), numericGradient((v) => f(xs, v, bs), gs), 1e-4, 1e-5, 'dscale');
      expectClose(await grads[2]!.data(), numericGradient((v) => f(xs, gs, v), bs), 1e-4, 1e-5, 'dshift');
      expect([...grads[1]!.shape]).toEqual(pshape);
      expect([...grads[2]!.shape]).toEqual(pshape);
      for (const t of [x, w, y, scale, shift, ...grads]) t.dispose();
    });
  }

  it('adainWithStats [2, 7, 5, 13]: forward and gradients for content, style mean and style std', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 7, 5, 13];
    const size = sizeOf(shape);
    const xs = randomValues(size, 311, -2, 1);
    const ws = randomValues(size, 312);
    const means = randomValues(26, 313);
    const stds = randomValues(26, 314, 0.2, 2);
    const x = rt.upload(xs, shape);
    const w = rt.upload(ws, shape);
    const mean = rt.upload(means, [2, 13]);
    const std = rt.upload(stds, [2, 13]);
    const eps = 1e-5;
    const y = adainWithStats(x, mean, std, eps);
    expectClose(await y.data(), instanceNorm64(xs, shape, stds, means, eps), 1e-4, 1e-5, 'forward');
    const { grads } = valueAndGrad((a: Tensor, m: Tensor, s: Tensor) => loss(adainWithStats(a, m, s, eps), w))(x, mean, std);
    const f = (xv: ArrayLike<number>, mv: ArrayLike<number>, sv: ArrayLike<number>) => dot64(instanceNorm64(xv, shape, sv, mv, eps), ws);
    expectClose(await grads[0]!.data(), numericGradient((v) => f(v, means, stds), xs), 1e-4, 1e-5, 'dcontent');
    expectClose(await grads[1]!.data(), numericGradient((v) => f(xs, v, stds), means), 1e-4, 1e-5, 'dmean');
    expectClose(await grads[2]!.data(), numericGradient((v) => f(xs, means, v), stds), 1e-4, 1e-5, 'dstd');
    for (const t of [x, w, y, mean, std, ...grads]) t.dispose();
  });
});

describe('instance norm bookkeeping', () => {
  it('throws before any dispatch on bad shapes, naming the op and the shapes', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(210, 401), [2, 7, 5, 3]);
    const c4 = rt.upload([1, 2, 3, 4], [4]);
    const nc = rt.upload(randomValues(6, 402), [2, 3]);
    const flat = rt.upload(randomValues(35, 403), [7, 5]);
    const before = rt.stats().dispatches;
    expect(() => instanceNorm(x, { scale: c4 })).toThrow(/instanceNorm: scale has shape \[4\], expected \[3\] for input \[2, 7, 5, 3\]/);
    expect(() => instanceNorm(x, { shift: nc })).toThrow(/instanceNorm: shift has shape \[2, 3\], expected \[3\]/);
    expect(() => instanceNorm(flat)).toThrow(/instanceNorm: x must be an NHWC tensor \[N, H, W, C\], got shape \[7, 5\]/);
    expect(() => instanceNorm(x, { eps: -1 })).toThrow(/instanceNorm: eps/);
    expect(() => conditionalInstanceNorm(x, nc, c4)).toThrow(/conditionalInstanceNorm: shift has shape \[4\], expected \[3\] or \[2, 3\]/);
    expect(() => adainWithStats(x, c4, nc)).toThrow(/adainWithStats: styleMean has shape \[4\]/);
    expect(rt.stats().dispatches).toBe(before);
    for (const t of [x, c4, nc, flat]) t.dispose();
  });

  it('frees every intermediate and saved tensor', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(210, 411), [2, 7, 5, 3]);
    const w = rt.upload(randomValues(210, 412), [2, 7, 5, 3]);
    const scale = rt.upload(randomValues(6, 413), [2, 3]);
    const shift = rt.upload(randomValues(3, 414), [3]);
    const before = rt.stats();
    for (let i = 0; i < 3; i++) {
      const { value, grads } = valueAndGrad((a: Tensor, s: Tensor, b: Tensor) => loss(conditionalInstanceNorm(a, s, b), w))(x, scale, shift);
      await value.item();
      value.dispose();
      grads.forEach((g) => g.dispose());
      // Only x wants a gradient: scale and shift paths are skipped.
      const only = valueAndGrad((a: Tensor) => loss(instanceNorm(a, { scale: shift, shift }), w))(x);
      only.value.dispose();
      only.grads.forEach((g) => g.dispose());
      instanceNorm(x).dispose();
    }
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const t of [x, w, scale, shift]) t.dispose();
  });
});
