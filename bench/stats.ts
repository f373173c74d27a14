/**
 * Pure statistics for the bench: no GPU, no I/O (unit-tested in test/bench/harness.test.ts).
 */

export interface Summary {
  /** Number of samples. */
  n: number;
  median: number;
  /** 10th and 90th percentiles (linear interpolation between order statistics). */
  p10: number;
  p90: number;
  min: number;
  max: number;
  /** Median absolute deviation from the median: a spread that one outlier cannot inflate. */
  mad: number;
}

function sorted(values: readonly number[]): number[] {
  for (const v of values) {
    if (!Number.isFinite(v)) throw new Error(`statistics need finite numbers, got ${v}`);
  }
  return [...values].sort((a, b) => a - b);
}

/** The q-quantile (0 ≤ q ≤ 1) of already sorted values, interpolating linearly between ranks. */
export function quantileSorted(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of no values');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile ${q} is outside 0..1`);
  const pos = (values.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = values[lo]!;
  const b = values[hi]!;
  return a + (b - a) * (pos - lo);
}

export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(sorted(values), q);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  if (s.length === 0) throw new Error('cannot summarize zero samples');
  const med = quantileSorted(s, 0.5);
  return {
    n: s.length,
    median: med,
    p10: quantileSorted(s, 0.1),
    p90: quantileSorted(s, 0.9),
    min: s[0]!,
    max: s[s.length - 1]!,
    mad: quantileSorted(sorted(s.map((v) => Math.abs(v - med))), 0.5),
  };
}

/** Work per second in units of 1e9 (GFLOP/s from flops, GB/s from bytes), or undefined. */
export function ratePerSecond(amount: number | undefined, ms: number): number | undefined {
  if (amount === undefined || !(amount > 0) || !(ms > 0)) return undefined;
  return amount / (ms * 1e6);
}

/**
 * How many iterations to time together so that one sample lasts at least `minSampleMs`
 * (short kernels are dominated by the sync latency otherwise), between 1 and `maxReps`.
 */
export function repsFor(estimateMs: number, minSampleMs: number, maxReps: number): number {
  if (!(estimateMs > 0)) return maxReps;
  return Math.max(1, Math.min(maxReps, Math.ceil(minSampleMs / estimateMs)));
}

export interface SamplingRule {
  minSamples: number;
  maxSamples: number;
  /** Soft limit: past minSamples, stop once this much time has been spent. */
  budgetMs: number;
  /** Hard limit: past the first sample, never start one expected to end after this. */
  capMs: number;
}

/**
 * Whether to take another sample, given how many were taken, the time they took and the expected
 * duration of the next one: always a first one; never past maxSamples or a sample expected to end
 * past capMs (slow lines on a slow machine get fewer samples rather than minutes each); otherwise
 * until minSamples, then while under budgetMs.
 */
export function wantsAnotherSample(taken: number, spentMs: number, nextMs: number, o: SamplingRule): boolean {
  if (taken === 0) return true;
  if (taken >= o.maxSamples) return false;
  if (spentMs + nextMs > o.capMs) return false;
  if (taken < o.minSamples) return true;
  return spentMs < o.budgetMs;
}
