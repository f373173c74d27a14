/**
 * The feature transforms of WCT and AdaIN, both affine per pixel: f = A·x + b for every pixel's
 * channel vector x. A and b are built on the host in float64 from the content's and the style's
 * statistics and applied on the GPU as one matmul and an add.
 *
 * WCT (Li et al. 2017): whiten the centred content with its covariance, colour it with the style's,
 *   t = Cs^½ · Cc^−½ · (x − μc) + μs, each power over the eigenpairs above EIGEN_THRESHOLD;
 * AdaIN (Huang & Belongie 2017): per channel t = σs/σc · (x − μc) + μs, σ = √(unbiased var + 1e-5);
 * then f = α·t + (1 − α)·x. Several styles blend by interpolating the colouring targets
 * (Σ w_k Cs_k^½ and Σ w_k μs_k; for AdaIN Σ w_k σs_k and Σ w_k μs_k).
 */
import { add } from '../../../autograd/ops/elementwise.ts';
import { matmul } from '../../../autograd/ops/matmul.ts';
import { reshape } from '../../../autograd/ops/reduce.ts';
import { noGrad } from '../../../autograd/tape.ts';
import type { Runtime } from '../../../gpu/runtime.ts';
import { scope } from '../../../gpu/scope.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import { spectralFunction, symmetricEigen } from './eigen.ts';
import type { FeatureStats } from './feature-stats.ts';

export type TransformKind = 'wct' | 'adain';

/**
 * Eigenvalues at or below this are dropped (the original WCT's cut). Keeping the ~1e-14 ones of dead
 * channels would amplify float32 rounding by ~1e7 (see ../shared notes); dropping them moves the
 * result by under a grey level.
 */
export const EIGEN_THRESHOLD = 1e-5;
/** AdaIN's variance epsilon (pytorch-AdaIN). */
export const ADAIN_VARIANCE_EPS = 1e-5;

/** What a style contributes: its mean and its colouring factor (WCT: Cs^½, C×C; AdaIN: σs, C). */
export interface StyleTarget {
  kind: TransformKind;
  channels: number;
  mean: Float64Array;
  colouring: Float64Array;
}

/** An affine per-pixel map f = A·x + b, A C×C row-major. */
export interface AffineMap {
  channels: number;
  matrix: Float64Array;
  bias: Float64Array;
}

export function styleTarget(kind: TransformKind, stats: FeatureStats): StyleTarget {
  const c = stats.channels;
  const mean = Float64Array.from(stats.mean);
  if (kind === 'adain') return { kind, channels: c, mean, colouring: stats.variance().map((v) => Math.sqrt(v + ADAIN_VARIANCE_EPS)) };
  return { kind, channels: c, mean, colouring: spectralFunction(symmetricEigen(stats.covariance(), c), c, EIGEN_THRESHOLD, Math.sqrt) };
}

/** Σ w_k · target_k (means and colouring factors alike). */
export function blendTargets(targets: readonly StyleTarget[], weights: readonly number[]): StyleTarget {
  const first = targets[0];
  if (!first || targets.length !== weights.length) throw new Error(`blendTargets: ${targets.length} styles but ${weights.length} weights`);
  const mean = new Float64Array(first.mean.length);
  const colouring = new Float64Array(first.colouring.length);
  targets.forEach((t, k) => {
    if (t.kind !== first.kind || t.channels !== first.channels) throw new Error('blendTargets: the styles come from different transforms or levels');
    const w = weights[k]!;
    t.mean.forEach((v, i) => (mean[i] += w * v));
    t.colouring.forEach((v, i) => (colouring[i] += w * v));
  });
  return { kind: first.kind, channels: first.channels, mean, colouring };
}

/** The map f = α·T(x) + (1 − α)·x that takes content with statistics `content` to `target`. */
export function featureMap(content: FeatureStats, target: StyleTarget, alpha: number): AffineMap {
  const c = content.channels;
  if (target.channels !== c) throw new Error(`featureMap: content has ${c} channels, the style ${target.channels}`);
  // M: the linear part of T; T(x) = M·(x − μc) + μs.
  let m: Float64Array;
  if (target.kind === 'adain') {
    const sigmaC = content.variance().map((v) => Math.sqrt(v + ADAIN_VARIANCE_EPS));
    m = new Float64Array(c * c);
    for (let i = 0; i < c; i++) m[i * c + i] = target.colouring[i]! / sigmaC[i]!;
  } else {
    const whitening = spectralFunction(symmetricEigen(content.covariance(), c), c, EIGEN_THRESHOLD, (e) => 1 / Math.sqrt(e));
    m = multiply(target.colouring, whitening, c);
  }
  const matrix = new Float64Array(c * c);
  const bias = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    let mu = 0;
    for (let j = 0; j < c; j++) {
      matrix[i * c + j] = alpha * m[i * c + j]! + (i === j ? 1 - alpha : 0);
      mu += m[i * c + j]! * content.mean[j]!;
    }
    bias[i] = alpha * (target.mean[i]! - mu);
  }
  return { channels: c, matrix, bias };
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j]!;
    }
  }
  return out;
}

/** An affine map uploaded once (float32), applied to any number of feature tiles. */
export class GpuAffineMap {
  private readonly matrix: Tensor;
  private readonly bias: Tensor;

  constructor(runtime: Runtime, map: AffineMap) {
    this.matrix = runtime.upload(Float32Array.from(map.matrix), [map.channels, map.channels]);
    this.bias = runtime.upload(Float32Array.from(map.bias), [map.channels]);
  }

  /** A·x + b at every pixel of [1, h, w, C]; the input is not disposed. */
  apply(features: Tensor): Tensor {
    const shape = features.shape;
    const c = shape[3]!;
    return noGrad(() =>
      scope(() => {
        const flat = reshape(features, [shape[1]! * shape[2]!, c]);
        return reshape(add(matmul(flat, this.matrix, { transposeB: true }), this.bias), shape);
      }),
    );
  }

  dispose(): void {
    this.matrix.dispose();
    this.bias.dispose();
  }
}
