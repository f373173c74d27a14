/** The Gatys objective (content, style and total-variation terms through VGG19) for the optimisers. */
import { add, affine } from '../../../autograd/ops/elementwise.ts';
import { valueAndGradOf } from '../../../autograd/grad.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { fill } from '../../../gpu/kernels/elementwise.ts';
import { packScalars } from '../../../gpu/kernels/optim.ts';
import { keep, scope, trackInScope } from '../../../gpu/scope.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import type { RgbImage } from '../../../io/image.ts';
import type { Objective } from '../../optim/objective.ts';
import { contentLayerLoss, contentTargets, meanSquares, styleLayerLoss, styleTargets, totalVariationLoss, weightedSum } from '../../losses/style-losses.ts';
import type { Vgg } from '../../models/vgg.ts';

import { resolveOptions, type GatysLosses, type GatysOptions, type ResolvedOptions } from './options.ts';

export const toTensor = (vgg: Vgg, image: RgbImage): Tensor => vgg.params.runtime.upload(image.data, [1, image.height, image.width, 3]);

/**
 * The Gatys loss for one content/style set at one size: targets on the GPU with their normalising
 * weights, an `objective` for the optimisers (whose report is [total, content, style, tv], weighted,
 * read back with the loss), and `evaluate` for a loss without gradients.
 */
export class GatysLoss {
  private readonly taps: string[];
  private readonly zero: Tensor;

  private constructor(
    private readonly vgg: Vgg,
    private readonly o: ResolvedOptions,
    /** layer → target features and effective weight v_l / mean(P_l²) */
    private readonly content: Map<string, { target: Tensor; weight: number }>,
    /** layer → blended target Gram and effective weight u_l / mean(A_l²) */
    private readonly style: Map<string, { target: Tensor; weight: number }>,
  ) {
    this.taps = [...new Set([...content.keys(), ...style.keys()])];
    this.zero = fill(vgg.params.runtime, [], 0);
  }

  /**
   * Targets for `content` and `styles` (RGB 0..255; the styles as they are, not resized), with the
   * weights and layers of `options` (the other options are ignored here).
   */
  static create(vgg: Vgg, content: RgbImage, styles: readonly RgbImage[], options: GatysOptions = {}): Promise<GatysLoss> {
    return GatysLoss.withResolved(vgg, content, styles, resolveOptions(vgg, styles.length, options));
  }

  /** @internal */
  static async withResolved(vgg: Vgg, content: RgbImage, styles: readonly RgbImage[], o: ResolvedOptions): Promise<GatysLoss> {
    const contentLayers = o.contentWeight > 0 ? o.contentLayers : [];
    const styleLayers = o.styleWeight > 0 ? o.styleLayers : [];
    const c = toTensor(vgg, content);
    const s = styles.map((im) => toTensor(vgg, im));
    let ct = new Map<string, Tensor>();
    let st = new Map<string, Tensor>();
    try {
      if (contentLayers.length) ct = contentTargets(vgg, c, contentLayers.map(([l]) => l));
      if (styleLayers.length) st = styleTargets(vgg, s, o.blend, styleLayers.map(([l]) => l));
    } finally {
      c.dispose();
      for (const t of s) t.dispose();
    }
    const targets = [...ct.values(), ...st.values()];
    const energies = await meanSquares(targets);
    const weighted = (layers: [string, number][], maps: Map<string, Tensor>, offset: number) => {
      const out = new Map<string, { target: Tensor; weight: number }>();
      layers.forEach(([layer, w], i) => {
        const target = maps.get(layer)!;
        const energy = energies[offset + i]!;
        // A target that is all zeros (e.g. relu5_1 of a tiny image) carries no information: skipped.
        if (energy > 1e-12) out.set(layer, { target, weight: w / energy });
        else target.dispose();
      });
      return out;
    };
    return new GatysLoss(vgg, o, weighted(contentLayers, ct, 0), weighted(styleLayers, st, ct.size));
  }

  /** The weighted terms of x and their sum; call inside a tape (for gradients) or noGrad. */
  private terms(x: Tensor): { total: Tensor; content: Tensor; style: Tensor; tv: Tensor } {
    const { contentWeight, styleWeight, tvWeight } = this.o;
    const features = this.taps.length ? this.vgg.features(x, this.taps) : new Map<string, Tensor>();
    const contentRaw = weightedSum([...this.content].map(([layer, t]) => ({ term: contentLayerLoss(features.get(layer)!, t.target), weight: t.weight })));
    const styleRaw = weightedSum([...this.style].map(([layer, t]) => ({ term: styleLayerLoss(features.get(layer)!, t.target), weight: t.weight })));
    const content = contentRaw ? affine(contentRaw, contentWeight, 0) : this.zero;
    const style = styleRaw ? affine(styleRaw, styleWeight, 0) : this.zero;
    const tv = tvWeight > 0 ? affine(totalVariationLoss(x), tvWeight, 0) : this.zero;
    const total = add(add(content, style), tv);
    return { total, content, style, tv };
  }

  /** The loss, its gradient with respect to the image [1, H, W, 3] (RGB 0..255), and its terms as the report. */
  readonly objective: Objective = (x) => {
    let report: Tensor | null = null;
    const { value, grads } = valueAndGradOf(() => {
      const t = this.terms(x);
      report = keep(packScalars([t.total, t.content, t.style, t.tv]));
      return t.total;
    }, [x]);
    // keep() took the report out of every scope to get it past the gradient's own; the caller's
    // scope owns it again, like the loss and gradient.
    trackInScope(report!);
    return { loss: value, grad: grads[0]!, report: report! };
  };

  /** The losses of an image without gradients (one forward pass, one readback). */
  async evaluate(x: Tensor): Promise<GatysLosses> {
    const packed = noGrad(() =>
      scope(() => {
        const t = this.terms(x);
        return packScalars([t.total, t.content, t.style, t.tv]);
      }),
    );
    const losses = unpack(await packed.data());
    packed.dispose();
    return losses;
  }

  /** The losses of an RGB image of this loss's size. */
  async evaluateImage(image: RgbImage): Promise<GatysLosses> {
    const x = toTensor(this.vgg, image);
    try {
      return await this.evaluate(x);
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    for (const t of [...this.content.values(), ...this.style.values()]) t.target.dispose();
    this.zero.dispose();
  }
}

export function unpack(v: Float32Array): GatysLosses {
  return { total: v[0]!, content: v[1]!, style: v[2]!, tv: v[3]! };
}
