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
import { add, affine } from '../../../autograd/ops/elementwise.ts';
import { valueAndGradOf } from '../../../autograd/grad.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { fill, unary } from '../../../gpu/kernels/elementwise.ts';
import { packScalars } from '../../../gpu/kernels/optim.ts';
import { keep, scope, trackInScope } from '../../../gpu/scope.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import { assertRgbImage, type RgbImage } from '../../../io/image.ts';
import { resizeImage, sizeForLongSide } from '../../../io/resize.ts';
import { combineLuminance, luminanceImage, matchColorHistogram, type ColorPreservation } from '../../image/color.ts';
import { OptimizationDivergedError } from '../../optim/diverged.ts';
import { minimize } from '../../optim/minimize.ts';
import type { Objective, StopReason } from '../../optim/objective.ts';
import { SeededRandom } from '../../random.ts';
import {
  checkLayerWeights,
  contentLayerLoss,
  contentTargets,
  meanSquares,
  DEFAULT_CONTENT_LAYERS,
  DEFAULT_STYLE_LAYERS,
  styleLayerLoss,
  styleTargets,
  totalVariationLoss,
  weightedSum,
  type LayerWeights,
} from '../../losses/style-losses.ts';
import { vggTapNames, type Vgg, type VggPooling } from '../../models/vgg.ts';

export type GatysInit = 'content' | 'style' | 'noise';

export interface GatysOptions {
  /** α (default 1). */
  contentWeight?: number;
  /** β (default DEFAULT_GATYS_WEIGHTS.styleWeight). */
  styleWeight?: number;
  /** γ (default DEFAULT_GATYS_WEIGHTS.tvWeight). */
  tvWeight?: number;
  /** Content layers and their weights (default { conv4_2: 1 }). */
  contentLayers?: LayerWeights;
  /** Style layers and their weights (default relu1_1 … relu5_1, see DEFAULT_STYLE_LAYERS). */
  styleLayers?: LayerWeights;
  /** Blend weights of the style images (default equal); normalised to sum to 1. */
  styleBlend?: readonly number[];
  /**
   * Iterations per scale, coarse to fine. A number N gives N at the coarsest scale and half the
   * previous at each finer one (at least 1): the finer scales cost 4× more per iteration and only
   * refine a result that is already styled. Default 300.
   */
  iterations?: number | readonly number[];
  optimizer?: 'lbfgs' | 'adam';
  /**
   * Adam's learning rate (pixels are 0..255; default 5), or the length of L-BFGS's first step as the
   * mean change per pixel value (default 10; the line search shortens it as needed).
   */
  learningRate?: number;
  /** Stop a scale after this many iterations without a relative improvement of `tolerance` (0: never). */
  patience?: number;
  tolerance?: number;
  /** Starting image: the content, the style (resized to the content's size), seeded noise, or an image (resumes). */
  init?: GatysInit | RgbImage;
  /** Seed of the noise initialisation. */
  seed?: number;
  preserveColor?: ColorPreservation;
  /** Coarse-to-fine scales (default 1). */
  scales?: number;
  /** Style image size relative to the content: its long side is styleScale × the content's long side. */
  styleScale?: number;
  /** VGG pooling during the run (restored afterwards); Gatys et al. prefer 'avg'. Default: the net's. */
  pooling?: VggPooling;
  /** Attach a preview image to every n-th iteration's progress (0: never, the default). */
  previewEvery?: number;
  /** Also attach a preview to the last iteration of each scale. */
  previewLast?: boolean;
  /** Checked between iterations; true stops (the best image so far is the result). */
  shouldStop?: () => boolean;
  /**
   * Compute the style loss of the content image itself against the final targets (one extra forward
   * pass), as the baseline for `styleRatio` in the result.
   */
  measureBaseline?: boolean;
}

/**
 * Default α, β, γ, chosen by eye on the sample images at 256 px (chelsea + Starry Night, astronaut + The
 * Scream, coffee + The Great Wave; 3 scales): with the relative-error terms of style-losses.ts, β = 1
 * keeps the subject recognisable while the strokes and palette are the painting's (the result's style
 * loss is ~2–10 % of the photo's); β = 3 already dissolves the cup into waves and the astronaut into
 * the Scream's sky. γ = 1e-3 removes the pixel-level grain the style layers leave without blurring
 * the strokes (the TV term is ~10–20 % of the total at the end).
 */
export const DEFAULT_GATYS_WEIGHTS = { contentWeight: 1, styleWeight: 1, tvWeight: 1e-3 } as const;

/** The loss terms, each already multiplied by its weight: total = content + style + tv. */
export interface GatysLosses {
  total: number;
  content: number;
  style: number;
  tv: number;
}

export interface GatysProgress {
  /** 0-based scale, coarse to fine, and the number of scales. */
  scale: number;
  scales: number;
  width: number;
  height: number;
  /** 1-based iteration within this scale, and this scale's maximum. */
  iteration: number;
  maxIterations: number;
  /** Iterations over all scales so far, and the planned total. */
  step: number;
  totalSteps: number;
  /** Objective evaluations in this scale (L-BFGS line searches may take more than one per iteration). */
  evaluations: number;
  losses: GatysLosses;
  /** Iterations per second in this scale so far. */
  itersPerSecond: number;
  /**
   * Estimated seconds to the end of the last scale: this scale's remaining iterations at its speed,
   * plus the finer scales' iterations at that speed scaled by their pixel counts (early stops make
   * it an overestimate).
   */
  etaSeconds: number;
  /** The current image (colour-recombined when preserving luminance), when a preview was due. */
  preview?: RgbImage;
}

export interface GatysScaleResult {
  width: number;
  height: number;
  iterations: number;
  reason: StopReason;
  losses: GatysLosses;
  seconds: number;
}

export interface GatysResult {
  image: RgbImage;
  /** The best losses of the final scale. */
  losses: GatysLosses;
  scales: GatysScaleResult[];
  /** Iterations over all scales. */
  iterations: number;
  seconds: number;
  /** With `measureBaseline`: the (weighted) style loss of the content image, and losses.style / it. */
  baselineStyle?: number;
  styleRatio?: number;
}

interface ResolvedOptions {
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  contentLayers: [string, number][];
  styleLayers: [string, number][];
  blend: number[];
  iterations: number[];
  optimizer: 'lbfgs' | 'adam';
  learningRate: number;
  patience: number;
  tolerance: number;
  init: GatysInit | RgbImage;
  seed: number;
  preserveColor: ColorPreservation;
  styleScale: number;
  previewEvery: number;
}

function resolveOptions(vgg: Vgg, styleCount: number, o: GatysOptions): ResolvedOptions {
  const taps = vggTapNames(vgg.arch);
  const number = (name: string, value: number | undefined, fallback: number, min = 0): number => {
    const v = value ?? fallback;
    if (!(Number.isFinite(v) && v >= min)) throw new Error(`gatys: ${name} must be a finite number ≥ ${min}, got ${v}`);
    return v;
  };
  const scales = number('scales', o.scales, 1, 1);
  if (!Number.isInteger(scales)) throw new Error(`gatys: scales must be an integer, got ${scales}`);
  let iterations: number[];
  if (Array.isArray(o.iterations)) {
    iterations = [...(o.iterations as readonly number[])];
    if (iterations.length !== scales) throw new Error(`gatys: ${iterations.length} iteration counts for ${scales} scales`);
  } else {
    const n = (o.iterations as number | undefined) ?? 300;
    iterations = Array.from({ length: scales }, (_, s) => Math.max(1, Math.round(n / 2 ** s)));
  }
  if (iterations.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`gatys: iterations must be integers ≥ 0, got ${iterations.join(', ')}`);
  const blendRaw = o.styleBlend ? [...o.styleBlend] : Array.from({ length: styleCount }, () => 1);
  if (blendRaw.length !== styleCount) throw new Error(`gatys: ${blendRaw.length} blend weights for ${styleCount} style images`);
  if (blendRaw.some((w) => !(Number.isFinite(w) && w >= 0))) throw new Error(`gatys: blend weights must be finite and ≥ 0, got ${blendRaw.join(', ')}`);
  const blendTotal = blendRaw.reduce((a, b) => a + b, 0);
  if (!(blendTotal > 0)) throw new Error('gatys: the style blend weights must not all be zero');
  const optimizer = o.optimizer ?? 'lbfgs';
  if (optimizer !== 'lbfgs' && optimizer !== 'adam') throw new Error(`gatys: unknown optimizer '${String(optimizer)}'`);
  const preserveColor = o.preserveColor ?? 'none';
  if (!['none', 'luminance', 'histogram'].includes(preserveColor)) throw new Error(`gatys: preserveColor must be none, luminance or histogram, got '${preserveColor}'`);
  const init = o.init ?? 'content';
  if (typeof init === 'string' && !['content', 'style', 'noise'].includes(init)) throw new Error(`gatys: init must be content, style, noise or an image, got '${init}'`);
  if (typeof init !== 'string') assertRgbImage(init, 'gatys init');
  return {
    contentWeight: number('contentWeight', o.contentWeight, DEFAULT_GATYS_WEIGHTS.contentWeight),
    styleWeight: number('styleWeight', o.styleWeight, DEFAULT_GATYS_WEIGHTS.styleWeight),
    tvWeight: number('tvWeight', o.tvWeight, DEFAULT_GATYS_WEIGHTS.tvWeight),
    contentLayers: checkLayerWeights('gatys content layers', o.contentLayers ?? DEFAULT_CONTENT_LAYERS, taps),
    styleLayers: checkLayerWeights('gatys style layers', o.styleLayers ?? DEFAULT_STYLE_LAYERS, taps),
    blend: blendRaw.map((w) => w / blendTotal),
    iterations,
    optimizer,
    learningRate: number('learningRate', o.learningRate, optimizer === 'adam' ? 5 : 10),
    patience: number('patience', o.patience, 0),
    tolerance: number('tolerance', o.tolerance, 1e-3),
    init,
    seed: number('seed', o.seed, 0),
    preserveColor,
    styleScale: number('styleScale', o.styleScale, 1, 1e-3),
    previewEvery: number('previewEvery', o.previewEvery, 0),
  };
}

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

const toTensor = (vgg: Vgg, image: RgbImage): Tensor => vgg.params.runtime.upload(image.data, [1, image.height, image.width, 3]);

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

function unpack(v: Float32Array): GatysLosses {
  return { total: v[0]!, content: v[1]!, style: v[2]!, tv: v[3]! };
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
