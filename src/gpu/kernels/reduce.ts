import { gridFor, MAX_RANK, padLanes, stridesOf } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import {
  COLUMNS_WG,
  REDUCE_WG,
  reduceColumnsWgsl,
  reducePerThreadWgsl,
  reducePerWorkgroupWgsl,
  reduceRowsVec4Wgsl,
  type ReduceOp,
  type ReduceRanks,
} from '../../shaders/reduce.wgsl.ts';
import { collapseReduction, normalizeAxes } from './shape-utils.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';

interface RanksParams {
  op: ReduceOp;
  /** Unrolled offset ranks, or undefined for the generic kernel. */
  ranks: ReduceRanks | undefined;
}
const OPS: readonly ReduceOp[] = ['sum', 'max', 'min'];
const RANKS: readonly (ReduceRanks | undefined)[] = [undefined, ...everyCombination<ReduceRanks>({ kept: [0, 1, 2], reduced: [0, 1] })];
const REDUCE_THREAD = kernelFamily('reduce_thread', (p: RanksParams) => reducePerThreadWgsl(p.op, p.ranks), () => everyCombination<RanksParams>({ op: OPS, ranks: RANKS }));
const REDUCE_WORKGROUP = kernelFamily('reduce_workgroup', (p: RanksParams) => reducePerWorkgroupWgsl(p.op, p.ranks), () => everyCombination<RanksParams>({ op: OPS, ranks: RANKS }));
const REDUCE_ROWS_VEC4 = kernelFamily('reduce_rows_vec4', (p: { op: ReduceOp }) => reduceRowsVec4Wgsl(p.op), () => everyCombination({ op: OPS }));
const REDUCE_COLUMNS = kernelFamily(
  'reduce_columns',
  (p: { op: ReduceOp; lanes: number }) => reduceColumnsWgsl(p.op, p.lanes),
  () => everyCombination({ op: OPS, lanes: [4, 16, 64] }),
);

/** Reduced elements one workgroup handles before the work is split across more workgroups. */
const CHUNK = 4096;
/**
 * The same on a CPU-emulated adapter, where each workgroup and barrier has a large fixed cost and a
 * few workgroups per core are enough (reduce-sum of 1M on lavapipe: 2.1 ms with 4096, 0.57 ms here).
 */
const SOFTWARE_CHUNK = 262144;
const chunkFor = (x: Tensor) => (x.runtime.context.software ? SOFTWARE_CHUNK : CHUNK);
/** Column reductions: workgroups a split aims for, fewest elements per thread, most splits. */
const TARGET_WORKGROUPS = 256;
const MIN_PER_THREAD = 32;
const MAX_SPLITS = 128;

export interface ReduceOptions {
  keepDims?: boolean;
  /** Multiplies the result (1/count gives a mean). */
  scale?: number;
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The strided kernels: output o reduces x[kept_offset(o) + reduced_offset(r)] for every r. With
 * `ranks` (the dims are a collapsed reduction) the offset functions are unrolled to those ranks.
 */
function launchStrided(op: ReduceOp, x: Tensor, keptDims: number[], keptStrides: number[], redDims: number[], redStrides: number[], scale: number, outShape: number[], ranks?: ReduceRanks): Tensor {
  const runtime = x.runtime;
  const outCount = product(keptDims);
  const redCount = product(redDims);
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
      ...REDUCE_THREAD.program({ op, ranks }),
      bindings: { src: x, dst: out },
      params: { ...params, chunk: 0, splits: 1, scale },
      workgroups: gridFor(outCount, REDUCE_WG),
    });
    return out;
  }
  const splits = Math.min(Math.ceil(redCount / chunkFor(x)), 65535);
  const chunk = Math.ceil(redCount / splits);
  const partialShape = splits === 1 ? outShape : [outCount, splits];
  const partial = runtime.empty(partialShape);
  runtime.launch({
    ...REDUCE_WORKGROUP.program({ op, ranks }),
    bindings: { src: x, dst: partial },
    params: { ...params, chunk, splits, scale: splits === 1 ? scale : 1 },
    workgroups: [outCount, splits, 1],
  });
  if (splits === 1) return partial;
  const out = reduceRows(op, partial, outCount, splits, scale, outShape);
  partial.dispose();
  return out;
}

/** x viewed as [P, R], reduced over R (the innermost axes): one workgroup per output and split. */
function reduceRows(op: ReduceOp, x: Tensor, p: number, r: number, scale: number, outShape: number[]): Tensor {
  if (r % 4 === 0 && r > 2 * REDUCE_WG && p <= 65535) return reduceRowsVec4(op, x, p, r, scale, outShape);
  const kept = p > 1 ? 1 : 0;
  return launchStrided(op, x, kept ? [p] : [], kept ? [r] : [], [r], [1], scale, outShape, { kept, reduced: 1 });
}

/** reduceRows for rows of a multiple of 4 elements, read as vec4s; splits are reduced again. */
function reduceRowsVec4(op: ReduceOp, x: Tensor, p: number, r: number, scale: number, outShape: number[]): Tensor {
  const row4 = r / 4;
  const splits = Math.min(Math.ceil(r / chunkFor(x)), 65535);
  const chunk4 = Math.ceil(row4 / splits);
  const used = Math.ceil(row4 / chunk4);
  const partial = x.runtime.empty(used === 1 ? outShape : [p, used]);
  x.runtime.launch({
    ...REDUCE_ROWS_VEC4.program({ op }),
    bindings: { src: x, dst: partial },
    params: { row4, chunk4, splits: used, scale: used === 1 ? scale : 1 },
    workgroups: [p, used, 1],
  });
  if (used === 1) return partial;
  const out = reduceRows(op, partial, p, used, scale, outShape);
  partial.dispose();
  return out;
}

function lanesFor(q: number): number {
  if (q <= 4) return 4;
  if (q <= 16) return 16;
  return 64;
}

/** x viewed as [P, R, Q] with Q > 1, reduced over R: coalesced column reads, split over R. */
function reduceColumns(op: ReduceOp, x: Tensor, p: number, r: number, q: number, scale: number, outShape: number[]): Tensor {
  const runtime = x.runtime;
  const lanes = lanesFor(q);
  const rows = COLUMNS_WG / lanes;
  const qTiles = Math.ceil(q / lanes);
  // Few rows, or more outputs than a dispatch axis allows workgroups: one thread per output, which
  // still reads neighbouring columns from neighbouring threads.
  if (r <= 2 * rows || p > 65535 || qTiles > 65535) {
    const keptDims = p > 1 ? [p, q] : [q];
    const keptStrides = p > 1 ? [r * q, 1] : [1];
    const out = runtime.empty(outShape);
    runtime.launch({
      ...REDUCE_THREAD.program({ op, ranks: { kept: keptDims.length, reduced: 1 } }),
      bindings: { src: x, dst: out },
      params: {
        out_count: p * q,
        red_count: r,
        chunk: 0,
        splits: 1,
        scale,
        kept_dims: padLanes(keptDims, 1),
        kept_strides: padLanes(keptStrides, 0),
        red_dims: padLanes([r], 1),
        red_strides: padLanes([q], 0),
      },
      workgroups: gridFor(p * q, REDUCE_WG),
    });
    return out;
  }
  const groups = p * qTiles;
  const splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / groups), Math.ceil(r / (rows * MIN_PER_THREAD)), MAX_SPLITS));
  const chunk = Math.ceil(r / splits);
  const used = Math.ceil(r / chunk);
  const dst = runtime.empty(used === 1 ? outShape : [p, used, q]);
  runtime.launch({
    ...REDUCE_COLUMNS.program({ op, lanes }),
    bindings: { src: x, dst },
    params: { p_count: p, r_count: r, q_count: q, chunk, splits: used, scale: used === 1 ? scale : 1 },
    workgroups: [qTiles, used, p],
  });
  if (used === 1) return dst;
  const out = reduceColumns(op, dst, p, used, q, scale, outShape);
  dst.dispose();
  return out;
}

/**
 * Reduces a collapsed reduction (alternating kept and reduced axes, none of size 1) into a
 * tensor of `outShape`. One reduced block is one pass: innermost → `reduceRows`, else
 * `reduceColumns`. Several blocks are reduced one at a time, innermost first, each pass
 * shrinking the data before the next.
 */
function reduceCollapsed(op: ReduceOp, x: Tensor, dims: number[], reduced: boolean[], scale: number, outShape: number[]): Tensor {
  const blocks = reduced.filter((r) => r).length;
  if (blocks === 0) {
    // Nothing left to reduce (only size-1 axes were): a scaled copy.
    const n = product(dims);
    return launchStrided(op, x, n > 1 ? [n] : [], n > 1 ? [1] : [], [], [], scale, outShape, { kept: n > 1 ? 1 : 0, reduced: 0 });
  }
  const g = reduced.lastIndexOf(true);
  const p = product(dims.slice(0, g));
  const r = dims[g]!;
  const q = product(dims.slice(g + 1));
  if (blocks === 1) return q === 1 ? reduceRows(op, x, p, r, scale, outShape) : reduceColumns(op, x, p, r, q, scale, outShape);
  const restDims = [...dims.slice(0, g), ...dims.slice(g + 1)];
  const restReduced = [...reduced.slice(0, g), ...reduced.slice(g + 1)];
  const partial = q === 1 ? reduceRows(op, x, p, r, 1, [p * q]) : reduceColumns(op, x, p, r, q, 1, [p * q]);
  const collapsed = collapseReduction(
    restDims,
    restReduced.flatMap((red, i) => (red ? [i] : [])),
  );
  const out = reduceCollapsed(op, partial, collapsed.dims, collapsed.reduced, scale, outShape);
  partial.dispose();
  return out;
}

/**
 * Reduces `axes` of x (all axes if omitted) with sum, max or min. The axes are collapsed first
 * (see `collapseReduction`), so any layout runs as [P, R] (reduce the innermost: one workgroup
 * per output, split over R) or [P, R, Q] (reduce outer axes, e.g. N·H·W of NHWC: threads read
 * neighbouring columns), or as a sequence of those when the reduced axes are not one block.
 */
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
  if (product(redDims) === 0 && op !== 'sum') throw new Error(`reduce_${op}: cannot reduce an empty tensor ${formatShape(x.shape)}`);
  const scale = options.scale ?? 1;
  // Empty tensors keep the general kernel (outputs of an empty sum are 0 · scale).
  if (x.size === 0) return launchStrided(op, x, keptDims, keptStrides, redDims, redStrides, scale, outShape);
  const collapsed = collapseReduction(x.shape, reduced);
  return reduceCollapsed(op, x, collapsed.dims, collapsed.reduced, scale, outShape);
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
