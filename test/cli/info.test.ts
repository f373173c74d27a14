import { describe, expect, it } from 'vitest';
import { installedState } from '../../src/cli/commands/info.ts';
import type { InstalledModel } from '../../src/nets/weights/node/store.ts';

const candy = (change: Partial<InstalledModel>): InstalledModel => ({
  name: 'candy',
  kind: 'transformer-net',
  format: 'ncnn-bin',
  filesComplete: true,
  safetensorsPath: '/cache/candy.safetensors',
  converted: 'ok',
  ...change,
});

describe('pastiche info: installed models', () => {
  it('calls a converted file ready only when it matches its checksum record, and says how to repair one that does not', () => {
    expect(installedState(candy({}))).toBe('ready');
    expect(installedState(candy({ format: 'tflite', converted: 'unchecked' }))).toBe('ready');
    expect(installedState(candy({ converted: 'damaged' }))).toBe('damaged: run `npx pastiche weights candy` to repair it');
    expect(installedState(candy({ converted: 'stale' }))).toBe('outdated: run `npx pastiche weights candy` to convert it again');
    expect(installedState(candy({ safetensorsPath: null, converted: null }))).toBe('files only');
    expect(installedState(candy({ safetensorsPath: null, converted: null, filesComplete: false }))).toBe('not installed');
  });
});
