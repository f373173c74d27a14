/**
 * Short soak (the long one is `npm run soak`): Gatys with L-BFGS and with Adam, and the training loop,
 * run well past their warm-up; live GPU bytes and tensor count must not move at all after it, and
 * process RSS (after a full GC) must not climb faster than RSS_BOUND per 100 steps. A leak of one
 * tensor per step breaks the first two exactly; one of ~250 KB per step on the host (or in the driver:
 * lavapipe's GPU memory is host memory) breaks the third.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vgg } from '../../src/nets/models/vgg.ts';
import { loadPretrainedVgg } from '../../src/nets/weights/node/pretrained.ts';
import { formatSummary, summarize, type SoakSample } from '../../bench/faults/soak-measure.ts';
import { soakGatys, soakTraining } from '../../bench/faults/soak-workloads.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';

const runtime = useRuntime();
/** RSS growth allowed per 100 steps: malloc arenas and V8 still settle for a few hundred steps. */
const RSS_BOUND = 24 * 2 ** 20;
let vgg: Vgg;
const dir = mkdtempSync(join(tmpdir(), 'pastiche-soak-'));

beforeAll(async () => {
  vgg = await loadPretrainedVgg(runtime(), testStoreOptions());
});
afterAll(() => {
  vgg?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function expectFlat(name: string, samples: SoakSample[], warmup: number): void {
  const summary = summarize(samples, warmup);
  console.log(formatSummary(name, summary));
  expect(summary.spread.liveBytes, `${name}: live GPU bytes after warm-up`).toBe(0);
  expect(summary.spread.liveTensors, `${name}: live tensors after warm-up`).toBe(0);
  expect(summary.slopePer100.rss, `${name}: RSS bytes per 100 steps`).toBeLessThan(RSS_BOUND);
}

describe('long runs keep memory flat', () => {
  it.each(['lbfgs', 'adam'] as const)('gatys with %s: 150 steps at 32 px', async (optimizer) => {
    const before = runtime().stats();
    const samples = await soakGatys(runtime(), vgg, optimizer, 150);
    expect(samples.length).toBe(150);
    expectFlat(`gatys ${optimizer}`, samples, 50);
    // And the run gives back everything it held.
    const after = runtime().stats();
    expect([after.liveBytes, after.liveTensors]).toEqual([before.liveBytes, before.liveTensors]);
  }, 600_000);

  it('training: 300 steps of the loop with validation and checkpoints', async () => {
    const before = runtime().stats();
    const samples = await soakTraining(runtime(), 300, dir);
    expect(samples.length).toBe(300);
    expectFlat('training', samples, 100);
    const after = runtime().stats();
    expect([after.liveBytes, after.liveTensors]).toEqual([before.liveBytes, before.liveTensors]);
  }, 600_000);
});
