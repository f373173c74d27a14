/**
 * `pastiche train transformer`: trains a feed-forward style net (Johnson et al.) on a folder of photos
 * with a frozen VGG19 perceptual loss, validation, early stopping, checkpoints and exact resume. The
 * machinery lives in src/nets/train/; this file parses options and draws the progress.
 */
import { downloadProgress } from '../download-progress.ts';
import { InvalidArgumentError, type Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import { DEFAULT_CONTENT_LAYER, DEFAULT_PERCEPTUAL_WEIGHTS, DEFAULT_STYLE_LAYERS } from '../../nets/losses/perceptual-loss.ts';
import { readCheckpoint, type TrainingCheckpoint } from '../../nets/train/node/checkpoint.ts';
import { FEED_FORWARD_ARCHS, type FeedForwardArch } from '../../nets/train/feed-forward.ts';
import { trainFeedForward, type FeedForwardRunStart, type FeedForwardTrainConfig } from '../../nets/train/node/run-feed-forward.ts';
import type { NormKind } from '../../nets/models/transformer-net.ts';
import { vggTapNames } from '../../nets/models/vgg.ts';
import { choice, parseInteger, parseNumber } from '../options.ts';
import { addRunOptions, augmentFrom, checkAugmentOnResume, flagOf, storeFrom, type RawRunOptions } from '../training-options.ts';
import { stopOnCtrlC, TrainingProgress, trainingSummary } from '../training-progress.ts';
import { registerTrainAdainCommand } from './train-adain.ts';

const VGG19_TAPS = vggTapNames('vgg19');

function parseLayers(value: string): string[] {
  const layers = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = layers.filter((l) => !VGG19_TAPS.includes(l));
  if (layers.length === 0 || unknown.length) throw new InvalidArgumentError(`--style-layers takes VGG19 taps separated by commas (e.g. ${DEFAULT_STYLE_LAYERS.join(',')}); unknown: ${unknown.join(', ') || '(none given)'}`);
  return layers;
}

interface RawTrainOptions extends RawRunOptions {
  style?: string;
  contentDir?: string;
  valDir?: string;
  valCount?: number;
  size: number;
  styleSize?: number;
  batch: number;
  epochs?: number;
  iterations?: number;
  lr: number;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  contentLayer: string;
  styleLayers: string[];
  norm: NormKind;
  dropout: number;
  arch: FeedForwardArch;
  output: string;
}

/** Options a resumed run may change; every other one must match the checkpoint's run. */
const CHANGEABLE_ON_RESUME = new Set(['iterations', 'epochs', 'valEvery', 'patience', 'checkpointEvery']);

function configFromOptions(raw: RawTrainOptions): FeedForwardTrainConfig {
  if (!raw.style) throw new Error('--style IMAGE is required (the painting to learn)');
  if (!raw.contentDir) throw new Error('--content-dir DIR is required (a folder of photos, e.g. COCO train2014)');
  if (raw.epochs !== undefined && raw.iterations !== undefined) throw new Error('give --epochs or --iterations, not both');
  return {
    style: raw.style,
    contentDir: raw.contentDir,
    ...(raw.valDir !== undefined ? { valDir: raw.valDir } : {}),
    ...(raw.valCount !== undefined ? { valCount: raw.valCount } : {}),
    size: raw.size,
    styleSize: raw.styleSize ?? raw.size,
    batch: raw.batch,
    ...(raw.iterations !== undefined ? { iterations: raw.iterations } : { epochs: raw.epochs ?? 2 }),
    lr: raw.lr,
    contentWeight: raw.contentWeight,
    styleWeight: raw.styleWeight,
    tvWeight: raw.tvWeight,
    contentLayer: raw.contentLayer,
    styleLayers: raw.styleLayers,
    arch: raw.arch,
    norm: raw.norm,
    dropout: raw.dropout,
    seed: raw.seed,
    valEvery: raw.valEvery,
    patience: raw.patience,
    checkpointEvery: raw.checkpointEvery,
    augment: augmentFrom(raw),
  };
}

/**
 * The run to resume: the checkpoint's configuration, with the options that may change taken from
 * the command line. An explicitly given option that contradicts the checkpoint is an error (the
 * resumed run would not continue the same training).
 */
export function resumeConfig(checkpoint: TrainingCheckpoint, raw: RawTrainOptions, explicit: (key: string) => boolean): FeedForwardTrainConfig {
  const stored = (checkpoint.state.config as { run?: FeedForwardTrainConfig } | null)?.run;
  if (!stored) throw new Error('the checkpoint holds no feed-forward training configuration (was it written by `pastiche train transformer`?)');
  const given: Record<string, unknown> = { ...raw, augment: undefined };
  const config: FeedForwardTrainConfig = { ...stored };
  for (const [key, value] of Object.entries(given)) {
    if (!explicit(key) || !(key in stored || CHANGEABLE_ON_RESUME.has(key))) continue;
    if (CHANGEABLE_ON_RESUME.has(key)) {
      (config as unknown as Record<string, unknown>)[key] = value;
      if (key === 'iterations') delete config.epochs;
      if (key === 'epochs') delete config.iterations;
    } else if (JSON.stringify(value) !== JSON.stringify((stored as unknown as Record<string, unknown>)[key])) {
      throw new Error(`${flagOf(key)} ${JSON.stringify(value)} differs from the checkpoint's ${JSON.stringify((stored as unknown as Record<string, unknown>)[key])}; a resumed run continues the checkpoint's training (only --iterations, --epochs, --val-every, --patience and --checkpoint-every may change)`);
    }
  }
  checkAugmentOnResume(raw, stored.augment, explicit);
  return config;
}

async function runTrainTransformer(raw: RawTrainOptions, command: Command): Promise<void> {
  const explicit = (key: string) => command.getOptionValueSource(key) === 'cli';
  let resume: TrainingCheckpoint | undefined;
  let config: FeedForwardTrainConfig;
  if (raw.resume) {
    resume = await readCheckpoint(raw.resume);
    config = resumeConfig(resume, raw, explicit);
  } else {
    config = configFromOptions(raw);
  }
  const progress = new TrainingProgress('train', 'model', config.patience);
  const ctrlC = stopOnCtrlC(progress.say, 'model');
  const runtime = await initRuntime();
  try {
    const result = await trainFeedForward(runtime, {
      shouldStop: ctrlC.interrupted,
      config,
      output: raw.output,
      // A resumed run keeps writing the checkpoint it came from unless told otherwise.
      ...(raw.checkpoint !== undefined || raw.resume !== undefined ? { checkpoint: raw.checkpoint ?? raw.resume } : {}),
      ...(resume ? { resume } : {}),
      store: { ...storeFrom(raw), onProgress: downloadProgress() },
      hooks: progress.hooks<FeedForwardRunStart>(
        (info) =>
          `training ${config.arch} (${config.norm} norm${config.dropout > 0 ? `, dropout ${config.dropout}` : ''}) on ${info.trainImages} photos, validating on ${info.valImages}: ` +
          `${info.iterations} iterations of ${info.batchSize} × ${config.size}px${info.startIteration ? `, resuming after iteration ${info.startIteration}` : ''}`,
      ),
    });
    progress.stop();
    process.stderr.write(
      trainingSummary({
        result,
        artefact: 'model',
        patience: config.patience,
        useCommand: `stylize: npx pastiche stylize PHOTO --method transformer --model ${result.output}`,
        resumeCommand: `npx pastiche train transformer --resume ${result.checkpoint} --iterations N -o ${result.output}`,
      }),
    );
  } finally {
    ctrlC.dispose();
    progress.stop();
    runtime.destroy();
  }
}

/** Registers `pastiche train` with its subcommands (transformer here, adain from train-adain.ts); returns it. */
export function registerTrainCommand(program: Command): Command {
  const train = program.command('train').description('train a model: transformer (a feed-forward net for one style) or adain (the AdaIN decoder)');
  const transformer = train
    .command('transformer')
    .description(
      'train a feed-forward style net (Johnson et al.) for one style on a folder of photos. Loss: frozen VGG19, content at ' +
        `${DEFAULT_CONTENT_LAYER} (or relu3_3), style Gram matrices at ${DEFAULT_STYLE_LAYERS.join(', ')}, plus total variation`,
    )
    .option('-s, --style <image>', 'the style image (PNG or JPEG)')
    .option('--content-dir <dir>', 'folder of training photos (JPEG/PNG, any sizes, searched recursively)')
    .option('--val-dir <dir>', 'folder of validation photos (default: hold some out of --content-dir)')
    .option('--val-count <n>', 'validation images (default: 5% of the photos, 1 to 16; or up to 16 from --val-dir)', parseInteger('--val-count', 1))
    .option('--size <px>', 'side of the square training crops (multiple of 4)', parseInteger('--size', 16), 256)
    .option('--style-size <px>', 'long side of the style image (default: --size)', parseInteger('--style-size', 16))
    .option('--batch <n>', 'images per batch', parseInteger('--batch', 1), 4)
    .option('--epochs <n>', 'passes over the training photos (default 2)', parseNumber('--epochs', 0))
    .option('--iterations <n>', 'training iterations (instead of --epochs)', parseInteger('--iterations', 1))
    .option('--lr <rate>', 'Adam learning rate', parseNumber('--lr', 0), 1e-3)
    .option('--content-weight <a>', 'content loss weight', parseNumber('--content-weight', 0), DEFAULT_PERCEPTUAL_WEIGHTS.contentWeight)
    .option('--style-weight <b>', 'style loss weight', parseNumber('--style-weight', 0), DEFAULT_PERCEPTUAL_WEIGHTS.styleWeight)
    .option('--tv-weight <g>', 'total variation weight', parseNumber('--tv-weight', 0), DEFAULT_PERCEPTUAL_WEIGHTS.tvWeight)
    .option('--content-layer <tap>', 'VGG19 content layer: relu2_2 (more photo detail) or relu3_3 (more stylised)', choice('--content-layer', VGG19_TAPS), DEFAULT_CONTENT_LAYER)
    .option('--style-layers <taps>', 'VGG19 style layers, comma-separated', parseLayers, [...DEFAULT_STYLE_LAYERS])
    .option('--norm <kind>', 'instance | batch', choice('--norm', ['instance', 'batch'] as const), 'instance')
    .option('--dropout <p>', 'dropout probability in the residual blocks while training', parseNumber('--dropout', 0, 0.95), 0)
    .option('--arch <name>', FEED_FORWARD_ARCHS.join(' | '), choice('--arch', FEED_FORWARD_ARCHS), 'transformer-net')
    .option('-o, --output <path>', 'the model to write (.safetensors); the loss curve goes next to it (.loss.png)', 'model.safetensors');
  addRunOptions(transformer, {
    valEvery: 500,
    patience: 5,
    checkpointEvery: 1000,
    checkpointHelp: 'checkpoint file (default: <output>.ckpt.safetensors, or the --resume file)',
    seedHelp: 'seed for initialisation, data order, augmentation and dropout',
  }).action(async (raw: RawTrainOptions, command: Command) => runTrainTransformer(raw, command));
  registerTrainAdainCommand(train);
  return train;
}
