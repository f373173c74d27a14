import { dropoutKernel, dropoutKeys, dropoutThreshold } from '../../gpu/kernels/dropout.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

export interface DropoutOptions {
  /** Selects the mask; vary it per step. Any safe integer. The same seed gives the same mask on any device. */
  seed: number;
  /** false (evaluation): dropout is the identity. */
  training: boolean;
}

/**
 * Inverted dropout: while training, each element is zeroed with probability p and the survivors
 * are scaled by 1/(1 − p), so the expected value is unchanged. The mask is a hash of (seed, flat
 * element index): nothing is stored for backward, which recomputes it (dx = dropout(dy) with the
 * same seed). In evaluation mode, or with p = 0, the result is a view of x (no copy).
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor {
  dropoutThreshold(p); // validates p
  dropoutKeys(options.seed); // validates the seed
  if (!options.training || p === 0) {
    return record('dropout', [x], x.runtime.reshape(x, x.shape), (dy) => [dy.runtime.reshape(dy, x.shape)]);
  }
  const { seed } = options;
  return record('dropout', [x], dropoutKernel(x, p, seed), (dy) => [dropoutKernel(dy, p, seed)]);
}
