import { gridFor, MAX_RANK, padLanes, stridesOf } from '../grid.ts';
import { formatShape, sizeOf, type Shape, type Tensor } from '../tensor.ts';
import { sliceBackwardWgsl, STRUCTURAL_WG, stridedCopyWgsl } from '../../shaders/structural.wgsl.ts';
import type { VecWidth } from '../../shaders/common/nhwc.wgsl.ts';
import { sameShape } from './shape-utils.ts';
import { everyCombination, kernelFamily, STORAGE_DTYPES } from '../kernel-family.ts';
import type { DType } from '../tensor.ts';

const STRIDED_COPY = kernelFamily('strided_copy', (p: { dtype: DType; vec: VecWidth }) => stridedCopyWgsl(p.dtype, p.vec), () => everyCombination<{ dtype: DType; vec: VecWidth }>({ dtype: STORAGE_DTYPES, vec: [1, 4] }));
const SLICE_BACKWARD = kernelFamily('slice_backward', (p: { dtype: DType; vec: VecWidth }) => sliceBackwardWgsl(p.dtype, p.vec), () => everyCombination<{ dtype: DType; vec: VecWidth }>({ dtype: STORAGE_DTYPES, vec: [1, 4] }));

/**
 * Raw structural kernels (no autograd): concat, slice, transpose and slice's backward. They are all
 * copies through strides; the plan below simplifies the strides before a launch.
 */

interface CopyPlan {
  dims: number[];
  srcStrides: number[];
  dstStrides: number[];
  srcOffset: number;
  dstOffset: number;
}

/**
 * Drops size-1 axes and merges neighbouring axes that are contiguous in both source and
 * destination (an NHWC slice over H keeps W·C as one run), then widens to vec4 when the innermost
 * run is contiguous on both sides and every stride and offset is a multiple of 4.
 */
function simplify(plan: CopyPlan): CopyPlan & { vec: VecWidth } {
  const dims: number[] = [];
  const src: number[] = [];
  const dst: number[] = [];
  plan.dims.forEach((d, k) => {
    if (d === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && src[last] === plan.srcStrides[k]! * d && dst[last] === plan.dstStrides[k]! * d) {
      dims[last]! *= d;
      src[last] = plan.srcStrides[k]!;
      dst[last] = plan.dstStrides[k]!;
    } else {
      dims.push(d);
      src.push(plan.srcStrides[k]!);
      dst.push(plan.dstStrides[k]!);
    }
  });
  const inner = dims.length - 1;
  const vectorisable =
    inner >= 0 &&
    dims[inner]! % 4 === 0 &&
    src[inner] === 1 &&
    dst[inner] === 1 &&
    plan.srcOffset % 4 === 0 &&
    plan.dstOffset % 4 === 0 &&
    src.every((s, k) => k === inner || s % 4 === 0) &&
    dst.every((s, k) => k === inner || s % 4 === 0);
  if (!vectorisable) return { dims, srcStrides: src, dstStrides: dst, srcOffset: plan.srcOffset, dstOffset: plan.dstOffset, vec: 1 };
  return {
    dims: dims.map((d, k) => (k === inner ? d / 4 : d)),
    srcStrides: src.map((s, k) => (k === inner ? 1 : s / 4)),
    dstStrides: dst.map((s, k) => (k === inner ? 1 : s / 4)),
    srcOffset: plan.srcOffset / 4,
    dstOffset: plan.dstOffset / 4,
    vec: 4,
  };
}

function launchCopy(src: Tensor, dst: Tensor, plan: CopyPlan): void {
  const s = simplify(plan);
  const n = sizeOf(s.dims);
  if (n === 0) return;
  src.runtime.launch({
    ...STRIDED_COPY.program({ dtype: src.dtype, vec: s.vec }),
    bindings: { src, dst },
    params: {
      n,
      rank: s.dims.length,
      src_offset: s.srcOffset,
      dst_offset: s.dstOffset,
      dims: padLanes(s.dims, 1),
      src_strides: padLanes(s.srcStrides, 0),
      dst_strides: padLanes(s.dstStrides, 0),
    },
    workgroups: gridFor(n, STRUCTURAL_WG),
  });
}

function assertRankSupported(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds ${MAX_RANK} (${formatShape(shape)})`);
}

function normalizeAxis(op: string, axis: number, rank: number, shape: Shape): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is out of range for shape ${formatShape(shape)}`);
  return a;
}

/** Output shape of concat, after checking ranks, dtypes and the non-concatenated dims. */
export function concatShape(shapes: readonly Shape[], axis: number): { shape: number[]; axis: number } {
  if (shapes.length === 0) throw new Error('concat: needs at least one tensor');
  const first = shapes[0]!;
  const list = () => shapes.map(formatShape).join(', ');
  if (first.length === 0) throw new Error(`concat: cannot concatenate scalars (shapes ${list()})`);
  assertRankSupported('concat', first);
  const a = normalizeAxis('concat', axis, first.length, first);
  const shape = [...first];
  shape[a] = 0;
  for (const s of shapes) {
    if (s.length !== first.length || s.some((d, k) => k !== a && d !== first[k])) {
      throw new Error(`concat: shapes ${list()} must match except along axis ${a}`);
    }
    shape[a]! += s[a]!;
  }
  return { shape, axis: a };
}

/** Joins tensors along `axis` (negative counts from the end). */
export function concatKernel(tensors: readonly Tensor[], axis: number): Tensor {
  const { shape, axis: a } = concatShape(
    tensors.map((t) => t.shape),
    axis,
  );
  const dtype = tensors[0]!.dtype;
  if (tensors.some((t) => t.dtype !== dtype)) throw new Error(`concat: dtypes differ (${tensors.map((t) => t.dtype).join(', ')})`);
  const runtime = tensors[0]!.runtime;
  const out = runtime.empty(shape, dtype);
  const outStrides = stridesOf(shape);
  let start = 0;
  for (const t of tensors) {
    launchCopy(t, out, { dims: [...t.shape], srcStrides: stridesOf(t.shape), dstStrides: outStrides, srcOffset: 0, dstOffset: start * outStrides[a]! });
    start += t.shape[a]!;
  }
  return out;
}

export interface SliceBox {
  begin: number[];
  size: number[];
}

/**
 * Resolves tf.slice-style arguments: a number or a shorter array for `begin` is padded with 0,
 * for `size` with -1; a size of -1 means "to the end of the axis". Throws if the box leaves x.
 */
export function resolveSlice(shape: Shape, begin: number | readonly number[], size?: number | readonly number[]): SliceBox {
  const rank = shape.length;
  const b = typeof begin === 'number' ? [begin] : [...begin];
  const s = size === undefined ? [] : typeof size === 'number' ? [size] : [...size];
  const describe = () => `begin ${formatShape(b)} and size ${formatShape(s)} for shape ${formatShape(shape)}`;
  if (b.length > rank || s.length > rank) throw new Error(`slice: ${describe()} have more entries than the rank ${rank}`);
  const fullBegin = shape.map((_, k) => b[k] ?? 0);
  const fullSize = shape.map((d, k) => {
    const v = s[k] ?? -1;
    return v === -1 ? d - fullBegin[k]! : v;
  });
  for (let k = 0; k < rank; k++) {
    const bk = fullBegin[k]!;
    const sk = fullSize[k]!;
    if (!Number.isInteger(bk) || !Number.isInteger(sk) || bk < 0 || sk < 0 || bk + sk > shape[k]!) {
      throw new Error(`slice: ${describe()} is out of bounds on axis ${k}`);
    }
  }
  return { begin: fullBegin, size: fullSize };
}

/** The box `[begin, begin + size)` of x, as a new tensor (see `resolveSlice` for the arguments). */
export function sliceKernel(x: Tensor, begin: number | readonly number[], size?: number | readonly number[]): Tensor {
  assertRankSupported('slice', x.shape);
  const box = resolveSlice(x.shape, begin, size);
  const out = x.runtime.empty(box.size, x.dtype);
  const strides = stridesOf(x.shape);
  launchCopy(x, out, {
    dims: box.size,
    srcStrides: strides,
    dstStrides: stridesOf(box.size),
    srcOffset: box.begin.reduce((acc, bk, k) => acc + bk * strides[k]!, 0),
    dstOffset: 0,
  });
  return out;
}

/** Checks a permutation (default: reversed axes, as tf.transpose). */
export function resolvePerm(shape: Shape, perm?: readonly number[]): number[] {
  const rank = shape.length;
  const p = perm ? [...perm] : shape.map((_, k) => rank - 1 - k);
  const sorted = [...p].sort((a, b) => a - b);
  if (p.length !== rank || sorted.some((v, k) => v !== k)) {
    throw new Error(`transpose: perm ${formatShape(p)} is not a permutation of the axes of shape ${formatShape(shape)}`);
  }
  return p;
}

/** out.shape[k] = x.shape[perm[k]]. */
export function transposeKernel(x: Tensor, perm?: readonly number[]): Tensor {
  assertRankSupported('transpose', x.shape);
  const p = resolvePerm(x.shape, perm);
  const shape = p.map((a) => x.shape[a]!);
  const out = x.runtime.empty(shape, x.dtype);
  const xStrides = stridesOf(x.shape);
  launchCopy(x, out, { dims: shape, srcStrides: p.map((a) => xStrides[a]!), dstStrides: stridesOf(shape), srcOffset: 0, dstOffset: 0 });
  return out;
}

/** Gradient of `slice`: dy placed at `begin` inside zeros of `inputShape`. */
export function sliceBackwardKernel(dy: Tensor, inputShape: Shape, begin: readonly number[]): Tensor {
  assertRankSupported('slice backward', inputShape);
  if (begin.length !== inputShape.length || dy.rank !== inputShape.length || dy.shape.some((d, k) => begin[k]! < 0 || begin[k]! + d > inputShape[k]!)) {
    throw new Error(`slice backward: gradient ${formatShape(dy.shape)} at begin ${formatShape(begin)} does not fit in ${formatShape(inputShape)}`);
  }
  const out = dy.runtime.empty(inputShape, dy.dtype);
  if (out.size === 0) return out;
  if (sameShape(dy.shape, inputShape)) {
    launchCopy(dy, out, { dims: [...inputShape], srcStrides: stridesOf(inputShape), dstStrides: stridesOf(inputShape), srcOffset: 0, dstOffset: 0 });
    return out;
  }
  const rank = inputShape.length;
  const inner = rank - 1;
  // vec4 when the innermost axis and the box along it are whole groups of 4.
  const vec: VecWidth = inputShape[inner]! % 4 === 0 && begin[inner]! % 4 === 0 && dy.shape[inner]! % 4 === 0 ? 4 : 1;
  const scaleInner = (values: readonly number[]) => values.map((v, k) => (k === inner ? v / vec : v));
  const dims = scaleInner(inputShape);
  const size = scaleInner(dy.shape);
  const n = sizeOf(dims);
  dy.runtime.launch({
    ...SLICE_BACKWARD.program({ dtype: dy.dtype, vec }),
    bindings: { src: dy, dst: out },
    params: {
      n,
      rank,
      dims: padLanes(dims, 1),
      begin: padLanes(scaleInner(begin), 0),
      size: padLanes(size, 1),
      src_strides: padLanes(stridesOf(size), 0),
    },
    workgroups: gridFor(n, STRUCTURAL_WG),
  });
  return out;
}
