import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { batchNorm, instanceNorm, type NormEpilogue } from '../../../src/autograd/ops/norm.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { noGrad } from '../../../src/autograd/tape.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/gpu/half.ts';
import { channelMoments, channelSums } from '../../../src/gpu/kernels/norm.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues } from '../../helpers/oracle.ts';
import { sizeOf, type Shape4 } from './norm-helpers.ts';

/**
 * The f16-storage norm kernels (instance / batch norm statistics and apply, with the fused ReLU
 * and residual epilogues) against the f32 kernels on the same, f16-representable inputs. Both
 * compute in f32, so the statistics agree to f32 rounding and the outputs differ only by the final
 * rounding to f16: at most half an f16 ulp, 2^-11 relative (plus 1e-6 near zero).
 */

const runtime = useRuntime();

/** The values an f16 tensor of them holds. */
const toHalf = (values: Float32Array): Float32Array => float16ToFloat32(float32ToFloat16(values));

const F16_RTOL = 2 ** -11 + 1e-6;

// C = 16 and 8 take the vec4 kernels, C = 6 the scalar ones; 15 pixels per sample: one row per thread.
const shapes: Shape4[] = [
  [2, 6, 5, 16],
  [1, 4, 4, 8],
  [2, 3, 5, 6],
];

describe('instance norm in f16 storage against the f32 kernels', () => {
  for (const shape of shapes) {
    for (const epilogue of ['none', 'relu', 'residual'] as const) {
      it(`${JSON.stringify(shape)} epilogue ${epilogue}`, async () => {
        const rt = runtime();
        expect(rt.hasF16, 'lavapipe has shader-f16').toBe(true);
        const c = shape[3];
        // An offset far from zero checks the statistics stay stable when read from f16.
        const xs = toHalf(randomValues(sizeOf(shape), 701, 40, 60));
        const rs = toHalf(randomValues(sizeOf(shape), 702, -3, 3));
        const scale = rt.upload(randomValues(c, 703, 0.5, 1.5), [c]);
        const shift = rt.upload(randomValues(c, 704, -0.5, 0.5), [c]);
        const run = (dtype: 'f32' | 'f16'): Tensor =>
          noGrad(() => {
            const x = rt.upload(xs, shape, dtype);
            const r = rt.upload(rs, shape, dtype);
            const fused: NormEpilogue = epilogue === 'relu' ? { activation: 'relu' } : epilogue === 'residual' ? { residual: r } : {};
            const y = instanceNorm(x, { scale, shift, eps: 1e-5, ...fused });
            x.dispose();
            r.dispose();
            return y;
          });
        const y32 = run('f32');
        const y16 = run('f16');
        expect(y16.dtype).toBe('f16');
        const want = await y32.data();
        expectClose(await y16.data(), want, F16_RTOL, 1e-6, `instanceNorm f16 ${epilogue}`);
        if (epilogue === 'relu') expect(want.some((v) => v === 0)).toBe(true);
        for (const t of [y32, y16, scale, shift]) t.dispose();
      });
    }
  }
});

describe('norm statistics read from f16', () => {
  it('channelMoments of f16 equals that of the same values in f32, split over many workgroups', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 9, 7, 12];
    const xs = toHalf(randomValues(sizeOf(shape), 711, -100, 300));
    for (const scalar of [false, true]) {
      const a = channelMoments(rt.upload(xs, shape), true, 1e-5, { chunk: 4, scalar });
      const b = channelMoments(rt.upload(xs, shape, 'f16'), true, 1e-5, { chunk: 4, scalar });
      expect(b.mean.dtype).toBe('f32');
      expectClose(await b.mean.data(), await a.mean.data(), 1e-6, 1e-6, 'mean');
      expectClose(await b.variance.data(), await a.variance.data(), 1e-6, 1e-6, 'variance');
      expectClose(await b.rstd.data(), await a.rstd.data(), 1e-6, 1e-6, 'rstd');
      for (const t of [a, b]) for (const s of Object.values(t) as Tensor[]) s.dispose();
    }
  });

  it('batch norm (running statistics and batch statistics) in f16 storage', async () => {
    const rt = runtime();
    const shape: Shape4 = [2, 4, 5, 8];
    const xs = toHalf(randomValues(sizeOf(shape), 721, -4, 4));
    const mean = rt.upload(randomValues(8, 722, -1, 1), [8]);
    const variance = rt.upload(randomValues(8, 723, 0.5, 2), [8]);
    const scale = rt.upload(randomValues(8, 724, 0.5, 1.5), [8]);
    for (const training of [false, true]) {
      const run = (dtype: 'f32' | 'f16'): Tensor =>
        noGrad(() => {
          const x = rt.upload(xs, shape, dtype);
          // Training mode without running statistics: nothing is updated, so both runs see the same state.
          const y = batchNorm(x, { scale, training, activation: 'relu', running: training ? null : { mean, variance } });
          x.dispose();
          return y;
        });
      const y32 = run('f32');
      const y16 = run('f16');
      expect(y16.dtype).toBe('f16');
      expectClose(await y16.data(), await y32.data(), F16_RTOL, 1e-6, `batchNorm f16 training=${training}`);
      y32.dispose();
      y16.dispose();
    }
    for (const t of [mean, variance, scale]) t.dispose();
  });
});

describe('f16 norms are inference only', () => {
  it('refuses a gradient through f16 activations, and f16 backward sums, with the reason', () => {
    const rt = runtime();
    const shape: Shape4 = [1, 2, 2, 4];
    const x = rt.upload(randomValues(16, 731), shape, 'f16');
    expect(() => valueAndGrad((v: Tensor) => sum(instanceNorm(v)))(x)).toThrow(/instanceNorm: f16 activations are for inference only .*use f32 tensors to train/);
    expect(() => channelSums(x, x, true)).toThrow(/channelSums: needs an f32 tensor .*f16 is supported by the forward statistics and apply only/);
    const r32 = rt.upload(new Float32Array(16), shape);
    expect(() => noGrad(() => instanceNorm(x, { residual: r32 }))).toThrow(/instanceNorm: residual must be f16 like x, got f32/);
    x.dispose();
    r32.dispose();
  });
});
