import { tuningNoise, type TuneJob } from '../autotune.ts';
import { gridFor } from '../grid.ts';
import type { Runtime } from '../runtime.ts';
import { formatShape, sizeOf, type Tensor } from '../tensor.ts';
import {
  GRAM_BLOCK,
  GRAM_BWD_COLS,
  GRAM_BWD_ROWS,
  GRAM_REDUCE_WG,
  GRAM_SG_SIZE,
  GRAM_SG_WG,
  gramBackwardWgsl,
  gramPartialWgsl,
  gramReduceWgsl,
  SYMMETRIZE_WG,
  symmetrizeBlocksWgsl,
  symmetrizeWgsl,
} from '../../shaders/gram.wgsl.ts';
import { hasEightWideSubgroups } from './conv2d/rules.ts';
import { launchMatmul, matmulKernel } from './matmul.ts';
import { assertShape } from './shape-utils.ts';
import { kernelFamily } from '../kernel-family.ts';

const ONE = () => [{}];
const GRAM_PARTIAL = kernelFamily('gram_partial', () => gramPartialWgsl(), ONE);
const GRAM_REDUCE = kernelFamily('gram_reduce', () => gramReduceWgsl(), ONE);
const SYMMETRIZE_BLOCKS = kernelFamily('symmetrize_blocks', () => symmetrizeBlocksWgsl(), ONE);
const SYMMETRIZE = kernelFamily('symmetrize', () => symmetrizeWgsl(), ONE);
const GRAM_BACKWARD = kernelFamily('gram_backward', () => gramBackwardWgsl(), ONE);

/**
 * 'subgroup': kernels sharing operands through subgroupBroadcast (adapters whose subgroups are
 * exactly 8 wide, such as llvmpipe; channels a multiple of 4); 'matmul': the tiled matmul kernel
 * (any adapter, any shape); 'auto': the choice `pastiche tune` measured for the shape class on this
 * adapter, else 'subgroup' where it applies.
 */
export type GramAlgorithm = 'auto' | 'subgroup' | 'matmul';
type GramPath = Exclude<GramAlgorithm, 'auto'>;
/** The forward product or the backward one (dF = F·S). */
export type GramPass = 'fwd' | 'bwd';

export interface GramOptions {
  /** Divide by C·H·W (the default), as in Gatys et al.'s style loss. */
  normalize?: boolean;
  /** Which kernels run (tests and benchmarks choose; 'auto' otherwise). */
  algorithm?: GramAlgorithm;
}

interface GramDims {
  n: number;
  h: number;
  w: number;
  c: number;
}

function checkFeatures(op: string, features: Tensor): GramDims {
  if (features.rank !== 4) throw new Error(`${op}: features must be NHWC (rank 4), got shape ${formatShape(features.shape)}`);
  if (features.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${features.dtype}`);
  const [n, h, w, c] = features.shape as [number, number, number, number];
  return { n, h, w, c };
}

const subgroupFits = (runtime: Runtime, channels: number) => hasEightWideSubgroups(runtime) && channels % 4 === 0;

/** The paths the tuner may choose between for `channels` on this adapter, by the id stored in the tuning cache. */
export function gramCandidateIds(runtime: Runtime, channels: number): GramPath[] {
  return subgroupFits(runtime, channels) ? ['subgroup', 'matmul'] : ['matmul'];
}

/** The shape class a tuned choice applies to: pass, channels and batch exactly, pixels per sample to the nearest power of two. */
export function gramShapeKey(pass: GramPass, d: GramDims): string {
  return `${pass} c${d.c} px2^${Math.round(Math.log2(Math.max(1, d.h * d.w)))} n${d.n}`;
}

function pickAlgorithm(op: string, pass: GramPass, features: Tensor, d: GramDims, options: GramOptions): GramPath {
  const algorithm = options.algorithm ?? 'auto';
  const runtime = features.runtime;
  const fits = subgroupFits(runtime, d.c);
  if (algorithm === 'subgroup' && !fits) {
    throw new Error(`${op}: algorithm 'subgroup' needs the 'subgroups' feature with 8-wide subgroups and a multiple of 4 channels (got ${d.c})`);
  }
  if (algorithm !== 'auto') return algorithm;
  // Only shapes both paths run are worth timing (and have a choice to look up).
  if (!fits || sizeOf(features.shape) === 0) return 'matmul';
  const tuning = runtime.tuning;
  const shape = gramShapeKey(pass, d);
  if (tuning.capturing) tuning.offer('gram', shape, () => gramTuneJob(runtime, pass, d));
  const tuned = tuning.lookup('gram', shape);
  // An id from another version of pastiche: the rule.
  if (tuned === 'subgroup' || tuned === 'matmul') return tuned;
  return 'subgroup';
}

/** Features of dimensions `d` (and an upstream gradient for the backward pass) and one launch per path, for the tuner. */
function gramTuneJob(runtime: Runtime, pass: GramPass, d: GramDims): TuneJob {
  const features = tuningNoise(runtime, [d.n, d.h, d.w, d.c], 1);
  const dg = pass === 'bwd' ? tuningNoise(runtime, [d.n, d.c, d.c], 2) : null;
  const candidates = gramCandidateIds(runtime, d.c).map((id) => ({
    id,
    run: dg ? () => void gramBackwardKernel(features, dg, { algorithm: id }) : () => void gramKernel(features, { algorithm: id }),
  }));
  return { candidates, dispose: () => [features, dg].forEach((t) => t?.dispose()) };
}

/** The factor `gram` multiplies FᵀF by. */
export function gramScale(features: Tensor, options: GramOptions = {}): number {
  const { h, w, c } = checkFeatures('gram', features);
  return options.normalize === false ? 1 : 1 / Math.max(1, c * h * w);
}

/**
 * Subgroup tasks (block pair × pixel chunk) the Gram kernel aims for: 16 workgroups of 8, which
 * keep a software rasteriser's threads busy. Only few blocks (few channels) are split.
 */
const GRAM_TARGET_TASKS = 128;
/** Fewest pixels one task sums: shorter runs cost more in partial sums written and reduced than they save. */
const GRAM_MIN_CHUNK = 256;
/** Most partial sums a split writes in all (32 MiB): more splits would only add memory traffic. */
const GRAM_MAX_PARTIAL = 8 << 20;
const MAX_GROUPS = 65535;

/**
 * Subgroup path: partial 32×32 blocks on and above the diagonal, split over pixel chunks while
 * there are few blocks, then one pass that sums the chunks, mirrors the lower blocks and scales.
 */
function gramSubgroup(features: Tensor, n: number, pixels: number, c: number, scale: number): Tensor {
  const runtime = features.runtime;
  const blocks = Math.ceil(c / GRAM_BLOCK);
  const pairs = (blocks * (blocks + 1)) / 2;
  let splits = Math.max(1, Math.min(Math.ceil(GRAM_TARGET_TASKS / (pairs * n)), Math.ceil(pixels / GRAM_MIN_CHUNK), Math.floor(GRAM_MAX_PARTIAL / (n * c * c))));
  const chunk = Math.ceil(pixels / splits);
  splits = Math.ceil(pixels / chunk); // no empty chunks
  const tasks = n * pairs * splits;
  // One split: the block kernel writes G itself (scaled, mirrored); else partial sums to reduce.
  const partial = runtime.empty(splits === 1 ? [n, c, c] : [n, splits, c, c]);
  runtime.launch({
    ...GRAM_PARTIAL.program({}),
    bindings: { f: features, partial },
    params: { pixels, c, chunk, splits, blocks, pairs, tasks, scale: splits === 1 ? scale : 1 },
    workgroups: gridFor(tasks, GRAM_SG_WG / GRAM_SG_SIZE),
  });
  if (splits === 1) return partial;
  const g = runtime.empty([n, c, c]);
  runtime.launch({
    ...GRAM_REDUCE.program({}),
    bindings: { partial, g },
    params: { total: g.size, c, splits, scale },
    workgroups: gridFor(g.size, GRAM_REDUCE_WG),
  });
  partial.dispose();
  return g;
}

/**
 * G[n] = scale · F[n]ᵀ·F[n] for NHWC features, F[n] seen as an (H·W)×C matrix: [N, H, W, C] → [N, C, C].
 * Only blocks on and above the diagonal are computed and mirrored; the pixel axis is split over
 * workgroups when the few output blocks would leave the GPU idle.
 */
export function gramKernel(features: Tensor, options: GramOptions = {}): Tensor {
  const d = checkFeatures('gram', features);
  const { n, h, w, c } = d;
  const scale = gramScale(features, options);
  if (pickAlgorithm('gram', 'fwd', features, d, options) === 'subgroup' && n * h * w * c > 0) return gramSubgroup(features, n, h * w, c, scale);
  const operand = { tensor: features, outer: h * w * c, inner: 0 };
  return launchMatmul({
    op: 'gram',
    a: operand,
    b: operand,
    transA: true,
    transB: false,
    m: c,
    n: c,
    k: h * w,
    outer: n,
    inner: 1,
    scale,
    symmetric: true,
    outShape: [n, c, c],
  });
}

/** scale · (G + Gᵀ) for each matrix of a [N, C, C] batch. */
export function symmetrizeKernel(g: Tensor, scale = 1): Tensor {
  if (g.rank !== 3 || g.shape[1] !== g.shape[2]) throw new Error(`symmetrize: needs a batch of square matrices [N, C, C], got ${formatShape(g.shape)}`);
  const size = g.shape[1]!;
  const out = g.runtime.empty(g.shape);
  if (size % 4 === 0) {
    // 4×4 blocks: vec4 loads only, the transpose in registers.
    const blocks = g.size / 16;
    g.runtime.launch({
      ...SYMMETRIZE_BLOCKS.program({}),
      bindings: { src: g, dst: out },
      params: { blocks, size, scale },
      workgroups: gridFor(blocks, SYMMETRIZE_WG),
    });
    return out;
  }
  g.runtime.launch({
    ...SYMMETRIZE.program({}),
    bindings: { src: g, dst: out },
    params: { n: g.size, size, scale },
    workgroups: gridFor(g.size, SYMMETRIZE_WG),
  });
  return out;
}

/** dF = F·S per sample with the subgroup kernel (S symmetric [N, C, C], F [N, H, W, C]). */
function gramBackwardSubgroup(features: Tensor, sym: Tensor, n: number, pixels: number, c: number): Tensor {
  const runtime = features.runtime;
  const subgroupsPerWg = GRAM_SG_WG / GRAM_SG_SIZE;
  const rowsPerSubgroup = GRAM_SG_SIZE * GRAM_BWD_ROWS;
  // All 8 subgroups on rows unless there are too few rows to fill them.
  let sgM = subgroupsPerWg;
  while (sgM > 1 && (sgM / 2) * rowsPerSubgroup >= pixels) sgM /= 2;
  const nTiles = Math.ceil(c / (GRAM_BWD_COLS * (subgroupsPerWg / sgM)));
  const mTiles = Math.ceil(pixels / (rowsPerSubgroup * sgM));
  const x = Math.min(mTiles, MAX_GROUPS);
  if (n * nTiles > MAX_GROUPS) throw new Error(`gram backward: features ${formatShape(features.shape)} need more workgroups than a dispatch allows`);
  const df = runtime.empty(features.shape);
  runtime.launch({
    ...GRAM_BACKWARD.program({}),
    bindings: { f: features, s: sym, df },
    params: { pixels, c, sg_m: sgM, n_tiles: nTiles },
    workgroups: [x, Math.ceil(mTiles / x), n * nTiles],
  });
  return df;
}

/** dF = scale · F·(dG + dGᵀ): the gradient of `gramKernel` for an upstream gradient dG [N, C, C]. */
export function gramBackwardKernel(features: Tensor, dg: Tensor, options: GramOptions = {}): Tensor {
  const d = checkFeatures('gram backward', features);
  const { n, h, w, c } = d;
  assertShape('gram backward', 'the upstream gradient', dg.shape, [n, c, c]);
  const algorithm = pickAlgorithm('gram backward', 'bwd', features, d, options);
  const sym = symmetrizeKernel(dg, gramScale(features, options));
  if (algorithm === 'subgroup' && n * h * w * c > 0) {
    const df = gramBackwardSubgroup(features, sym, n, h * w, c);
    sym.dispose();
    return df;
  }
  const f = features.runtime.reshape(features, [n, h * w, c]);
  const df = matmulKernel(f, sym);
  f.dispose();
  sym.dispose();
  const out = df.runtime.reshape(df, features.shape);
  df.dispose();
  return out;
}
