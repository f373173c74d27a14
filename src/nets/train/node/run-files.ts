/**
 * What every training command does around the loop the same way: where the checkpoint and loss curve
 * go beside the model file, a fingerprint of the data (a resumed run warns when it changed), and the
 * loop itself wired to write the best weights as soon as they are found and to redraw the loss curve
 * with every checkpoint. Node only (writes files).
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { TrainingCheckpoint } from './checkpoint.ts';
import { writeLossCurve } from './loss-curve.ts';
import { train, type IterationReport, type TrainOptions, type TrainResult, type ValidationReport } from '../loop.ts';
import type { Vgg } from '../../models/vgg.ts';
import type { HostTensorMap } from '../../weights/host-tensor.ts';
import type { StoreOptions } from '../../weights/node/store.ts';
import type { Validator } from '../trainable.ts';

/** What a whole training run (a `pastiche train …` command) is given. */
export interface TrainingRunOptions<Config, Batch, Start> {
  config: Config;
  /** The model file to write (.safetensors). */
  output: string;
  /** Checkpoint file; default `<output>` with `.ckpt.safetensors`. */
  checkpoint?: string;
  resume?: TrainingCheckpoint;
  /** Loss-curve PNG; default `<output>` with `.loss.png`; null: none. */
  lossCurve?: string | null;
  store?: StoreOptions;
  /** A loaded VGG19 to use (not disposed); by default it is loaded from the weight store. */
  vgg?: Vgg;
  /** Replaces the validation loss (tests script a validation curve with it). */
  validator?: Validator<Batch>;
  hooks?: TrainingRunHooks<Start>;
  /** Checked after every iteration: true stops the run there (checkpoint and best model written). */
  shouldStop?: () => boolean;
}

/** What a whole training run returns: the loop's result and where its files went. */
export interface TrainingRunResult extends TrainResult {
  output: string;
  checkpoint: string;
  lossCurve: string | null;
  valImages: number;
  unreadable: ReadonlyMap<string, string>;
}

/** Progress callbacks of a training run; `Start` is what the run reports once its data is ready. */
export interface TrainingRunHooks<Start> {
  log?: (line: string) => void;
  onUnreadable?: (path: string, reason: string) => void;
  onStart?: (info: Start) => void;
  onIteration?: (report: IterationReport) => void;
  onValidation?: (report: ValidationReport) => void;
  onCheckpoint?: (path: string, iteration: number) => void;
}

const stem = (path: string) => path.replace(/\.safetensors$/i, '');
/** `<model>.ckpt.safetensors`: the checkpoint written beside a model file by default. */
export const defaultCheckpointPath = (output: string): string => `${stem(output)}.ckpt.safetensors`;
/** `<model>.loss.png`: the loss curve written beside a model file by default. */
export const defaultLossCurvePath = (output: string): string => `${stem(output)}.loss.png`;

/** A short fingerprint of a file list (names and sizes). */
export async function fingerprintFiles(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const f of files) {
    const size = await stat(f).then((s) => s.size, () => -1);
    hash.update(`${f}\0${size}\0`);
  }
  return `${files.length}:${hash.digest('hex').slice(0, 16)}`;
}

/** Warns (through `log`) about every part of the data that differs from what the checkpoint was trained on. */
export function warnIfDataChanged(resume: TrainingCheckpoint | undefined, fingerprints: Record<string, string>, log: (line: string) => void): void {
  const saved = (resume?.state.config as { fingerprints?: Record<string, string> } | null | undefined)?.fingerprints;
  if (!saved) return;
  for (const [key, now] of Object.entries(fingerprints)) {
    if (saved[key] !== now) log(`warning: the ${key} data differs from the checkpoint's (${saved[key]} then, ${now} now); the resumed run will not repeat the original exactly`);
  }
}

/** The loop settings every training config carries. */
export interface RunSchedule {
  lr: number;
  seed: number;
  valEvery: number;
  patience: number;
  checkpointEvery: number;
}

/** A config's schedule as training-loop options. */
export function scheduleOptions(c: RunSchedule): Pick<TrainOptions<unknown>, 'adam' | 'seed' | 'valEvery' | 'patience' | 'checkpointEvery'> {
  return { adam: { lr: c.lr }, seed: c.seed, valEvery: c.valEvery, patience: c.patience, checkpointEvery: c.checkpointEvery };
}

export interface WrittenRunOptions {
  /** Writes the model file (atomically) from these weights; `best` is null without validation. */
  writeModel: (weights: HostTensorMap, best: { iteration: number; loss: number } | null) => Promise<void>;
  /** Where the loss curve goes (null: none); redrawn at every checkpoint so a long run can be watched. */
  lossCurvePath: string | null;
  hooks?: Pick<TrainingRunHooks<unknown>, 'onIteration' | 'onValidation' | 'onCheckpoint'>;
}

/**
 * Runs the training loop and writes its results: the model file at each new best validation (an
 * interrupted run still leaves the best so far) and once more at the end, and the loss curve.
 */
export async function trainWritingResults<B>(options: Omit<TrainOptions<B>, 'onIteration' | 'onValidation' | 'onBest' | 'onCheckpoint'>, run: WrittenRunOptions): Promise<TrainResult> {
  const result = await train({
    ...options,
    onIteration: run.hooks?.onIteration,
    onValidation: run.hooks?.onValidation,
    onCheckpoint: async (path, iteration, history) => {
      if (run.lossCurvePath) await writeLossCurve(run.lossCurvePath, history);
      run.hooks?.onCheckpoint?.(path, iteration);
    },
    onBest: (weights, best) => run.writeModel(weights, best),
  });
  await run.writeModel(result.weights, result.best);
  if (run.lossCurvePath) await writeLossCurve(run.lossCurvePath, result.history);
  return result;
}
