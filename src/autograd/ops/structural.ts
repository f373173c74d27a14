import { concatKernel, resolvePerm, resolveSlice, sliceBackwardKernel, sliceKernel, transposeKernel } from '../../gpu/kernels/structural.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

/**
 * Structural ops with gradients, any rank up to 8 and any dtype. Each returns a new tensor (a copy,
 * never a view of its input). The backward of each is another structural copy:
 * concat → slices of dy, slice → dy placed into zeros, transpose → transpose by the inverse perm.
 */

/** Joins tensors along `axis` (negative counts from the end), like tf.concat. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  const out = concatKernel(tensors, axis);
  const a = axis < 0 ? axis + out.rank : axis;
  const inputs = [...tensors];
  return record('concat', inputs, out, (dy) => {
    let start = 0;
    return inputs.map((t) => {
      const begin = t.shape.map((_, k) => (k === a ? start : 0));
      start += t.shape[a]!;
      return t.requiresGrad ? sliceKernel(dy, begin, [...t.shape]) : null;
    });
  });
}

/**
 * tf.slice: the box starting at `begin` with extent `size` (-1: to the end of the axis). A number
 * or a shorter array is padded with 0 (begin) or -1 (size) for the remaining axes.
 */
export function slice(x: Tensor, begin: number | readonly number[], size?: number | readonly number[]): Tensor {
  const box = resolveSlice(x.shape, begin, size);
  const out = sliceKernel(x, box.begin, box.size);
  return record('slice', [x], out, (dy) => [sliceBackwardKernel(dy, x.shape, box.begin)]);
}

/** tf.transpose: out.shape[k] = x.shape[perm[k]]; perm defaults to reversing the axes. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = resolvePerm(x.shape, perm);
  const inverse = new Array<number>(p.length);
  p.forEach((axis, k) => (inverse[axis] = k));
  return record('transpose', [x], transposeKernel(x, p), (dy) => [transposeKernel(dy, inverse)]);
}
