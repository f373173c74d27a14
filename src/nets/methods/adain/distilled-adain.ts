/**
 * AdaIN that works without a trained decoder of one's own: the level-4 pair of the distilled
 * VGG-19 nets (Collaborative Distillation) as encoder and decoder, AdaIN in between:
 *
 *   f = α · AdaIN(E4(content), E4(style)) + (1 − α) · E4(content),   output D4(f)
 *
 * with σ = √(unbiased variance + 1e-5), as the source repository's `adaptive_instance_normalization`.
 * Style blending, masks, colour preservation, style size and tiling for large images come from the
 * shared pipeline (../wct/stylizer.ts). The VGG19 + trained-decoder AdaIN (./adain.ts) stays for
 * decoders users train or bring.
 */
import type { RgbImage } from '../../../io/image.ts';
import { DistilledVgg } from '../../models/distilled-vgg.ts';
import { DistilledStylizer, type DistilledStylizeOptions } from '../wct/stylizer.ts';

export type DistilledAdainOptions = Omit<DistilledStylizeOptions, 'levels'>;

export class DistilledAdain {
  private readonly stylizer: DistilledStylizer;

  constructor(readonly nets: DistilledVgg) {
    this.stylizer = new DistilledStylizer(nets, 'adain');
  }

  get counters(): { styleEncodes: number; contentEncodes: number } {
    return this.stylizer.counters;
  }

  /** Stylizes `content` (RGB 0..255); same size, clamped to 0..255. */
  stylize(content: RgbImage, styles: readonly RgbImage[], options: DistilledAdainOptions = {}): Promise<RgbImage> {
    return this.stylizer.stylize(content, styles, { ...options, levels: [4] });
  }

  /** D4's output, RGB ≈ 0..1, not clamped. */
  stylizeUnclamped(content: RgbImage, styles: readonly RgbImage[], options: DistilledAdainOptions = {}): Promise<RgbImage> {
    return this.stylizer.stylizeUnclamped(content, styles, { ...options, levels: [4] });
  }

  dispose(): void {
    this.nets.dispose();
  }
}
