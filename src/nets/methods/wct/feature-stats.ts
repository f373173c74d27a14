/**
 * Per-channel mean and covariance of feature maps, accumulated over any number of pieces (tiles,
 * pixel chunks) so that a tiled image gets exactly the statistics of the whole one.
 *
 * On the GPU each piece is cut into chunks of at most CHUNK_PIXELS pixels; each chunk's sum and the
 * Gram matrix of its own centred pixels (the Gram kernel, float32) come back to the host, where the
 * chunks are merged in float64 (Chan et al.'s pairwise update). Centring every chunk on its own mean
 * keeps the float32 sums short and free of cancellation, which one big FᵀF over 10⁵–10⁷ pixels is not.
 */
import { gram } from '../../../autograd/ops/gram.ts';
import { reshape, sum } from '../../../autograd/ops/reduce.ts';
import { affine, sub } from '../../../autograd/ops/elementwise.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { scope } from '../../../gpu/scope.ts';
import { formatShape, type Tensor } from '../../../gpu/tensor.ts';

/** Most pixels one float32 chunk sums. */
const CHUNK_PIXELS = 4096;

/** Mean and covariance of C channels over a set of pixels, in float64. */
export class FeatureStats {
  count = 0;
  readonly mean: Float64Array;
  /** Σ (x − mean)(x − mean)ᵀ, C×C row-major. */
  readonly scatter: Float64Array;

  constructor(readonly channels: number) {
    this.mean = new Float64Array(channels);
    this.scatter = new Float64Array(channels * channels);
  }

  /** Adds a chunk of `count` pixels with mean `chunkMean` and centred scatter `chunkScatter`. */
  addChunk(count: number, chunkMean: ArrayLike<number>, chunkScatter: ArrayLike<number>): void {
    if (count === 0) return;
    const c = this.channels;
    const total = this.count + count;
    const delta = new Float64Array(c);
    for (let i = 0; i < c; i++) delta[i] = chunkMean[i]! - this.mean[i]!;
    const cross = (this.count * count) / total;
    for (let i = 0; i < c; i++) {
      for (let j = 0; j < c; j++) this.scatter[i * c + j] += chunkScatter[i * c + j]! + delta[i]! * delta[j]! * cross;
    }
    for (let i = 0; i < c; i++) this.mean[i] += (delta[i]! * count) / total;
    this.count = total;
  }

  /** The unbiased covariance Σ/(n − 1), as torch's WCT and AdaIN use. */
  covariance(): Float64Array {
    if (this.count < 2) throw new Error(`feature statistics need at least 2 pixels, got ${this.count}`);
    return this.scatter.map((v) => v / (this.count - 1));
  }

  /** The unbiased per-channel variance (the covariance's diagonal). */
  variance(): Float64Array {
    const c = this.channels;
    if (this.count < 2) throw new Error(`feature statistics need at least 2 pixels, got ${this.count}`);
    return Float64Array.from({ length: c }, (_, i) => this.scatter[i * c + i]! / (this.count - 1));
  }
}

/** Rows per chunk: the largest divisor of `height` whose rows hold at most CHUNK_PIXELS pixels (at least 1). */
function rowsPerChunk(height: number, width: number): number {
  let best = 1;
  for (let g = 1; g <= height; g++) if (height % g === 0 && g * width <= CHUNK_PIXELS) best = g;
  return best;
}

/** The GPU half of the statistics: per-chunk means [G, 1, 1, C] and centred Gram matrices [G, C, C]. */
export interface ChunkStatsTensors {
  means: Tensor;
  grams: Tensor;
  chunks: number;
  pixelsPerChunk: number;
}

/** Records the per-chunk sums and centred Grams of `features` [1, h, w, C] (nothing is read back). */
export function chunkStatsTensors(features: Tensor): ChunkStatsTensors {
  const [, h, w, c] = features.shape as [number, number, number, number];
  const g = rowsPerChunk(h, w);
  const chunks = h / g;
  const pixelsPerChunk = g * w;
  const { means, grams } = noGrad(() =>
    scope(() => {
      const x = reshape(features, [chunks, g, w, c]);
      const chunkMeans = affine(sum(x, [1, 2], true), 1 / pixelsPerChunk);
      const centred = sub(x, chunkMeans);
      return { means: chunkMeans, grams: gram(centred, { normalize: false }) };
    }),
  );
  return { means, grams, chunks, pixelsPerChunk };
}

/**
 * Adds the pixels of `features` [1, h, w, C] to `stats` (one readback for the whole piece).
 * `features` is not disposed.
 */
export async function accumulateFeatureStats(stats: FeatureStats, features: Tensor): Promise<void> {
  if (features.rank !== 4 || features.shape[0] !== 1 || features.shape[3] !== stats.channels) {
    throw new Error(`feature statistics: expected [1, h, w, ${stats.channels}], got ${formatShape(features.shape)}`);
  }
  const c = stats.channels;
  if (features.shape[1]! * features.shape[2]! === 0) return;
  const { means, grams, chunks, pixelsPerChunk } = chunkStatsTensors(features);
  try {
    const [meanData, gramData] = await Promise.all([means.data(), grams.data()]);
    for (let k = 0; k < chunks; k++) {
      stats.addChunk(pixelsPerChunk, meanData.subarray(k * c, (k + 1) * c), gramData.subarray(k * c * c, (k + 1) * c * c));
    }
  } finally {
    means.dispose();
    grams.dispose();
  }
}
