/**
 * The loss terms of optimisation-based style transfer (Gatys, Ecker & Bethge, "Image Style Transfer
 * Using Convolutional Neural Networks", CVPR 2016), normalised so that one set of weights works at
 * any resolution and for any style image:
 *
 *   content_l(x) = mean over the H·W·C elements of (F_l(x) − P_l)²,   P_l = F_l(content)
 *   G_l(x)       = F_l(x)ᵀ·F_l(x) / (C·H·W)              (F_l seen as an (H·W)×C matrix)
 *   style_l(x)   = mean over the C² entries of (G_l(x) − A_l)²,        A_l = Σ_k b_k·G_l(style_k)
 *   tv(x)        = mean over all vertical and horizontal neighbour pairs (p, q) of (x_p − x_q)²
 *                  (pixels 0..255)
 *
 *   content(x) = Σ_l v_l · content_l(x) / mean(P_l²)
 *   style(x)   = Σ_l u_l · style_l(x) / mean(A_l²)
 *   total      = α·content + β·style + γ·tv
 *
 * Means over elements (not sums) and Grams divided by the pixel count make every term independent of
 * the image size, so α, β, γ carry over from a 64 px preview to a 1024 px render (and between the
 * scales of a coarse-to-fine run). Dividing each layer's term by its target's mean square makes it a
 * relative error (≈ 1 for an unrelated image, 0 at the target): the layers count as their weights say
 * (with plain squared errors relu4_1's Gram, the largest, would outweigh relu1_1's by ~10⁴), and the
 * weights do not depend on the feature scale of the VGG variant or on how busy the style image is.
 * The divisors are constants computed with the targets, so the gradients are those of the formula.
 */
import { add, affine } from '../../autograd/ops/elementwise.ts';
import { gram } from '../../autograd/ops/gram.ts';
import { mse, sumSquares } from '../../autograd/ops/losses.ts';
import { totalVariation } from '../../autograd/ops/total-variation.ts';
import { noGrad } from '../../autograd/tape.ts';
import { packScalars } from '../../gpu/kernels/optim.ts';
import { keep, scope } from '../../gpu/scope.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import type { Vgg } from '../models/vgg.ts';

/** Layer name → weight. */
export type LayerWeights = Readonly<Record<string, number>>;

/** Gatys et al.'s content layer. */
export const DEFAULT_CONTENT_LAYERS: LayerWeights = { conv4_2: 1 };

/** Gatys et al.'s style layers, equally weighted (each term is a relative error, see above). */
export const DEFAULT_STYLE_LAYERS: LayerWeights = { relu1_1: 1, relu2_1: 1, relu3_1: 1, relu4_1: 1, relu5_1: 1 };

/** mean((features − target)²): the content term of one layer. */
export function contentLayerLoss(features: Tensor, target: Tensor): Tensor {
  if (features.size !== target.size) {
    throw new Error(`content loss: features ${formatShape(features.shape)} and target ${formatShape(target.shape)} differ in size`);
  }
  return mse(features, target);
}

/** The Gram matrix of NHWC features, divided by C·H·W: [N, H, W, C] → [N, C, C]. */
export function gramMatrix(features: Tensor): Tensor {
  return gram(features, { normalize: true });
}

/** mean over the C² entries of (G(features) − targetGram)²: the style term of one layer. */
export function styleLayerLoss(features: Tensor, targetGram: Tensor): Tensor {
  const g = gramMatrix(features);
  if (g.size !== targetGram.size) {
    throw new Error(`style loss: Gram ${formatShape(g.shape)} of features ${formatShape(features.shape)} does not match the target Gram ${formatShape(targetGram.shape)}`);
  }
  return mse(g, targetGram);
}

/**
 * Total variation of an image batch [N, H, W, C]: the mean over all vertical and horizontal
 * neighbour pairs of their squared difference (the shared fused kernel's sum, divided by the number of
 * pairs, N·C·((H−1)·W + H·(W−1))).
 */
export function totalVariationLoss(image: Tensor): Tensor {
  if (image.rank !== 4) throw new Error(`total variation: needs an image batch [N, H, W, C], got ${formatShape(image.shape)}`);
  const [n, h, w, c] = image.shape as [number, number, number, number];
  const pairs = n * c * ((h - 1) * w + h * (w - 1));
  if (pairs === 0) throw new Error(`total variation: a 1×1 image ${formatShape(image.shape)} has no neighbours`);
  return affine(totalVariation(image, { kind: 'squared' }), 1 / pairs, 0);
}

/** Σ weight·term, skipping zero weights (null when every weight is zero). */
export function weightedSum(terms: readonly { term: Tensor; weight: number }[]): Tensor | null {
  let total: Tensor | null = null;
  for (const { term, weight } of terms) {
    if (weight === 0) continue;
    const scaled = weight === 1 ? term : affine(term, weight, 0);
    total = total ? add(total, scaled) : scaled;
  }
  return total;
}

/** Checks layer names and weights; returns the entries with a non-zero weight. */
export function checkLayerWeights(what: string, layers: LayerWeights, knownTaps: readonly string[]): [string, number][] {
  const entries = Object.entries(layers);
  if (entries.length === 0) throw new Error(`${what}: no layers given`);
  for (const [name, w] of entries) {
    if (!knownTaps.includes(name)) throw new Error(`${what}: unknown VGG layer '${name}'; layers are ${knownTaps.join(', ')}`);
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`${what}: the weight of '${name}' must be a finite number ≥ 0, got ${w}`);
  }
  return entries.filter(([, w]) => w > 0);
}

/**
 * Content targets: the features of `content` ([1, H, W, 3], RGB 0..255) at each layer, computed
 * without a tape. The caller owns the returned tensors.
 */
export function contentTargets(vgg: Vgg, content: Tensor, layers: readonly string[]): Map<string, Tensor> {
  return noGrad(() =>
    scope(() => {
      const features = vgg.features(content, layers);
      const out = new Map<string, Tensor>();
      for (const layer of layers) out.set(layer, features.get(layer)!);
      return out;
    }),
  );
}

/**
 * Style targets: at each layer, the blend Σ_k w_k·G(s_k) of the Gram matrices of the style images
 * (each [1, H_k, W_k, 3]; sizes may differ, the Grams are C×C). The caller owns the returned tensors.
 */
export function styleTargets(vgg: Vgg, styles: readonly Tensor[], blend: readonly number[], layers: readonly string[]): Map<string, Tensor> {
  if (styles.length === 0) throw new Error('style targets: no style image given');
  if (blend.length !== styles.length) throw new Error(`style targets: ${blend.length} blend weights for ${styles.length} style images`);
  const out = new Map<string, Tensor>();
  noGrad(() => {
    styles.forEach((style, k) => {
      scope(() => {
        const features = vgg.features(style, layers);
        for (const layer of layers) {
          const g = affine(gramMatrix(features.get(layer)!), blend[k]!, 0);
          const previous = out.get(layer);
          const next = previous ? add(previous, g) : g;
          keep(next);
          if (previous) previous.dispose();
          out.set(layer, next);
        }
      });
    });
  });
  return out;
}

/**
 * The mean square of each tensor (one readback for all of them): the divisors that turn the layer
 * terms into relative errors.
 */
export async function meanSquares(tensors: readonly Tensor[]): Promise<number[]> {
  if (tensors.length === 0) return [];
  const packed = noGrad(() => scope(() => packScalars(tensors.map((t) => sumSquares(t)))));
  const sums = await packed.data();
  packed.dispose();
  return tensors.map((t, i) => sums[i]! / Math.max(1, t.size));
}
