/**
 * The command-line options every training command shares: validation and checkpoint schedule, resume,
 * seed, augmentation and where the weights come from, and what they turn into.
 */
import type { Command } from 'commander';
import { DEFAULT_AUGMENT, type AugmentOptions } from '../nets/train/augment.ts';
import type { StoreOptions } from '../nets/weights/node/store.ts';
import { parseInteger, parseNumber, parseScaleRange } from './options.ts';

export interface RawRunOptions {
  valEvery: number;
  patience: number;
  checkpointEvery: number;
  checkpoint?: string;
  resume?: string;
  seed: number;
  flip: boolean;
  scaleRange: [number, number];
  jitter: number;
  mirror?: string;
  cache?: string;
}

export interface RunOptionDefaults {
  valEvery: number;
  patience: number;
  checkpointEvery: number;
  /** Help of --checkpoint (where the default checkpoint goes). */
  checkpointHelp: string;
  /** Help of --seed (what it seeds). */
  seedHelp: string;
}

/** Adds the shared options to a training command. */
export function addRunOptions(command: Command, d: RunOptionDefaults): Command {
  return command
    .option('--val-every <n>', 'validate every n iterations (0: never)', parseInteger('--val-every', 0), d.valEvery)
    .option('--patience <k>', 'stop after k validations without improvement (0: never)', parseInteger('--patience', 0), d.patience)
    .option('--checkpoint-every <n>', 'write a checkpoint every n iterations (0: only at the end)', parseInteger('--checkpoint-every', 0), d.checkpointEvery)
    .option('--checkpoint <path>', d.checkpointHelp)
    .option('--resume <checkpoint>', 'continue a run from its checkpoint, exactly as if it had not stopped')
    .option('--seed <n>', d.seedHelp, parseInteger('--seed'), 0)
    .option('--no-flip', 'augmentation: no horizontal flips')
    .option('--scale-range <min,max>', 'augmentation: zoom range of the random crops', parseScaleRange, [...DEFAULT_AUGMENT.scale] as [number, number])
    .option('--jitter <j>', 'augmentation: colour jitter (brightness, contrast, saturation ±j)', parseNumber('--jitter', 0, 0.9), DEFAULT_AUGMENT.jitter)
    .option('--mirror <dir>', 'weights mirror folder (default $PASTICHE_WEIGHTS_MIRROR)')
    .option('--cache <dir>', 'weights cache folder (default $PASTICHE_CACHE_DIR, else $XDG_CACHE_HOME/pastiche or ~/.cache/pastiche)');
}

/** `--flip`, `--scale-range` and `--jitter` as augmentation options. */
export function augmentFrom(raw: RawRunOptions): Required<AugmentOptions> {
  return { flip: raw.flip, scale: raw.scaleRange, jitter: raw.jitter };
}

/** `--mirror` and `--cache` as weight-store options. */
export function storeFrom(raw: RawRunOptions): StoreOptions {
  return { ...(raw.mirror !== undefined ? { mirrorDir: raw.mirror } : {}), ...(raw.cache !== undefined ? { cacheDir: raw.cache } : {}) };
}

/** An option key as its flag: scaleRange → --scale-range. */
export const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A resumed run keeps the checkpoint's augmentation: an explicitly given different one is an error. */
export function checkAugmentOnResume(raw: RawRunOptions, stored: Required<AugmentOptions>, explicit: (key: string) => boolean): void {
  const given = augmentFrom(raw);
  for (const [key, field] of [['flip', 'flip'], ['scaleRange', 'scale'], ['jitter', 'jitter']] as const) {
    if (explicit(key) && JSON.stringify(given[field]) !== JSON.stringify(stored[field])) {
      throw new Error(`the augmentation option ${flagOf(key)} differs from the checkpoint's; a resumed run keeps it`);
    }
  }
}
