import type { TuneJob } from '../autotune.ts';
import type { Runtime } from '../runtime.ts';
import { formatShape, type Shape, type Tensor } from '../tensor.ts';
import { MATMUL_DEPTH, matmulWgsl, type MatmulVariant } from '../../shaders/matmul.wgsl.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';
import { reduce } from './reduce.ts';

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/** Workgroups below which a launch splits K (a modern GPU has tens of compute units). */
const TARGET_WORKGROUPS = 128;
/** Fewest K slices (of MATMUL_DEPTH) one split handles: shorter runs cost more in partials than they save. */
const MIN_SLICES_PER_SPLIT = 8;
/** Most partial products a split-K launch writes (they are summed by a per-thread pass). */
const MAX_SPLITS = 32;
const MAX_GROUPS = 65535;

/** An operand's tensor and where its matrices start: batch strides in elements (0 broadcasts). */
interface Operand {
  tensor: Tensor;
  /** elements between consecutive outer (output) batches; 0 when broadcast */
  outer: number;
  /** elements between consecutive inner (summed) batches */
  inner: number;
}

export interface MatmulLaunch {
  op: string;
  a: Operand;
  b: Operand;
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  /** output batches (C's leading axis) */
  outer: number;
  /** batches summed into every output matrix */
  inner: number;
  scale: number;
  symmetric: boolean;
  outShape: Shape;
  /** force a tile size or split count (tests, bench); chosen by heuristics otherwise */
  config?: MatmulConfig;
  splits?: number;
}

/** Tile shapes, largest first: 128² with 8×8 per thread (256 threads), 64² with 8×8 (64), 32² with 4×4 (64). */
export const MATMUL_CONFIGS = [
  { tile: 128, block: 8 },
  { tile: 64, block: 8 },
  { tile: 32, block: 4 },
] as const;
export type MatmulConfig = (typeof MATMUL_CONFIGS)[number];

function workgroupsFor(m: number, n: number, outer: number, tile: number, symmetric: boolean): number {
  const tm = Math.ceil(m / tile);
  const tn = Math.ceil(n / tile);
  return (symmetric ? (tm * (tm + 1)) / 2 : tm * tn) * outer;
}

/**
 * The biggest tile that fits the output without much padding and still gives a GPU enough
 * workgroups (split-K makes up the rest); small outputs get small tiles.
 */
function chooseConfig(m: number, n: number, outer: number, symmetric: boolean): MatmulConfig {
  if (m >= 128 && n >= 128 && workgroupsFor(m, n, outer, 128, symmetric) >= TARGET_WORKGROUPS / 2) return MATMUL_CONFIGS[0];
  if (m >= 48 && n >= 48) return MATMUL_CONFIGS[1];
  return MATMUL_CONFIGS[2];
}

/** Every variant the tuner may choose, by id: a tile shape, with the split-K heuristic or without splits. */
const MATMUL_CHOICES: Record<string, { config: MatmulConfig; noSplit: boolean }> = {};
for (const config of MATMUL_CONFIGS) {
  MATMUL_CHOICES[`t${config.tile}`] = { config, noSplit: false };
  MATMUL_CHOICES[`t${config.tile}/nosplit`] = { config, noSplit: true };
}

const log2Bucket = (v: number) => Math.round(Math.log2(Math.max(v, 1)));

/** The shape class a tuned choice applies to: transposes, symmetry, and every extent to the nearest power of two. */
export function matmulShapeKey(l: Pick<MatmulLaunch, 'transA' | 'transB' | 'symmetric' | 'm' | 'n' | 'k' | 'outer' | 'inner'>): string {
  const t = `${l.transA ? 'T' : 'N'}${l.transB ? 'T' : 'N'}${l.symmetric ? ' sym' : ''}`;
  return `${t} m2^${log2Bucket(l.m)} n2^${log2Bucket(l.n)} k2^${log2Bucket(l.k * l.inner)} b2^${log2Bucket(l.outer)}`;
}

/** Kernel settings that force candidate `id` (tests, the tuner). */
export function matmulCandidate(id: string): { config: MatmulConfig; splits?: number } {
  const c = MATMUL_CHOICES[id];
  if (!c) throw new Error(`matmul: unknown variant '${id}' (known: ${Object.keys(MATMUL_CHOICES).join(', ')})`);
  return c.noSplit ? { config: c.config, splits: 1 } : { config: c.config };
}

export const MATMUL_CANDIDATE_IDS: readonly string[] = Object.keys(MATMUL_CHOICES);

const BOOLS = [false, true] as const;
const MATMUL = kernelFamily('matmul', (v: MatmulVariant) => matmulWgsl(v), () =>
  MATMUL_CONFIGS.flatMap((c) =>
    everyCombination<MatmulVariant>({ transA: BOOLS, transB: BOOLS, vec4: BOOLS, tile: [c.tile], block: [c.block], symmetric: BOOLS }),
  ),
);

/** Inputs shaped like launch `l` (same strides) and one launch per candidate, for the tuner. */
function matmulTuneJob(runtime: Runtime, l: MatmulLaunch): TuneJob {
  const elements = (o: Operand, rows: number, cols: number) => Math.max(o.outer * Math.max(l.outer - 1, 0) + o.inner * Math.max(l.inner - 1, 0) + rows * cols, 1);
  const a = runtime.upload(new Float32Array(elements(l.a, l.m, l.k)).fill(0.5), [elements(l.a, l.m, l.k)]);
  const b = l.symmetric ? a : runtime.upload(new Float32Array(elements(l.b, l.k, l.n)).fill(0.25), [elements(l.b, l.k, l.n)]);
  const candidates = MATMUL_CANDIDATE_IDS.map((id) => ({
    id,
    run: () => void launchMatmul({ ...l, a: { ...l.a, tensor: a }, b: { ...l.b, tensor: b }, ...matmulCandidate(id) }),
  }));
  return { candidates, dispose: () => new Set([a, b]).forEach((t) => t.dispose()) };
}

/** Records the tiled matmul launch (and the split-K sum) described by `l`; returns C. */
export function launchMatmul(l: MatmulLaunch): Tensor {
  const runtime = l.a.tensor.runtime;
  if (l.symmetric && l.m !== l.n) throw new Error(`${l.op}: a symmetric product must be square, got ${l.m}×${l.n}`);
  if (l.config === undefined && l.splits === undefined) {
    // Not forced: the variant tuned for this shape class on this adapter, if any.
    const shape = matmulShapeKey(l);
    if (runtime.tuning.capturing) runtime.tuning.offer('matmul', shape, () => matmulTuneJob(runtime, l));
    const tuned = runtime.tuning.lookup('matmul', shape);
    if (tuned !== undefined && MATMUL_CHOICES[tuned]) l = { ...l, ...matmulCandidate(tuned) };
  }
  const aContig = l.transA ? l.m : l.k;
  const bContig = l.transB ? l.k : l.n;
  const vec4 = aContig % 4 === 0 && bContig % 4 === 0 && l.n % 4 === 0;
  const config = l.config ?? chooseConfig(l.m, l.n, l.outer, l.symmetric);
  const tile = config.tile;
  const tilesM = Math.ceil(l.m / tile);
  const tilesN = Math.ceil(l.n / tile);
  const kTiles = Math.ceil(l.k / MATMUL_DEPTH);
  const slices = kTiles * l.inner;
  let splits = l.splits ?? 1;
  if (l.splits === undefined) {
    const groups = workgroupsFor(l.m, l.n, l.outer, tile, l.symmetric);
    if (groups < TARGET_WORKGROUPS) {
      splits = Math.min(Math.ceil(TARGET_WORKGROUPS / groups), Math.floor(slices / MIN_SLICES_PER_SPLIT), MAX_SPLITS);
    }
  }
  splits = Math.max(1, Math.min(splits, slices, Math.floor(MAX_GROUPS / Math.max(l.outer, 1))));
  const chunk = Math.max(1, Math.ceil(slices / splits));
  splits = Math.max(1, Math.ceil(slices / chunk)); // no empty splits (and one when K is 0)
  if (tilesM > MAX_GROUPS || tilesN > MAX_GROUPS || l.outer * splits > MAX_GROUPS) {
    throw new Error(`${l.op}: output ${formatShape(l.outShape)} needs more workgroups than a dispatch allows`);
  }
  const variant: MatmulVariant = { transA: l.transA, transB: l.transB, vec4, tile, block: config.block, symmetric: l.symmetric };
  const target = splits === 1 ? runtime.empty(l.outShape) : runtime.empty([splits, l.outer * l.m * l.n]);
  runtime.launch({
    ...MATMUL.program(variant),
    bindings: { a: l.a.tensor, b: l.b.tensor, c: target },
    params: {
      m: l.m,
      n: l.n,
      k: l.k,
      k_tiles: kTiles,
      tiles: slices,
      chunk,
      splits,
      outer: l.outer,
      a_outer: l.a.outer,
      a_inner: l.a.inner,
      b_outer: l.b.outer,
      b_inner: l.b.inner,
      scale: splits === 1 ? l.scale : 1,
    },
    workgroups: [tilesN, tilesM, l.outer * splits],
  });
  if (splits === 1) return target;
  const summed = reduce('sum', target, [0], { scale: l.scale });
  target.dispose();
  const out = runtime.reshape(summed, l.outShape);
  summed.dispose();
  return out;
}

/** Rows and columns of op(X) for a rank-2 or rank-3 operand, plus its batch. */
function dims(x: Tensor, transpose: boolean): { batch: number; rows: number; cols: number } {
  const r = x.rank;
  const rows = x.shape[r - 2]!;
  const cols = x.shape[r - 1]!;
  return { batch: r === 3 ? x.shape[0]! : 1, rows: transpose ? cols : rows, cols: transpose ? rows : cols };
}

function checkOperands(op: string, a: Tensor, b: Tensor, transA: boolean, transB: boolean) {
  if (a.rank < 2 || a.rank > 3 || b.rank < 2 || b.rank > 3) {
    throw new Error(`${op}: operands must have rank 2 or 3, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`${op}: needs f32 tensors, got ${a.dtype} and ${b.dtype}`);
  const da = dims(a, transA);
  const db = dims(b, transB);
  const t = (x: boolean) => (x ? 'ᵀ' : '');
  if (da.cols !== db.rows) {
    throw new Error(`${op}: inner dimensions differ: A${t(transA)} ${formatShape(a.shape)} has ${da.cols} columns, B${t(transB)} ${formatShape(b.shape)} has ${db.rows} rows`);
  }
  if (da.batch !== db.batch && da.batch !== 1 && db.batch !== 1) {
    throw new Error(`${op}: batch sizes of ${formatShape(a.shape)} and ${formatShape(b.shape)} cannot be broadcast`);
  }
  return { da, db, batch: Math.max(da.batch, db.batch) };
}

/**
 * C = op(A)·op(B) for rank-2 or rank-3 (batched) operands; a batch of 1 (or a rank-2 operand)
 * broadcasts. The result has rank 3 when either operand does.
 */
export function matmulKernel(a: Tensor, b: Tensor, options: MatmulOptions & { scale?: number } = {}): Tensor {
  const transA = options.transposeA ?? false;
  const transB = options.transposeB ?? false;
  const { da, db, batch } = checkOperands('matmul', a, b, transA, transB);
  const m = da.rows;
  const n = db.cols;
  const k = da.cols;
  const outShape = a.rank === 3 || b.rank === 3 ? [batch, m, n] : [m, n];
  return launchMatmul({
    op: 'matmul',
    a: { tensor: a, outer: da.batch === 1 ? 0 : m * k, inner: 0 },
    b: { tensor: b, outer: db.batch === 1 ? 0 : k * n, inner: 0 },
    transA,
    transB,
    m,
    n,
    k,
    outer: batch,
    inner: 1,
    scale: options.scale ?? 1,
    symmetric: false,
    outShape,
  });
}

/**
 * C = Σ_b op(A_b)·op(B_b) → [M, N]: a batched product summed over the batch (a batch of 1
 * broadcasts). This is the gradient of an operand that was broadcast over the batch.
 */
export function matmulSumBatchKernel(a: Tensor, b: Tensor, options: MatmulOptions & { scale?: number } = {}): Tensor {
  const transA = options.transposeA ?? false;
  const transB = options.transposeB ?? false;
  const { da, db, batch } = checkOperands('matmul', a, b, transA, transB);
  const m = da.rows;
  const n = db.cols;
  const k = da.cols;
  return launchMatmul({
    op: 'matmul',
    a: { tensor: a, outer: 0, inner: da.batch === 1 ? 0 : m * k },
    b: { tensor: b, outer: 0, inner: db.batch === 1 ? 0 : k * n },
    transA,
    transB,
    m,
    n,
    k,
    outer: 1,
    inner: batch,
    scale: options.scale ?? 1,
    symmetric: false,
    outShape: [m, n],
  });
}
