/**
 * `pastiche stylize CONTENT... --method gatys|transformer|adain|magenta`: one command for every method;
 * each method's runner lives in src/cli/stylize/<method>.ts and reads the options it understands.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import { runAdainMethod } from '../stylize/adain.ts';
import type { StylizeContext, StylizeOptions } from '../stylize/context.ts';
import { runFeedForwardMethod } from '../stylize/feed-forward.ts';
import { choice, parseInteger, parseNumber } from '../options.ts';
import { runGatysMethod } from '../stylize/gatys.ts';
import { runMagentaMethod } from '../stylize/magenta.ts';

type MethodRunner = (ctx: StylizeContext) => Promise<void>;

/** Methods by name; aliases share a runner. Methods add themselves here. */
export const STYLIZE_METHODS: Record<string, MethodRunner> = {
  transformer: runFeedForwardMethod,
  'feed-forward': runFeedForwardMethod,
  gatys: runGatysMethod,
  magenta: runMagentaMethod,
  adain: runAdainMethod,
};

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function parseWeights(value: string): number[] {
  const weights = value.split(',').map((v) => Number(v.trim()));
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new InvalidArgumentError(`--style-weight takes non-negative numbers separated by commas, got '${value}'`);
  return weights;
}

interface RawOptions extends Omit<StylizeOptions, 'styleWeightScale'> {
  style?: string[];
  styleWeight?: number[];
  styleLoss?: number;
  output: string;
  mirror?: string;
  cache?: string;
}

/**
 * `--style-weight` is overloaded by the interface: with several styles it lists blend weights
 * ("0.7,0.3"); with one style and the Gatys method it is the style-loss weight β.
 */
function splitStyleWeight(raw: RawOptions): { blend: number[]; scale: number | undefined } {
  const styles = raw.style ?? [];
  const given = raw.styleWeight;
  if (!given) return { blend: styles.map(() => 1 / Math.max(styles.length, 1)), scale: raw.styleLoss };
  if (given.length === styles.length && styles.length > 1) {
    const total = given.reduce((a, b) => a + b, 0);
    if (total <= 0) throw new Error('--style-weight: the blend weights must not all be zero');
    return { blend: given.map((w) => w / total), scale: raw.styleLoss };
  }
  if (given.length === 1) return { blend: styles.map(() => 1 / Math.max(styles.length, 1)), scale: given[0] };
  throw new Error(`--style-weight has ${given.length} values for ${styles.length} --style images`);
}

export function registerStylizeCommand(program: Command): void {
  program
    .command('stylize')
    .description('stylize images with one of the methods')
    .argument('<content...>', 'content image(s), PNG or JPEG')
    .option('-s, --style <image>', 'style image (repeat for several styles)', collect)
    .option('--style-weight <w>', 'blend weights for several styles ("0.7,0.3"), or the style-loss weight for one style (gatys)', parseWeights)
    .option('-m, --method <name>', `gatys | transformer | adain | magenta`, 'transformer')
    .option('--model <name|path>', 'feed-forward model: candy, mosaic, pointilism, rain_princess, udnie, mathura, matilde_perez, matta, or a .safetensors/.pth file')
    .option('--size <px>', 'resize the content so its long side is this many pixels', parseInteger('--size', 16))
    .option('-o, --output <path>', 'output PNG (or a folder for several content images)', 'out.png')
    .option('--iterations <n>', 'gatys: optimiser iterations', parseInteger('--iterations', 1), 300)
    .option('--optimizer <name>', 'gatys: lbfgs | adam', choice('--optimizer', ['lbfgs', 'adam'] as const), 'lbfgs')
    .option('--content-weight <a>', 'gatys: content loss weight α', parseNumber('--content-weight', 0), 1)
    .option('--style-loss <b>', 'gatys: style loss weight β (same as --style-weight with one style)', parseNumber('--style-loss', 0))
    .option('--tv-weight <g>', 'gatys: total variation weight γ', parseNumber('--tv-weight', 0), 1e-3)
    .option('--init <from>', 'gatys: content | style | noise', choice('--init', ['content', 'style', 'noise'] as const), 'content')
    .option('--seed <n>', 'random seed (noise init, training)', parseInteger('--seed'), 0)
    .option('--preserve-color [how]', 'keep the content colours: luminance | histogram (adain: statistics matching)')
    .option('--scales <n>', 'gatys: coarse-to-fine scales', parseInteger('--scales', 1), 1)
    .option('--style-scale <f>', 'gatys: style image size relative to the content', parseNumber('--style-scale', 0.05, 8), 1)
    .option('--save-every <n>', 'gatys: write intermediate images every n iterations', parseInteger('--save-every', 1))
    .option('--pooling <kind>', 'gatys: max | avg pooling in VGG', choice('--pooling', ['max', 'avg'] as const), 'max')
    .option('--learning-rate <lr>', 'gatys: Adam learning rate or L-BFGS first step', parseNumber('--learning-rate', 0))
    .option('--alpha <a>', 'adain: content–style trade-off 0..1', parseNumber('--alpha', 0, 1), 1)
    .option('--strength <s>', 'magenta: style strength 0..1', parseNumber('--strength', 0, 1), 1)
    .option('--mask <png>', 'adain: spatial control mask (white = first style, black = second)')
    .option('--decoder <path>', 'adain: decoder weights (.safetensors or PyTorch decoder.pth)')
    .option('--tile <px>', 'feed-forward: process in overlapping tiles of this size', parseInteger('--tile', 64))
    .option('--mirror <dir>', 'weights mirror folder (default $PASTICHE_WEIGHTS_MIRROR)')
    .option('--cache <dir>', 'weights cache folder (default $PASTICHE_CACHE_DIR or weights/cache)')
    .action(async (contents: string[], raw: RawOptions) => {
      const runner = STYLIZE_METHODS[raw.method];
      if (!runner) throw new Error(`unknown method '${raw.method}'; available: ${Object.keys(STYLIZE_METHODS).join(', ')}`);
      const { blend, scale } = splitStyleWeight(raw);
      const { style, styleWeight, styleLoss, output, mirror, cache, ...rest } = raw;
      void styleWeight;
      void styleLoss;
      const options: StylizeOptions = { ...rest, styleWeightScale: scale ?? NaN };
      const runtime = await initRuntime();
      try {
        await runner({
          runtime,
          contents,
          styles: style ?? [],
          styleWeights: blend,
          output,
          options,
          store: { ...(mirror !== undefined ? { mirrorDir: mirror } : {}), ...(cache !== undefined ? { cacheDir: cache } : {}) },
        });
      } finally {
        runtime.destroy();
      }
    });
}
