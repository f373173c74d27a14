/**
 * Training the AdaIN decoder (Huang & Belongie 2017, section 5) on the shared training machinery
 * (src/nets/train/). With the frozen VGG19 encoder E, a batch of content crops c and style crops s:
 *
 *   t = AdaIN(E(c), E(s)),  g = D(t)
 *   L = ‖E(g) − t‖²  +  λ · Σ_{l ∈ relu1_1, relu2_1, relu3_1, relu4_1} ‖μ(φ_l(g)) − μ(φ_l(s))‖² + ‖σ(φ_l(g)) − σ(φ_l(s))‖²
 *
 * each ‖·‖² a mean squared error, statistics per (sample, channel), σ = √(biased variance + eps).
 * Adam, random augmented crops from two photo folders (contents and styles), validation on held-out
 * crops with early stopping, atomic checkpoints, exact resume, and a loss-curve PNG. Node only.
 */
import { join } from 'node:path';
import { add, affine, scale, sqrt } from '../../../autograd/ops/elementwise.ts';
import { mse } from '../../../autograd/ops/losses.ts';
import { moments } from '../../../autograd/ops/moments.ts';
import { adain } from '../../../autograd/ops/norm.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { channelMoments } from '../../../gpu/kernels/norm.ts';
import type { Runtime } from '../../../gpu/runtime.ts';
import { scope } from '../../../gpu/scope.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import { writeFileAtomic } from '../../../io/atomic-write.ts';
import { adainEncode, ADAIN_CONTENT_TAP, ADAIN_EPS, ADAIN_STYLE_TAPS } from '../../methods/adain/adain.ts';
import { AdainDecoder, ADAIN_DOWNSAMPLING, serializeAdainDecoder } from '../../models/adain-decoder.ts';
import { DEFAULT_AUGMENT, type AugmentOptions } from '../augment.ts';
import { AugmentedBatches, ImageFolder, listImageFiles, loadValidationBatches, mixSeed, splitValidation, type ImageBatch } from './dataset.ts';
import { lossValidator } from '../loop.ts';
import { defaultCheckpointPath, defaultLossCurvePath, fingerprintFiles, scheduleOptions, trainWritingResults, warnIfDataChanged, type TrainingRunOptions, type TrainingRunResult } from './run-files.ts';
import type { BatchSource, JsonValue, LossContext, LossResult, TrainableModel } from '../trainable.ts';
import { Vgg } from '../../models/vgg.ts';
import type { HostTensorMap } from '../../weights/host-tensor.ts';
import { defaultCacheDir } from '../../weights/node/store.ts';
import { loadPretrainedVgg } from '../../weights/node/pretrained.ts';

/** The reference implementation's settings (naoto0804/pytorch-AdaIN train.py), where they apply here. */
export const ADAIN_TRAIN_DEFAULTS = {
  size: 256,
  batch: 8,
  iterations: 160_000,
  lr: 1e-4,
  styleWeight: 10,
  valCount: 16,
  valEvery: 500,
  patience: 5,
  checkpointEvery: 1000,
} as const;

/** Where `pastiche train adain` writes the decoder by default, and where `stylize --method adain` looks. */
export function defaultAdainDecoderPath(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, 'adain-decoder.safetensors');
}

/** One training step's data: content crops and as many style crops (host memory, RGB 0..255, NHWC). */
export interface AdainBatch {
  content: ImageBatch;
  style: ImageBatch;
}

/** The decoder with its AdaIN content/style loss, as the training loop's model. */
export class AdainDecoderTraining implements TrainableModel<AdainBatch> {
  constructor(
    readonly decoder: AdainDecoder,
    readonly vgg: Vgg,
    readonly styleWeight: number,
    readonly eps = ADAIN_EPS,
  ) {
    if (!(styleWeight >= 0 && Number.isFinite(styleWeight))) throw new Error(`adain training: the style weight must be a finite number ≥ 0, got ${styleWeight}`);
  }

  params(): Tensor[] {
    return this.decoder.trainableParams();
  }

  /** Content loss, weighted style loss and their sum for one batch. */
  loss(batch: AdainBatch, _context?: LossContext): LossResult {
    const runtime = this.decoder.params.runtime;
    const { content: c, style: s } = batch;
    if (c.count !== s.count) throw new Error(`adain training: ${c.count} content crops but ${s.count} style crops in a batch`);
    // The frozen side (encoder of the content and the style, the AdaIN target, the style statistics):
    // no gradients, so intermediates are freed as soon as they are used.
    const { target, styleStats } = noGrad(() =>
      scope(() => {
        const contentImages = runtime.upload(c.data, [c.count, c.size, c.size, 3]);
        const styleImages = runtime.upload(s.data, [s.count, s.size, s.size, 3]);
        const contentFeatures = adainEncode(this.vgg, contentImages).get(ADAIN_CONTENT_TAP)!;
        const styleFeatures = adainEncode(this.vgg, styleImages, ADAIN_STYLE_TAPS);
        const t = adain(contentFeatures, styleFeatures.get(ADAIN_CONTENT_TAP)!, this.eps);
        const stats = ADAIN_STYLE_TAPS.map((tap) => {
          const m = channelMoments(styleFeatures.get(tap)!, true, this.eps);
          return { mean: m.mean, std: m.std };
        });
        return { target: t, styleStats: stats };
      }),
    );
    const generated = this.decoder.forward(target);
    const features = adainEncode(this.vgg, generated, ADAIN_STYLE_TAPS);
    const contentLoss = mse(features.get(ADAIN_CONTENT_TAP)!, target);
    let styleLoss: Tensor | null = null;
    ADAIN_STYLE_TAPS.forEach((tap, i) => {
      const { mean, variance } = moments(features.get(tap)!, [1, 2]);
      const std = sqrt(affine(variance, 1, this.eps));
      const term = add(mse(mean, styleStats[i]!.mean), mse(std, styleStats[i]!.std));
      styleLoss = styleLoss ? add(styleLoss, term) : term;
    });
    const weightedStyle = scale(styleLoss!, this.styleWeight);
    return { total: add(contentLoss, weightedStyle), terms: { content: contentLoss, style: weightedStyle } };
  }

  setTraining(): void {
    // No dropout or batch statistics in the decoder.
  }

  saveState(): Promise<HostTensorMap> {
    return this.decoder.toHost();
  }

  loadState(state: HostTensorMap): void {
    const store = this.decoder.params;
    const names = store.names();
    const missing = names.filter((n) => !state.has(n));
    const extra = [...state.keys()].filter((n) => !store.has(n));
    if (missing.length || extra.length) {
      throw new Error(`the saved state does not fit the AdaIN decoder (missing: ${missing.join(', ') || 'none'}; unexpected: ${extra.join(', ') || 'none'})`);
    }
    for (const name of names) {
      const t = state.get(name)!;
      store.get(name, t.shape);
      store.set(name, store.runtime.upload(t.data, t.shape));
    }
  }

  describe(): Record<string, string> {
    return { model: 'adain-decoder', encoder: `vgg19-${ADAIN_CONTENT_TAP}`, 'style-taps': ADAIN_STYLE_TAPS.join(',') };
  }
}

/** Content crops and style crops from two independent seeded streams, saved and restored together. */
export class AdainBatches implements BatchSource<AdainBatch> {
  readonly batchSize: number;

  constructor(
    readonly contents: AugmentedBatches,
    readonly styles: AugmentedBatches,
  ) {
    if (contents.batchSize !== styles.batchSize) throw new Error(`adain batches: ${contents.batchSize} contents but ${styles.batchSize} styles per batch`);
    this.batchSize = contents.batchSize;
  }

  async next(): Promise<AdainBatch> {
    const content = await this.contents.next();
    const style = await this.styles.next();
    return { content, style };
  }

  saveState(): JsonValue {
    return { content: this.contents.saveState(), style: this.styles.saveState() };
  }

  restoreState(state: JsonValue): void {
    const s = state as { content?: JsonValue; style?: JsonValue } | null;
    if (!s || typeof s !== 'object' || s.content === undefined || s.style === undefined) throw new Error(`adain training data: invalid saved stream state ${JSON.stringify(state)}`);
    this.contents.restoreState(s.content);
    this.styles.restoreState(s.style);
  }
}

/** Everything that determines a run's numbers; stored in checkpoints so `--resume` repeats it exactly. */
export interface AdainTrainConfig {
  contentDir: string;
  styleDir: string;
  /** Validation images held out of each folder (styles: only when the folder has at least two). */
  valCount: number;
  /** Side of the square training crops (content and style), a multiple of 8. */
  size: number;
  batch: number;
  iterations: number;
  lr: number;
  /** λ, the style loss weight. */
  styleWeight: number;
  seed: number;
  valEvery: number;
  patience: number;
  checkpointEvery: number;
  augment: Required<AugmentOptions>;
}

/** A config with the reference defaults for everything not given. */
export function adainTrainConfig(config: Pick<AdainTrainConfig, 'contentDir' | 'styleDir'> & Partial<AdainTrainConfig>): AdainTrainConfig {
  const d = ADAIN_TRAIN_DEFAULTS;
  return {
    valCount: d.valCount,
    size: d.size,
    batch: d.batch,
    iterations: d.iterations,
    lr: d.lr,
    styleWeight: d.styleWeight,
    seed: 0,
    valEvery: d.valEvery,
    patience: d.patience,
    checkpointEvery: d.checkpointEvery,
    augment: DEFAULT_AUGMENT,
    ...config,
  };
}

/** What `onStart` reports: the data the run trains and validates on, and its length. */
export interface AdainRunStart {
  contentImages: number;
  styleImages: number;
  valImages: number;
  iterations: number;
  startIteration: number;
  batchSize: number;
}

export type AdainRunOptions = TrainingRunOptions<AdainTrainConfig, AdainBatch, AdainRunStart>;

export interface AdainRunResult extends TrainingRunResult {
  contentImages: number;
  styleImages: number;
}

/** Validation pairs: each content batch with as many style crops, cycling through the validation styles. */
function pairValidation(contents: readonly ImageBatch[], styles: readonly ImageBatch[]): AdainBatch[] {
  const singles: Float32Array[] = [];
  for (const b of styles) {
    const per = b.size * b.size * 3;
    for (let i = 0; i < b.count; i++) singles.push(b.data.subarray(i * per, (i + 1) * per));
  }
  let next = 0;
  return contents.map((content) => {
    const per = content.size * content.size * 3;
    const data = new Float32Array(content.count * per);
    for (let i = 0; i < content.count; i++) data.set(singles[next++ % singles.length]!, i * per);
    return { content, style: { data, count: content.count, size: content.size } };
  });
}

function checkConfig(c: AdainTrainConfig): void {
  if (!Number.isInteger(c.size) || c.size < 2 * ADAIN_DOWNSAMPLING || c.size % ADAIN_DOWNSAMPLING !== 0) {
    throw new Error(`--size must be a multiple of ${ADAIN_DOWNSAMPLING} and at least ${2 * ADAIN_DOWNSAMPLING}, got ${c.size}`);
  }
  if (!Number.isInteger(c.batch) || c.batch < 1) throw new Error(`--batch must be a positive integer, got ${c.batch}`);
  if (!Number.isInteger(c.iterations) || c.iterations < 1) throw new Error(`--iterations must be a positive integer, got ${c.iterations}`);
  if (!(c.lr > 0)) throw new Error(`--lr must be positive, got ${c.lr}`);
}

/** Trains an AdaIN decoder end to end; see AdainRunOptions. */
export async function trainAdainDecoder(runtime: Runtime, options: AdainRunOptions): Promise<AdainRunResult> {
  const c = options.config;
  const log = options.hooks?.log ?? (() => undefined);
  if (!/\.safetensors$/i.test(options.output)) throw new Error(`the decoder is written as safetensors: give -o a .safetensors name, got ${options.output}`);
  checkConfig(c);
  const checkpointPath = options.checkpoint ?? defaultCheckpointPath(options.output);
  const lossCurvePath = options.lossCurve === undefined ? defaultLossCurvePath(options.output) : options.lossCurve;

  // Data: content photos and style images, each with a held-out validation part.
  const contentListing = await listImageFiles(c.contentDir);
  const styleListing = await listImageFiles(c.styleDir);
  for (const [dir, listing] of [[c.contentDir, contentListing], [c.styleDir, styleListing]] as const) {
    if (listing.ignored > 0) log(`${dir}: ${listing.ignored} files that are not .jpg/.jpeg/.png ignored`);
  }
  const validating = c.valEvery > 0;
  // Without validation nothing is held out.
  const contentSplit = validating ? splitValidation(contentListing.files, c.valCount, c.seed) : { train: contentListing.files, validation: [] };
  let styleSplit: { train: string[]; validation: string[] };
  if (!validating) {
    styleSplit = { train: styleListing.files, validation: [] };
  } else if (styleListing.files.length >= 2) {
    styleSplit = splitValidation(styleListing.files, c.valCount, mixSeed(c.seed, 0x51));
  } else {
    log(`${c.styleDir}: only one style image; validation uses it too`);
    styleSplit = { train: styleListing.files, validation: styleListing.files };
  }
  const fingerprints = {
    content: await fingerprintFiles(contentSplit.train),
    style: await fingerprintFiles(styleSplit.train),
    validation: await fingerprintFiles([...contentSplit.validation, ...styleSplit.validation]),
  };
  warnIfDataChanged(options.resume, fingerprints, log);
  const folder = new ImageFolder({ onUnreadable: options.hooks?.onUnreadable ?? ((path, reason) => log(`skipping unreadable image ${path}: ${reason}`)) });

  const ownVgg = !options.vgg;
  const vgg = options.vgg ?? (await loadPretrainedVgg(runtime, options.store ?? {}));
  let decoder: AdainDecoder | null = null;
  try {
    decoder = AdainDecoder.initialize(runtime, c.seed);
    const model = new AdainDecoderTraining(decoder, vgg, c.styleWeight);
    const data = new AdainBatches(
      new AugmentedBatches(folder, contentSplit.train, { batchSize: c.batch, size: c.size, seed: c.seed, augment: c.augment }),
      new AugmentedBatches(folder, styleSplit.train, { batchSize: c.batch, size: c.size, seed: mixSeed(c.seed, 0x5717e), augment: c.augment }),
    );
    let validator = options.validator;
    let valImages = contentSplit.validation.length;
    if (!validator && c.valEvery > 0) {
      const contentBatches = await loadValidationBatches(folder, contentSplit.validation, c.size, c.batch);
      const styleBatches = await loadValidationBatches(folder, styleSplit.validation, c.size, c.batch);
      const pairs = pairValidation(contentBatches, styleBatches);
      valImages = pairs.reduce((n, b) => n + b.content.count, 0);
      validator = lossValidator(pairs, (b) => b.content.count);
    }
    const startIteration = options.resume?.state.iteration ?? 0;
    options.hooks?.onStart?.({
      contentImages: contentSplit.train.length,
      styleImages: styleSplit.train.length,
      valImages,
      iterations: c.iterations,
      startIteration,
      batchSize: c.batch,
    });

    const metadata = (best: { iteration: number; loss: number } | null): Record<string, string> => ({
      encoder: `vgg19-${ADAIN_CONTENT_TAP}`,
      size: String(c.size),
      'style-weight': String(c.styleWeight),
      ...(best ? { iteration: String(best.iteration), 'val-loss': String(best.loss) } : {}),
    });
    const writeDecoder = (weights: HostTensorMap, best: { iteration: number; loss: number } | null) => writeFileAtomic(options.output, serializeAdainDecoder(weights, metadata(best)));

    const result = await trainWritingResults(
      {
        model,
        data,
        iterations: c.iterations,
        ...scheduleOptions(c),
        validate: validator,
        checkpointPath,
        resume: options.resume,
        config: { run: c as unknown as JsonValue, fingerprints },
        shouldStop: options.shouldStop,
      },
      { writeModel: writeDecoder, lossCurvePath, ...(options.hooks ? { hooks: options.hooks } : {}) },
    );
    return {
      ...result,
      output: options.output,
      checkpoint: checkpointPath,
      lossCurve: lossCurvePath,
      contentImages: contentSplit.train.length,
      styleImages: styleSplit.train.length,
      valImages,
      unreadable: folder.skipped,
    };
  } finally {
    decoder?.dispose();
    if (ownVgg) vgg.dispose();
  }
}
