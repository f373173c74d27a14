/**
 * `pastiche stylize CONTENT --style STYLE --method gatys`: optimisation-based style transfer with a
 * live progress bar (iteration, losses, it/s, ETA), `--save-every N` snapshots (written atomically as
 * out.0050.png), Ctrl-C to stop early and keep the best image so far, and a summary line at the end.
 */
import { dirname, extname, basename, join } from 'node:path';
import { readImageFile, writeImageFile } from '../../io/image-file.ts';
import type { RgbImage } from '../../io/image.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import type { ColorPreservation } from '../../nets/image/color.ts';
import { DEFAULT_GATYS_WEIGHTS, stylizeGatys, type GatysLosses, type GatysOptions, type GatysProgress, type GatysResult } from '../../nets/methods/gatys/gatys.ts';
import { OptimizationDivergedError } from '../../nets/optim/diverged.ts';
import { Vgg } from '../../nets/models/vgg.ts';
import { createProgressBar, isInteractive } from '../progress.ts';
import type { StylizeContext, StylizeOptions } from './context.ts';

/** Long side used when --size is not given (the content is never enlarged). */
export const GATYS_DEFAULT_SIZE = 512;
/** The CLI stops a scale once 25 iterations in a row improve the loss by less than 0.1 % each. */
export const GATYS_CLI_PATIENCE = 25;
export const GATYS_CLI_TOLERANCE = 1e-3;

const fmt = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : v.toPrecision(4)) : String(v));

export function formatLosses(l: GatysLosses): string {
  return `total ${fmt(l.total)} (content ${fmt(l.content)}, style ${fmt(l.style)}, tv ${fmt(l.tv)})`;
}

function parsePreserveColor(value: StylizeOptions['preserveColor'] | boolean): ColorPreservation {
  if (value === undefined || value === false) return 'none';
  if (value === true) return 'luminance';
  if (value === 'luminance' || value === 'histogram' || value === 'none') return value;
  throw new Error(`--preserve-color must be luminance or histogram, got '${value}'`);
}

/** The library options from the parsed command line. */
export function gatysOptionsFrom(ctx: StylizeContext): GatysOptions {
  const o = ctx.options;
  const styleWeight = Number.isFinite(o.styleWeightScale) ? o.styleWeightScale : DEFAULT_GATYS_WEIGHTS.styleWeight;
  return {
    contentWeight: o.contentWeight,
    styleWeight,
    tvWeight: o.tvWeight,
    styleBlend: ctx.styleWeights,
    iterations: o.iterations,
    optimizer: o.optimizer,
    ...(o.learningRate !== undefined ? { learningRate: o.learningRate } : {}),
    patience: GATYS_CLI_PATIENCE,
    tolerance: GATYS_CLI_TOLERANCE,
    init: o.init,
    seed: o.seed,
    preserveColor: parsePreserveColor(o.preserveColor as StylizeOptions['preserveColor'] | boolean),
    scales: o.scales,
    styleScale: o.styleScale,
    pooling: o.pooling,
    previewEvery: o.saveEvery ?? 0,
    measureBaseline: true,
  };
}

/** out.png → out.0050.png */
export function snapshotPath(output: string, step: number): string {
  const ext = extname(output) || '.png';
  return join(dirname(output), `${basename(output, ext)}.${String(step).padStart(4, '0')}${ext}`);
}

const seconds = (s: number): string => (s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);

async function stylizeOne(ctx: StylizeContext, vgg: Vgg, contentPath: string, out: string, styles: RgbImage[], overrides: GatysOptions, shouldStop: () => boolean): Promise<GatysResult> {
  let content = await readImageFile(contentPath);
  const size = ctx.options.size ?? Math.min(GATYS_DEFAULT_SIZE, Math.max(content.width, content.height));
  if (Math.max(content.width, content.height) !== size) content = resizeToLongSide(content, size);
  const options = { ...gatysOptionsFrom(ctx), ...overrides, shouldStop };
  const interactive = isInteractive();
  const bar = interactive ? createProgressBar('gatys {bar} {value}/{total} | scale {scale} | {losses} | {speed} it/s | ETA {remaining}') : null;
  process.stderr.write(
    `${contentPath} → ${out}: ${content.width}×${content.height}, ${options.optimizer} for ${ctx.options.iterations} iterations` +
      `${(options.scales ?? 1) > 1 ? ` over ${options.scales} scales` : ''}, α=${options.contentWeight} β=${options.styleWeight} γ=${options.tvWeight}\n`,
  );
  const run = stylizeGatys(vgg, content, styles, options);
  let lastLine = 0;
  let result: GatysResult;
  try {
    for (;;) {
      const next = await run.next();
      if (next.done) {
        result = next.value;
        break;
      }
      const p: GatysProgress = next.value;
      const payload = {
        scale: `${p.scale + 1}/${p.scales} ${p.width}×${p.height}`,
        losses: formatLosses(p.losses),
        speed: p.itersPerSecond.toFixed(2),
        remaining: seconds(p.etaSeconds),
      };
      if (bar) {
        if (p.step === 1) bar.start(p.totalSteps, 0, payload);
        bar.update(p.step, payload);
      } else if (p.step === 1 || p.iteration === p.maxIterations || performance.now() - lastLine > 10_000) {
        // Not a terminal (a log file, CI): a plain line at most every 10 s.
        lastLine = performance.now();
        process.stderr.write(`  [${p.step}/${p.totalSteps}] scale ${payload.scale} it ${p.iteration}: ${payload.losses}, ${payload.speed} it/s, ETA ${payload.remaining}\n`);
      }
      if (p.preview) await writeImageFile(snapshotPath(out, p.step), p.preview);
    }
  } catch (err) {
    if (!(err instanceof OptimizationDivergedError)) throw err;
    throw await divergedFailure(err as OptimizationDivergedError<RgbImage>, out, ctx.options.learningRate);
  } finally {
    bar?.stop();
  }
  await writeImageFile(out, result.image);
  const scales = result.scales.map((s) => `${s.width}×${s.height}: ${s.iterations} it (${s.reason}) ${seconds(s.seconds)}`).join('; ');
  const ratio = result.styleRatio !== undefined ? `; style loss ${(result.styleRatio * 100).toPrecision(3)} % of the content image's` : '';
  process.stderr.write(`${out}: ${formatLosses(result.losses)}${ratio}; ${result.iterations} iterations in ${seconds(result.seconds)} [${scales}]\n`);
  return result;
}

/** The run's failure when the loss diverged: the best image before it is written to `out` when one improved on the start. */
export async function divergedFailure(err: OptimizationDivergedError<RgbImage>, out: string, learningRate: number | undefined): Promise<Error> {
  const kept = err.best ? `; the best image before it is written to ${out}` : '; no image improved on the start, nothing is written';
  if (err.best) await writeImageFile(out, err.best);
  const now = learningRate !== undefined ? ` (now ${learningRate >= 1e6 ? learningRate.toExponential() : learningRate})` : '';
  return new Error(`${err.message.replace(/^gatys: /, '').replace('lower the learning rate', `lower --learning-rate${now}`)}${kept}`);
}

/** `--method gatys`. `overrides` (for scripts and tests) replace library options the CLI does not expose, such as the layers. */
export async function runGatysMethod(ctx: StylizeContext, overrides: GatysOptions = {}): Promise<void> {
  if (ctx.styles.length === 0) throw new Error('--method gatys needs at least one --style image');
  const styles = await Promise.all(ctx.styles.map((path) => readImageFile(path)));
  const vgg = await Vgg.loadPretrained(ctx.runtime, ctx.store);
  try {
    await ctx.batch.forEach((content, out) => stylizeOne(ctx, vgg, content, out, styles, overrides, () => ctx.batch.stopRequested).then(() => undefined));
  } finally {
    vgg.dispose();
  }
}
