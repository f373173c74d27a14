import { gramBackwardKernel, gramKernel, type GramAlgorithm, type GramOptions } from '../../gpu/kernels/gram.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

export type { GramAlgorithm, GramOptions };

/**
 * Gram matrices of NHWC features: [N, H, W, C] → [N, C, C], G = FᵀF per sample over the pixels,
 * divided by C·H·W unless `normalize: false`. Backward: dF = F·(dG + dGᵀ) (scaled alike).
 */
export function gram(features: Tensor, options: GramOptions = {}): Tensor {
  const g = gramKernel(features, options);
  return record('gram', [features], g, (dg) => [gramBackwardKernel(features, dg, options)]);
}
