import { gridFor } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import {
  NORM_ROWS,
  NORM_WG,
  type NormApplyVariant,
  normApplyWgsl,
  normGradWgsl,
  normStatsCombineWgsl,
  normStatsPartialVec4Wgsl,
  normStatsPartialWgsl,
  runningUpdateWgsl,
  STATS_WG,
  type StatsMode,
} from '../../shaders/norm.wgsl.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';

const MODES = () => everyCombination<{ mode: StatsMode }>({ mode: ['moments', 'sums'] });
interface StatsPartialVariant {
  mode: StatsMode;
  vec4: boolean;
  /** f16 storage of the input ('moments' only); absent means f32. */
  half?: boolean;
}
const NORM_STATS_PARTIAL = kernelFamily(
  'norm_stats_partial',
  (p: StatsPartialVariant) => (p.vec4 ? normStatsPartialVec4Wgsl(p.mode, p.half) : normStatsPartialWgsl(p.mode, p.half)),
  () => [
    ...everyCombination<StatsPartialVariant>({ mode: ['moments', 'sums'], vec4: [false, true] }),
    ...everyCombination<StatsPartialVariant>({ mode: ['moments'], vec4: [false, true], half: [true] }),
  ],
);
const NORM_STATS_COMBINE = kernelFamily('norm_stats_combine', (p: { mode: StatsMode }) => normStatsCombineWgsl(p.mode), MODES);
const NORM_APPLY = kernelFamily('norm_apply', (p: NormApplyVariant) => normApplyWgsl(p), () => [
  ...everyCombination<NormApplyVariant>({ xhat: [false, true], vec4: [false, true], relu: [false, true], residual: [false, true] }),
  ...everyCombination<NormApplyVariant>({ xhat: [false, true], vec4: [false, true], relu: [false, true], residual: [false, true], half: [true] }),
]);
const NORM_GRAD = kernelFamily('norm_grad', (p: { vec4: boolean }) => normGradWgsl(p.vec4), () => everyCombination({ vec4: [false, true] }));
const NORM_RUNNING_UPDATE = kernelFamily('norm_running_update', () => runningUpdateWgsl(), () => [{}]);

/**
 * Raw kernels of the normalisation layers (no autograd). Tensors are [N, ..., C] with channels
 * innermost (NHWC images); statistics are per (sample, channel) — "instance" — or per channel
 * over the whole batch. Per-channel operands are [C] (shared by every sample) or [N, C] (one row
 * per sample), told apart by their size.
 */

/** Elements one statistics workgroup aims to read before the pixels are split over more workgroups. */
const ELEMENTS_PER_WORKGROUP = 8192;
const MAX_GROUPS = 65535;

/** The [N, pixels, C] view of an activation. */
interface Layout {
  samples: number;
  pixels: number;
  channels: number;
}

function layoutOf(op: string, x: Tensor, allowHalf = false): Layout {
  if (x.rank < 2) throw new Error(`${op}: expected a tensor [N, ..., C], got shape ${formatShape(x.shape)}`);
  if (x.dtype !== 'f32' && !(allowHalf && x.dtype === 'f16')) {
    throw new Error(`${op}: needs an f32 tensor${allowHalf ? ' (or f16)' : ' (f16 is supported by the forward statistics and apply only)'}, got ${x.dtype}`);
  }
  const samples = x.shape[0]!;
  const channels = x.shape[x.rank - 1]!;
  if (x.size === 0) throw new Error(`${op}: cannot normalise an empty tensor ${formatShape(x.shape)}`);
  return { samples, channels, pixels: x.size / (samples * channels) };
}

/** Stride (in elements) between the rows of a per-channel operand: 0 for [C], C for [N, C]. */
function operandStride(op: string, what: string, t: Tensor, { samples, channels }: Layout): number {
  if (t.dtype !== 'f32') throw new Error(`${op}: ${what} needs f32, got ${t.dtype}`);
  if (t.size === channels && (t.rank === 1 || (t.rank === 2 && t.shape[0] === 1))) return 0;
  if (t.rank === 2 && t.shape[0] === samples && t.shape[1] === channels) return channels;
  throw new Error(`${op}: ${what} has shape ${formatShape(t.shape)}, expected [${channels}] or [${samples}, ${channels}]`);
}

/** Channels per statistics workgroup: the smallest power of two ≥ C, at most the workgroup size. */
function channelBlock(channels: number): number {
  let cb = 1;
  while (cb < channels && cb < STATS_WG) cb *= 2;
  return cb;
}

export interface StatsOptions {
  /** Pixels per workgroup split (tests force small values to exercise the split merging). */
  chunk?: number;
  /** Force the one-channel-per-thread kernel even when C % 4 == 0 (tests compare the two). */
  scalar?: boolean;
}

/** Both statistics passes: partial per (channel block, split, group), then the merge per row. */
function launchStats(
  op: string,
  mode: StatsMode,
  inputs: Record<string, Tensor>,
  outputs: Record<string, Tensor>,
  layout: Layout,
  groups: number,
  eps: number,
  options: StatsOptions,
): void {
  const runtime = inputs.src!.runtime;
  const { channels } = layout;
  const pixels = (layout.samples * layout.pixels) / groups;
  // Threads take four channels each (vec4) when the channel count allows it.
  const w = laneWidth(layout, options.scalar);
  const units = channels / w;
  const cb = channelBlock(units);
  const lanes = STATS_WG / cb;
  let chunk = options.chunk ?? Math.ceil(Math.ceil(ELEMENTS_PER_WORKGROUP / (cb * w)) / lanes) * lanes;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`${op}: chunk must be a positive integer, got ${chunk}`);
  chunk = Math.max(chunk, Math.ceil(pixels / 65535));
  const splits = Math.ceil(pixels / chunk);
  const blocks = Math.ceil(units / cb);
  if (groups > MAX_GROUPS || blocks > MAX_GROUPS) {
    throw new Error(`${op}: ${groups} groups × ${channels} channels exceed the dispatch limits`);
  }
  const partial = runtime.empty([groups, splits, channels, 4]);
  const half = inputs.src!.dtype === 'f16';
  runtime.launch({
    ...NORM_STATS_PARTIAL.program({ mode, vec4: w === 4, ...(half ? { half } : {}) }),
    bindings: { ...inputs, partial },
    params: { pixels, channels: units, cb, lanes, chunk, splits },
    workgroups: [blocks, splits, groups],
  });
  const rows = groups * channels;
  runtime.launch({
    ...NORM_STATS_COMBINE.program({ mode }),
    bindings: { partial, ...outputs },
    params: { rows, channels, splits, eps },
    workgroups: gridFor(rows, STATS_WG),
  });
  partial.dispose();
}

/** Per-channel statistics, each [groups, C]: mean, biased variance, 1/√(var + eps), √(var + eps). */
export interface ChannelMoments {
  mean: Tensor;
  variance: Tensor;
  rstd: Tensor;
  std: Tensor;
}

/**
 * Mean and biased variance of x per (sample, channel) when `perSample`, else per channel over the
 * whole batch (then [1, C]). Welford within a thread, Chan's merge across threads and splits.
 * x may be f16 (read into f32 arithmetic); the statistics are always f32.
 */
export function channelMoments(x: Tensor, perSample: boolean, eps: number, options: StatsOptions = {}): ChannelMoments {
  const layout = layoutOf('channelMoments', x, true);
  const groups = perSample ? layout.samples : 1;
  const runtime = x.runtime;
  const shape = [groups, layout.channels];
  const out = { mean: runtime.empty(shape), variance: runtime.empty(shape), rstd: runtime.empty(shape), std: runtime.empty(shape) };
  launchStats('channelMoments', 'moments', { src: x }, { mean: out.mean, variance: out.variance, rstd: out.rstd, stddev: out.std }, layout, groups, eps, options);
  return out;
}

/** Σa and Σa·b per (sample, channel) or per channel: the reductions of a normalisation's backward. */
export function channelSums(a: Tensor, b: Tensor, perSample: boolean, options: StatsOptions = {}): { sumA: Tensor; sumAB: Tensor } {
  const layout = layoutOf('channelSums', a);
  if (b.rank !== a.rank || b.shape.some((d, i) => d !== a.shape[i])) {
    throw new Error(`channelSums: shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} differ`);
  }
  const groups = perSample ? layout.samples : 1;
  const shape = [groups, layout.channels];
  const out = { sumA: a.runtime.empty(shape), sumAB: a.runtime.empty(shape) };
  launchStats('channelSums', 'sums', { src: a, aux: b }, { sum_a: out.sumA, sum_b: out.sumAB }, layout, groups, 0, options);
  return out;
}

export interface NormApplyOptions {
  /** Optional multiplier on γ, [C] or [N, C]. */
  scale?: Tensor | null;
  /** Optional offset β, [C] or [N, C]. */
  shift?: Tensor | null;
  /** Multiplies the whole result (default 1). */
  alpha?: number;
  /** Also return x̂ = (x − mean) · rstd. */
  saveXhat?: boolean;
  /** Epilogue: max(·, 0) on the result. */
  relu?: boolean;
  /** Epilogue: added last, same shape as x. */
  residual?: Tensor | null;
  /** Force the scalar kernel even when C % 4 == 0 (tests compare the two). */
  scalar?: boolean;
}

/** Elements per invocation: 4 (vec4 kernels) when the channels allow it. */
function laneWidth(layout: Layout, scalar = false): 1 | 4 {
  return !scalar && layout.channels % 4 === 0 ? 4 : 1;
}

/** The shape uniforms of the apply / gradient kernels (see their thread mapping) and their grid. */
function threadMapping(layout: Layout, w: number): { params: Record<string, number>; workgroups: [number, number, number] } {
  const channels = layout.channels / w;
  const pow2 = (channels & (channels - 1)) === 0;
  // Several rows per invocation only when they never straddle two samples.
  const perThread = layout.pixels % NORM_ROWS === 0 ? NORM_ROWS : 1;
  const threads = (layout.samples * layout.pixels * channels) / perThread;
  return {
    params: {
      threads,
      channels,
      channels_pow2: pow2 ? 1 : 0,
      channels_shift: pow2 ? Math.log2(channels) : 0,
      pixels: layout.pixels,
      samples: layout.samples,
      per_thread: perThread,
    },
    workgroups: gridFor(threads, NORM_WG),
  };
}

/**
 * y = relu?(alpha · ((x − mean) · rstd · scale + shift)) + residual?; mean, rstd, scale, shift are
 * [C] or [N, C]. One kernel, four channels per invocation when C % 4 == 0. An f16 x gives an f16 y
 * (and x̂; the residual must be f16 too), computed in f32; the per-channel operands stay f32.
 */
export function normApply(x: Tensor, mean: Tensor, rstd: Tensor, options: NormApplyOptions = {}): { y: Tensor; xhat: Tensor | null } {
  const op = 'normApply';
  const layout = layoutOf(op, x, true);
  const scale = options.scale ?? null;
  const shift = options.shift ?? null;
  const residual = options.residual ?? null;
  const meanStride = operandStride(op, 'mean', mean, layout);
  const rstdStride = operandStride(op, 'rstd', rstd, layout);
  const scaleStride = scale ? operandStride(op, 'scale', scale, layout) : 0;
  const shiftStride = shift ? operandStride(op, 'shift', shift, layout) : 0;
  if (residual && (residual.dtype !== x.dtype || residual.rank !== x.rank || residual.shape.some((d, i) => d !== x.shape[i]))) {
    throw new Error(`${op}: the residual (${residual.dtype} ${formatShape(residual.shape)}) must be ${x.dtype} and shaped like x ${formatShape(x.shape)}`);
  }
  const w = laneWidth(layout, options.scalar);
  const mapping = threadMapping(layout, w);
  const runtime = x.runtime;
  const half = x.dtype === 'f16';
  const y = runtime.empty(x.shape, x.dtype);
  const xhat = options.saveXhat ? runtime.empty(x.shape, x.dtype) : null;
  runtime.launch({
    ...NORM_APPLY.program({ xhat: xhat !== null, vec4: w === 4, relu: options.relu ?? false, residual: residual !== null, ...(half ? { half } : {}) }),
    bindings: { src: x, mean, rstd, scale: scale ?? mean, shift: shift ?? mean, dst: y, ...(xhat ? { xhat } : {}), ...(residual ? { residual } : {}) },
    params: {
      ...mapping.params,
      mean_stride: meanStride / w,
      rstd_stride: rstdStride / w,
      scale_stride: scaleStride / w,
      shift_stride: shiftStride / w,
      has_scale: scale ? 1 : 0,
      has_shift: shift ? 1 : 0,
      alpha: options.alpha ?? 1,
    },
    workgroups: mapping.workgroups,
  });
  return { y, xhat };
}

/** Backward of a normalisation whose statistics were computed from x (instance / batch norm in training). */
export interface FullNormGrad {
  xhat: Tensor;
  /** Σdy and Σdy·x̂ over each statistics group, [C] / [1, C] (batch) or [N, C] (instance). */
  sumDy: Tensor;
  sumDyXhat: Tensor;
  /** Elements per statistics group (H·W for instance norm, N·H·W for batch norm). */
  count: number;
}

/**
 * dx of y = x̂ · scale + shift with x̂ = (x − μ) · rstd. With `full`, μ and rstd are functions of x
 * (the complete normalisation gradient); without, they are constants (running statistics).
 */
export function normGrad(dy: Tensor, rstd: Tensor, scale: Tensor | null, full: FullNormGrad | null, scalar = false): Tensor {
  const op = 'normGrad';
  const layout = layoutOf(op, dy);
  const rstdStride = operandStride(op, 'rstd', rstd, layout);
  const scaleStride = scale ? operandStride(op, 'scale', scale, layout) : 0;
  let sumsStride = 0;
  if (full) {
    if (full.xhat.size !== dy.size) throw new Error(`${op}: x̂ ${formatShape(full.xhat.shape)} does not match dy ${formatShape(dy.shape)}`);
    sumsStride = operandStride(op, 'Σdy', full.sumDy, layout);
    if (operandStride(op, 'Σdy·x̂', full.sumDyXhat, layout) !== sumsStride) throw new Error(`${op}: Σdy and Σdy·x̂ have different shapes`);
  }
  const w = laneWidth(layout, scalar);
  const mapping = threadMapping(layout, w);
  const runtime = dy.runtime;
  const dx = runtime.empty(dy.shape);
  runtime.launch({
    ...NORM_GRAD.program({ vec4: w === 4 }),
    bindings: {
      dy,
      xhat: full?.xhat ?? dy,
      rstd,
      scale: scale ?? rstd,
      sum_dy: full?.sumDy ?? rstd,
      sum_dy_xhat: full?.sumDyXhat ?? rstd,
      dx,
    },
    params: {
      ...mapping.params,
      rstd_stride: rstdStride / w,
      scale_stride: scaleStride / w,
      sums_stride: sumsStride / w,
      has_scale: scale ? 1 : 0,
      full: full ? 1 : 0,
      inv_count: full ? 1 / full.count : 0,
    },
    workgroups: mapping.workgroups,
  });
  return dx;
}

/**
 * In place: running = (1 − momentum) · running + momentum · batch, where the variance fed to the
 * running estimate is the unbiased one (batch variance · count / (count − 1)), as PyTorch does.
 * `batchMean` / `batchVariance` hold the biased statistics of `count` values per channel.
 */
export function updateRunningStats(runningMean: Tensor, runningVariance: Tensor, batchMean: Tensor, batchVariance: Tensor, momentum: number, count: number): void {
  const op = 'updateRunningStats';
  const channels = runningMean.size;
  for (const [what, t] of [['running variance', runningVariance], ['batch mean', batchMean], ['batch variance', batchVariance]] as const) {
    if (t.size !== channels) throw new Error(`${op}: ${what} has shape ${formatShape(t.shape)}, running mean has ${formatShape(runningMean.shape)}`);
  }
  if (runningMean.dtype !== 'f32' || runningVariance.dtype !== 'f32') throw new Error(`${op}: running statistics must be f32`);
  if (runningMean.buffer === runningVariance.buffer) throw new Error(`${op}: the running mean and variance must be different tensors`);
  if (count < 2) throw new Error(`${op}: the unbiased variance needs at least 2 values per channel, got ${count}`);
  runningMean.runtime.launch({
    ...NORM_RUNNING_UPDATE.program({}),
    bindings: { batch_mean: batchMean, batch_var: batchVariance, running_mean: runningMean, running_var: runningVariance },
    params: { channels, momentum, unbias: count / (count - 1) },
    workgroups: gridFor(channels, STATS_WG),
  });
}
