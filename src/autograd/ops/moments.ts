import { momentsForPlan, momentsGradKernel, planMoments, type Moments, type MomentsOptions } from '../../gpu/kernels/moments.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { needsGrad, record } from '../tape.ts';

export type { Moments, MomentsOptions };

/**
 * Mean and biased variance of x over `axes` (all axes if omitted), from one numerically stable
 * kernel. Both outputs are differentiable: d(mean) spreads dy/n, d(variance) is 2(x − μ)/n · dy.
 */
export function moments(x: Tensor, axes?: readonly number[], options: MomentsOptions = {}): Moments {
  const plan = planMoments('moments', x, axes, options.keepDims ?? false);
  const { mean, variance } = momentsForPlan(x, plan);
  if (!needsGrad(x)) return { mean, variance };
  // The variance's backward needs μ even if the caller frees `mean`: keep a view of its own.
  const savedMean = x.runtime.reshape(mean, mean.shape);
  record('moments_mean', [x], mean, (dy) => [momentsGradKernel('mean', x, plan, dy)]);
  record('moments_variance', [x], variance, (dy) => [momentsGradKernel('variance', x, plan, dy, savedMean)], [savedMean]);
  return { mean, variance };
}

/** Biased variance of x over `axes` (all if omitted); gradient 2(x − μ)/n · dy. */
export function variance(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const plan = planMoments('variance', x, axes, keepDims);
  const { mean, variance: v } = momentsForPlan(x, plan);
  return record('variance', [x], v, (dy) => [momentsGradKernel('variance', x, plan, dy, mean)], [mean]);
}
