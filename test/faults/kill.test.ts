/**
 * Kill anywhere (a short version; `npm run soak` runs many more trials): SIGKILL at random moments
 * never leaves a half-written checkpoint, model or cached weight file, and finishing afterwards gives
 * exactly the files (sha256) of a run that was never interrupted.
 */
import { describe, expect, it } from 'vitest';
import { killTrainingTrials, killWeightsTrials } from '../../bench/faults/kill-trials.ts';
import { testStoreOptions } from '../helpers/shared-data.ts';

describe('killed at random moments', () => {
  it('a training run resumes from the checkpoint left to bit-identical weights', async () => {
    const seed = Date.now() % 1e6;
    const report = await killTrainingTrials({ kills: 6, iterations: 14, seed });
    console.log(`seed ${seed}\n${report.log.join('\n')}`);
    expect(report.kills).toBe(6);
    expect(report.interrupted).toEqual(report.uninterrupted);
  }, 600_000);

  it('pastiche weights, re-run after each kill, ends with the same verified cache', async () => {
    const seed = Date.now() % 1e6;
    const report = await killWeightsTrials({ kills: 4, models: ['candy', 'mathura'], mirror: testStoreOptions().mirrorDir, seed });
    console.log(`seed ${seed}\n${report.log.join('\n')}`);
    expect(report.kills).toBe(4);
    expect(Object.keys(report.interrupted).length).toBeGreaterThan(4);
    expect(report.interrupted).toEqual(report.uninterrupted);
  }, 600_000);
});
