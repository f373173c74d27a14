/**
 * A whole feed-forward training run (what `pastiche train transformer` does): list and split the
 * photos, load VGG19 and the style, build the net, train with validation, early stopping and
 * checkpoints, and write the best model (`.safetensors`, loadable by loadFeedForwardModel) and its
 * loss curve (`.loss.png`) next to it. Node only (reads folders, writes files).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Runtime } from '../../../gpu/runtime.ts';
import { writeFileAtomic } from '../../../io/atomic-write.ts';
import { readImageFile } from '../../../io/image-file.ts';
import { resizeToLongSide } from '../../../io/resize.ts';
import { PerceptualLoss } from '../../losses/perceptual-loss.ts';
import type { NormKind } from '../../models/transformer-net.ts';
import type { HostTensorMap } from '../../weights/host-tensor.ts';
import type { AugmentOptions } from '../augment.ts';
import { AugmentedBatches, ImageFolder, listImageFiles, loadValidationBatches, mixSeed, seededPermutation, splitValidation, type ImageBatch } from './dataset.ts';
import { createFeedForwardNet, FeedForwardTraining, serializeFeedForwardModel, type FeedForwardArch } from '../feed-forward.ts';
import { lossValidator } from '../loop.ts';
import { defaultCheckpointPath, defaultLossCurvePath, fingerprintFiles, scheduleOptions, trainWritingResults, warnIfDataChanged, type TrainingRunOptions, type TrainingRunResult } from './run-files.ts';
import type { JsonValue } from '../trainable.ts';
import { loadPretrainedVgg } from '../../weights/node/pretrained.ts';

/** Everything that determines a run's numbers; stored in checkpoints so `--resume` repeats it exactly. */
export interface FeedForwardTrainConfig {
  style: string;
  contentDir: string;
  valDir?: string;
  /**
   * Validation images, held out of contentDir or chosen from valDir. Default: 5% of contentDir (at
   * least 1, at most 16), or up to 16 from valDir.
   */
  valCount?: number;
  /** Side of the square training crops. */
  size: number;
  /** Long side the style image is resized to. */
  styleSize: number;
  batch: number;
  /** The run's length; when absent, `epochs` passes over the training images. */
  iterations?: number;
  epochs?: number;
  lr: number;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  contentLayer: string;
  styleLayers: string[];
  arch: FeedForwardArch;
  norm: NormKind;
  dropout: number;
  seed: number;
  valEvery: number;
  patience: number;
  checkpointEvery: number;
  augment: Required<AugmentOptions>;
}

/** What `onStart` reports: the data the run trains and validates on, and its length. */
export interface FeedForwardRunStart {
  trainImages: number;
  valImages: number;
  iterations: number;
  startIteration: number;
  batchSize: number;
}

export type FeedForwardRunOptions = TrainingRunOptions<FeedForwardTrainConfig, ImageBatch, FeedForwardRunStart>;

export interface FeedForwardRunResult extends TrainingRunResult {
  trainImages: number;
}

/** At most this many validation images unless asked for more (validation runs every --val-every iterations). */
const MAX_DEFAULT_VALIDATION = 16;

async function fileHash(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
}

/** Trains a feed-forward style net end to end; see FeedForwardRunOptions. */
export async function trainFeedForward(runtime: Runtime, options: FeedForwardRunOptions): Promise<FeedForwardRunResult> {
  const c = options.config;
  const log = options.hooks?.log ?? (() => undefined);
  if (!/\.safetensors$/i.test(options.output)) throw new Error(`the model is written as safetensors: give -o a .safetensors name, got ${options.output}`);
  if (!Number.isInteger(c.size) || c.size < 16 || c.size % 4 !== 0) throw new Error(`--size must be a multiple of 4 and at least 16, got ${c.size}`);
  const checkpointPath = options.checkpoint ?? defaultCheckpointPath(options.output);
  const lossCurvePath = options.lossCurve === undefined ? defaultLossCurvePath(options.output) : options.lossCurve;

  // Data: the training photos, and a validation set held out of them or from a folder of its own.
  const listing = await listImageFiles(c.contentDir);
  if (listing.ignored > 0) log(`${c.contentDir}: ${listing.ignored} files that are not .jpg/.jpeg/.png ignored`);
  let trainFiles: string[];
  let valFiles: string[];
  if (c.valDir) {
    const val = await listImageFiles(c.valDir);
    const count = c.valCount ?? MAX_DEFAULT_VALIDATION;
    trainFiles = listing.files;
    valFiles = val.files.length > count ? seededPermutation(val.files.length, mixSeed(c.seed, 0x7a12)).slice(0, count).sort((a, b) => a - b).map((i) => val.files[i]!) : val.files;
  } else {
    const count = c.valCount ?? Math.min(MAX_DEFAULT_VALIDATION, Math.max(1, Math.round(listing.files.length * 0.05)));
    ({ train: trainFiles, validation: valFiles } = splitValidation(listing.files, count, c.seed));
  }
  const folder = new ImageFolder({ onUnreadable: options.hooks?.onUnreadable ?? ((path, reason) => log(`skipping unreadable image ${path}: ${reason}`)) });
  const iterations = c.iterations ?? Math.ceil(((c.epochs ?? 1) * trainFiles.length) / c.batch);
  const fingerprints = { train: await fingerprintFiles(trainFiles), validation: await fingerprintFiles(valFiles), style: await fileHash(c.style) };
  warnIfDataChanged(options.resume, fingerprints, log);

  const ownVgg = !options.vgg;
  const vgg = options.vgg ?? (await loadPretrainedVgg(runtime, options.store ?? {}));
  const styleImage = resizeToLongSide(await readImageFile(c.style), c.styleSize);
  const styleTensor = runtime.upload(styleImage.data, [1, styleImage.height, styleImage.width, 3]);
  let perceptual: PerceptualLoss | null = null;
  let model: FeedForwardTraining | null = null;
  try {
    perceptual = new PerceptualLoss(vgg, styleTensor, {
      contentLayer: c.contentLayer,
      styleLayers: c.styleLayers,
      contentWeight: c.contentWeight,
      styleWeight: c.styleWeight,
      tvWeight: c.tvWeight,
    });
    const netConfig = { arch: c.arch, norm: c.norm, dropout: c.dropout };
    model = new FeedForwardTraining(createFeedForwardNet(runtime, netConfig, c.seed), c.arch, perceptual);
    const data = new AugmentedBatches(folder, trainFiles, { batchSize: c.batch, size: c.size, seed: c.seed, augment: c.augment });
    let validator = options.validator;
    let valImages = valFiles.length;
    if (!validator && c.valEvery > 0) {
      const batches = await loadValidationBatches(folder, valFiles, c.size, c.batch);
      valImages = batches.reduce((n, b) => n + b.count, 0);
      validator = lossValidator(batches, (b) => b.count);
    }
    const startIteration = options.resume?.state.iteration ?? 0;
    options.hooks?.onStart?.({ trainImages: trainFiles.length, valImages, iterations, startIteration, batchSize: c.batch });

    const modelMetadata = (best: { iteration: number; loss: number } | null): Record<string, string> => ({
      style: basename(c.style),
      size: String(c.size),
      'content-layer': c.contentLayer,
      'style-layers': c.styleLayers.join(','),
      weights: JSON.stringify({ content: c.contentWeight, style: c.styleWeight, tv: c.tvWeight }),
      ...(best ? { iteration: String(best.iteration), 'val-loss': String(best.loss) } : {}),
    });
    const writeModel = (weights: HostTensorMap, best: { iteration: number; loss: number } | null) =>
      writeFileAtomic(options.output, serializeFeedForwardModel(weights, netConfig, modelMetadata(best)));

    const result = await trainWritingResults(
      {
        model,
        data,
        iterations,
        ...scheduleOptions(c),
        validate: validator,
        checkpointPath,
        resume: options.resume,
        config: { run: c as unknown as JsonValue, fingerprints },
        shouldStop: options.shouldStop,
      },
      { writeModel, lossCurvePath, ...(options.hooks ? { hooks: options.hooks } : {}) },
    );
    return { ...result, output: options.output, checkpoint: checkpointPath, lossCurve: lossCurvePath, trainImages: trainFiles.length, valImages, unreadable: folder.skipped };
  } finally {
    model?.net.dispose();
    perceptual?.dispose();
    styleTensor.dispose();
    if (ownVgg) vgg.dispose();
  }
}
