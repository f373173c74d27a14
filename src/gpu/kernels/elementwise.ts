import { gridFor, MAX_RANK, padLanes } from '../grid.ts';
import type { Tensor, Shape } from '../tensor.ts';
import {
  binaryCollapsedKey,
  binaryCollapsedWgsl,
  binaryVec4Wgsl,
  binaryWgsl,
  ELEMENTWISE_WG,
  fillWgsl,
  indexRuns,
  MAX_COLLAPSED_RANK,
  runUniforms,
  unaryVec4Wgsl,
  unaryWgsl,
  type BinaryOp,
  type UnaryOp,
} from '../../shaders/elementwise.wgsl.ts';
import { broadcastShapes, collapseBroadcast } from './shape-utils.ts';
import type { DType } from '../tensor.ts';
import { formatShape } from '../tensor.ts';

/** y = op(x) elementwise; `a`, `b` are the op's scalar parameters (clamp bounds, affine scale/shift). */
export function unary(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  const out = x.runtime.empty(x.shape, x.dtype);
  if (out.size === 0) return out;
  const vec4 = x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  x.runtime.launch({
    name: `unary_${op}`,
    variant: `${x.dtype}${vec4 ? '_vec4' : ''}`,
    source: () => (vec4 ? unaryVec4Wgsl(op, x.dtype) : unaryWgsl(op, x.dtype)),
    bindings: { src: x, dst: out },
    params: { n, a, b },
    workgroups: gridFor(n, ELEMENTWISE_WG),
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

/**
 * out = op(a, b) with NumPy broadcasting. The problem is collapsed first (size-1 axes dropped,
 * axes merged where both operands are contiguous across them): same-shape operands take the flat
 * kernel, up to MAX_COLLAPSED_RANK axes a kernel specialised to the broadcast pattern, beyond
 * that the general one that decodes every coordinate.
 */
export function binary(op: BinaryOp, a: Tensor, b: Tensor, pa = 0, pb = 0): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} vs ${b.dtype})`);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  if (outShape.length > MAX_RANK) throw new Error(`${op}: rank ${outShape.length} exceeds ${MAX_RANK} (${formatShape(outShape)})`);
  const runtime = a.runtime;
  const out = runtime.empty(outShape, a.dtype);
  if (out.size === 0) return out;
  const { dims, strides } = collapseBroadcast(outShape, [a.shape, b.shape]);
  const [sa, sb] = strides as [number[], number[]];
  const workgroups = gridFor(out.size, ELEMENTWISE_WG);
  const flat = dims.length === 0 || (dims.length === 1 && sa[0] === 1 && sb[0] === 1);
  if (flat && out.size % 4 === 0) {
    const n = out.size / 4;
    runtime.launch({
      name: `binary_${op}`,
      variant: `${a.dtype}_vec4`,
      source: () => binaryVec4Wgsl(op, a.dtype),
      bindings: { lhs: a, rhs: b, dst: out },
      params: { n, a: pa, b: pb },
      workgroups: gridFor(n, ELEMENTWISE_WG),
    });
    return out;
  }
  if (flat || dims.length > MAX_COLLAPSED_RANK) {
    runtime.launch({
      name: `binary_${op}`,
      variant: `${a.dtype}${flat ? '' : '_bcast'}`,
      source: () => binaryWgsl(op, a.dtype, !flat),
      bindings: { lhs: a, rhs: b, dst: out },
      params: {
        n: out.size,
        a: pa,
        b: pb,
        out_dims: padLanes(flat ? [] : dims, 1),
        a_strides: padLanes(flat ? [] : sa, 0),
        b_strides: padLanes(flat ? [] : sb, 0),
      },
      workgroups,
    });
    return out;
  }
  const rank = dims.length;
  const aRuns = indexRuns(dims, sa);
  const bRuns = indexRuns(dims, sb);
  runtime.launch({
    name: `binary_${op}`,
    variant: `${a.dtype}_${binaryCollapsedKey(rank, aRuns, bRuns)}`,
    source: () => binaryCollapsedWgsl(op, a.dtype, rank, aRuns, bRuns),
    bindings: { lhs: a, rhs: b, dst: out },
    params: { n: out.size, a: pa, b: pb, a_runs: runUniforms(aRuns), b_runs: runUniforms(bRuns) },
    workgroups,
  });
  return out;
}
