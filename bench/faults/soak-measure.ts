/**
 * What a soak run records at every step (live GPU bytes, live tensors, process RSS) and how it is
 * judged: least-squares slopes per 100 steps after a warm-up, and the spread of the GPU counters.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Runtime } from '../../src/gpu/runtime.ts';

/** Every this many steps the garbage collector runs before RSS is read (else RSS follows the V8 heap's own rhythm). */
export const RSS_EVERY = 10;

let collect: (() => void) | null = null;
/** A full garbage collection, available without starting Node with --expose-gc. */
function collectGarbage(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

export interface SoakSample {
  step: number;
  liveBytes: number;
  liveTensors: number;
  /** Process RSS after a full garbage collection, on every RSS_EVERY-th step; NaN on the others. */
  rss: number;
}

export interface SoakSummary {
  steps: number;
  warmup: number;
  /** Least-squares slopes per 100 steps over the samples after the warm-up. */
  slopePer100: { liveBytes: number; liveTensors: number; rss: number };
  /** Highest minus lowest value after the warm-up. */
  spread: { liveBytes: number; liveTensors: number; rss: number };
  /** After the warm-up: the first and last samples with an RSS reading. */
  first: SoakSample;
  last: SoakSample;
}

export function sample(runtime: Runtime, step: number): SoakSample {
  const stats = runtime.stats();
  let rss = NaN;
  if (step % RSS_EVERY === 0) {
    collectGarbage();
    rss = process.memoryUsage().rss;
  }
  return { step, liveBytes: stats.liveBytes, liveTensors: stats.liveTensors, rss };
}

/** Slope of the least-squares line through (x, y), in y per unit x. */
export function leastSquaresSlope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) throw new Error('leastSquaresSlope: at least two points are needed');
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

export function summarize(samples: readonly SoakSample[], warmup: number): SoakSummary {
  const kept = samples.filter((s) => s.step > warmup);
  if (kept.length < 2) throw new Error(`soak: only ${kept.length} samples after a warm-up of ${warmup} steps`);
  type Key = 'liveBytes' | 'liveTensors' | 'rss';
  const points = (k: Key) => kept.filter((s) => !Number.isNaN(s[k]));
  const slope = (k: Key) => leastSquaresSlope(points(k).map((s) => s.step), points(k).map((s) => s[k])) * 100;
  const spread = (k: Key) => Math.max(...points(k).map((s) => s[k])) - Math.min(...points(k).map((s) => s[k]));
  return {
    steps: samples[samples.length - 1]!.step,
    warmup,
    slopePer100: { liveBytes: slope('liveBytes'), liveTensors: slope('liveTensors'), rss: slope('rss') },
    spread: { liveBytes: spread('liveBytes'), liveTensors: spread('liveTensors'), rss: spread('rss') },
    first: points('rss')[0]!,
    last: points('rss').at(-1)!,
  };
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export function formatSummary(name: string, s: SoakSummary): string {
  return (
    `${name}: ${s.steps} steps (warm-up ${s.warmup}); per 100 steps: GPU ${kib(s.slopePer100.liveBytes)}, ` +
    `tensors ${s.slopePer100.liveTensors.toFixed(3)}, RSS ${kib(s.slopePer100.rss)}; ` +
    `spread after warm-up: GPU ${kib(s.spread.liveBytes)}, tensors ${s.spread.liveTensors}, RSS ${kib(s.spread.rss)}; ` +
    `GPU ${kib(s.last.liveBytes)} in ${s.last.liveTensors} tensors, RSS ${(s.last.rss / 2 ** 20).toFixed(1)} MiB at the end`
  );
}
