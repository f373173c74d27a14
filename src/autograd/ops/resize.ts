import {
  resizeNearestBackwardKernel,
  resizeNearestKernel,
  upsampleNearestBackwardKernel,
  upsampleNearestKernel,
  type ResizeNearestOptions,
} from '../../gpu/kernels/resize.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

export type { ResizeNearestOptions };

/**
 * Nearest-neighbour upsampling of NHWC by integer factors ([N, H, W, C] → [N, fh·H, fw·W, C]):
 * each pixel becomes an fh×fw block. The gradient sums dy over each block.
 */
export function upsampleNearest(x: Tensor, factor: number | readonly [number, number] = 2): Tensor {
  return record('upsampleNearest', [x], upsampleNearestKernel(x, factor), (dy) => [upsampleNearestBackwardKernel(dy, x.shape, factor)]);
}

/**
 * tf.image.resizeNearestNeighbor(x, [outH, outW], alignCorners, halfPixelCenters) on NHWC, with
 * exact integer source indices (see `nearestAxisMap`). The gradient adds each dy pixel into the
 * input pixel it was read from (the true adjoint, halfPixelCenters included).
 */
export function resizeNearest(x: Tensor, size: readonly [number, number], options: ResizeNearestOptions = {}): Tensor {
  const opts = { ...options };
  return record('resizeNearest', [x], resizeNearestKernel(x, size, opts), (dy) => [resizeNearestBackwardKernel(dy, x.shape, opts)]);
}
