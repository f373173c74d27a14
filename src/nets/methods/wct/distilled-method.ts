/**
 * The method contract's Stylizer over the distilled-net pipeline (./stylizer.ts), shared by the `wct`
 * method and the default (decoder-free) `adain`: reads the option values both take (α, levels, colour,
 * mask, content and style size, tiles) and reports each level as progress.
 */
import type { RgbImage } from '../../../io/image.ts';
import { combineLuminance } from '../../image/color.ts';
import { DistilledVgg, DISTILLED_MODEL, type DistilledLevel } from '../../models/distilled-vgg.ts';
import type { MethodEnvironment, OptionSpec, OptionValues, RunControl, StyleInput, StylizeResult, Stylizer } from '../contract.ts';
import { fitContent, report, styleWeights } from '../common-options.ts';
import type { TransformKind } from './feature-transform.ts';
import { DistilledStylizer, type DistilledStylizeOptions } from './stylizer.ts';

export const TILE_OPTION: OptionSpec = {
  id: 'tile',
  label: 'Tile',
  description: 'largest tile side for big images (statistics are summed over all tiles first, so tiling does not change the result)',
  kind: 'integer',
  min: 16,
  max: 8192,
};


/** Loads the ten distilled nets from the method's weight source (`half`: in f16 storage, see DistilledVgg.fromHost). */
export async function loadDistilledNets(env: MethodEnvironment, control: RunControl | undefined, half = false): Promise<DistilledVgg> {
  report(control, { stage: 'weights', message: `loading ${DISTILLED_MODEL}${half ? ' (f16)' : ''}` });
  return DistilledVgg.fromHost(env.runtime, await env.weights.tensors(DISTILLED_MODEL, control?.onProgress), `${DISTILLED_MODEL} weights`, half);
}

export class DistilledMethodStylizer implements Stylizer {
  readonly stylizer: DistilledStylizer;

  constructor(nets: DistilledVgg, kind: TransformKind) {
    this.stylizer = new DistilledStylizer(nets, kind);
  }

  async stylize(content: RgbImage, styles: readonly StyleInput[], values: OptionValues, control?: RunControl): Promise<StylizeResult> {
    const input = fitContent(content, numberValue(values, 'size'));
    const color = values.preserveColor;
    const statistics = color === true || color === 'statistics' || color === 'histogram';
    const levels = this.stylizer.kind === 'adain' ? undefined : (values.levels as DistilledLevel[] | undefined);
    const options: DistilledStylizeOptions = {
      alpha: numberValue(values, 'alpha'),
      levels,
      weights: styleWeights(styles),
      mask: (values.mask as RgbImage | undefined) ?? null,
      preserveColor: statistics,
      styleSize: styleSide(input, values),
      tileSize: numberValue(values, 'tile'),
      signal: control?.signal,
      onLevel: (level, index, count) =>
        report(control, { stage: 'run', message: `${this.stylizer.kind} level ${level}`, fraction: index / count, step: index, totalSteps: count }),
    };
    let image = await this.stylizer.stylize(
      input,
      styles.map((s) => s.image),
      options,
    );
    if (color === 'luminance') image = combineLuminance(image, input);
    const used = levels ?? this.stylizer.defaultLevels;
    return { image, summary: `distilled VGG-19 nets, level${used.length > 1 ? 's' : ''} ${used.join(',')}; α=${options.alpha ?? 1}` };
  }

  dispose(): void {
    this.stylizer.nets.dispose();
  }
}

function numberValue(values: OptionValues, id: string): number | undefined {
  return typeof values[id] === 'number' ? (values[id] as number) : undefined;
}

/** The style's long side: `styleSize` in pixels, or `styleScale` × the content's long side (AdaIN); else the style's own size. */
function styleSide(content: RgbImage, values: OptionValues): number | undefined {
  const size = numberValue(values, 'styleSize');
  if (size !== undefined) return size;
  const scale = numberValue(values, 'styleScale');
  if (scale === undefined) return undefined;
  return Math.max(16, Math.round(Math.max(content.width, content.height) * scale));
}
