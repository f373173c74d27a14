/**
 * CI's short fuzz budget: each parser gets a fixed number of inputs (seeds, mutations, structure-aware
 * programs) with a fixed seed, so a failure reproduces; `npm run fuzz` runs the long budget.
 * Property (harness.ts): a result or a typed error naming the file, and bounded ArrayBuffer growth.
 */
import { describe, expect, it } from 'vitest';
import { fuzzTarget } from './harness.ts';
import { ALL_TARGETS } from './targets.ts';

/** Inputs per parser in CI (≈ 60 s for all on two cores); FUZZ_RUNS_SCALE scales it. */
const CI_RUNS: Record<string, number> = {
  zip: 4000,
  pth: 5000,
  pickle: 8000,
  'legacy-torch': 3000,
  safetensors: 8000,
  tflite: 2500,
  ncnn: 400,
  ml5: 1500,
  'vgg19-uint8': 4000,
  image: 3000,
};
const scale = Number(process.env.FUZZ_RUNS_SCALE ?? '1');

describe('parsers under fuzzing', () => {
  for (const target of ALL_TARGETS) {
    it(`${target.name}: every input ends in a result or a typed error, within the memory bound`, async () => {
      const runs = Math.max(1, Math.round((CI_RUNS[target.name] ?? 500) * scale));
      const stats = await fuzzTarget(target, { runs, seed: 0x5eed });
      // Both outcomes must occur, or the inputs never reach past the first check (or never fail).
      expect(stats.runs).toBe(runs);
      expect(stats.rejected).toBeGreaterThan(0);
      if (target.canSucceed !== false) expect(stats.ok).toBeGreaterThan(0);
    });
  }
});
