/**
 * Finite-difference gradients in float64 on plain TypeScript reference implementations: the oracle
 * for ops TensorFlow.js lacks (reflect pad, AdaIN, conditional instance norm, total variation, ...).
 */

/** Central differences of a scalar function of a flat float64 vector. */
export function numericGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, eps = 1e-4): Float64Array {
  const point = Float64Array.from(x);
  const grad = new Float64Array(point.length);
  for (let i = 0; i < point.length; i++) {
    const saved = point[i]!;
    point[i] = saved + eps;
    const up = f(point);
    point[i] = saved - eps;
    const down = f(point);
    point[i] = saved;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** Σ y·w: turns an op's output into a scalar with a non-uniform upstream gradient w. */
export function weightedSum(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}
