import { describe, expect, it } from 'vitest';
import { accumulateFeatureStats, FeatureStats } from '../../../../src/nets/methods/wct/feature-stats.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { randomValues } from '../../../helpers/oracle.ts';

const runtime = useRuntime();

/** Mean and unbiased covariance in float64, the textbook two-pass way. */
function naive(data: Float32Array, c: number): { mean: Float64Array; cov: Float64Array } {
  const n = data.length / c;
  const mean = new Float64Array(c);
  for (let p = 0; p < n; p++) for (let i = 0; i < c; i++) mean[i] += data[p * c + i]! / n;
  const cov = new Float64Array(c * c);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) cov[i * c + j] += ((data[p * c + i]! - mean[i]!) * (data[p * c + j]! - mean[j]!)) / (n - 1);
  }
  return { mean, cov };
}

describe('feature statistics accumulated over chunks and tiles', () => {
  it('equal the float64 two-pass mean and covariance, whole or in pieces', async () => {
    const rt = runtime();
    const [h, w, c] = [70, 90, 12]; // 6300 pixels: more than one chunk
    const data = randomValues(h * w * c, 11, 0, 50).map((v, i) => v + (i % c) * 100); // large offsets: centring matters
    const expected = naive(data, c);
    const whole = new FeatureStats(c);
    const features = rt.upload(data, [1, h, w, c]);
    await accumulateFeatureStats(whole, features);
    features.dispose();
    // The same pixels as three horizontal strips.
    const pieces = new FeatureStats(c);
    for (const [y0, y1] of [[0, 13], [13, 50], [50, 70]] as const) {
      const strip = rt.upload(data.subarray(y0 * w * c, y1 * w * c), [1, y1 - y0, w, c]);
      await accumulateFeatureStats(pieces, strip);
      strip.dispose();
    }
    for (const stats of [whole, pieces]) {
      expect(stats.count).toBe(h * w);
      const cov = stats.covariance();
      for (let i = 0; i < c; i++) expect(Math.abs(stats.mean[i]! - expected.mean[i]!)).toBeLessThan(1e-4 * Math.abs(expected.mean[i]!));
      for (let i = 0; i < c * c; i++) expect(Math.abs(cov[i]! - expected.cov[i]!)).toBeLessThan(2e-5 * 210 + 1e-4 * Math.abs(expected.cov[i]!));
      expect(Array.from(stats.variance())).toEqual(Array.from({ length: c }, (_, i) => cov[i * c + i]));
    }
  });

  it('needs two pixels for a covariance and the right channel count', async () => {
    const stats = new FeatureStats(3);
    expect(() => stats.covariance()).toThrow(/at least 2 pixels/);
    const wrong = runtime().upload(new Float32Array(8), [1, 2, 1, 4]);
    await expect(accumulateFeatureStats(stats, wrong)).rejects.toThrow(/expected \[1, h, w, 3\]/);
    wrong.dispose();
  });
});
