import { gridFor, MAX_RANK, padLanes } from '../grid.ts';
import type { Tensor, Shape } from '../tensor.ts';
import {
  BINARY_EXPRESSIONS,
  binaryCollapsedWgsl,
  binaryVec4Wgsl,
  binaryWgsl,
  ELEMENTWISE_WG,
  fillWgsl,
  indexRuns,
  MAX_COLLAPSED_RANK,
  runShapes,
  runUniforms,
  UNARY_EXPRESSIONS,
  unaryVec4Wgsl,
  unaryWgsl,
  type BinaryOp,
  type RunShape,
  type UnaryOp,
} from '../../shaders/elementwise.wgsl.ts';
import { broadcastShapes, collapseBroadcast } from './shape-utils.ts';
import type { DType } from '../tensor.ts';
import { formatShape } from '../tensor.ts';
import { everyCombination, kernelFamily, STORAGE_DTYPES } from '../kernel-family.ts';

const UNARY_OPS = Object.keys(UNARY_EXPRESSIONS) as UnaryOp[];
const BINARY_OPS = Object.keys(BINARY_EXPRESSIONS) as BinaryOp[];

const UNARY = kernelFamily(
  'unary',
  (p: { op: UnaryOp; dtype: DType; vec4: boolean }) => (p.vec4 ? unaryVec4Wgsl(p.op, p.dtype) : unaryWgsl(p.op, p.dtype)),
  () => everyCombination({ op: UNARY_OPS, dtype: STORAGE_DTYPES, vec4: [false, true] }),
);
const FILL = kernelFamily('fill', (p: { dtype: DType }) => fillWgsl(p.dtype), () => everyCombination({ dtype: STORAGE_DTYPES }));
const BINARY_VEC4 = kernelFamily('binary_vec4', (p: { op: BinaryOp; dtype: DType }) => binaryVec4Wgsl(p.op, p.dtype), () => everyCombination({ op: BINARY_OPS, dtype: STORAGE_DTYPES }));
const BINARY = kernelFamily(
  'binary',
  (p: { op: BinaryOp; dtype: DType; broadcast: boolean }) => binaryWgsl(p.op, p.dtype, p.broadcast),
  () => everyCombination({ op: BINARY_OPS, dtype: STORAGE_DTYPES, broadcast: [false, true] }),
);
interface CollapsedParams {
  op: BinaryOp;
  dtype: DType;
  rank: number;
  a: RunShape[];
  b: RunShape[];
}
const BINARY_COLLAPSED = kernelFamily('binary_collapsed', (p: CollapsedParams) => binaryCollapsedWgsl(p.op, p.dtype, p.rank, p.a, p.b), collapsedVariants);

/** Every broadcast pattern of ranks 1..MAX_COLLAPSED_RANK, with all or no powers of two, for add and mul in both dtypes. */
function collapsedVariants(): CollapsedParams[] {
  const out: CollapsedParams[] = [];
  for (let rank = 1; rank <= MAX_COLLAPSED_RANK; rank++) {
    const dims = Array.from({ length: rank }, () => 6);
    const dims2 = Array.from({ length: rank }, () => 4);
    for (let ma = 0; ma < 1 << rank; ma++) {
      for (let mb = 0; mb < 1 << rank; mb++) {
        for (const d of [dims, dims2]) {
          const strides = (mask: number) => d.map((_, axis) => ((mask >> axis) & 1 ? d.slice(axis + 1).reduce((p, v) => p * v, 1) : 0));
          const a = runShapes(indexRuns(d, strides(ma)), rank);
          const b = runShapes(indexRuns(d, strides(mb)), rank);
          for (const op of ['add', 'mul'] as const) for (const dtype of STORAGE_DTYPES) out.push({ op, dtype: dtype, rank, a, b });
        }
      }
    }
  }
  return out;
}

/** y = op(x) elementwise; `a`, `b` are the op's scalar parameters (clamp bounds, affine scale/shift). */
export function unary(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  const out = x.runtime.empty(x.shape, x.dtype);
  if (out.size === 0) return out;
  const vec4 = x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  x.runtime.launch({
    ...UNARY.program({ op, dtype: x.dtype, vec4 }),
    bindings: { src: x, dst: out },
    params: { n, a, b },
    workgroups: gridFor(n, ELEMENTWISE_WG),
  });
  return out;
}

export function fill(runtime: Tensor['runtime'], shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const out = runtime.empty(shape, dtype);
  runtime.launch({
    ...FILL.program({ dtype }),
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
      ...BINARY_VEC4.program({ op, dtype: a.dtype }),
      bindings: { lhs: a, rhs: b, dst: out },
      params: { n, a: pa, b: pb },
      workgroups: gridFor(n, ELEMENTWISE_WG),
    });
    return out;
  }
  if (flat || dims.length > MAX_COLLAPSED_RANK) {
    runtime.launch({
      ...BINARY.program({ op, dtype: a.dtype, broadcast: !flat }),
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
    ...BINARY_COLLAPSED.program({ op, dtype: a.dtype, rank, a: runShapes(aRuns, rank), b: runShapes(bRuns, rank) }),
    bindings: { lhs: a, rhs: b, dst: out },
    params: { n: out.size, a: pa, b: pb, a_runs: runUniforms(aRuns), b_runs: runUniforms(bRuns) },
    workgroups,
  });
  return out;
}
