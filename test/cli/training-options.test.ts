import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addRunOptions, augmentFrom, checkAugmentOnResume, flagOf, storeFrom, type RawRunOptions } from '../../src/cli/training-options.ts';

function parse(args: string[]): { raw: RawRunOptions; explicit: (key: string) => boolean } {
  const command = addRunOptions(new Command('t').exitOverride(), { valEvery: 7, patience: 3, checkpointEvery: 11, checkpointHelp: 'c', seedHelp: 's' });
  command.parse(args, { from: 'user' });
  return { raw: command.opts<RawRunOptions>(), explicit: (key) => command.getOptionValueSource(key) === 'cli' };
}

describe('shared training options', () => {
  it('parses the schedule, augmentation and store options with their defaults', () => {
    const { raw } = parse(['--no-flip', '--jitter', '0.2', '--cache', '/tmp/c']);
    expect([raw.valEvery, raw.patience, raw.checkpointEvery, raw.seed]).toEqual([7, 3, 11, 0]);
    expect(augmentFrom(raw)).toEqual({ flip: false, scale: [1, 1.5], jitter: 0.2 });
    expect(storeFrom(raw)).toEqual({ cacheDir: '/tmp/c' });
    expect(flagOf('scaleRange')).toBe('--scale-range');
  });

  it('lets a resumed run keep its augmentation, and refuses an explicitly different one by its flag', () => {
    const stored = { flip: true, scale: [1, 1.5] as [number, number], jitter: 0.1 };
    const same = parse(['--scale-range', '1,1.5']);
    expect(() => checkAugmentOnResume(same.raw, stored, same.explicit)).not.toThrow();
    const defaults = parse([]); // defaults that differ from a checkpoint's are not the user's choice
    expect(() => checkAugmentOnResume(defaults.raw, { ...stored, jitter: 0.3 }, defaults.explicit)).not.toThrow();
    const other = parse(['--scale-range', '1,2']);
    expect(() => checkAugmentOnResume(other.raw, stored, other.explicit)).toThrow(/--scale-range differs from the checkpoint's/);
  });
});
