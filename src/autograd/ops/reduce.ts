import { binary, fill } from '../../gpu/kernels/elementwise.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { normalizeAxes } from '../../gpu/kernels/shape-utils.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { needsGrad, record } from '../tape.ts';

/** The gradient of a sum: dy broadcast back over the reduced axes (times `scale`). */
function spread(dy: Tensor, x: Tensor, axes: number[], scale: number): Tensor {
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const dyKept = x.runtime.reshape(dy, keptShape);
  const ones = fill(x.runtime, x.shape, scale);
  const g = binary('mul', ones, dyKept);
  ones.dispose();
  dyKept.dispose();
  return g;
}

export function sum(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes('sum', axes ?? x.shape.map((_, i) => i), x.rank);
  return record('sum', [x], reduce('sum', x, ax, { keepDims }), (dy) => [spread(dy, x, ax, 1)]);
}

export function mean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  const ax = normalizeAxes('mean', axes ?? x.shape.map((_, i) => i), x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  return record('mean', [x], reduce('sum', x, ax, { keepDims, scale: 1 / count }), (dy) => [spread(dy, x, ax, 1 / count)]);
}

export function max(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  if (needsGrad(x)) throw new Error('max: gradients are not implemented (use maxPool2d for pooling)');
  return reduce('max', x, axes, { keepDims });
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = resolveShape(x.size, shape);
  return record('reshape', [x], x.runtime.reshape(x, resolved), (dy) => [dy.runtime.reshape(dy, x.shape)]);
}

/** Allows one -1 in a shape, inferred from the size. */
function resolveShape(size: number, shape: readonly number[]): number[] {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`reshape: at most one -1 is allowed, got [${shape.join(', ')}]`);
  return shape.map((d) => (d === -1 ? size / known : d));
}
