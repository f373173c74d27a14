import { gridFor, MAX_RANK, padLanes, stridesOf } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { REDUCE_WG, reducePerThreadWgsl, reducePerWorkgroupWgsl, type ReduceOp } from '../../shaders/reduce.wgsl.ts';
import { normalizeAxes } from './shape-utils.ts';

/** Reduced elements one workgroup handles before the work is split across more workgroups. */
const CHUNK = 4096;

export interface ReduceOptions {
  keepDims?: boolean;
  /** Multiplies the result (1/count gives a mean). */
  scale?: number;
}

function launchReduce(op: ReduceOp, x: Tensor, keptDims: number[], keptStrides: number[], redDims: number[], redStrides: number[], scale: number, outShape: number[]): Tensor {
  const runtime = x.runtime;
  const outCount = keptDims.reduce((a, b) => a * b, 1);
  const redCount = redDims.reduce((a, b) => a * b, 1);
  const params = {
    out_count: outCount,
    red_count: redCount,
    kept_dims: padLanes(keptDims, 1),
    kept_strides: padLanes(keptStrides, 0),
    red_dims: padLanes(redDims, 1),
    red_strides: padLanes(redStrides, 0),
  };
  if (redCount <= 2 * REDUCE_WG || outCount > 65535) {
    const out = runtime.empty(outShape);
    runtime.launch({
      name: `reduce_${op}_thread`,
      source: () => reducePerThreadWgsl(op),
      bindings: { src: x, dst: out },
      params: { ...params, chunk: 0, splits: 1, scale },
      workgroups: gridFor(outCount, REDUCE_WG),
    });
    return out;
  }
  const splits = Math.min(Math.ceil(redCount / CHUNK), 65535);
  const chunk = Math.ceil(redCount / splits);
  const partialShape = splits === 1 ? outShape : [outCount, splits];
  const partial = runtime.empty(partialShape);
  runtime.launch({
    name: `reduce_${op}_workgroup`,
    source: () => reducePerWorkgroupWgsl(op),
    bindings: { src: x, dst: partial },
    params: { ...params, chunk, splits, scale: splits === 1 ? scale : 1 },
    workgroups: [outCount, splits, 1],
  });
  if (splits === 1) return partial;
  const out = launchReduce(op, partial, [outCount], [splits], [splits], [1], scale, outShape);
  partial.dispose();
  return out;
}

/** Reduces `axes` of x (all axes if omitted) with sum, max or min. */
export function reduce(op: ReduceOp, x: Tensor, axes?: readonly number[], options: ReduceOptions = {}): Tensor {
  if (x.dtype !== 'f32') throw new Error(`reduce_${op}: needs an f32 tensor, got ${x.dtype}`);
  if (x.rank > MAX_RANK) throw new Error(`reduce_${op}: rank ${x.rank} exceeds ${MAX_RANK} (${formatShape(x.shape)})`);
  const reduced = normalizeAxes(`reduce_${op}`, axes ?? x.shape.map((_, i) => i), x.rank);
  const strides = stridesOf(x.shape);
  const keptDims: number[] = [];
  const keptStrides: number[] = [];
  const redDims: number[] = [];
  const redStrides: number[] = [];
  const outShape: number[] = [];
  x.shape.forEach((d, i) => {
    if (reduced.includes(i)) {
      redDims.push(d);
      redStrides.push(strides[i]!);
      if (options.keepDims) outShape.push(1);
    } else {
      keptDims.push(d);
      keptStrides.push(strides[i]!);
      outShape.push(d);
    }
  });
  if (redDims.reduce((a, b) => a * b, 1) === 0 && op !== 'sum') throw new Error(`reduce_${op}: cannot reduce an empty tensor ${formatShape(x.shape)}`);
  return launchReduce(op, x, keptDims, keptStrides, redDims, redStrides, options.scale ?? 1, outShape);
}

/** Sums a broadcast result back to `shape` (the backward of broadcasting). */
export function sumToShape(x: Tensor, shape: readonly number[]): Tensor {
  const lead = x.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return x.runtime.reshape(x, shape);
  const summed = reduce('sum', x, axes, { keepDims: true });
  const out = x.runtime.reshape(summed, shape);
  summed.dispose();
  return out;
}
