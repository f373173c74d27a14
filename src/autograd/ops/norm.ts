import { binary, unary } from '../../gpu/kernels/elementwise.ts';
import { channelMoments, channelSums, normApply, normGrad, updateRunningStats } from '../../gpu/kernels/norm.ts';
import { reduce } from '../../gpu/kernels/reduce.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { needsGrad, record } from '../tape.ts';

/**
 * Normalisation layers on NHWC activations [N, H, W, C], statistics per channel:
 * instance norm (per sample), conditional instance norm (per-sample scale/shift), batch norm
 * (over the batch, with running statistics) and AdaIN (content statistics replaced by a style's).
 * σ is always √(biased variance + eps).
 */

interface Dims {
  n: number;
  h: number;
  w: number;
  c: number;
}

function dims4(op: string, what: string, x: Tensor): Dims {
  if (x.rank !== 4) throw new Error(`${op}: ${what} must be an NHWC tensor [N, H, W, C], got shape ${formatShape(x.shape)}`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new Error(`${op}: ${what} must be f32 or f16, got ${x.dtype}`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (x.size === 0) throw new Error(`${op}: ${what} ${formatShape(x.shape)} is empty`);
  return { n, h, w, c };
}

/** f16 activations run the forward pass only (inference): their gradients have no f16 kernels. */
function checkHalfInference(op: string, x: Tensor, need: boolean): void {
  if (x.dtype === 'f16' && need) {
    throw new Error(`${op}: f16 activations are for inference only (no gradient kernels in f16); run under noGrad, or use f32 tensors to train`);
  }
}

function checkEps(op: string, eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
}

/** A per-channel parameter: [C], or also [N, C] (one row per sample) when `perSample`. */
function checkParam(op: string, what: string, t: Tensor | null | undefined, d: Dims, perSample: boolean): void {
  if (!t) return;
  if (t.dtype !== 'f32') throw new Error(`${op}: ${what} must be f32, got ${t.dtype}`);
  if (t.rank === 1 && t.shape[0] === d.c) return;
  if (perSample && t.rank === 2 && t.shape[0] === d.n && t.shape[1] === d.c) return;
  const expected = perSample ? `[${d.c}] or [${d.n}, ${d.c}]` : `[${d.c}]`;
  throw new Error(`${op}: ${what} has shape ${formatShape(t.shape)}, expected ${expected} for input [${d.n}, ${d.h}, ${d.w}, ${d.c}]`);
}

/**
 * The gradient of a parameter from its per-group sums [G, C]: the sums themselves when the
 * parameter has one row per group, else summed over the groups. Takes ownership of `sums`.
 */
function paramGrad(sums: Tensor, param: Tensor): Tensor {
  const rt = sums.runtime;
  if (sums.size === param.size) {
    const view = rt.reshape(sums, param.shape);
    sums.dispose();
    return view;
  }
  const reduced = reduce('sum', sums, [0]);
  sums.dispose();
  const view = rt.reshape(reduced, param.shape);
  reduced.dispose();
  return view;
}

/** What the backward of y = x̂ · scale + shift needs, x̂ = (x − μ) · rstd. */
interface NormSaved {
  /** x̂, or null when no gradient needs it. */
  xhat: Tensor | null;
  /** [G, C] or [C]: G = N for instance statistics, 1 for batch statistics. */
  rstd: Tensor;
  scale: Tensor | null;
  /** Statistics computed from x (the full gradient) rather than given (running statistics). */
  full: boolean;
  perSample: boolean;
  /** Elements per statistics group. */
  count: number;
}

interface Wanted {
  x: boolean;
  scale: boolean;
  shift: boolean;
}

/** dx, and the per-group sums Σdy·x̂ (→ dscale) and Σdy (→ dshift) when asked for. */
function normBackward(dy: Tensor, s: NormSaved, want: Wanted): { dx: Tensor | null; sumDyXhat: Tensor | null; sumDy: Tensor | null } {
  const needSums = s.xhat !== null && ((want.x && s.full) || want.scale || want.shift);
  const sums = needSums ? channelSums(dy, s.xhat!, s.perSample) : null;
  let dx: Tensor | null = null;
  if (want.x) {
    dx = normGrad(dy, s.rstd, s.scale, s.full ? { xhat: s.xhat!, sumDy: sums!.sumA, sumDyXhat: sums!.sumAB, count: s.count } : null);
  }
  let sumDy: Tensor | null = null;
  let sumDyXhat: Tensor | null = null;
  if (sums) {
    if (want.scale) sumDyXhat = sums.sumAB;
    else sums.sumAB.dispose();
    if (want.shift) sumDy = sums.sumA;
    else sums.sumA.dispose();
  } else if (want.shift) {
    // Frozen statistics without x̂ saved: only Σdy over everything but the channels.
    sumDy = reduce('sum', dy, [0, 1, 2]);
  }
  return { dx, sumDyXhat, sumDy };
}

/**
 * What a norm layer may fuse into its output pass instead of running separate ops:
 * y = relu(norm(x)) (a conv block) or y = norm(x) + residual (the end of a residual block).
 * The results and gradients equal those of `relu(norm(x))` and `add(residual, norm(x))`.
 */
export interface NormEpilogue {
  /** 'relu': y = max(norm(x), 0). */
  activation?: 'relu' | null;
  /** y = norm(x) + residual; same shape as x. Cannot be combined with an activation. */
  residual?: Tensor | null;
}

interface CheckedEpilogue {
  relu: boolean;
  residual: Tensor | null;
}

function checkEpilogue(op: string, e: NormEpilogue, x: Tensor): CheckedEpilogue {
  const activation = e.activation ?? null;
  const residual = e.residual ?? null;
  if (activation !== null && activation !== 'relu') throw new Error(`${op}: activation must be 'relu' or null, got ${String(activation)}`);
  if (activation && residual) {
    throw new Error(`${op}: a fused activation and a residual cannot be combined; fuse one and apply the other as a separate op`);
  }
  if (residual) {
    if (residual.dtype !== x.dtype) throw new Error(`${op}: residual must be ${x.dtype} like x, got ${residual.dtype}`);
    if (residual.rank !== x.rank || residual.shape.some((d, i) => d !== x.shape[i])) {
      throw new Error(`${op}: residual has shape ${formatShape(residual.shape)}, expected the input's ${formatShape(x.shape)}`);
    }
  }
  return { relu: activation === 'relu', residual };
}

/**
 * The gradient reaching the norm itself: dy masked where the fused ReLU clipped (y > 0 exactly
 * where the pre-activation was > 0), else dy. The caller frees it when it is not dy.
 */
function throughEpilogue(dy: Tensor, y: Tensor, e: CheckedEpilogue): Tensor {
  return e.relu ? binary('reluGrad', y, dy) : dy;
}

/** The residual's gradient: dy itself (a view, so the caller's dy can be freed independently). */
function residualGrad(dy: Tensor, e: CheckedEpilogue): Tensor | null {
  return e.residual?.requiresGrad ? dy.runtime.reshape(dy, dy.shape) : null;
}

export interface InstanceNormOptions extends NormEpilogue {
  /** γ, [C] */
  scale?: Tensor | null;
  /** β, [C] */
  shift?: Tensor | null;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/** Instance norm and its per-sample variants; `scale` / `shift` are [C] or (perSample) [N, C]. */
function instanceNormImpl(
  op: string,
  x: Tensor,
  scale: Tensor | null,
  shift: Tensor | null,
  eps: number,
  perSample: boolean,
  names = ['scale', 'shift'],
  epilogue: NormEpilogue = {},
): Tensor {
  const d = dims4(op, 'x', x);
  checkParam(op, names[0]!, scale, d, perSample);
  checkParam(op, names[1]!, shift, d, perSample);
  checkEps(op, eps);
  const e = checkEpilogue(op, epilogue, x);
  const need = needsGrad(x, scale, shift, e.residual);
  checkHalfInference(op, x, need);
  const want: Wanted = { x: need && x.requiresGrad, scale: need && !!scale?.requiresGrad, shift: need && !!shift?.requiresGrad };
  const stats = channelMoments(x, true, eps);
  stats.variance.dispose();
  stats.std.dispose();
  const saveXhat = want.x || want.scale || want.shift;
  const { y, xhat } = normApply(x, stats.mean, stats.rstd, { scale, shift, saveXhat, relu: e.relu, residual: e.residual });
  stats.mean.dispose();
  const saved: NormSaved = { xhat, rstd: stats.rstd, scale, full: true, perSample: true, count: d.h * d.w };
  return record(
    op,
    [x, scale, shift, e.residual],
    y,
    (dy) => {
      const dz = throughEpilogue(dy, y, e);
      const g = normBackward(dz, saved, want);
      if (dz !== dy) dz.dispose();
      return [g.dx, g.sumDyXhat && paramGrad(g.sumDyXhat, scale!), g.sumDy && paramGrad(g.sumDy, shift!), residualGrad(dy, e)];
    },
    xhat ? [xhat, stats.rstd] : [stats.rstd],
  );
}

/**
 * Instance normalisation (Ulyanov et al.): per (sample, channel) mean μ and biased variance σ²
 * over H, W; y = (x − μ) / √(σ² + eps) · scale + shift, then the optional fused epilogue (ReLU or
 * residual add). Gradients for x (the full one, through the statistics), scale, shift and residual.
 */
export function instanceNorm(x: Tensor, options: InstanceNormOptions = {}): Tensor {
  return instanceNormImpl('instanceNorm', x, options.scale ?? null, options.shift ?? null, options.eps ?? 1e-5, false, undefined, options);
}

/**
 * Conditional instance norm (Dumoulin et al. / Ghiasi et al.): instance norm with one scale and
 * shift row per sample, [N, C] (a [C] row is shared by the batch), and the optional fused epilogue
 * as in instanceNorm. Gradients for all inputs.
 */
export function conditionalInstanceNorm(x: Tensor, scale: Tensor, shift: Tensor, eps = 1e-5, epilogue: NormEpilogue = {}): Tensor {
  return instanceNormImpl('conditionalInstanceNorm', x, scale, shift, eps, true, undefined, epilogue);
}

/**
 * AdaIN with given style statistics: y = std · (x − μ_c) / σ_c + mean, with the content's
 * statistics per (sample, channel). `styleMean` / `styleStd` are [N, C] or [C]: cached statistics
 * of a style image, or blends of several for style interpolation. Gradients for all three.
 */
export function adainWithStats(content: Tensor, styleMean: Tensor, styleStd: Tensor, eps = 1e-5): Tensor {
  return instanceNormImpl('adainWithStats', content, styleStd, styleMean, eps, true, ['styleStd', 'styleMean']);
}

/**
 * Adaptive instance normalisation (Huang & Belongie): y = σ_s · (x − μ_c) / σ_c + μ_s with μ, σ
 * per (sample, channel) of the content [N, H, W, C] and the style [N, H', W', C] (spatial sizes
 * may differ), σ = √(biased variance + eps). Gradients for the content and the style.
 */
export function adain(content: Tensor, style: Tensor, eps = 1e-5): Tensor {
  const op = 'adain';
  const dc = dims4(op, 'content', content);
  const ds = dims4(op, 'style', style);
  if (ds.n !== dc.n || ds.c !== dc.c) {
    throw new Error(`${op}: style ${formatShape(style.shape)} must have the content's batch and channels (content ${formatShape(content.shape)})`);
  }
  checkEps(op, eps);
  const needContent = needsGrad(content);
  const needStyle = needsGrad(style);
  const need = needContent || needStyle;
  checkHalfInference(op, content, need);
  if (style.dtype !== content.dtype) throw new Error(`${op}: content (${content.dtype}) and style (${style.dtype}) must have the same dtype`);
  const cs = channelMoments(content, true, eps);
  cs.variance.dispose();
  cs.std.dispose();
  const ss = channelMoments(style, true, eps);
  ss.variance.dispose();
  const { y, xhat } = normApply(content, cs.mean, cs.rstd, { scale: ss.std, shift: ss.mean, saveXhat: need });
  cs.mean.dispose();
  const saved = [cs.rstd, ss.std];
  if (xhat) saved.push(xhat);
  if (!need || needStyle) saved.push(ss.mean, ss.rstd);
  else {
    ss.mean.dispose();
    ss.rstd.dispose();
  }
  const stylePixels = ds.h * ds.w;
  return record(
    op,
    [content, style],
    y,
    (dy) => {
      // y = x̂_c · σ_s + μ_s: dσ_s = Σ dy · x̂_c, dμ_s = Σ dy (per sample, channel).
      const sums = channelSums(dy, xhat!, true);
      const dContent = needContent
        ? normGrad(dy, cs.rstd, ss.std, { xhat: xhat!, sumDy: sums.sumA, sumDyXhat: sums.sumAB, count: dc.h * dc.w })
        : null;
      // dμ_s/ds = 1/P and dσ_s/ds = (s − μ_s) / (P σ_s): ds = (ŝ · dσ_s + dμ_s) / P.
      const dStyle = needStyle ? normApply(style, ss.mean, ss.rstd, { scale: sums.sumAB, shift: sums.sumA, alpha: 1 / stylePixels }).y : null;
      sums.sumA.dispose();
      sums.sumAB.dispose();
      return [dContent, dStyle];
    },
    saved,
  );
}

export interface RunningStats {
  /** [C], updated in place in training mode */
  mean: Tensor;
  /** [C], updated in place in training mode (unbiased estimate) */
  variance: Tensor;
}

export interface BatchNormOptions extends NormEpilogue {
  /** γ, [C] */
  scale?: Tensor | null;
  /** β, [C] */
  shift?: Tensor | null;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running statistics (PyTorch's convention; default 0.1). */
  momentum?: number;
  /** Normalise with the batch's statistics (and update `running`) or with `running`. */
  training: boolean;
  /** Required in eval mode; optional in training mode (then nothing is tracked). */
  running?: RunningStats | null;
}

/**
 * Batch normalisation over N, H, W per channel.
 * Training: normalises with the batch mean and biased variance, and updates the running
 * statistics in place on the GPU, PyTorch-style: running = (1 − momentum) · running + momentum ·
 * batch, where the variance tracked is the unbiased batch variance (· n / (n − 1), n = N·H·W).
 * Gradients are the full ones (through the batch statistics).
 * Eval: normalises with the running statistics; the gradient is then the affine one,
 * dx = dy · scale / √(running_var + eps). The fused epilogue (ReLU or residual) as in instanceNorm.
 */
export function batchNorm(x: Tensor, options: BatchNormOptions): Tensor {
  const op = 'batchNorm';
  const d = dims4(op, 'x', x);
  const scale = options.scale ?? null;
  const shift = options.shift ?? null;
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  const running = options.running ?? null;
  checkParam(op, 'scale', scale, d, false);
  checkParam(op, 'shift', shift, d, false);
  checkEps(op, eps);
  const e = checkEpilogue(op, options, x);
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`${op}: momentum must be in [0, 1], got ${momentum}`);
  if (running) {
    checkParam(op, 'running mean', running.mean, d, false);
    checkParam(op, 'running variance', running.variance, d, false);
    if (running.mean.buffer === running.variance.buffer) throw new Error(`${op}: the running mean and variance must be different tensors`);
  } else if (!options.training) {
    throw new Error(`${op}: eval mode (training: false) needs the running statistics`);
  }
  const count = d.n * d.h * d.w;
  if (options.training && count < 2) {
    throw new Error(`${op}: training needs more than one value per channel, got input ${formatShape(x.shape)}`);
  }
  const need = needsGrad(x, scale, shift, e.residual);
  checkHalfInference(op, x, need);
  const want: Wanted = { x: need && x.requiresGrad, scale: need && !!scale?.requiresGrad, shift: need && !!shift?.requiresGrad };
  const fused = { relu: e.relu, residual: e.residual };

  let rstd: Tensor;
  let y: Tensor;
  let xhat: Tensor | null;
  if (options.training) {
    const stats = channelMoments(x, false, eps);
    if (running) updateRunningStats(running.mean, running.variance, stats.mean, stats.variance, momentum, count);
    stats.variance.dispose();
    stats.std.dispose();
    ({ y, xhat } = normApply(x, stats.mean, stats.rstd, { scale, shift, saveXhat: want.x || want.scale || want.shift, ...fused }));
    stats.mean.dispose();
    rstd = stats.rstd;
  } else {
    const shifted = unary('affine', running!.variance, 1, eps);
    rstd = unary('rsqrt', shifted);
    shifted.dispose();
    // With frozen statistics x̂ only serves the scale's gradient.
    ({ y, xhat } = normApply(x, running!.mean, rstd, { scale, shift, saveXhat: want.scale, ...fused }));
  }
  const saved: NormSaved = { xhat, rstd, scale, full: options.training, perSample: false, count };
  return record(
    op,
    [x, scale, shift, e.residual],
    y,
    (dy) => {
      const dz = throughEpilogue(dy, y, e);
      const g = normBackward(dz, saved, want);
      if (dz !== dy) dz.dispose();
      return [g.dx, g.sumDyXhat && paramGrad(g.sumDyXhat, scale!), g.sumDy && paramGrad(g.sumDy, shift!), residualGrad(dy, e)];
    },
    xhat ? [xhat, rstd] : [rstd],
  );
}
