/**
 * `pastiche train adain`: trains the AdaIN decoder (Huang & Belongie) on a folder of content photos and
 * a folder of style images, with the shared training machinery (src/nets/train/): Adam, augmented random
 * crops, validation with early stopping, atomic checkpoints, exact --resume, a progress bar and a
 * loss-curve PNG. Registered under `pastiche train` by ./train.ts.
 */
import { downloadProgress } from '../download-progress.ts';
import type { Command } from 'commander';
import { initRuntime } from '../../gpu/runtime.ts';
import { ADAIN_TRAIN_DEFAULTS, adainTrainConfig, defaultAdainDecoderPath, trainAdainDecoder, type AdainRunStart, type AdainTrainConfig } from '../../nets/train/node/adain-decoder.ts';
import { readCheckpoint, type TrainingCheckpoint } from '../../nets/train/node/checkpoint.ts';
import { defaultCacheDir } from '../../nets/weights/node/store.ts';
import { parseInteger, parseNumber } from '../options.ts';
import { addRunOptions, augmentFrom, checkAugmentOnResume, flagOf, storeFrom, type RawRunOptions } from '../training-options.ts';
import { stopOnCtrlC, TrainingProgress, trainingSummary } from '../training-progress.ts';

interface RawAdainTrainOptions extends RawRunOptions {
  contentDir?: string;
  styleDir?: string;
  valCount: number;
  size: number;
  batch: number;
  iterations: number;
  lr: number;
  styleWeight: number;
  output?: string;
}

/** Options a resumed run may change; the others must match the checkpoint's run. */
const CHANGEABLE_ON_RESUME = ['iterations', 'valEvery', 'patience', 'checkpointEvery'] as const;
const RUN_KEYS = ['contentDir', 'styleDir', 'valCount', 'size', 'batch', 'lr', 'styleWeight', 'seed'] as const;

/** The checkpoint's run with the changeable options taken from the command line; contradictions are errors. */
export function resumeAdainConfig(checkpoint: TrainingCheckpoint, raw: RawAdainTrainOptions, explicit: (key: string) => boolean): AdainTrainConfig {
  const stored = (checkpoint.state.config as { run?: AdainTrainConfig } | null)?.run;
  if (!stored || checkpoint.state.model.model !== 'adain-decoder') throw new Error('the checkpoint was not written by `pastiche train adain`');
  const config: AdainTrainConfig = { ...stored };
  for (const key of CHANGEABLE_ON_RESUME) if (explicit(key)) config[key] = raw[key];
  for (const key of RUN_KEYS) {
    if (explicit(key) && JSON.stringify(raw[key]) !== JSON.stringify(stored[key])) {
      throw new Error(`${flagOf(key)} ${JSON.stringify(raw[key])} differs from the checkpoint's ${JSON.stringify(stored[key])}; a resumed run continues the checkpoint's training (only --iterations, --val-every, --patience and --checkpoint-every may change)`);
    }
  }
  checkAugmentOnResume(raw, stored.augment, explicit);
  return config;
}

function configFromOptions(raw: RawAdainTrainOptions): AdainTrainConfig {
  if (!raw.contentDir) throw new Error('--content-dir DIR is required (a folder of photos, e.g. MS-COCO train2014)');
  if (!raw.styleDir) throw new Error('--style-dir DIR is required (a folder of paintings, e.g. WikiArt)');
  return adainTrainConfig({
    contentDir: raw.contentDir,
    styleDir: raw.styleDir,
    valCount: raw.valCount,
    size: raw.size,
    batch: raw.batch,
    iterations: raw.iterations,
    lr: raw.lr,
    styleWeight: raw.styleWeight,
    seed: raw.seed,
    valEvery: raw.valEvery,
    patience: raw.patience,
    checkpointEvery: raw.checkpointEvery,
    augment: augmentFrom(raw),
  });
}

async function runTrainAdain(raw: RawAdainTrainOptions, command: Command): Promise<void> {
  const explicit = (key: string) => command.getOptionValueSource(key) === 'cli';
  let resume: TrainingCheckpoint | undefined;
  let config: AdainTrainConfig;
  if (raw.resume) {
    resume = await readCheckpoint(raw.resume);
    config = resumeAdainConfig(resume, raw, explicit);
  } else {
    config = configFromOptions(raw);
  }
  const output = raw.output ?? defaultAdainDecoderPath(raw.cache ?? defaultCacheDir());
  const progress = new TrainingProgress('adain', 'decoder', config.patience);
  const ctrlC = stopOnCtrlC(progress.say, 'decoder');
  const runtime = await initRuntime();
  try {
    const result = await trainAdainDecoder(runtime, {
      shouldStop: ctrlC.interrupted,
      config,
      output,
      ...(raw.checkpoint !== undefined ? { checkpoint: raw.checkpoint } : {}),
      ...(resume ? { resume } : {}),
      store: { ...storeFrom(raw), onProgress: downloadProgress() },
      hooks: progress.hooks<AdainRunStart>(
        (info) =>
          `training the AdaIN decoder on ${info.contentImages} photos × ${info.styleImages} styles, validating on ${info.valImages}: ` +
          `${info.iterations} iterations of ${info.batchSize} × ${config.size}px, style weight ${config.styleWeight}, lr ${config.lr}` +
          `${info.startIteration ? `, resuming after iteration ${info.startIteration}` : ''}`,
      ),
    });
    progress.stop();
    const usesDefault = output === defaultAdainDecoderPath(raw.cache ?? defaultCacheDir());
    process.stderr.write(
      trainingSummary({
        result,
        artefact: 'decoder',
        patience: config.patience,
        useCommand: `stylize: npx pastiche stylize PHOTO --method adain --style PAINTING${usesDefault ? '' : ` --decoder ${result.output}`}`,
        resumeCommand: `npx pastiche train adain --resume ${result.checkpoint} --iterations N${raw.output ? ` -o ${result.output}` : ''}`,
      }),
    );
  } finally {
    ctrlC.dispose();
    progress.stop();
    runtime.destroy();
  }
}

/** Adds `adain` to the `pastiche train` command. */
export function registerTrainAdainCommand(train: Command): void {
  const d = ADAIN_TRAIN_DEFAULTS;
  const command = train
    .command('adain')
    .description(
      'train the AdaIN decoder (Huang & Belongie) for arbitrary style transfer. Loss: frozen VGG19; content = MSE of relu4_1 ' +
        'against the AdaIN target, style = MSE of channel means and standard deviations at relu1_1, relu2_1, relu3_1, relu4_1',
    )
    .option('--content-dir <dir>', 'folder of content photos (JPEG/PNG, any sizes, searched recursively; e.g. MS-COCO)')
    .option('--style-dir <dir>', 'folder of style images (e.g. WikiArt paintings)')
    .option('--val-count <n>', 'validation images held out of each folder', parseInteger('--val-count', 1), d.valCount)
    .option('--size <px>', 'side of the square training crops (multiple of 8)', parseInteger('--size', 16), d.size)
    .option('--batch <n>', 'content/style pairs per batch', parseInteger('--batch', 1), d.batch)
    .option('--iterations <n>', 'training iterations', parseInteger('--iterations', 1), d.iterations)
    .option('--lr <rate>', 'Adam learning rate', parseNumber('--lr', 0), d.lr)
    .option('--style-weight <w>', 'style loss weight λ', parseNumber('--style-weight', 0), d.styleWeight)
    .option('-o, --output <path>', 'the decoder to write (.safetensors; default: the weights cache, where stylize --method adain finds it); the loss curve goes next to it (.loss.png)');
  addRunOptions(command, { ...d, checkpointHelp: 'checkpoint file (default: <output>.ckpt.safetensors)', seedHelp: 'seed for initialisation, data order and augmentation' }).action(
    async (raw: RawAdainTrainOptions, cmd: Command) => runTrainAdain(raw, cmd),
  );
}
