import { describe, expect, it } from 'vitest';
import { installedState, modelLines } from '../../src/cli/commands/info.ts';
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

describe('pastiche info: bundled and cached models', () => {
  it('lists the bundled models with their size and state, then the cache', () => {
    const lines = modelLines(
      [
        { name: 'mathura', kind: 'lengstrom', path: '/pkg/weights/bundled/mathura.safetensors', bytes: 3_359_636, state: 'ok' },
        { name: 'magenta-predict', kind: 'magenta', path: '/pkg/weights/bundled/magenta/p.tflite', bytes: 2_828_838, state: 'damaged' },
      ],
      [candy({})],
      '/pkg/weights/bundled/',
      '/home/u/.cache/pastiche',
    );
    expect(lines).toEqual([
      'bundled models (offline): /pkg/weights/bundled/',
      '  mathura          lengstrom          3.4 MB  ready',
      '  magenta-predict  magenta            2.8 MB  damaged (sha256 mismatch): reinstall pastiche',
      'cached models: /home/u/.cache/pastiche',
      '  candy            transformer-net  ready',
    ]);
    expect(modelLines([], [], null, '/c')).toEqual([
      'bundled models (offline): off (PASTICHE_BUNDLED_DIR is empty)',
      '  (none)',
      'cached models: /c',
      '  (none: other models download on first use, or all at once with `npx pastiche weights`)',
    ]);
  });
});
