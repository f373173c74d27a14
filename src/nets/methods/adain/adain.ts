/**
 * Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie 2017):
 *
 *   f_c = E(content), f_s = E(style)                     E = VGG19 up to relu4_1
 *   t   = AdaIN(f_c, f_s) = σ(f_s) · (f_c − μ(f_c)) / σ(f_c) + μ(f_s)
 *   out = D(α · t + (1 − α) · f_c)                        D = the trained decoder (./adain-decoder.ts)
 *
 * with the paper's controls:
 * - α: content–style trade-off (α = 0 decodes the content's own features);
 * - style interpolation: with weights w_k, t = Σ w_k · AdaIN(f_c, f_s_k). AdaIN is affine in the style's
 *   statistics, so this is one AdaIN with the blended statistics (Σ w_k μ_k, Σ w_k σ_k);
 * - colour preservation: each style image is first recoloured to the content's colour mean and
 *   covariance (./color.ts `matchColorHistogram`), then transferred as usual;
 * - spatial control: a mask m (white = first style, black = second style; with one style, black keeps
 *   the content's own features), resized to the feature map, gives t = m · AdaIN(f_c, s1) + (1 − m) · AdaIN(f_c, s2).
 *
 * Images of any size: the content is reflection-padded to a multiple of 8 (at least 16) and the result
 * cropped back. Style statistics (per-channel mean and σ = √(variance + eps) of relu4_1) are computed once
 * per style image object and cached, so stylizing many contents with the same styles runs the encoder
 * once per style. Browser-safe (no file access).
 */
import { add, mul, scale, sub } from '../../../autograd/ops/elementwise.ts';
import { adainWithStats } from '../../../autograd/ops/norm.ts';
import { pad2d } from '../../../autograd/ops/pad.ts';
import { avgPool2d } from '../../../autograd/ops/pool.ts';
import { slice } from '../../../autograd/ops/structural.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { channelMoments } from '../../../gpu/kernels/norm.ts';
import { scope } from '../../../gpu/scope.ts';
import { formatShape, type Tensor } from '../../../gpu/tensor.ts';
import type { RgbImage } from '../../../io/image.ts';
import { resizeImage } from '../../../io/resize.ts';
import { ADAIN_DOWNSAMPLING, ADAIN_FEATURE_CHANNELS, type AdainDecoder } from '../../models/adain-decoder.ts';
import { checkedOutput } from '../../image/checked-output.ts';
import { matchColorHistogram } from '../../image/color.ts';
import { bufferLimitOf, largestActivationBytes, largestUntiledLongSide, type NetFootprint } from '../../image/tiling.ts';
import type { Vgg } from '../../models/vgg.ts';

/** The encoder's output: VGG19 relu4_1. */
export const ADAIN_CONTENT_TAP = 'relu4_1';
/** The taps whose statistics make the style loss when training the decoder. */
export const ADAIN_STYLE_TAPS: readonly string[] = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1'];
/** Every tap of the encoder, relu1_1 … relu4_1. */
export const ADAIN_ENCODER_TAPS: readonly string[] = ['relu1_1', 'relu1_2', 'relu2_1', 'relu2_2', 'relu3_1', 'relu3_2', 'relu3_3', 'relu3_4', 'relu4_1'];
/** Added to variances before the square root (as the reference implementation). */
export const ADAIN_EPS = 1e-5;
/** Images are padded to at least this side (the decoder's first reflection pad needs 2×2 features). */
export const ADAIN_MIN_SIDE = 16;

/**
 * The AdaIN encoder: VGG19 (pretrained, ImageNet) run on an RGB 0..255 batch [N, H, W, 3] up to relu4_1,
 * returning the requested taps (any of relu1_1 … relu4_1). Gradients flow to the image.
 */
export function adainEncode(vgg: Vgg, image: Tensor, taps: readonly string[] = [ADAIN_CONTENT_TAP]): Map<string, Tensor> {
  if (vgg.arch !== 'vgg19') throw new Error(`adain: the encoder must be VGG19, got ${vgg.arch}`);
  const unknown = taps.filter((t) => !ADAIN_ENCODER_TAPS.includes(t));
  if (unknown.length) throw new Error(`adain encoder: unknown tap(s) ${unknown.join(', ')}; the encoder stops at ${ADAIN_CONTENT_TAP} (taps: ${ADAIN_ENCODER_TAPS.join(', ')})`);
  return vgg.features(image, taps);
}

/** Per-channel statistics of an image's relu4_1 features, on the host. */
export interface AdainStyleStats {
  /** [512] channel means. */
  mean: Float32Array;
  /** [512] channel σ = √(biased variance + eps). */
  std: Float32Array;
}

export interface AdainOptions {
  /** Content–style trade-off in [0, 1]: 1 = full style (default), 0 = the decoded content features. */
  alpha?: number;
  /** Blend weights, one per style (normalised to sum 1); default equal. Ignored with a mask. */
  weights?: readonly number[];
  /**
   * Spatial control: white (1) = the first style, black (0) = the second (or, with one style, the
   * content's own features); grey blends. Any size: it is resized to the content, then to the feature map.
   */
  mask?: RgbImage | null;
  /** Recolour each style to the content's colour mean and covariance before the transfer. */
  preserveColor?: boolean;
}

export interface AdainCounters {
  /** Encoder passes over style images (cache misses and colour-preserved styles). */
  styleEncodes: number;
  /** Encoder passes over content images. */
  contentEncodes: number;
}

/**
 * The encoder's and decoder's tensors: 64 channels at full size (conv1_x, and the decoder's last
 * upsampling), halving in size as channels double. AdaIN's statistics span the whole image, so it
 * is not tiled: an image too large is refused with the --size that fits.
 */
const ADAIN_FOOTPRINT: NetFootprint = {
  name: 'adain',
  activations: [
    { channels: 3, downsample: 1 },
    { channels: 64, downsample: 1 },
    { channels: 128, downsample: 2 },
    { channels: 256, downsample: 4 },
    { channels: 512, downsample: 8 },
  ],
  sizeMultiple: ADAIN_DOWNSAMPLING,
  border: 0,
  minSide: 1,
};

/** [before, after] padding that brings `n` to a multiple of 8, at least ADAIN_MIN_SIDE. */
export function adainPadAmounts(n: number): [number, number] {
  const target = Math.max(ADAIN_MIN_SIDE, Math.ceil(n / ADAIN_DOWNSAMPLING) * ADAIN_DOWNSAMPLING);
  const extra = target - n;
  return [Math.floor(extra / 2), extra - Math.floor(extra / 2)];
}

/** Checks the options against the number of styles; returns the normalised blend weights. */
export function resolveAdainOptions(styleCount: number, options: AdainOptions): { alpha: number; weights: number[] } {
  if (styleCount < 1) throw new Error('adain: at least one style image is needed');
  const alpha = options.alpha ?? 1;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`adain: alpha must be in [0, 1], got ${alpha}`);
  if (options.mask && styleCount > 2) throw new Error(`adain: a mask blends at most two styles (white = first, black = second), got ${styleCount}`);
  const given = options.weights ?? Array.from({ length: styleCount }, () => 1);
  if (given.length !== styleCount) throw new Error(`adain: ${given.length} style weights for ${styleCount} styles`);
  if (given.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new Error(`adain: style weights must be finite and ≥ 0, got ${given.join(', ')}`);
  const total = given.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('adain: the style weights must not all be zero');
  return { alpha, weights: given.map((w) => w / total) };
}

/** The mask as one grey value per pixel in 0..1 (mean of R, G, B / 255), resized to width × height. */
export function maskValues(mask: RgbImage, width: number, height: number): Float32Array {
  const resized = mask.width === width && mask.height === height ? mask : resizeImage(mask, width, height);
  const out = new Float32Array(width * height);
  const d = resized.data;
  for (let p = 0; p < out.length; p++) out[p] = Math.min(1, Math.max(0, (d[3 * p]! + d[3 * p + 1]! + d[3 * p + 2]!) / (3 * 255)));
  return out;
}

/**
 * The AdaIN target from content features [1, h, w, 512] and style statistics: blended AdaIN (or the
 * mask blend of two), then the α mix with the content features. `mask` is [1, h, w, 1] in 0..1. Records
 * on a tape like any op (so it is differentiable in the content features), but is normally run under noGrad.
 */
export function adainTarget(
  contentFeatures: Tensor,
  styles: readonly { mean: Tensor; std: Tensor }[],
  options: { alpha: number; weights: readonly number[]; mask?: Tensor | null; eps?: number },
): Tensor {
  const eps = options.eps ?? ADAIN_EPS;
  let t: Tensor;
  if (options.mask) {
    const first = adainWithStats(contentFeatures, styles[0]!.mean, styles[0]!.std, eps);
    const second = styles[1] ? adainWithStats(contentFeatures, styles[1].mean, styles[1].std, eps) : contentFeatures;
    // m·A + (1 − m)·B = B + m·(A − B)
    t = add(second, mul(options.mask, sub(first, second)));
  } else if (styles.length === 1) {
    t = adainWithStats(contentFeatures, styles[0]!.mean, styles[0]!.std, eps);
  } else {
    let mean: Tensor | null = null;
    let std: Tensor | null = null;
    styles.forEach((s, k) => {
      const w = options.weights[k]!;
      mean = mean ? add(mean, scale(s.mean, w)) : scale(s.mean, w);
      std = std ? add(std, scale(s.std, w)) : scale(s.std, w);
    });
    t = adainWithStats(contentFeatures, mean!, std!, eps);
  }
  if (options.alpha === 1) return t;
  // α·t + (1 − α)·f_c = f_c + α·(t − f_c)
  return add(contentFeatures, scale(sub(t, contentFeatures), options.alpha));
}

/**
 * An AdaIN style-transfer model: the VGG19 encoder (relu4_1) and a decoder. Neither is owned: dispose
 * them yourself. The cache of style statistics is owned (plain host arrays).
 */
export class AdainStylizer {
  readonly counters: AdainCounters = { styleEncodes: 0, contentEncodes: 0 };
  private readonly cache = new Map<RgbImage, AdainStyleStats>();

  constructor(
    readonly vgg: Vgg,
    readonly decoder: AdainDecoder,
    readonly eps = ADAIN_EPS,
  ) {
    if (vgg.arch !== 'vgg19') throw new Error(`adain: the encoder must be VGG19, got ${vgg.arch}`);
  }

  /** relu4_1 features of an RGB (0..255) batch [N, H, W, 3]. */
  encode(image: Tensor): Tensor {
    return adainEncode(this.vgg, image).get(ADAIN_CONTENT_TAP)!;
  }

  /** Channel statistics of an image's relu4_1 features (one encoder pass, no cache). */
  async computeStyleStats(image: RgbImage): Promise<AdainStyleStats> {
    if (image.width < 8 || image.height < 8) throw new Error(`adain: a style image must be at least 8×8 pixels, got ${image.width}×${image.height}`);
    const runtime = this.vgg.params.runtime;
    this.counters.styleEncodes++;
    const { mean, std } = noGrad(() =>
      scope(() => {
        const input = runtime.upload(image.data, [1, image.height, image.width, 3]);
        const stats = channelMoments(this.encode(input), true, this.eps);
        return { mean: stats.mean, std: stats.std };
      }),
    );
    try {
      return { mean: await mean.data(), std: await std.data() };
    } finally {
      mean.dispose();
      std.dispose();
    }
  }

  /** The statistics of a style image, computed once per image object. */
  async styleStats(image: RgbImage): Promise<AdainStyleStats> {
    let stats = this.cache.get(image);
    if (!stats) {
      stats = await this.computeStyleStats(image);
      this.cache.set(image, stats);
    }
    return stats;
  }

  /** Forgets the cached style statistics. */
  clearStyleCache(): void {
    this.cache.clear();
  }

  /**
   * Stylizes `content` (RGB 0..255) with one or more styles; see AdainOptions. The result has the
   * content's size, clamped to 0..255.
   */
  async stylize(content: RgbImage, styles: readonly RgbImage[], options: AdainOptions = {}): Promise<RgbImage> {
    const { alpha, weights } = resolveAdainOptions(styles.length, options);
    this.assertContentFits(content.width, content.height);
    const stats: AdainStyleStats[] = [];
    for (const style of styles) {
      stats.push(options.preserveColor ? await this.computeStyleStats(matchColorHistogram(style, content)) : await this.styleStats(style));
    }
    return this.stylizeWithStats(content, stats, { alpha, weights, mask: options.mask ?? null });
  }

  /** Refuses a content whose largest tensor would not fit one device buffer, naming the --size that fits. */
  assertContentFits(width: number, height: number): void {
    const limit = bufferLimitOf(this.vgg.params.runtime.context.limits);
    const bytes = largestActivationBytes(ADAIN_FOOTPRINT, width, height);
    if (bytes > limit) {
      const side = largestUntiledLongSide(ADAIN_FOOTPRINT, width, height, limit);
      throw new Error(
        `adain: a ${width}×${height} content needs ${(bytes / 2 ** 20).toFixed(0)} MiB buffers but this device allows ${(limit / 2 ** 20).toFixed(0)} MiB ` +
          `(AdaIN's statistics span the whole image, so it is not tiled); use --size ${side} or less`,
      );
    }
  }

  /** Stylizes with precomputed style statistics (alpha, weights already resolved). */
  async stylizeWithStats(content: RgbImage, styles: readonly AdainStyleStats[], options: { alpha: number; weights: readonly number[]; mask?: RgbImage | null }): Promise<RgbImage> {
    const runtime = this.vgg.params.runtime;
    const { width, height } = content;
    const [top, bottom] = adainPadAmounts(height);
    const [left, right] = adainPadAmounts(width);
    const paddedH = height + top + bottom;
    const paddedW = width + left + right;
    this.assertContentFits(width, height);
    const reflect = top < height && bottom < height && left < width && right < width;
    const pads = [top, bottom, left, right] as const;
    const padded = top + bottom + left + right > 0;
    this.counters.contentEncodes++;
    const out = noGrad(() =>
      scope(() => {
        const input = runtime.upload(content.data, [1, height, width, 3]);
        const x = padded ? pad2d(input, pads, reflect ? 'reflect' : 'zeros') : input;
        const features = this.encode(x);
        const [, fh, fw, fc] = features.shape as [number, number, number, number];
        if (fc !== ADAIN_FEATURE_CHANNELS || fh * ADAIN_DOWNSAMPLING !== paddedH || fw * ADAIN_DOWNSAMPLING !== paddedW) {
          throw new Error(`adain: unexpected encoder output ${formatShape(features.shape)} for a ${paddedW}×${paddedH} image`);
        }
        const styleTensors = styles.map((s) => ({ mean: runtime.upload(s.mean, [fc]), std: runtime.upload(s.std, [fc]) }));
        let mask: Tensor | null = null;
        if (options.mask) {
          // Resized to the content, padded like it, then averaged over each 8×8 block: one value per feature pixel.
          let m = runtime.upload(maskValues(options.mask, width, height), [1, height, width, 1]);
          if (padded) m = pad2d(m, pads, reflect ? 'reflect' : 'zeros');
          for (let i = 0; i < 3; i++) m = avgPool2d(m);
          mask = m;
        }
        const t = adainTarget(features, styleTensors, { alpha: options.alpha, weights: options.weights, mask, eps: this.eps });
        const y = this.decoder.forward(t);
        // Unclamped: checkedOutput clamps after the readback, once NaN is ruled out.
        return padded ? slice(y, [0, top, left, 0], [1, height, width, 3]) : y;
      }),
    );
    try {
      const model = `the AdaIN models (decoder ${this.decoder.params.source}, encoder ${this.vgg.params.source})`;
      return { width, height, data: checkedOutput(await out.data(), width, model) };
    } finally {
      out.dispose();
    }
  }
}
