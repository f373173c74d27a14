/**
 * `wct`: Universal Style Transfer (Li et al. 2017) on the Collaborative-Distillation nets, as a
 * MethodDefinition for the CLI, the page and the library. Any style image, no training, levels 5→1.
 */
import type { RgbImage } from '../../../io/image.ts';
import { DistilledVgg, DISTILLED_MODEL, type DistilledLevel } from '../../models/distilled-vgg.ts';
import type { MethodDefinition, OptionValues, RunControl, StyleInput, StylizeResult, Stylizer } from '../contract.ts';
import { DistilledStylizer, type DistilledStylizeOptions } from './stylizer.ts';

export const wctMethod: MethodDefinition = {
  id: 'wct',
  label: 'WCT',
  summary: 'Universal style transfer: whitening and colouring transforms on distilled VGG-19 features, levels 5→1; any style, no training',
  styles: 'many',
  options: [
    {
      id: 'alpha',
      kind: 'number',
      label: 'Style strength α',
      description: 'blend of stylized and content features at each level, 0..1',
      min: 0,
      max: 1,
      default: 1,
      ui: { control: 'slider', step: 0.05, live: true },
    },
    {
      id: 'levels',
      kind: 'number-list',
      label: 'Levels',
      description: 'which encoder/decoder levels run, coarse to fine ("5,4,3,2,1"; fewer levels: faster, less stylized)',
      min: 1,
      max: 5,
      default: [5, 4, 3, 2, 1],
    },
    {
      id: 'preserveColor',
      kind: 'boolean',
      label: 'Keep colours',
      description: "recolour each style to the content's colours first, so the result keeps the content's colours",
      default: false,
      ui: { control: 'toggle' },
    },
    {
      id: 'styleSize',
      kind: 'integer',
      label: 'Style size',
      description: "resize each style image so its longer side is this many pixels (the brush strokes' scale)",
      min: 16,
      max: 8192,
    },
    {
      id: 'tileSize',
      kind: 'integer',
      label: 'Tile size',
      description: 'largest tile side for big images (statistics are summed over all tiles, so tiling does not change the result)',
      min: 16,
      max: 8192,
    },
  ],
  async load(env, _options, control) {
    control?.onProgress?.({ stage: 'weights', message: `loading ${DISTILLED_MODEL}` });
    const nets = DistilledVgg.fromHost(env.runtime, await env.weights.tensors(DISTILLED_MODEL, control?.onProgress));
    return new DistilledMethodStylizer(new DistilledStylizer(nets, 'wct'));
  },
};

/** The contract's Stylizer over a DistilledStylizer (shared with the distilled AdaIN). */
export class DistilledMethodStylizer implements Stylizer {
  constructor(readonly stylizer: DistilledStylizer) {}

  async stylize(content: RgbImage, styles: readonly StyleInput[], options: OptionValues, control?: RunControl): Promise<StylizeResult> {
    const image = await this.stylizer.stylize(
      content,
      styles.map((s) => s.image),
      { ...distilledOptions(options), weights: styles.map((s) => s.weight), ...runHooks(this.stylizer, control) },
    );
    return { image };
  }

  dispose(): void {
    this.stylizer.nets.dispose();
  }
}

/** The contract's option values as the stylizer's options. */
export function distilledOptions(options: OptionValues): DistilledStylizeOptions {
  const number = (id: string): number | undefined => (typeof options[id] === 'number' ? (options[id] as number) : undefined);
  const levels = options.levels;
  return {
    alpha: number('alpha'),
    levels: Array.isArray(levels) ? (levels as DistilledLevel[]) : undefined,
    preserveColor: options.preserveColor === true,
    styleSize: number('styleSize'),
    tileSize: number('tileSize'),
  };
}

function runHooks(stylizer: DistilledStylizer, control: RunControl | undefined): Pick<DistilledStylizeOptions, 'onLevel' | 'signal'> {
  return {
    signal: control?.signal,
    onLevel: (level, index, count) =>
      control?.onProgress?.({ stage: 'run', message: `${stylizer.kind} level ${level}`, fraction: index / count, step: index, totalSteps: count }),
  };
}
