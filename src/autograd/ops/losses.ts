import { squaredErrorGradKernel, squaredErrorKernel, sumSquaresKernel } from '../../gpu/kernels/losses.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

/**
 * Σ(a − b)² over every element (a and b of the same shape) as a scalar tensor that stays on the
 * GPU; one fused kernel (two stages for large inputs). d/da = 2(a − b)·dy, d/db = −2(a − b)·dy.
 */
export function sumSquaredError(a: Tensor, b: Tensor): Tensor {
  return squaredLoss('sumSquaredError', a, b, 1);
}

/** Mean squared error: Σ(a − b)² / n as a scalar tensor. */
export function mse(a: Tensor, b: Tensor): Tensor {
  return squaredLoss('mse', a, b, 1 / Math.max(1, a.size));
}

function squaredLoss(op: string, a: Tensor, b: Tensor, scale: number): Tensor {
  const y = squaredErrorKernel(a, b, scale, op);
  return record(op, [a, b], y, (dy) => [
    a.requiresGrad ? squaredErrorGradKernel(dy, a, b, 2 * scale) : null,
    b.requiresGrad ? squaredErrorGradKernel(dy, a, b, -2 * scale) : null,
  ]);
}

/** Σx² as a scalar tensor (fused square and sum); gradient 2x·dy. */
export function sumSquares(x: Tensor): Tensor {
  const y = sumSquaresKernel(x);
  return record('sumSquares', [x], y, (dy) => [squaredErrorGradKernel(dy, x, null, 2)]);
}
