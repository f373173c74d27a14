import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerTrainCommand, resumeConfig } from '../../../src/cli/commands/train.ts';
import { DEFAULT_AUGMENT } from '../../../src/nets/train/augment.ts';
import { emptyHistory, type TrainingCheckpoint } from '../../../src/nets/train/node/checkpoint.ts';
import type { FeedForwardTrainConfig } from '../../../src/nets/train/node/run-feed-forward.ts';
import type { JsonValue } from '../../../src/nets/train/trainable.ts';

const run: FeedForwardTrainConfig = {
  style: 'style.jpg',
  contentDir: 'photos',
  size: 256,
  styleSize: 256,
  batch: 4,
  epochs: 2,
  lr: 1e-3,
  contentWeight: 1,
  styleWeight: 5,
  tvWeight: 1,
  contentLayer: 'relu2_2',
  styleLayers: ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'],
  arch: 'transformer-net',
  norm: 'batch',
  dropout: 0.1,
  seed: 0,
  valEvery: 500,
  patience: 5,
  checkpointEvery: 1000,
  augment: { ...DEFAULT_AUGMENT },
};

const checkpoint: TrainingCheckpoint = {
  state: {
    iteration: 10,
    adamStep: 10,
    data: null,
    plateau: { patience: 5, tolerance: 0, best: Infinity, bestIndex: -1, sinceImprovement: 0, index: -1 },
    best: null,
    history: emptyHistory(),
    model: {},
    config: { run: run as unknown as JsonValue },
    seconds: 0,
  },
  model: new Map(),
  best: null,
  adam: { m: [], v: [] },
};

/** Parses a `train transformer` command line and returns its options and which were given. */
function parse(args: string[]): { raw: Record<string, unknown>; explicit: (key: string) => boolean } {
  const program = new Command().exitOverride();
  registerTrainCommand(program);
  const transformer = program.commands.find((c) => c.name() === 'train')!.commands.find((c) => c.name() === 'transformer')!;
  let result: { raw: Record<string, unknown>; explicit: (key: string) => boolean } | null = null;
  transformer.action((raw: Record<string, unknown>, cmd: Command) => {
    result = { raw, explicit: (key) => cmd.getOptionValueSource(key) === 'cli' };
  });
  program.parse(['node', 'pastiche', 'train', 'transformer', ...args]);
  return result!;
}

describe('pastiche train transformer', () => {
  it('parses the documented options with their defaults', () => {
    const { raw } = parse(['--style', 's.jpg', '--content-dir', 'photos', '--norm', 'batch', '--dropout', '0.1', '--arch', 'johnson', '--no-flip', '--scale-range', '1,2']);
    expect(raw).toMatchObject({ style: 's.jpg', contentDir: 'photos', size: 256, batch: 4, lr: 1e-3, norm: 'batch', dropout: 0.1, arch: 'johnson', flip: false, scaleRange: [1, 2], valEvery: 500, patience: 5, checkpointEvery: 1000, output: 'model.safetensors' });
    expect(() => parse(['--norm', 'layer'])).toThrow();
    expect(() => parse(['--size', '-3'])).toThrow();
  });

  it('resumes with the checkpoint’s configuration, letting only the run length and schedule change', () => {
    const same = parse(['--resume', 'x.ckpt', '--iterations', '20000', '--patience', '3', '--lr', '0.001']);
    const config = resumeConfig(checkpoint, same.raw as never, same.explicit);
    const { epochs: _epochs, ...rest } = run;
    expect(config).toEqual({ ...rest, iterations: 20000, patience: 3 });
    const other = parse(['--resume', 'x.ckpt', '--lr', '0.01']);
    expect(() => resumeConfig(checkpoint, other.raw as never, other.explicit)).toThrow(/--lr 0.01 differs from the checkpoint's 0.001/);
    const flip = parse(['--resume', 'x.ckpt', '--no-flip']);
    expect(() => resumeConfig(checkpoint, flip.raw as never, flip.explicit)).toThrow(/augmentation/);
  });
});
