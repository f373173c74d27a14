/** Options of the Gatys method, their defaults, and their checked (resolved) form. */
import { assertRgbImage, type RgbImage } from '../../../io/image.ts';
import type { ColorPreservation } from '../../image/color.ts';
import type { StopReason } from '../../optim/objective.ts';
import { checkLayerWeights, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, type LayerWeights } from '../../losses/style-losses.ts';
import { vggTapNames, type Vgg, type VggPooling } from '../../models/vgg.ts';

export type GatysInit = 'content' | 'style' | 'noise';

export interface GatysOptions {
  /** α (default 1). */
  contentWeight?: number;
  /** β (default DEFAULT_GATYS_WEIGHTS.styleWeight). */
  styleWeight?: number;
  /** γ (default DEFAULT_GATYS_WEIGHTS.tvWeight). */
  tvWeight?: number;
  /** Content layers and their weights (default { conv4_2: 1 }). */
  contentLayers?: LayerWeights;
  /** Style layers and their weights (default relu1_1 … relu5_1, see DEFAULT_STYLE_LAYERS). */
  styleLayers?: LayerWeights;
  /** Blend weights of the style images (default equal); normalised to sum to 1. */
  styleBlend?: readonly number[];
  /**
   * Iterations per scale, coarse to fine. A number N gives N at the coarsest scale and half the
   * previous at each finer one (at least 1): the finer scales cost 4× more per iteration and only
   * refine a result that is already styled. Default 300.
   */
  iterations?: number | readonly number[];
  optimizer?: 'lbfgs' | 'adam';
  /**
   * Adam's learning rate (pixels are 0..255; default 5), or the length of L-BFGS's first step as the
   * mean change per pixel value (default 10; the line search shortens it as needed).
   */
  learningRate?: number;
  /** Stop a scale after this many iterations without a relative improvement of `tolerance` (0: never). */
  patience?: number;
  tolerance?: number;
  /** Starting image: the content, the style (resized to the content's size), seeded noise, or an image (resumes). */
  init?: GatysInit | RgbImage;
  /** Seed of the noise initialisation. */
  seed?: number;
  preserveColor?: ColorPreservation;
  /** Coarse-to-fine scales (default 1). */
  scales?: number;
  /** Style image size relative to the content: its long side is styleScale × the content's long side. */
  styleScale?: number;
  /** VGG pooling during the run (restored afterwards); Gatys et al. prefer 'avg'. Default: the net's. */
  pooling?: VggPooling;
  /** Attach a preview image to every n-th iteration's progress (0: never, the default). */
  previewEvery?: number;
  /** Also attach a preview to the last iteration of each scale. */
  previewLast?: boolean;
  /** Checked between iterations; true stops (the best image so far is the result). */
  shouldStop?: () => boolean;
  /**
   * Compute the style loss of the content image itself against the final targets (one extra forward
   * pass), as the baseline for `styleRatio` in the result.
   */
  measureBaseline?: boolean;
}

/**
 * Default α, β, γ, chosen by eye on the sample images at 256 px (chelsea + Starry Night, astronaut + The
 * Scream, coffee + The Great Wave; 3 scales): with the relative-error terms of style-losses.ts, β = 1
 * keeps the subject recognisable while the strokes and palette are the painting's (the result's style
 * loss is ~2–10 % of the photo's); β = 3 already dissolves the cup into waves and the astronaut into
 * the Scream's sky. γ = 1e-3 removes the pixel-level grain the style layers leave without blurring
 * the strokes (the TV term is ~10–20 % of the total at the end).
 */
export const DEFAULT_GATYS_WEIGHTS = { contentWeight: 1, styleWeight: 1, tvWeight: 1e-3 } as const;

/** The loss terms, each already multiplied by its weight: total = content + style + tv. */
export interface GatysLosses {
  total: number;
  content: number;
  style: number;
  tv: number;
}

export interface GatysProgress {
  /** 0-based scale, coarse to fine, and the number of scales. */
  scale: number;
  scales: number;
  width: number;
  height: number;
  /** 1-based iteration within this scale, and this scale's maximum. */
  iteration: number;
  maxIterations: number;
  /** Iterations over all scales so far, and the planned total. */
  step: number;
  totalSteps: number;
  /** Objective evaluations in this scale (L-BFGS line searches may take more than one per iteration). */
  evaluations: number;
  losses: GatysLosses;
  /** Iterations per second in this scale so far. */
  itersPerSecond: number;
  /**
   * Estimated seconds to the end of the last scale: this scale's remaining iterations at its speed,
   * plus the finer scales' iterations at that speed scaled by their pixel counts (early stops make
   * it an overestimate).
   */
  etaSeconds: number;
  /** The current image (colour-recombined when preserving luminance), when a preview was due. */
  preview?: RgbImage;
}

export interface GatysScaleResult {
  width: number;
  height: number;
  iterations: number;
  reason: StopReason;
  losses: GatysLosses;
  seconds: number;
}

export interface GatysResult {
  image: RgbImage;
  /** The best losses of the final scale. */
  losses: GatysLosses;
  scales: GatysScaleResult[];
  /** Iterations over all scales. */
  iterations: number;
  seconds: number;
  /** With `measureBaseline`: the (weighted) style loss of the content image, and losses.style / it. */
  baselineStyle?: number;
  styleRatio?: number;
}

/** The options with defaults applied and checked. */
export interface ResolvedOptions {
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  contentLayers: [string, number][];
  styleLayers: [string, number][];
  blend: number[];
  iterations: number[];
  optimizer: 'lbfgs' | 'adam';
  learningRate: number;
  patience: number;
  tolerance: number;
  init: GatysInit | RgbImage;
  seed: number;
  preserveColor: ColorPreservation;
  styleScale: number;
  previewEvery: number;
}

export function resolveOptions(vgg: Vgg, styleCount: number, o: GatysOptions): ResolvedOptions {
  const taps = vggTapNames(vgg.arch);
  const number = (name: string, value: number | undefined, fallback: number, min = 0): number => {
    const v = value ?? fallback;
    if (!(Number.isFinite(v) && v >= min)) throw new Error(`gatys: ${name} must be a finite number ≥ ${min}, got ${v}`);
    return v;
  };
  const scales = number('scales', o.scales, 1, 1);
  if (!Number.isInteger(scales)) throw new Error(`gatys: scales must be an integer, got ${scales}`);
  let iterations: number[];
  if (Array.isArray(o.iterations)) {
    iterations = [...(o.iterations as readonly number[])];
    if (iterations.length !== scales) throw new Error(`gatys: ${iterations.length} iteration counts for ${scales} scales`);
  } else {
    const n = (o.iterations as number | undefined) ?? 300;
    iterations = Array.from({ length: scales }, (_, s) => Math.max(1, Math.round(n / 2 ** s)));
  }
  if (iterations.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`gatys: iterations must be integers ≥ 0, got ${iterations.join(', ')}`);
  const blendRaw = o.styleBlend ? [...o.styleBlend] : Array.from({ length: styleCount }, () => 1);
  if (blendRaw.length !== styleCount) throw new Error(`gatys: ${blendRaw.length} blend weights for ${styleCount} style images`);
  if (blendRaw.some((w) => !(Number.isFinite(w) && w >= 0))) throw new Error(`gatys: blend weights must be finite and ≥ 0, got ${blendRaw.join(', ')}`);
  const blendTotal = blendRaw.reduce((a, b) => a + b, 0);
  if (!(blendTotal > 0)) throw new Error('gatys: the style blend weights must not all be zero');
  const optimizer = o.optimizer ?? 'lbfgs';
  if (optimizer !== 'lbfgs' && optimizer !== 'adam') throw new Error(`gatys: unknown optimizer '${String(optimizer)}'`);
  const preserveColor = o.preserveColor ?? 'none';
  if (!['none', 'luminance', 'histogram'].includes(preserveColor)) throw new Error(`gatys: preserveColor must be none, luminance or histogram, got '${preserveColor}'`);
  const init = o.init ?? 'content';
  if (typeof init === 'string' && !['content', 'style', 'noise'].includes(init)) throw new Error(`gatys: init must be content, style, noise or an image, got '${init}'`);
  if (typeof init !== 'string') assertRgbImage(init, 'gatys init');
  return {
    contentWeight: number('contentWeight', o.contentWeight, DEFAULT_GATYS_WEIGHTS.contentWeight),
    styleWeight: number('styleWeight', o.styleWeight, DEFAULT_GATYS_WEIGHTS.styleWeight),
    tvWeight: number('tvWeight', o.tvWeight, DEFAULT_GATYS_WEIGHTS.tvWeight),
    contentLayers: checkLayerWeights('gatys content layers', o.contentLayers ?? DEFAULT_CONTENT_LAYERS, taps),
    styleLayers: checkLayerWeights('gatys style layers', o.styleLayers ?? DEFAULT_STYLE_LAYERS, taps),
    blend: blendRaw.map((w) => w / blendTotal),
    iterations,
    optimizer,
    learningRate: number('learningRate', o.learningRate, optimizer === 'adam' ? 5 : 10),
    patience: number('patience', o.patience, 0),
    tolerance: number('tolerance', o.tolerance, 1e-3),
    init,
    seed: number('seed', o.seed, 0),
    preserveColor,
    styleScale: number('styleScale', o.styleScale, 1, 1e-3),
    previewEvery: number('previewEvery', o.previewEvery, 0),
  };
}
