/**
 * `wct`: Universal Style Transfer (Li et al. 2017) on the Collaborative-Distillation nets, as a
 * MethodDefinition for the CLI, the page and the library. Any style image, no training, levels 5→1.
 */
import type { MethodDefinition } from '../contract.ts';
import { checkPrecision, MASK_OPTION, MASK_STYLES, PRECISION_OPTION, PRESERVE_COLOR_STATISTICS, SIZE_OPTION, type Precision } from '../common-options.ts';
import { DistilledMethodStylizer, loadDistilledNets, TILE_OPTION } from './distilled-method.ts';

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
    PRESERVE_COLOR_STATISTICS,
    MASK_OPTION,
    {
      id: 'styleSize',
      kind: 'integer',
      label: 'Style size',
      description: "resize each style image so its longer side is this many pixels (the brush strokes' scale)",
      min: 16,
      max: 8192,
    },
    SIZE_OPTION,
    TILE_OPTION,
    // CLI and API only, as for adain.
    { ...PRECISION_OPTION, ui: undefined },
  ],
  checkInputs(styleCount, options) {
    if (options.mask !== undefined && styleCount > 2) throw new Error(MASK_STYLES);
  },
  async load(env, options, control) {
    const precision = String(options.precision ?? 'f32') as Precision;
    checkPrecision(env.runtime, precision);
    return new DistilledMethodStylizer(await loadDistilledNets(env, control, precision === 'f16'), 'wct');
  },
};
