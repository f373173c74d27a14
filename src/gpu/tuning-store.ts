/**
 * Where tuned choices persist between processes: per adapter, a JSON file in Node (written
 * atomically), localStorage in a browser. Loaded by `initRuntime`, written by the tuner.
 */
import type { GpuContext } from './device.ts';
import type { TunedChoice, TuningTable } from './tuning-table.ts';

/** What persistence needs of a runtime: its table and where it runs. */
export interface TuningHost {
  readonly tuning: TuningTable;
  readonly context: Pick<GpuContext, 'platform'>;
}

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
export async function defaultTuneStore(runtime: TuningHost): Promise<TuneStore | null> {
  if (runtime.context.platform === 'browser') {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    return storage ? localStorageTuneStore(storage) : null;
  }
  const fromEnv = process.env.PASTICHE_TUNE_CACHE;
  if (fromEnv === 'off') return null;
  if (fromEnv) return fileTuneStore(fromEnv);
  const { defaultCacheDir } = await import('../io/cache-dir.ts');
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

async function resolveStore(runtime: TuningHost, options: StoreOptions): Promise<TuneStore | null> {
  return options.store === undefined ? defaultTuneStore(runtime) : options.store;
}

/** Loads this adapter's persisted choices into `runtime.tuning`; returns how many there were. */
export async function loadTuning(runtime: TuningHost, options: StoreOptions = {}): Promise<number> {
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
export async function saveTuning(runtime: TuningHost, options: StoreOptions = {}): Promise<TuneStore | null> {
  const store = await resolveStore(runtime, options);
  if (!store) return null;
  const file = await readStore(store, options.warn ?? defaultWarn);
  const mine: AdapterEntries = { ...(file.adapters[runtime.tuning.adapter] ?? {}) };
  for (const [key, choice] of runtime.tuning.entries()) mine[key] = choice;
  file.adapters[runtime.tuning.adapter] = mine;
  await store.save(`${JSON.stringify(file, null, 1)}\n`);
  return store;
}
