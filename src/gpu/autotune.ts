/**
 * Kernel variants chosen by measurement.
 *
 * A kernel family (conv2d, matmul) has several correct variants whose speed depends on the GPU and
 * the shape. `autotune` times each candidate on this device for a shape class and keeps the
 * fastest. Choices live in a `TuningTable` per runtime (an in-memory map: kernels look a shape up
 * once per launch and fall back to their fixed rule when it has no entry) and are persisted per
 * adapter identity — vendor, architecture, device and description, where Dawn and browsers put the
 * driver version — in Node as a JSON file in the weights cache (written atomically), in the browser
 * in localStorage.
 *
 * Tuning is opt-in and never happens implicitly: `tuneWorkload(runtime, work)` runs `work` once while the
 * kernels report the shapes they launch, then times those shapes' candidates (`pastiche tune`,
 * `npm run bench -- --tune`).
 */
import { PassTimestamps } from './pass-timestamps.ts';
import type { Runtime } from './runtime.ts';
import { scope } from './scope.ts';
import { sizeOf, type Tensor } from './tensor.ts';
import { saveTuning, type StoreOptions } from './tuning-store.ts';
import type { TuneRequest } from './tuning-table.ts';

// The tuning API in one place for its users (kernels, the CLI, tests).
export { defaultTuneStore, fileTuneStore, loadTuning, localStorageTuneStore, saveTuning } from './tuning-store.ts';
export type { StoreOptions, TuneStore, TuningHost, Warn } from './tuning-store.ts';
export { adapterKey, TuningTable } from './tuning-table.ts';
export type { AdapterIdentity, TuneCandidate, TuneJob, TuneRequest, TunedChoice } from './tuning-table.ts';

/** Inputs for timing candidates: values in [-1, 1) from a seeded LCG (timing does not depend on them). */
export function tuningNoise(runtime: Runtime, shape: readonly number[], seed: number, dtype: 'f32' | 'f16' = 'f32'): Tensor {
  const values = new Float32Array(sizeOf(shape));
  let s = seed >>> 0;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = s / 2147483648 - 1;
  }
  return runtime.upload(values, shape, dtype);
}

// ---------------------------------------------------------------------------------------------
// Clocks

/** Measures one run of already-compiled work: GPU time from timestamp queries, or wall time with a full sync. */
export interface TuneClock {
  readonly name: string;
  time(runtime: Runtime, record: () => void): Promise<number>;
}

/** Wall time from recording to the end of the GPU work (submit and full sync included). */
export const wallClock: TuneClock = {
  name: 'wall',
  async time(runtime, record) {
    await runtime.sync();
    const t0 = performance.now();
    record();
    await runtime.sync();
    return performance.now() - t0;
  },
};

/** Sums the compute passes' begin/end timestamps of one run (the recorder writes them through its timer hook). */
class TimestampClock implements TuneClock {
  readonly name = 'gpu';
  private readonly stamps: PassTimestamps;

  constructor(device: GPUDevice, capacity = 512) {
    this.stamps = new PassTimestamps(device, capacity, 'autotune timestamps');
  }

  async time(runtime: Runtime, record: () => void): Promise<number> {
    await runtime.sync();
    const previous = runtime.recorder.timer;
    this.stamps.begin();
    runtime.recorder.timer = this.stamps;
    const t0 = performance.now();
    try {
      record();
      await runtime.flush();
    } finally {
      runtime.recorder.timer = previous;
    }
    await runtime.sync();
    const wall = performance.now() - t0;
    // Nothing timed, too many passes for the query set, or bad stamps: the wall time just taken.
    return (await this.stamps.collect()) ?? wall;
  }

  destroy(): void {
    this.stamps.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Tuning

export interface AutotuneOptions extends StoreOptions {
  /** Default: GPU timestamps when the adapter has 'timestamp-query', else wall time. */
  clock?: TuneClock;
  /** Timed runs per candidate (the median is kept); default 3. */
  samples?: number;
  /** A candidate whose first run is this many times slower than the best so far is not sampled further; default 3. */
  pruneFactor?: number;
  /** Measure shapes that already have a choice again; default false. */
  force?: boolean;
  /** Write the table to the store afterwards; default true. */
  persist?: boolean;
  /** Progress lines (one per shape). */
  onProgress?: (line: string) => void;
}

export interface TuneResult {
  family: string;
  shape: string;
  choice: string;
  ms: Record<string, number>;
  /** False when the shape already had a choice and was not measured again. */
  measured: boolean;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A sample shorter than this repeats the run (up to MAX_REPS times) so the timer's resolution matters less. */
const MIN_SAMPLE_MS = 2;
const MAX_REPS = 32;

const clocks = new WeakMap<GPUDevice, TimestampClock>();

export function defaultClock(runtime: Runtime): TuneClock {
  if (!runtime.device.features.has('timestamp-query')) return wallClock;
  let clock = clocks.get(runtime.device);
  if (!clock) clocks.set(runtime.device, (clock = new TimestampClock(runtime.device)));
  return clock;
}

/** Times every candidate of each request and records the fastest in `runtime.tuning`. */
export async function tuneRequests(runtime: Runtime, requests: readonly TuneRequest[], options: AutotuneOptions = {}): Promise<TuneResult[]> {
  const clock = options.clock ?? defaultClock(runtime);
  const samples = Math.max(1, options.samples ?? 3);
  const pruneFactor = options.pruneFactor ?? 3;
  const results: TuneResult[] = [];
  for (const req of requests) {
    const known = runtime.tuning.get(req.family, req.shape);
    if (known && !options.force) {
      results.push({ family: req.family, shape: req.shape, choice: known.choice, ms: known.ms, measured: false });
      continue;
    }
    const job = req.prepare();
    const ms: Record<string, number> = {};
    let best: string | null = null;
    try {
      for (const candidate of job.candidates) {
        const record = () => scope(() => candidate.run());
        record(); // warm-up: compiles the pipelines
        await runtime.sync();
        const first = await clock.time(runtime, record);
        // Runs near the timer's resolution (65 µs on lavapipe) are timed several to a sample.
        const reps = first < MIN_SAMPLE_MS ? Math.min(MAX_REPS, Math.ceil(MIN_SAMPLE_MS / Math.max(first, 0.01))) : 1;
        const repeated = () => {
          for (let i = 0; i < reps; i++) record();
        };
        const sample = async () => (await clock.time(runtime, repeated)) / reps;
        const times = [reps === 1 ? first : await sample()];
        const bestMs = best === null ? Infinity : ms[best]!;
        if (times[0]! <= pruneFactor * bestMs) {
          while (times.length < samples) times.push(await sample());
        }
        ms[candidate.id] = median(times);
        if (best === null || ms[candidate.id]! < ms[best]!) best = candidate.id;
      }
    } finally {
      job.dispose();
      await runtime.sync();
    }
    if (best === null) continue; // no candidates for this shape
    runtime.tuning.set(req.family, req.shape, { choice: best, ms, clock: clock.name, date: new Date().toISOString() });
    const result = { family: req.family, shape: req.shape, choice: best, ms, measured: true };
    results.push(result);
    options.onProgress?.(describeResult(result));
  }
  return results;
}

/** One line: the shape, the choice, and every candidate's time. */
export function describeResult(r: TuneResult): string {
  const times = Object.entries(r.ms)
    .sort((a, b) => a[1] - b[1])
    .map(([id, t]) => `${id} ${t < 10 ? t.toFixed(2) : t.toFixed(1)}`)
    .join(', ');
  return `${r.family} ${r.shape}: ${r.choice}${r.measured ? '' : ' (cached)'}  [ms: ${times}]`;
}

/** Capture rounds of `tuneWorkload` at most: a choice's own kernels are tuned in the next round. */
const MAX_CAPTURE_ROUNDS = 4;

/**
 * Runs `work` while recording the shapes its kernels launch, tunes each shape, and (unless
 * `persist` is false) writes the choices to the store. `work` frees what it creates (e.g. with
 * `scope`); it may be async, e.g. to set workloads up between launches. A tuned choice can launch
 * shapes the rules did not (Winograd's grouped products), so `work` runs again until no new shape
 * appears; the results follow the launch order of that last run, so a second call lists the same
 * shapes in the same order.
 */
export async function tuneWorkload(runtime: Runtime, work: () => void | Promise<void>, options: AutotuneOptions = {}): Promise<TuneResult[]> {
  const capture = () =>
    runtime.tuning.captureShapes(async () => {
      await work();
      await runtime.sync();
    });
  const key = (r: { family: string; shape: string }) => `${r.family}|${r.shape}`;
  const results = new Map<string, TuneResult>();
  const seen = new Set<string>();
  let launched: TuneRequest[] = [];
  for (let round = 0; round < MAX_CAPTURE_ROUNDS; round++) {
    launched = await capture();
    const fresh = launched.filter((r) => !seen.has(key(r)));
    if (fresh.length === 0) break;
    for (const r of fresh) seen.add(key(r));
    for (const r of await tuneRequests(runtime, fresh, options)) results.set(key(r), r);
  }
  const ordered = launched.flatMap((r) => results.get(key(r)) ?? []);
  const dropped = [...results.values()].filter((r) => !launched.some((l) => key(l) === key(r)));
  if (options.persist !== false) await saveTuning(runtime, options);
  return [...ordered, ...dropped];
}
