import { gridFor, MAX_RANK, padLanes } from '../grid.ts';
import type { Tensor, Shape } from '../tensor.ts';
import { binaryWgsl, ELEMENTWISE_WG, fillWgsl, unaryWgsl, type BinaryOp, type UnaryOp } from '../../shaders/elementwise.wgsl.ts';
import { broadcastShapes, broadcastStrides, sameShape } from './shape-utils.ts';
import type { DType } from '../tensor.ts';
import { formatShape } from '../tensor.ts';

/** y = op(x) elementwise; `a`, `b` are the op's scalar parameters (clamp bounds, affine scale/shift). */
export function unary(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  const out = x.runtime.empty(x.shape, x.dtype);
  x.runtime.launch({
    name: `unary_${op}`,
    variant: x.dtype,
    source: () => unaryWgsl(op, x.dtype),
    bindings: { src: x, dst: out },
    params: { n: x.size, a, b },
    workgroups: gridFor(x.size, ELEMENTWISE_WG),
  });
  return out;
}

export function fill(runtime: Tensor['runtime'], shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const out = runtime.empty(shape, dtype);
  runtime.launch({
    name: 'fill',
    variant: dtype,
    source: () => fillWgsl(dtype),
    bindings: { dst: out },
    params: { n: out.size, value },
    workgroups: gridFor(out.size, ELEMENTWISE_WG),
  });
  return out;
}

/** out = op(a, b) with NumPy broadcasting. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor, pa = 0, pb = 0): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} vs ${b.dtype})`);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  if (outShape.length > MAX_RANK) throw new Error(`${op}: rank ${outShape.length} exceeds ${MAX_RANK} (${formatShape(outShape)})`);
  const out = a.runtime.empty(outShape, a.dtype);
  const broadcast = !(sameShape(a.shape, outShape) && sameShape(b.shape, outShape));
  a.runtime.launch({
    name: `binary_${op}`,
    variant: `${a.dtype}${broadcast ? '_bcast' : ''}`,
    source: () => binaryWgsl(op, a.dtype, broadcast),
    bindings: { lhs: a, rhs: b, dst: out },
    params: {
      n: out.size,
      a: pa,
      b: pb,
      out_dims: padLanes(outShape, 1),
      a_strides: padLanes(broadcastStrides(a.shape, outShape), 0),
      b_strides: padLanes(broadcastStrides(b.shape, outShape), 0),
    },
    workgroups: gridFor(out.size, ELEMENTWISE_WG),
  });
  return out;
}
