import { pool2x2BackwardKernel, pool2x2Kernel } from '../../gpu/kernels/pool.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

/**
 * 2×2 max pooling with stride 2 on NHWC ([N, H, W, C] → [N, ⌊H/2⌋, ⌊W/2⌋, C]), like
 * `tf.maxPool(x, 2, 2, 'valid')`. The gradient goes to each window's first maximum (row-major),
 * as in tfjs; the backward rule re-reads x (nothing extra is saved).
 */
export function maxPool2d(x: Tensor): Tensor {
  return record('maxPool2d', [x], pool2x2Kernel('max', x), (dy) => [pool2x2BackwardKernel('max', x, dy)]);
}

/** 2×2 average pooling with stride 2 on NHWC, like `tf.avgPool(x, 2, 2, 'valid')`. */
export function avgPool2d(x: Tensor): Tensor {
  return record('avgPool2d', [x], pool2x2Kernel('avg', x), (dy) => [pool2x2BackwardKernel('avg', x, dy)]);
}
