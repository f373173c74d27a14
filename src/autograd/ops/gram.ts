import { gramBackwardKernel, gramKernel, type GramAlgorithm, type GramOptions } from '../../gpu/kernels/gram.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';
import { countFlops, productFlops } from './work.ts';

export type { GramAlgorithm, GramOptions };

/**
 * Gram matrices of NHWC features: [N, H, W, C] → [N, C, C], G = FᵀF per sample over the pixels,
 * divided by C·H·W unless `normalize: false`. Backward: dF = F·(dG + dGᵀ) (scaled alike).
 */
export function gram(features: Tensor, options: GramOptions = {}): Tensor {
  const g = gramKernel(features, options);
  // FᵀF per sample (counted as the full product, though the kernel may compute half), and F·(dG + dGᵀ) back.
  const channels = features.shape[features.rank - 1]!;
  const flops = productFlops(features.shape[0]!, channels, channels, features.size / (features.shape[0]! * channels));
  countFlops(features.runtime, flops);
  return record('gram', [features], g, (dg) => {
    countFlops(features.runtime, flops);
    return [gramBackwardKernel(features, dg, options)];
  });
}
