/**
 * Gatys et al.'s optimisation-based style transfer as a method: the image itself is optimised so its
 * VGG19 features match the content and its Gram matrices the styles. Iterative: progress after every
 * iteration, and the signal stops it with the best image so far.
 */
import type { RgbImage } from '../../../io/image.ts';
import type { ColorPreservation } from '../../image/color.ts';
import type { LayerWeights } from '../../losses/style-losses.ts';
import { Vgg, type VggPooling } from '../../models/vgg.ts';
import type { MethodDefinition, OptionValues, RunControl, StyleInput, Stylizer } from '../contract.ts';
import { fitContent, report, SIZE_OPTION, styleWeights } from '../common-options.ts';
import { DEFAULT_GATYS_WEIGHTS, stylizeGatys, type GatysInit, type GatysLosses, type GatysOptions, type GatysResult } from './gatys.ts';

/** Long side used when no size is given (the content is never enlarged). */
export const GATYS_DEFAULT_SIZE = 512;
/** A scale stops once 25 iterations in a row improve the loss by less than 0.1 % each. */
export const GATYS_PATIENCE = 25;
export const GATYS_TOLERANCE = 1e-3;

const fmt = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : v.toPrecision(4)) : String(v));

export function formatLosses(l: GatysLosses): string {
  return `total ${fmt(l.total)} (content ${fmt(l.content)}, style ${fmt(l.style)}, tv ${fmt(l.tv)})`;
}

const duration = (s: number): string => (s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);

/** "relu1_1,relu2_1" (weight 1 each) or "relu1_1:1,relu2_1:0.5". */
export function parseLayerWeights(text: string): LayerWeights {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, weight] = part.split(':');
    const w = weight === undefined ? 1 : Number(weight);
    if (!name || !Number.isFinite(w) || w < 0) throw new Error(`gatys: bad layer '${part}': give NAME or NAME:WEIGHT, e.g. relu1_1,relu2_1:0.5`);
    out[name] = w;
  }
  return out;
}

const LAYER_PATTERN = /^\s*[a-z]+\d_\d(:[\d.e+-]+)?(\s*,\s*[a-z]+\d_\d(:[\d.e+-]+)?)*\s*$/;

export const gatysMethod: MethodDefinition = {
  id: 'gatys',
  label: 'Gatys',
  summary: 'Gatys et al.: optimise the image itself so its VGG19 features match the content and its Gram matrices match the style',
  styles: 'many',
  iterative: true,
  options: [
    { id: 'iterations', label: 'Iterations', description: 'optimiser iterations (at the coarsest scale; each finer scale runs half as many)', kind: 'integer', min: 1, max: 100_000, default: 300, ui: { control: 'slider', scale: 'log', max: 1000, default: 100 } },
    { id: 'optimizer', label: 'Optimiser', description: 'lbfgs | adam', kind: 'choice', choices: [{ value: 'lbfgs', label: 'L-BFGS' }, { value: 'adam', label: 'Adam' }], default: 'lbfgs', ui: { control: 'select' } },
    { id: 'contentWeight', label: 'Content weight α', description: 'content loss weight α', kind: 'number', min: 0, max: 1e12, default: DEFAULT_GATYS_WEIGHTS.contentWeight },
    { id: 'styleWeight', label: 'Style weight β', description: 'style loss weight β', kind: 'number', min: 0, max: 1e12, default: DEFAULT_GATYS_WEIGHTS.styleWeight, ui: { control: 'slider', scale: 'log', min: 0.01, max: 100 } },
    { id: 'tvWeight', label: 'Smoothness γ', description: 'total variation weight γ', kind: 'number', min: 0, max: 1e12, default: DEFAULT_GATYS_WEIGHTS.tvWeight },
    { id: 'init', label: 'Start from', description: 'content | style | noise', kind: 'choice', choices: [{ value: 'content', label: 'Content' }, { value: 'style', label: 'Style' }, { value: 'noise', label: 'Noise' }], default: 'content', ui: { control: 'select' } },
    { id: 'seed', label: 'Seed', description: 'random seed of the noise start', kind: 'integer', min: 0, max: 2 ** 31 - 1, default: 0 },
    { id: 'scales', label: 'Scales', description: 'coarse-to-fine scales', kind: 'integer', min: 1, max: 8, default: 1 },
    { id: 'styleScale', label: 'Style scale', description: 'style image size relative to the content', kind: 'number', min: 0.05, max: 8, default: 1 },
    { id: 'pooling', label: 'Pooling', description: 'max | avg pooling in VGG', kind: 'choice', choices: [{ value: 'max', label: 'Max' }, { value: 'avg', label: 'Average' }], default: 'max' },
    { id: 'learningRate', label: 'Learning rate', description: 'Adam learning rate (default 5) or L-BFGS first step (default 10)', kind: 'number', min: 1e-12, max: 1e15 },
    { id: 'previewEvery', flag: '--save-every', label: 'Preview every', description: 'an intermediate image every n iterations (the CLI writes out.0050.png)', kind: 'integer', min: 1, max: 100_000 },
    { id: 'contentLayers', label: 'Content layers', description: 'VGG19 content layers, NAME or NAME:WEIGHT (default conv4_2)', kind: 'text', example: 'conv4_2', pattern: LAYER_PATTERN },
    { id: 'styleLayers', label: 'Style layers', description: 'VGG19 style layers, NAME or NAME:WEIGHT (default relu1_1 … relu5_1)', kind: 'text', example: 'relu1_1,relu2_1:0.5', pattern: LAYER_PATTERN },
    {
      id: 'preserveColor',
      label: 'Keep colours',
      description: "keep the content's colours: luminance (optimise brightness only) | histogram (styles recoloured to the content first) | none",
      kind: 'choice',
      choices: [{ value: 'none', label: 'No' }, { value: 'luminance', label: 'Luminance only' }, { value: 'histogram', label: 'Match colours' }],
      default: 'none',
      bare: 'luminance',
      ui: { control: 'select' },
    },
    { ...SIZE_OPTION, description: `resize the content so its long side is this many pixels (default ${GATYS_DEFAULT_SIZE}, never enlarging)`, ui: { control: 'slider', min: 32, max: 1024, step: 32, default: 256 } },
  ],
  async load(env, _options, control) {
    report(control, { stage: 'weights', message: 'loading VGG19' });
    const vgg = Vgg.fromHost(env.runtime, await env.weights.tensors('vgg19', control?.onProgress), { arch: 'vgg19' }, 'vgg19 weights');
    return {
      async stylize(content: RgbImage, styles: readonly StyleInput[], values: OptionValues, run?: RunControl) {
        if (styles.length === 0) throw new Error('gatys needs at least one style image');
        const long = Math.max(content.width, content.height);
        const input = fitContent(content, (values.size as number | undefined) ?? Math.min(GATYS_DEFAULT_SIZE, long));
        const options = gatysLibraryOptions(values, styles, () => run?.signal?.aborted === true);
        report(run, {
          stage: 'run',
          message:
            `${input.width}×${input.height}, ${options.optimizer} for ${String(options.iterations)} iterations` +
            `${(options.scales ?? 1) > 1 ? ` over ${options.scales} scales` : ''}, α=${options.contentWeight} β=${options.styleWeight} γ=${options.tvWeight}`,
        });
        const generator = stylizeGatys(vgg, input, styles.map((s) => s.image), options);
        let result: GatysResult;
        for (;;) {
          const next = await generator.next();
          if (next.done) {
            result = next.value;
            break;
          }
          const p = next.value;
          report(run, {
            stage: 'run',
            step: p.step,
            totalSteps: p.totalSteps,
            fraction: p.step / p.totalSteps,
            losses: { ...p.losses },
            message: `scale ${p.scale + 1}/${p.scales} ${p.width}×${p.height} it ${p.iteration}: ${formatLosses(p.losses)}, ${p.itersPerSecond.toFixed(2)} it/s, ETA ${duration(p.etaSeconds)}`,
            ...(p.preview ? { preview: p.preview } : {}),
          });
        }
        const scales = result.scales.map((s) => `${s.width}×${s.height}: ${s.iterations} it (${s.reason}) ${duration(s.seconds)}`).join('; ');
        const ratio = result.styleRatio !== undefined ? `; style loss ${(result.styleRatio * 100).toPrecision(3)} % of the content image's` : '';
        return {
          image: result.image,
          ...(run?.signal?.aborted ? { stopped: true } : {}),
          summary: `${formatLosses(result.losses)}${ratio}; ${result.iterations} iterations in ${duration(result.seconds)} [${scales}]`,
        };
      },
      dispose: () => vgg.dispose(),
    } satisfies Stylizer;
  },
};

/** The library options for resolved option values (defaults already applied by `resolveOptions`). */
export function gatysLibraryOptions(values: OptionValues, styles: readonly StyleInput[], shouldStop?: () => boolean): GatysOptions {
  const contentLayers = values.contentLayers as string | undefined;
  const styleLayers = values.styleLayers as string | undefined;
  return {
    contentWeight: (values.contentWeight as number | undefined) ?? DEFAULT_GATYS_WEIGHTS.contentWeight,
    styleWeight: (values.styleWeight as number | undefined) ?? DEFAULT_GATYS_WEIGHTS.styleWeight,
    tvWeight: (values.tvWeight as number | undefined) ?? DEFAULT_GATYS_WEIGHTS.tvWeight,
    styleBlend: styleWeights(styles),
    iterations: (values.iterations as number | undefined) ?? 300,
    optimizer: (values.optimizer as 'lbfgs' | 'adam' | undefined) ?? 'lbfgs',
    ...(values.learningRate !== undefined ? { learningRate: values.learningRate as number } : {}),
    ...(contentLayers !== undefined ? { contentLayers: parseLayerWeights(contentLayers) } : {}),
    ...(styleLayers !== undefined ? { styleLayers: parseLayerWeights(styleLayers) } : {}),
    patience: GATYS_PATIENCE,
    tolerance: GATYS_TOLERANCE,
    init: (values.init as GatysInit | undefined) ?? 'content',
    seed: (values.seed as number | undefined) ?? 0,
    preserveColor: ((values.preserveColor as string | undefined) ?? 'none') as ColorPreservation,
    scales: (values.scales as number | undefined) ?? 1,
    styleScale: (values.styleScale as number | undefined) ?? 1,
    pooling: (values.pooling as VggPooling | undefined) ?? 'max',
    previewEvery: (values.previewEvery as number | undefined) ?? 0,
    measureBaseline: true,
    ...(shouldStop ? { shouldStop } : {}),
  };
}
