import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { batchNorm, conditionalInstanceNorm, instanceNorm, type NormEpilogue } from '../../../src/autograd/ops/norm.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { normApply, normGrad } from '../../../src/gpu/kernels/norm.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';
import { sizeOf, type Shape4 } from './norm-helpers.ts';

/**
 * The vec4 norm kernels against the scalar ones and a float64 loop, and the fused epilogues
 * (instance / batch norm + ReLU, + residual) against the unfused ops composed in tfjs-cpu.
 */

const runtime = useRuntime();

const loss = (y: Tensor, w: Tensor): Tensor => sum(mul(y, w));

/** Reads a [C] or [N, C] operand at (sample, channel). */
const at = (t: ArrayLike<number>, n: number, ch: number, c: number): number => (t.length === c ? t[ch]! : t[n * c + ch]!);

describe('normApply and normGrad kernels: vec4 and scalar against a float64 loop', () => {
  // [N, C] and [C] operands mixed; C = 12 and 8 take the vec4 kernel, C = 6 the scalar one (and
  // every shape the scalar one when forced). H·W = 15: one pixel per invocation; 12 and 16: four.
  // Channel counts (in vec4s) of 3 and 2 take the division and the mask paths.
  const shapes: Shape4[] = [
    [2, 5, 3, 12],
    [2, 4, 3, 12],
    [2, 4, 4, 8],
    [1, 4, 4, 8],
    [2, 3, 5, 6],
    [3, 2, 2, 6],
  ];
  for (const shape of shapes) {
    for (const epilogue of ['none', 'relu', 'residual'] as const) {
      it(`normApply ${JSON.stringify(shape)} epilogue ${epilogue}`, async () => {
        const rt = runtime();
        const [n, h, w, c] = shape;
        const size = sizeOf(shape);
        const xs = randomValues(size, 501, -2, 2);
        const means = randomValues(n * c, 502);
        const rstds = randomValues(c, 503, 0.5, 2);
        const scales = randomValues(n * c, 504, -1.5, 1.5);
        const shifts = randomValues(c, 505);
        const rs = randomValues(size, 506, -3, 3);
        const alpha = 0.75;
        const expected = new Float64Array(size);
        const expectedXhat = new Float64Array(size);
        for (let s = 0; s < n; s++) {
          for (let p = 0; p < h * w; p++) {
            for (let ch = 0; ch < c; ch++) {
              const i = (s * h * w + p) * c + ch;
              const xh = (xs[i]! - at(means, s, ch, c)) * at(rstds, s, ch, c);
              let y = alpha * (xh * at(scales, s, ch, c) + at(shifts, s, ch, c));
              if (epilogue === 'relu') y = Math.max(y, 0);
              if (epilogue === 'residual') y += rs[i]!;
              expected[i] = y;
              expectedXhat[i] = xh;
            }
          }
        }
        const x = rt.upload(xs, shape);
        const mean = rt.upload(means, [n, c]);
        const rstd = rt.upload(rstds, [c]);
        const scale = rt.upload(scales, [n, c]);
        const shift = rt.upload(shifts, [c]);
        const residual = rt.upload(rs, shape);
        for (const scalar of [false, true]) {
          const { y, xhat } = normApply(x, mean, rstd, {
            scale,
            shift,
            alpha,
            saveXhat: true,
            relu: epilogue === 'relu',
            residual: epilogue === 'residual' ? residual : null,
            scalar,
          });
          expectClose(await y.data(), expected, 1e-5, 1e-5, `y (${scalar ? 'scalar' : 'vec4'})`);
          expectClose(await xhat!.data(), expectedXhat, 1e-5, 1e-5, `x̂ (${scalar ? 'scalar' : 'vec4'})`);
          y.dispose();
          xhat!.dispose();
        }
        if (epilogue === 'relu') expect(expected.some((v) => v === 0) && expected.some((v) => v > 0)).toBe(true);
        for (const t of [x, mean, rstd, scale, shift, residual]) t.dispose();
      });
    }

    it(`normGrad ${JSON.stringify(shape)} full and frozen`, async () => {
      const rt = runtime();
      const [n, h, w, c] = shape;
      const size = sizeOf(shape);
      const dys = randomValues(size, 511);
      const xhs = randomValues(size, 512, -2, 2);
      const rstds = randomValues(n * c, 513, 0.5, 2);
      const scales = randomValues(c, 514, -1.5, 1.5);
      const sumDys = randomValues(n * c, 515);
      const sumDyXhats = randomValues(n * c, 516);
      const count = h * w;
      const dy = rt.upload(dys, shape);
      const xhat = rt.upload(xhs, shape);
      const rstd = rt.upload(rstds, [n, c]);
      const scale = rt.upload(scales, [c]);
      const sumDy = rt.upload(sumDys, [n, c]);
      const sumDyXhat = rt.upload(sumDyXhats, [n, c]);
      for (const full of [true, false]) {
        const expected = new Float64Array(size);
        for (let s = 0; s < n; s++) {
          for (let p = 0; p < h * w; p++) {
            for (let ch = 0; ch < c; ch++) {
              const i = (s * h * w + p) * c + ch;
              const g = at(rstds, s, ch, c) * at(scales, s, ch, c);
              const v = full ? dys[i]! - (at(sumDys, s, ch, c) + xhs[i]! * at(sumDyXhats, s, ch, c)) / count : dys[i]!;
              expected[i] = g * v;
            }
          }
        }
        for (const scalar of [false, true]) {
          const dx = normGrad(dy, rstd, scale, full ? { xhat, sumDy, sumDyXhat, count } : null, scalar);
          expectClose(await dx.data(), expected, 1e-5, 1e-5, `dx (${full ? 'full' : 'frozen'}, ${scalar ? 'scalar' : 'vec4'})`);
          dx.dispose();
        }
      }
      for (const t of [dy, xhat, rstd, scale, sumDy, sumDyXhat]) t.dispose();
    });
  }
});

/** Instance norm composed from tfjs ops (tf.grads differentiates through the moments). */
function tfInstanceNorm(x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), scale), shift);
}

/** Batch norm with batch statistics (training) or given running statistics (eval), in tfjs ops. */
function tfBatchNorm(x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, eps: number, running: { mean: tf.Tensor; variance: tf.Tensor } | null): tf.Tensor {
  const { mean, variance } = running ?? tf.moments(x, [0, 1, 2]);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), scale), shift);
}

type Kind = 'instance' | 'conditional' | 'batch train' | 'batch eval';
type Fusion = 'relu' | 'residual';

describe('fused epilogues: forward and gradients equal the unfused ops in tfjs-cpu', () => {
  const cases: [Kind, Fusion, Shape4][] = [
    ['instance', 'relu', [2, 6, 5, 8]],
    ['instance', 'relu', [1, 7, 5, 3]], // scalar kernel
    ['instance', 'residual', [2, 6, 5, 8]],
    ['instance', 'residual', [1, 5, 7, 6]],
    ['conditional', 'relu', [2, 5, 6, 8]], // scale and shift [N, C]
    ['conditional', 'residual', [2, 5, 6, 8]],
    ['batch train', 'relu', [2, 5, 4, 8]],
    ['batch train', 'residual', [2, 5, 4, 8]],
    ['batch eval', 'relu', [2, 5, 4, 8]],
    ['batch eval', 'residual', [1, 6, 5, 3]],
  ];
  for (const [kind, fusion, shape] of cases) {
    it(`${kind} norm + ${fusion} ${JSON.stringify(shape)}`, async () => {
      const rt = runtime();
      const [n, , , c] = shape;
      const size = sizeOf(shape);
      const eps = 1e-5;
      // Conditional instance norm: one scale and shift row per sample.
      const pshape = kind === 'conditional' ? [n, c] : [c];
      const xs = randomValues(size, 601, -1, 3);
      const ws = randomValues(size, 602);
      const gs = randomValues(sizeOf(pshape), 603, -1.5, 1.5);
      const bs = randomValues(sizeOf(pshape), 604);
      const rs = randomValues(size, 605, -2, 2);
      const rms = randomValues(c, 606, 0, 2);
      const rvs = randomValues(c, 607, 0.3, 2);
      const [x, w, scale, shift, residual] = [rt.upload(xs, shape), rt.upload(ws, shape), rt.upload(gs, pshape), rt.upload(bs, pshape), rt.upload(rs, shape)];
      const running = { mean: rt.upload(rms, [c]), variance: rt.upload(rvs, [c]) };
      const epilogue: NormEpilogue = fusion === 'relu' ? { activation: 'relu' } : { residual };
      const fused = (a: Tensor, g: Tensor, b: Tensor, r: Tensor): Tensor => {
        const e: NormEpilogue = fusion === 'relu' ? { activation: 'relu' } : { residual: r };
        if (kind === 'instance') return instanceNorm(a, { scale: g, shift: b, eps, ...e });
        if (kind === 'conditional') return conditionalInstanceNorm(a, g, b, eps, e);
        // Eval mode normalises with the running statistics; training mode leaves them alone here.
        return batchNorm(a, { scale: g, shift: b, eps, training: kind === 'batch train', running: kind === 'batch eval' ? running : null, ...e });
      };
      const tfRunning = kind === 'batch eval' ? { mean: tf.tensor(rms, [c]), variance: tf.tensor(rvs, [c]) } : null;
      const tfUnfused = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor): tf.Tensor => {
        const rows = (t: tf.Tensor) => (kind === 'conditional' ? tf.reshape(t, [n, 1, 1, c]) : t);
        const normed = kind === 'batch train' || kind === 'batch eval' ? tfBatchNorm(a, g, b, eps, tfRunning) : tfInstanceNorm(a, rows(g), rows(b), eps);
        return fusion === 'relu' ? tf.relu(normed) : tf.add(r, normed);
      };
      const tfArgs = [tf.tensor(xs, shape), tf.tensor(gs, pshape), tf.tensor(bs, pshape), tf.tensor(rs, shape)] as const;

      const y = kind === 'instance' ? instanceNorm(x, { scale, shift, eps, ...epilogue }) : fused(x, scale, shift, residual);
      const expected = await tfValues(tfUnfused(...tfArgs));
      expectClose(await y.data(), expected, 1e-4, 1e-5, 'forward');
      if (fusion === 'relu') expect(expected.some((v) => v === 0) && expected.some((v) => v > 0)).toBe(true);

      const params = fusion === 'relu' ? [x, scale, shift] : [x, scale, shift, residual];
      const { grads } = valueAndGrad((...a: Tensor[]) => loss(fused(a[0]!, a[1]!, a[2]!, a[3] ?? residual), w))(...params);
      const tw = tf.tensor(ws, shape);
      const tfGrads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(tfUnfused(a[0]!, a[1]!, a[2]!, a[3] ?? tfArgs[3]), tw)))(tfArgs.slice(0, params.length));
      const names = ['dx', 'dscale', 'dshift', 'dresidual'];
      for (let i = 0; i < params.length; i++) {
        expect([...grads[i]!.shape]).toEqual([...params[i]!.shape]);
        expectClose(await grads[i]!.data(), await tfValues(tfGrads[i]!), 1e-4, 1e-5, names[i]);
      }
      for (const t of [x, w, scale, shift, residual, running.mean, running.variance, y, ...grads]) t.dispose();
    });
  }
});

describe('fused epilogue bookkeeping', () => {
  it('refuses a bad epilogue before any dispatch, naming the problem', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(96, 701), [1, 4, 3, 8]);
    const wrong = rt.upload(randomValues(96, 702), [1, 3, 4, 8]);
    const before = rt.stats().dispatches;
    expect(() => instanceNorm(x, { activation: 'relu', residual: x })).toThrow(/instanceNorm: a fused activation and a residual cannot be combined/);
    expect(() => instanceNorm(x, { residual: wrong })).toThrow(/instanceNorm: residual has shape \[1, 3, 4, 8\], expected the input's \[1, 4, 3, 8\]/);
    expect(() => instanceNorm(x, { activation: 'gelu' as 'relu' })).toThrow(/instanceNorm: activation must be 'relu' or null, got gelu/);
    expect(() => batchNorm(x, { training: true, residual: wrong })).toThrow(/batchNorm: residual has shape/);
    expect(rt.stats().dispatches).toBe(before);
    x.dispose();
    wrong.dispose();
  });

  it('frees every intermediate and saved tensor', async () => {
    const rt = runtime();
    const shape: Shape4 = [1, 4, 4, 8];
    const x = rt.upload(randomValues(128, 711), shape);
    const w = rt.upload(randomValues(128, 712), shape);
    const r = rt.upload(randomValues(128, 713), shape);
    const scale = rt.upload(randomValues(8, 714), [8]);
    const before = rt.stats();
    for (let i = 0; i < 2; i++) {
      const runs = [
        valueAndGrad((a: Tensor, s: Tensor) => loss(instanceNorm(a, { scale: s, activation: 'relu' }), w))(x, scale),
        valueAndGrad((a: Tensor, s: Tensor, b: Tensor) => loss(instanceNorm(a, { scale: s, residual: b }), w))(x, scale, r),
        // Only the residual wants a gradient: the norm's backward is skipped.
        valueAndGrad((b: Tensor) => loss(instanceNorm(x, { residual: b }), w))(r),
        valueAndGrad((a: Tensor) => loss(batchNorm(a, { training: true, activation: 'relu' }), w))(x),
      ];
      for (const run of runs) {
        run.value.dispose();
        run.grads.forEach((g) => g.dispose());
      }
      instanceNorm(x, { activation: 'relu' }).dispose();
      instanceNorm(x, { residual: r }).dispose();
    }
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const t of [x, w, r, scale]) t.dispose();
  });
});
