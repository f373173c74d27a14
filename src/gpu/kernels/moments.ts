import { gridFor, MAX_RANK } from '../grid.ts';
import { formatShape, type Shape, type Tensor } from '../tensor.ts';
import { momentsGradWgsl, momentsMergeWgsl, momentsThreadWgsl, momentsWorkgroupWgsl, MOMENTS_WG } from '../../shaders/moments.wgsl.ts';
import { binary, fill, unary } from './elementwise.ts';
import { reduce } from './reduce.ts';
import { normalizeAxes, sameShape } from './shape-utils.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';

const MOMENTS_THREAD = kernelFamily('moments_thread', () => momentsThreadWgsl(), () => [{}]);
const MOMENTS_WORKGROUP = kernelFamily(
  'moments_workgroup',
  (p: { lanes: number; final: boolean }) => momentsWorkgroupWgsl(p.lanes, p.final),
  () => everyCombination({ lanes: [1, 4, 16, 64], final: [false, true] }),
);
const MOMENTS_MERGE = kernelFamily('moments_merge', () => momentsMergeWgsl(), () => [{}]);
const MOMENTS_GRAD = kernelFamily(
  'moments_grad',
  (p: { kind: 'mean' | 'variance' }) => momentsGradWgsl(p.kind),
  () => everyCombination<{ kind: 'mean' | 'variance' }>({ kind: ['mean', 'variance'] }),
);

export interface Moments {
  mean: Tensor;
  /** Biased (population) variance: the mean squared deviation. */
  variance: Tensor;
}

export interface MomentsOptions {
  keepDims?: boolean;
}

/** Workgroups a split reduction aims for; more would only add partials to merge. */
const TARGET_WORKGROUPS = 256;
/** Fewest elements each thread should handle before the reduction is split further. */
const MIN_PER_THREAD = 32;
const MAX_SPLITS = 128;

/** x as [P, R, Q] when the reduced axes form one contiguous block, else null. */
export interface MomentsView {
  p: number;
  r: number;
  q: number;
}

export interface MomentsPlan {
  axes: number[];
  /** Elements reduced into each output. */
  count: number;
  outShape: number[];
  keptShape: number[];
  view: MomentsView | null;
}

export function planMoments(op: string, x: Tensor, axes: readonly number[] | undefined, keepDims: boolean): MomentsPlan {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${x.dtype}`);
  if (x.rank > MAX_RANK) throw new Error(`${op}: rank ${x.rank} exceeds ${MAX_RANK} (${formatShape(x.shape)})`);
  const ax = normalizeAxes(op, axes ?? x.shape.map((_, i) => i), x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  if (count === 0) throw new Error(`${op}: cannot take moments over zero elements (shape ${formatShape(x.shape)}, axes [${ax.join(', ')}])`);
  const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !ax.includes(i));
  let view: MomentsView | null = null;
  const first = ax[0] ?? 0;
  const last = ax[ax.length - 1] ?? -1;
  if (ax.length === 0 || last - first + 1 === ax.length) {
    const prod = (from: number, to: number) => x.shape.slice(from, to).reduce((n, d) => n * d, 1);
    view = ax.length === 0 ? { p: x.size, r: 1, q: 1 } : { p: prod(0, first), r: count, q: prod(last + 1, x.rank) };
  }
  return { axes: ax, count, outShape, keptShape, view };
}

function lanesFor(q: number): number {
  if (q === 1) return 1;
  if (q <= 4) return 4;
  if (q <= 16) return 16;
  return 64;
}

function contiguousMoments(x: Tensor, { p, r, q }: MomentsView, outShape: Shape): Moments {
  const runtime = x.runtime;
  const mean = runtime.empty(outShape);
  const variance = runtime.empty(outShape);
  const outputs = p * q;
  const lanes = lanesFor(q);
  const rows = MOMENTS_WG / lanes;
  const qTiles = Math.ceil(q / lanes);
  // Few elements per output, or more outputs than a dispatch axis allows workgroups: one thread each.
  if (r <= 2 * rows || p > 65535 || qTiles > 65535) {
    runtime.launch({
      ...MOMENTS_THREAD.program({}),
      bindings: { x, mean_out: mean, var_out: variance },
      params: { p_count: p, r_count: r, q_count: q, chunk: r, splits: 1 },
      workgroups: gridFor(outputs, MOMENTS_WG),
    });
    return { mean, variance };
  }
  const groups = p * qTiles;
  const splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / groups), Math.ceil(r / (rows * MIN_PER_THREAD)), MAX_SPLITS));
  const chunk = Math.ceil(r / splits);
  const used = Math.ceil(r / chunk);
  const params = { p_count: p, r_count: r, q_count: q, chunk, splits: used };
  if (used === 1) {
    runtime.launch({
      ...MOMENTS_WORKGROUP.program({ lanes, final: true }),
      bindings: { x, mean_out: mean, var_out: variance },
      params,
      workgroups: [qTiles, 1, p],
    });
    return { mean, variance };
  }
  const part = runtime.empty([outputs, used, 4]);
  runtime.launch({
    ...MOMENTS_WORKGROUP.program({ lanes, final: false }),
    bindings: { x, part },
    params,
    workgroups: [qTiles, used, p],
  });
  runtime.launch({
    ...MOMENTS_MERGE.program({}),
    bindings: { part, mean_out: mean, var_out: variance },
    params,
    workgroups: gridFor(outputs, MOMENTS_WG),
  });
  part.dispose();
  return { mean, variance };
}

/** Any set of axes: two passes with the general kernels (mean, then the mean squared deviation). */
function stridedMoments(x: Tensor, plan: MomentsPlan): Moments {
  const runtime = x.runtime;
  const meanKept = reduce('sum', x, plan.axes, { keepDims: true, scale: 1 / plan.count });
  const centered = binary('sub', x, meanKept);
  const squared = unary('square', centered);
  centered.dispose();
  const varKept = reduce('sum', squared, plan.axes, { keepDims: true, scale: 1 / plan.count });
  squared.dispose();
  const mean = runtime.reshape(meanKept, plan.outShape);
  const variance = runtime.reshape(varKept, plan.outShape);
  meanKept.dispose();
  varKept.dispose();
  return { mean, variance };
}

/**
 * Mean and biased variance of x over `axes` (all if omitted), numerically stable (Welford per
 * thread, pairwise merges; never E[x²] − E[x]²). When the axes are contiguous, as for NHWC norms
 * ([1, 2]: per sample and channel; [0, 1, 2]: per channel), one read of x suffices and large
 * reductions are split over many workgroups.
 */
export function momentsKernel(x: Tensor, axes?: readonly number[], options: MomentsOptions = {}): Moments {
  return momentsForPlan(x, planMoments('moments', x, axes, options.keepDims ?? false));
}

/** `momentsKernel` for a plan made by `planMoments` (ops keep the plan for their backward). */
export function momentsForPlan(x: Tensor, plan: MomentsPlan): Moments {
  return plan.view ? contiguousMoments(x, plan.view, plan.outShape) : stridedMoments(x, plan);
}

/**
 * Backward of a mean or variance over the plan's axes, given dy (kept or dropped dims):
 * mean: dx = dy/n; variance: dx = 2(x − μ)/n · dy, with μ the mean (any shape of the same size).
 */
export function momentsGradKernel(kind: 'mean' | 'variance', x: Tensor, plan: MomentsPlan, dy: Tensor, mean?: Tensor): Tensor {
  const op = `${kind} backward`;
  if (!sameShape(dy.shape, plan.outShape) && !sameShape(dy.shape, plan.keptShape)) {
    throw new Error(`${op}: the upstream gradient has shape ${formatShape(dy.shape)}, expected ${formatShape(plan.outShape)}`);
  }
  if (kind === 'variance' && (!mean || mean.size !== dy.size)) throw new Error(`${op}: needs the mean, shaped like ${formatShape(plan.outShape)}`);
  const runtime = x.runtime;
  const scale = (kind === 'variance' ? 2 : 1) / plan.count;
  if (plan.view) {
    const dx = runtime.empty(x.shape);
    const { r, q } = plan.view;
    runtime.launch({
      ...MOMENTS_GRAD.program({ kind }),
      bindings: kind === 'variance' ? { dy, x, mu: mean!, dx } : { dy, dx },
      params: { n: x.size, r_count: r, q_count: q, scale },
      workgroups: gridFor(x.size, MOMENTS_WG),
    });
    return dx;
  }
  // Axes that are not one block: broadcasting elementwise kernels.
  const dyKept = runtime.reshape(dy, plan.keptShape);
  if (kind === 'mean') {
    const filled = fill(runtime, x.shape, scale);
    const dx = binary('mul', filled, dyKept);
    filled.dispose();
    dyKept.dispose();
    return dx;
  }
  const muKept = runtime.reshape(mean!, plan.keptShape);
  const centered = binary('sub', x, muKept);
  muKept.dispose();
  const g = binary('mul', centered, dyKept);
  centered.dispose();
  dyKept.dispose();
  const dx = unary('affine', g, scale, 0);
  g.dispose();
  return dx;
}
