/**
 * Device loss and GPU out-of-memory in Node: the run in progress ends with one clear error, nothing
 * stays allocated, and a runtime created afterwards works. The CLI prints one line and exits 1
 * without writing its output. (The page's side is in test/e2e/gpu-faults.e2e.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GpuOutOfMemoryError } from '../../src/gpu/errors.ts';
import { initRuntime, type GpuRuntime } from '../../src/gpu/runtime.ts';
import { runGatys } from '../../src/nets/methods/gatys/gatys.ts';
import { loadPretrainedVgg } from '../../src/nets/weights/node/pretrained.ts';
import { train } from '../../src/nets/train/loop.ts';
import { TinyConvModel, TinyImages } from '../../bench/faults/tiny-training.ts';
import { soakImages } from '../../bench/faults/soak-workloads.ts';
import { REPO_ROOT, testStoreOptions } from '../helpers/shared-data.ts';

const IMAGES = join(REPO_ROOT, '..', 'shared', 'images');

async function trainTiny(runtime: GpuRuntime, iterations: number, onIteration?: (i: number) => void) {
  const model = new TinyConvModel(runtime, 1);
  try {
    return await train({ model, data: new TinyImages(1, 2), iterations, valEvery: 0, onIteration: (r) => onIteration?.(r.iteration) });
  } finally {
    model.dispose();
  }
}

/** Runs the CLI in a child process; returns its exit code and what it printed to stderr (driver warnings dropped). */
function cli(args: string[], env: Record<string, string> = {}, preload?: string) {
  const result = spawnSync(process.execPath, [...(preload ? ['--import', preload] : []), join(REPO_ROOT, 'bin', 'pastiche.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PASTICHE_WEIGHTS_MIRROR: testStoreOptions().mirrorDir, ...env },
  });
  const stderr = result.stderr.split('\n').filter((l) => l && !/^Warning: max\w+ artificially reduced/.test(l));
  return { status: result.status, stderr };
}

describe('a lost GPU device', () => {
  it('ends a training run with a clear error; a new runtime trains again', async () => {
    const runtime = (await initRuntime()) as GpuRuntime;
    await expect(trainTiny(runtime, 40, (i) => i === 3 && runtime.device.destroy())).rejects.toThrow(/^The GPU device was lost \(destroyed\).*Create a new runtime/);
    expect(runtime.lost).toBe(true);
    const fresh = (await initRuntime()) as GpuRuntime;
    expect(fresh).not.toBe(runtime);
    expect((await trainTiny(fresh, 3)).iteration).toBe(3);
    expect(fresh.stats().liveTensors).toBe(0);
  });

  it('the CLI says so in one line, exits 1 and writes no output', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'pastiche-lost-')), 'out.png');
    const { status, stderr } = cli(
      ['stylize', join(IMAGES, 'content_chelsea.png'), '--style', join(IMAGES, 'starry_night_vangogh.jpg'), '--method', 'gatys', '--size', '48', '--iterations', '30', '-o', out],
      { PASTICHE_TEST_LOSE_DEVICE_AFTER: '12' },
      join(import.meta.dirname, 'fixtures', 'lose-device.mjs'),
    );
    expect(status).toBe(1);
    expect(stderr.filter((l) => /lost/.test(l)).length).toBeGreaterThan(0);
    expect(stderr.at(-1)).toMatch(/The GPU device was lost \(destroyed\)/);
    expect(stderr.every((l) => !/^\s+at /.test(l))).toBe(true);
    expect(existsSync(out)).toBe(false);
  });
});

describe('an allocation beyond the adapter’s limits', () => {
  it('ends a Gatys run with a clear error, frees everything, and the runtime works on', async () => {
    const runtime = (await initRuntime()) as GpuRuntime;
    const vgg = await loadPretrainedVgg(runtime, testStoreOptions());
    try {
      const before = runtime.stats();
      const { content: small, style } = await soakImages(32);
      // 1024 px: VGG19's first activations need 170 MiB in one buffer; lavapipe allows 128 MiB.
      const limit = Math.min(runtime.context.limits.maxBufferSize, runtime.context.limits.maxStorageBufferBindingSize);
      const side = Math.ceil(Math.sqrt(limit / (64 * 4))) + 64;
      const big = { width: side, height: side, data: new Float32Array(side * side * 3).fill(128) };
      const failure = runGatys(vgg, big, [style], { iterations: 2, contentLayers: { relu2_1: 1 }, styleLayers: { relu1_1: 1 } });
      await expect(failure).rejects.toThrow(GpuOutOfMemoryError);
      await expect(failure).rejects.toThrow(/needs a [\d.]+ MiB buffer but this adapter allows at most [\d.]+ MiB\. Use a smaller image size/);
      const after = runtime.stats();
      expect([after.liveBytes, after.liveTensors]).toEqual([before.liveBytes, before.liveTensors]);
      expect(runtime.lost).toBe(false);
      const result = await runGatys(vgg, small, [style], { iterations: 2, contentLayers: { relu2_1: 1 }, styleLayers: { relu1_1: 1 } });
      expect(result.iterations).toBe(2);
    } finally {
      vgg.dispose();
    }
  });

  it('the CLI says so in one line, exits 1 and writes no output', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'pastiche-oom-')), 'out.png');
    const { status, stderr } = cli(['stylize', join(IMAGES, 'content_chelsea.png'), '--style', join(IMAGES, 'starry_night_vangogh.jpg'), '--method', 'gatys', '--size', '1024', '--iterations', '2', '-o', out]);
    expect(status).toBe(1);
    expect(stderr.at(-1)).toMatch(/needs a [\d.]+ MiB buffer but this adapter allows at most [\d.]+ MiB/);
    expect(stderr.every((l) => !/^\s+at /.test(l))).toBe(true);
    expect(existsSync(out)).toBe(false);
  });
});
