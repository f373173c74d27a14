/**
 * Kernel variants chosen by measurement (issue #9).
 *
 * A kernel family (conv2d, matmul) has several correct variants whose speed depends on the GPU and
 * the shape. `autotune` times each candidate on this device for a shape class and keeps the
 * fastest. Choices live in a `TuningTable` per runtime (an in-memory map: kernels look a shape up
 * once per launch and fall back to their fixed rule when it has no entry) and are persisted per
 * adapter identity — vendor, architecture, device and description, where Dawn and browsers put the
 * driver version — in Node as a JSON file in the weights cache (written atomically), in the browser
 * in localStorage.
 *
 * Tuning is opt-in and never happens implicitly: `runtime.autotune(work)` runs `work` once while the
 * kernels report the shapes they launch, then times those shapes' candidates (`pastiche tune`,
 * `npm run bench -- --tune`).
 */
import { PassTimestamps } from './pass-timestamps.ts';
import type { Runtime } from './runtime.ts';
import { scope } from './scope.ts';
import { sizeOf, type Tensor } from './tensor.ts';

export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** The cache key of an adapter; a driver update changes the description, so choices are re-tuned. */
export function adapterKey(info: AdapterIdentity): string {
  return [info.vendor, info.architecture, info.device, info.description].map((s) => s || '?').join(' | ');
}

/** One variant to time. `run` records one launch of it (it does not wait); its outputs are freed by the tuner. */
export interface TuneCandidate {
  id: string;
  run(): void;
}

/** Inputs of one shape and the variants that can process them. */
export interface TuneJob {
  candidates: TuneCandidate[];
  dispose(): void;
}

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

/** A shape a kernel launched while shapes were being captured. `prepare` is only called to tune it. */
export interface TuneRequest {
  family: string;
  shape: string;
  prepare(): TuneJob;
}

/** A tuned choice and the measurements behind it. */
export interface TunedChoice {
  choice: string;
  /** Median ms per run of every candidate measured (pruned ones: their single sample). */
  ms: Record<string, number>;
  clock: string;
  date: string;
}

const entryKey = (family: string, shape: string) => `${family}|${shape}`;

/** The tuned choices of one runtime's adapter, and the hook through which kernels report shapes. */
export class TuningTable {
  private readonly choices = new Map<string, TunedChoice>();
  private captured: Map<string, TuneRequest> | null = null;

  constructor(readonly adapter: string) {}

  /** The tuned variant for a shape class, if any (one map lookup: kernels call this per launch). */
  lookup(family: string, shape: string): string | undefined {
    return this.choices.get(entryKey(family, shape))?.choice;
  }

  get(family: string, shape: string): TunedChoice | undefined {
    return this.choices.get(entryKey(family, shape));
  }

  set(family: string, shape: string, choice: TunedChoice): void {
    this.choices.set(entryKey(family, shape), choice);
  }

  get size(): number {
    return this.choices.size;
  }

  /** Entries keyed `family|shape`, as persisted. */
  entries(): [string, TunedChoice][] {
    return [...this.choices];
  }

  clear(): void {
    this.choices.clear();
  }

  /** Whether kernels should report their shapes (only inside `captureShapes`). */
  get capturing(): boolean {
    return this.captured !== null;
  }

  /** Called by kernels that have variants; records the shape while capturing, else does nothing. */
  offer(family: string, shape: string, prepare: () => TuneJob): void {
    if (!this.captured) return;
    const key = entryKey(family, shape);
    if (!this.captured.has(key)) this.captured.set(key, { family, shape, prepare });
  }

  /** Runs `work` while recording every tunable shape the kernels launch; returns them in launch order. */
  async captureShapes(work: () => void | Promise<void>): Promise<TuneRequest[]> {
    if (this.captured) throw new Error('autotune: shapes are already being captured');
    const captured = new Map<string, TuneRequest>();
    this.captured = captured;
    try {
      await work();
    } finally {
      this.captured = null;
    }
    return [...captured.values()];
  }
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
// Persistence

const FILE_FORMAT = 'pastiche-autotune';
const FILE_VERSION = 1;
const LOCAL_STORAGE_KEY = 'pastiche.autotune';

/** Where tuned choices are kept between processes: raw text in and out; parsing is done here. */
export interface TuneStore {
  /** Shown in messages: a file path, or 'localStorage'. */
  readonly where: string;
  /** The stored text, or null when nothing is stored yet. */
  load(): Promise<string | null>;
  save(text: string): Promise<void>;
}

type AdapterEntries = Record<string, TunedChoice>;
interface TuneFile {
  format: typeof FILE_FORMAT;
  version: number;
  adapters: Record<string, AdapterEntries>;
}

/** A JSON file, replaced atomically (temp file + rename) so a reader never sees half of it. */
export function fileTuneStore(path: string): TuneStore {
  // node:fs is loaded on use so that this module also runs in the browser.
  const fsName = 'node:fs/promises';
  return {
    where: path,
    async load() {
      const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
      try {
        return await fs.readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async save(text) {
      const { writeFileAtomic } = await import('../io/atomic-write.ts');
      await writeFileAtomic(path, text);
    },
  };
}

export function localStorageTuneStore(storage: Storage, key = LOCAL_STORAGE_KEY): TuneStore {
  return {
    where: `localStorage['${key}']`,
    load: () => Promise.resolve(storage.getItem(key)),
    save: (text) => Promise.resolve(storage.setItem(key, text)),
  };
}

/**
 * The store a runtime uses by default: `$PASTICHE_TUNE_CACHE` (a file path; 'off' for none), else
 * `autotune.json` in the weights cache folder in Node, localStorage in a browser.
 */
export async function defaultTuneStore(runtime: Runtime): Promise<TuneStore | null> {
  if (runtime.context.platform === 'browser') {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    return storage ? localStorageTuneStore(storage) : null;
  }
  const fromEnv = process.env.PASTICHE_TUNE_CACHE;
  if (fromEnv === 'off') return null;
  if (fromEnv) return fileTuneStore(fromEnv);
  const { defaultCacheDir } = await import('../nets/weights/store.ts');
  return fileTuneStore(`${defaultCacheDir()}/autotune.json`);
}

function isChoice(v: unknown): v is TunedChoice {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c.choice === 'string' &&
    typeof c.clock === 'string' &&
    typeof c.date === 'string' &&
    typeof c.ms === 'object' &&
    c.ms !== null &&
    Object.values(c.ms).every((x) => typeof x === 'number')
  );
}

/** Parses a stored cache; throws an Error saying what is wrong with it. */
function parseTuneFile(text: string): TuneFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  const file = data as Partial<TuneFile> | null;
  if (typeof file !== 'object' || file === null || file.format !== FILE_FORMAT) throw new Error(`not a ${FILE_FORMAT} file`);
  if (file.version !== FILE_VERSION) throw new Error(`version ${String(file.version)}, this pastiche reads version ${FILE_VERSION}`);
  if (typeof file.adapters !== 'object' || file.adapters === null) throw new Error("no 'adapters' object");
  for (const [adapter, entries] of Object.entries(file.adapters)) {
    if (typeof entries !== 'object' || entries === null) throw new Error(`adapter '${adapter}' has no entries object`);
    for (const [key, choice] of Object.entries(entries)) {
      if (!isChoice(choice)) throw new Error(`entry '${key}' of adapter '${adapter}' is malformed`);
    }
  }
  return file as TuneFile;
}

export type Warn = (message: string) => void;
// A warning, not an error: a broken cache only costs speed.
const defaultWarn: Warn = (message) => console.warn(`pastiche: ${message}`);

/** Reads a store; a missing one is empty, a corrupt one is reported through `warn` and treated as empty. */
async function readStore(store: TuneStore, warn: Warn): Promise<TuneFile> {
  const empty: TuneFile = { format: FILE_FORMAT, version: FILE_VERSION, adapters: {} };
  let text: string | null;
  try {
    text = await store.load();
  } catch (err) {
    warn(`cannot read the tuning cache ${store.where} (${(err as Error).message}); kernels use their built-in rules`);
    return empty;
  }
  if (text === null) return empty;
  try {
    return parseTuneFile(text);
  } catch (err) {
    warn(`ignoring the tuning cache ${store.where}: ${(err as Error).message}; kernels use their built-in rules until \`pastiche tune\` rewrites it`);
    return empty;
  }
}

export interface StoreOptions {
  /** Default: `defaultTuneStore(runtime)`; null: nothing is persisted. */
  store?: TuneStore | null;
  warn?: Warn;
}

async function resolveStore(runtime: Runtime, options: StoreOptions): Promise<TuneStore | null> {
  return options.store === undefined ? defaultTuneStore(runtime) : options.store;
}

/** Loads this adapter's persisted choices into `runtime.tuning`; returns how many there were. */
export async function loadTuning(runtime: Runtime, options: StoreOptions = {}): Promise<number> {
  const store = await resolveStore(runtime, options);
  if (!store) return 0;
  const file = await readStore(store, options.warn ?? defaultWarn);
  const entries = file.adapters[runtime.tuning.adapter] ?? {};
  let loaded = 0;
  for (const [key, choice] of Object.entries(entries)) {
    const bar = key.indexOf('|');
    if (bar <= 0) continue;
    runtime.tuning.set(key.slice(0, bar), key.slice(bar + 1), choice);
    loaded++;
  }
  return loaded;
}

/** Writes `runtime.tuning` into the store, keeping other adapters' entries (and this adapter's others). */
export async function saveTuning(runtime: Runtime, options: StoreOptions = {}): Promise<TuneStore | null> {
  const store = await resolveStore(runtime, options);
  if (!store) return null;
  const file = await readStore(store, options.warn ?? defaultWarn);
  const mine: AdapterEntries = { ...(file.adapters[runtime.tuning.adapter] ?? {}) };
  for (const [key, choice] of runtime.tuning.entries()) mine[key] = choice;
  file.adapters[runtime.tuning.adapter] = mine;
  await store.save(`${JSON.stringify(file, null, 1)}\n`);
  return store;
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

/**
 * Runs `work` once while recording the shapes its kernels launch, tunes each shape, and (unless
 * `persist` is false) writes the choices to the store. `work` frees what it creates (e.g. with
 * `scope`); it may be async, e.g. to set workloads up between launches.
 */
export async function tuneWorkload(runtime: Runtime, work: () => void | Promise<void>, options: AutotuneOptions = {}): Promise<TuneResult[]> {
  const requests = await runtime.tuning.captureShapes(async () => {
    await work();
    await runtime.sync();
  });
  const results = await tuneRequests(runtime, requests, options);
  if (options.persist !== false) await saveTuning(runtime, options);
  return results;
}
