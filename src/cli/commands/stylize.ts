/**
 * `pastiche stylize CONTENT... --method gatys|transformer|adain|magenta`: one command for every method;
 * each method's runner lives in src/cli/stylize/<method>.ts and reads the options it understands.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import { runAdainMethod } from '../stylize/adain.ts';
import { batchSummary, StylizeBatch, stylizeExitCode } from '../stylize/batch.ts';
import type { StylizeContext, StylizeOptions } from '../stylize/context.ts';
import { runFeedForwardMethod } from '../stylize/feed-forward.ts';
import { checkContentImages, checkModelFile, checkSharedImages } from '../stylize/inputs.ts';
import { canonicalMethod, checkOptionsForMethod, METHOD_OPTIONS, type MethodName } from '../stylize/option-methods.ts';
import { checkOutputFolder, planOutputs } from '../stylize/output-plan.ts';
import { choice, parseInteger, parseNumber } from '../options.ts';
import { runGatysMethod } from '../stylize/gatys.ts';
import { runMagentaMethod } from '../stylize/magenta.ts';

type MethodRunner = (ctx: StylizeContext) => Promise<void>;

/** Methods by name; aliases (option-methods.ts) share a runner. Methods add themselves here. */
export const STYLIZE_METHODS: Record<MethodName, MethodRunner> = {
  transformer: runFeedForwardMethod,
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
 * `--style-weight` has two meanings: with several styles it lists one blend weight per style ("0.7,0.3");
 * with one style and the Gatys method it is the style-loss weight β. Anything else is ambiguous and refused.
 */
export function splitStyleWeight(raw: RawOptions, method: MethodName): { blend: number[]; scale: number | undefined } {
  const styles = raw.style ?? [];
  const given = raw.styleWeight;
  const uniform = styles.map(() => 1 / Math.max(styles.length, 1));
  if (!given) return { blend: uniform, scale: raw.styleLoss };
  if (styles.length > 1) {
    if (given.length !== styles.length) {
      throw new Error(
        `--style-weight has ${given.length} value(s) for ${styles.length} --style images: blend weights need one value per style ` +
          `(for example --style-weight ${styles.map((_, i) => (i === 0 ? '0.7' : (0.3 / (styles.length - 1)).toFixed(2))).join(',')})` +
          `${method === 'gatys' ? '; for the style-loss weight use --style-loss' : ''}`,
      );
    }
    const total = given.reduce((a, b) => a + b, 0);
    if (total <= 0) throw new Error('--style-weight: the blend weights must not all be zero');
    return { blend: given.map((w) => w / total), scale: raw.styleLoss };
  }
  if (method !== 'gatys') throw new Error(`--style-weight blends several styles for --method ${method}; with one --style there is nothing to blend, so leave it out`);
  if (given.length !== 1) throw new Error(`--style-weight with one --style is the style-loss weight β and takes one value, got ${given.length}`);
  return { blend: uniform, scale: given[0] };
}

/** The values each method accepts after --preserve-color (a bare --preserve-color is always fine). */
const PRESERVE_COLOR_VALUES: Partial<Record<MethodName, readonly string[]>> = { gatys: ['luminance', 'histogram', 'none'], adain: ['histogram', 'statistics', 'luminance'] };

/** Per-method value checks that would otherwise surface only once the models are loaded. */
function checkMethodValues(method: MethodName, raw: RawOptions, styleCount: number): void {
  const color = raw.preserveColor as unknown;
  const colors = PRESERVE_COLOR_VALUES[method];
  if (typeof color === 'string' && colors && !colors.includes(color)) throw new Error(`--preserve-color for --method ${method} takes ${colors.join(' | ')} (or no value), got '${color}'`);
  if (raw.mask && styleCount > 2) throw new Error('--mask blends two styles: give one or two --style images (white = first style, black = second style, or the content with one)');
}

/** The message for the first Ctrl-C: what will still be written. */
function interruptMessage(method: MethodName): string {
  const what = method === 'gatys' ? 'after this iteration (the best image so far is written)' : 'after the current image (it is written)';
  return `\nstopping ${what}; press Ctrl-C again to quit at once\n`;
}

export function registerStylizeCommand(program: Command): void {
  program
    .command('stylize')
    .description('stylize images with one of the methods; exit code 1 if any image failed, 130 after Ctrl-C')
    .argument('<content...>', 'content image(s), PNG or JPEG')
    .option('-s, --style <image>', 'style image (repeat for several styles)', collect)
    .option('--style-weight <w>', 'blend weights, one per style ("0.7,0.3"), or with one style the gatys style-loss weight', parseWeights)
    .option('-m, --method <name>', `gatys | transformer | adain | magenta`, 'transformer')
    .option('--model <name|path>', 'feed-forward model: candy, mosaic, pointilism, rain_princess, udnie, mathura, matilde_perez, matta, a .safetensors/.pth file, or an ml5 checkpoint folder (manifest.json + variable files)')
    .option('--size <px>', 'resize the content so its long side is this many pixels', parseInteger('--size', 16))
    .option('-o, --output <path>', 'output image, .png or .jpg/.jpeg; for several content images a folder of <name>.png (a repeated name becomes <name>-2.png)', 'out.png')
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
    .option('--mask <png>', 'adain: spatial control mask (white = first style, black = second style, or the content with one style)')
    .option('--decoder <path>', 'adain: decoder weights (.safetensors or PyTorch decoder.pth)')
    .option('--tile <px>', 'feed-forward: process in overlapping tiles of this size', parseInteger('--tile', 64))
    .option('--mirror <dir>', 'weights mirror folder (default $PASTICHE_WEIGHTS_MIRROR)')
    .option('--cache <dir>', 'weights cache folder (default $PASTICHE_CACHE_DIR or weights/cache)')
    .action(async (contents: string[], raw: RawOptions, command: Command) => {
      // Everything is checked before the GPU starts: a mistake should cost seconds, not a long run.
      const method = canonicalMethod(raw.method);
      if (!method) throw new Error(`unknown method '${raw.method}'; available: ${Object.keys(STYLIZE_METHODS).join(', ')} (feed-forward is transformer)`);
      checkOptionsForMethod(method, Object.keys(METHOD_OPTIONS).filter((name) => command.getOptionValueSource(name) === 'cli'));
      const { blend, scale } = splitStyleWeight(raw, method);
      const { style, styleWeight, styleLoss, output, mirror, cache, ...rest } = raw;
      void styleWeight;
      void styleLoss;
      const styles = style ?? [];
      if (method === 'transformer' && !raw.model) throw new Error('--method transformer needs --model NAME (candy, mosaic, pointilism, rain_princess, udnie, mathura, matilde_perez, matta) or --model PATH.safetensors');
      if (method !== 'transformer' && styles.length === 0) throw new Error(`--method ${method} needs at least one --style image`);
      checkMethodValues(method, raw, styles.length);
      if (raw.model !== undefined) await checkModelFile('--model', raw.model);
      if (raw.decoder !== undefined) await checkModelFile('--decoder', raw.decoder);
      await checkSharedImages([...styles.map((path) => ({ path, role: '--style' })), ...(raw.mask ? [{ path: raw.mask, role: '--mask' }] : [])]);
      const checked = await checkContentImages(contents);
      if (checked.valid.length === 0) {
        throw new Error(`no content image can be read: ${checked.failed.map((f) => f.reason).join('; ')}`);
      }
      for (const failure of checked.failed) process.stderr.write(`skipping ${failure.content}: ${failure.reason}\n`);
      const plan = planOutputs(checked.valid, output, [...contents, ...styles, ...(raw.mask ? [raw.mask] : [])], contents.length);
      if (plan.renamed.length > 0) {
        process.stderr.write(`several results share a name; renamed: ${plan.renamed.map((r) => `${r.content} → ${r.output}`).join(', ')}\n`);
      }
      await checkOutputFolder(plan.folder);

      const batch = new StylizeBatch(plan.items, checked.failed);
      const options: StylizeOptions = { ...rest, method, styleWeightScale: scale ?? NaN };
      const onInterrupt = () => {
        if (batch.stopRequested) process.exit(130);
        batch.requestStop();
        process.stderr.write(interruptMessage(method));
      };
      process.on('SIGINT', onInterrupt);
      try {
        const runtime = await initRuntime();
        try {
          await STYLIZE_METHODS[method]({
            runtime,
            contents: checked.valid,
            styles,
            styleWeights: blend,
            output,
            batch,
            options,
            store: { ...(mirror !== undefined ? { mirrorDir: mirror } : {}), ...(cache !== undefined ? { cacheDir: cache } : {}) },
          });
        } finally {
          runtime.destroy();
        }
      } finally {
        process.off('SIGINT', onInterrupt);
      }
      const outcome = batch.outcome();
      const summary = batchSummary(outcome);
      if (summary) process.stderr.write(`${summary}\n`);
      process.exitCode = stylizeExitCode(outcome);
    });
}
