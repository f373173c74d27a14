/**
 * Optimisation-based style transfer (Gatys, Ecker & Bethge 2016): the image itself is optimised, on
 * the GPU, to minimise α·content + β·style + γ·tv through a frozen VGG19 (see style-losses.ts for the
 * terms and their normalisation). L-BFGS by default (every vector of the two-loop recursion stays on
 * the GPU), or Adam; stops on max iterations or a plateau and keeps the best image seen. A NaN or
 * infinite loss (steps far too large) throws OptimizationDivergedError instead of returning a result.
 *
 * High resolution is coarse to fine: with `scales: N` the problem is solved at size/2^(N−1) first,
 * and each result, upsampled, starts the next scale, so the large image needs few iterations.
 *
 * Targets (content features, blended style Grams) are computed once per scale, outside the loop, and
 * stay on the GPU. Each evaluation packs its loss terms into one small tensor; progress reads it back
 * once per iteration (that and the optimiser's own readback are all the traffic per iteration).
 */
import { unary } from '../../../gpu/kernels/elementwise.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import { assertRgbImage, type RgbImage } from '../../../io/image.ts';
import { resizeImage, sizeForLongSide } from '../../../io/resize.ts';
import { combineLuminance, luminanceImage, matchColorHistogram } from '../../image/color.ts';
import { OptimizationDivergedError } from '../../optim/diverged.ts';
import { minimize } from '../../optim/minimize.ts';
import type { StopReason } from '../../optim/objective.ts';
import { SeededRandom } from '../../random.ts';
import type { Vgg } from '../../models/vgg.ts';
import { GatysLoss, toTensor, unpack } from './loss.ts';
import { resolveOptions, type GatysLosses, type GatysOptions, type GatysProgress, type GatysResult, type GatysScaleResult } from './options.ts';

export * from './options.ts';
export { GatysLoss } from './loss.ts';

/** The smallest image side the layers can take: each block after the first halves the size. */
export function minimumSide(layers: readonly string[]): number {
  const blocks = layers.map((l) => Number(/(\d+)_\d+$/.exec(l)?.[1] ?? 1));
  return 2 ** (Math.max(1, ...blocks) - 1);
}

/**
 * Sizes of the scales, coarse to fine: the content size divided by 2^(N−1−s), enlarged where needed
 * so that the short side is at least `minSide` (never beyond the content's size).
 */
export function scaleSizes(width: number, height: number, scales: number, minSide = 16): { width: number; height: number }[] {
  const sizes: { width: number; height: number }[] = [];
  for (let s = 0; s < scales; s++) {
    const f = Math.min(2 ** (scales - 1 - s), Math.max(1, Math.min(width, height) / minSide));
    sizes.push({ width: Math.max(1, Math.round(width / f)), height: Math.max(1, Math.round(height / f)) });
  }
  return sizes;
}

/** Seeded Gaussian noise around the image's mean colour (σ = 48 on the 0..255 scale). */
export function noiseImage(width: number, height: number, seed: number, meanColor: readonly number[] = [127.5, 127.5, 127.5]): RgbImage {
  const random = new SeededRandom(seed);
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = meanColor[i % 3]! + 48 * random.normal();
  return { width, height, data };
}

function meanColor(image: RgbImage): number[] {
  const m = [0, 0, 0];
  for (let i = 0; i < image.data.length; i++) m[i % 3]! += image.data[i]!;
  const n = image.width * image.height;
  return m.map((v) => v / n);
}


async function toImage(x: Tensor): Promise<RgbImage> {
  const [, height, width] = x.shape as [number, number, number, number];
  return { width: width, height: height, data: await x.data() };
}

/**
 * The style image resized so its long side is styleScale × the content's long side, and its short
 * side at least `minSide` (what the deepest layer needs).
 */
function scaleStyle(style: RgbImage, width: number, height: number, styleScale: number, minSide: number): RgbImage {
  let size = sizeForLongSide(style.width, style.height, Math.max(1, Math.round(styleScale * Math.max(width, height))));
  const short = Math.min(size.width, size.height);
  if (short < minSide) {
    const f = minSide / short;
    size = { width: Math.max(minSide, Math.round(size.width * f)), height: Math.max(minSide, Math.round(size.height * f)) };
  }
  return resizeImage(style, size.width, size.height);
}

/**
 * Stylises `content` (RGB 0..255, at the output size) with one or more `styles`, yielding progress
 * after every iteration and returning the best image. The VGG should be the pretrained VGG19
 * (`loadPretrainedVgg`).
 */
export async function* stylizeGatys(vgg: Vgg, content: RgbImage, styles: readonly RgbImage[], options: GatysOptions = {}): AsyncGenerator<GatysProgress, GatysResult> {
  assertRgbImage(content, 'gatys content');
  if (styles.length === 0) throw new Error('gatys: at least one style image is needed');
  styles.forEach((s, i) => assertRgbImage(s, `gatys style ${i + 1}`));
  const o = resolveOptions(vgg, styles.length, options);
  const started = performance.now();

  // Colour preservation: what is optimised, and how the result is turned back into colour.
  let workContent = content;
  let workStyles: RgbImage[] = [...styles];
  if (o.preserveColor === 'histogram') workStyles = styles.map((s) => matchColorHistogram(s, content));
  else if (o.preserveColor === 'luminance') {
    workContent = luminanceImage(content);
    workStyles = styles.map((s) => luminanceImage(s, content));
  }
  const finish = (image: RgbImage): RgbImage => {
    if (o.preserveColor !== 'luminance') return image;
    const c = image.width === content.width && image.height === content.height ? content : resizeImage(content, image.width, image.height);
    return combineLuminance(image, c);
  };

  const minSide = minimumSide([...o.contentLayers, ...o.styleLayers].map(([l]) => l));
  if (Math.min(content.width, content.height) < minSide) {
    throw new Error(`gatys: the content is ${content.width}×${content.height}; the layers down to block ${Math.log2(minSide) + 1} need at least ${minSide} px on the short side`);
  }
  const sizes = scaleSizes(content.width, content.height, o.iterations.length, minSide);
  const totalSteps = o.iterations.reduce((a, b) => a + b, 0);
  const scaleResults: GatysScaleResult[] = [];
  let current: RgbImage | null = null;
  let step = 0;
  let finalLosses: GatysLosses = { total: NaN, content: NaN, style: NaN, tv: NaN };
  let baselineStyle: number | undefined;
  let stopped = false;
  /** Whether a finished scale improved on its start (a later divergence still has that image to keep). */
  let improvedOnStart = false;

  const previousPooling = vgg.pooling;
  if (options.pooling) vgg.pooling = options.pooling;
  try {
    for (let s = 0; s < sizes.length; s++) {
      const { width, height } = sizes[s]!;
      const scaleStarted = performance.now();
      const scaleContent = width === workContent.width && height === workContent.height ? workContent : resizeImage(workContent, width, height);
      const scaleStyles = workStyles.map((im) => scaleStyle(im, width, height, o.styleScale, minSide));
      let start: RgbImage;
      if (current) start = resizeImage(current, width, height);
      else if (o.init === 'content') start = scaleContent;
      else if (o.init === 'style') start = resizeImage(workStyles[0]!, width, height);
      else if (o.init === 'noise') start = noiseImage(width, height, o.seed, meanColor(scaleContent));
      else start = resizeImage(o.preserveColor === 'luminance' ? luminanceImage(o.init) : o.init, width, height);

      const problem = await GatysLoss.withResolved(vgg, scaleContent, scaleStyles, o);
      const x0 = toTensor(vgg, start);
      let best: Tensor | null = null;
      try {
        const maxIterations = o.iterations[s]!;
        let bestLosses: GatysLosses | null = null;
        let losses: GatysLosses = { total: NaN, content: NaN, style: NaN, tv: NaN };
        let reason: StopReason = 'max-iterations';
        let iterations = 0;
        if (maxIterations > 0 && !stopped) {
          const loopStarted = performance.now();
          const run = minimize(x0, problem.objective, {
            optimizer: o.optimizer,
            maxIterations,
            patience: o.patience,
            tolerance: o.tolerance,
            ...(o.optimizer === 'lbfgs' ? { firstStepSize: o.learningRate } : { learningRate: o.learningRate }),
            shouldStop: () => (stopped ||= options.shouldStop?.() ?? false),
          });
          let finished = false;
          let divergence: { iteration: number; loss: number } | undefined;
          try {
            for (;;) {
              const next = await run.next();
              if (next.done) {
                finished = true;
                best = next.value.best;
                reason = next.value.reason;
                iterations = next.value.iterations;
                divergence = next.value.divergence;
                if (next.value.bestLoss < next.value.startLoss) improvedOnStart = true;
                break;
              }
              const p = next.value;
              step++;
              // The terms came back with the loss, in the optimiser's one readback per evaluation.
              losses = p.report ? unpack(p.report) : { ...losses, total: p.loss };
              if (Number.isFinite(p.loss) && (!bestLosses || p.loss < bestLosses.total)) bestLosses = losses;
              const seconds = (performance.now() - loopStarted) / 1000;
              const secondsPerIteration = seconds / p.iteration;
              let remaining = maxIterations - p.iteration;
              for (let f = s + 1; f < sizes.length; f++) remaining += (o.iterations[f]! * sizes[f]!.width * sizes[f]!.height) / (width * height);
              const wantPreview = (o.previewEvery > 0 && p.iteration % o.previewEvery === 0) || (options.previewLast === true && p.iteration === maxIterations);
              yield {
                scale: s,
                scales: sizes.length,
                width,
                height,
                iteration: p.iteration,
                maxIterations,
                step,
                totalSteps,
                evaluations: p.evaluations,
                losses,
                itersPerSecond: p.iteration / Math.max(seconds, 1e-9),
                etaSeconds: remaining * secondsPerIteration,
                ...(wantPreview ? { preview: finish(await toImage(p.x)) } : {}),
              };
            }
          } finally {
            // Closed early by our consumer: let minimize free its optimiser state.
            if (!finished) await run.return(undefined as never);
          }
          if (divergence) {
            // A finer scale starts from the coarser one's result: keep it if any scale improved.
            const kept = improvedOnStart ? finish(await toImage(best!)) : null;
            const where = sizes.length > 1 ? ` (scale ${s + 1}/${sizes.length}, ${width}×${height})` : '';
            throw new OptimizationDivergedError(
              `gatys: the loss became ${divergence.loss} at iteration ${divergence.iteration}${where}: the steps are far too large; lower the learning rate`,
              divergence.iteration,
              divergence.loss,
              kept,
            );
          }
          // Iterations skipped by an early stop still count as done for the overall progress.
          step += maxIterations - iterations;
        } else {
          best = unary('copy', x0);
        }
        current = await toImage(best!);
        if (!bestLosses) bestLosses = await problem.evaluateImage(current);
        finalLosses = bestLosses;
        scaleResults.push({ width, height, iterations, reason, losses: bestLosses, seconds: (performance.now() - scaleStarted) / 1000 });
        if (options.measureBaseline && s === sizes.length - 1) {
          const c = toTensor(vgg, scaleContent);
          baselineStyle = (await problem.evaluate(c)).style;
          c.dispose();
        }
      } finally {
        best?.dispose();
        x0.dispose();
        problem.dispose();
      }
    }
  } finally {
    vgg.pooling = previousPooling;
  }
  return {
    image: finish(current!),
    losses: finalLosses,
    scales: scaleResults,
    iterations: scaleResults.reduce((a, r) => a + r.iterations, 0),
    seconds: (performance.now() - started) / 1000,
    ...(baselineStyle !== undefined ? { baselineStyle, styleRatio: finalLosses.style / baselineStyle } : {}),
  };
}

/** Runs `stylizeGatys` to the end, calling `onProgress` for each report; returns the result. */
export async function runGatys(vgg: Vgg, content: RgbImage, styles: readonly RgbImage[], options: GatysOptions = {}, onProgress?: (p: GatysProgress) => void | Promise<void>): Promise<GatysResult> {
  const run = stylizeGatys(vgg, content, styles, options);
  for (;;) {
    const next = await run.next();
    if (next.done) return next.value;
    await onProgress?.(next.value);
  }
}
