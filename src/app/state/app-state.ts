// The demo page's state: what the user chose, what ran, and what is running now. Panels render from
// it; changes go through the store (state/store.ts) so every panel that shows a field re-renders.

import type { RgbImage } from '../../io/image.ts';
import type { GpuStatus } from '../gpu.ts';
import type { LoadedImage } from '../images.ts';
import { defaultValues, type ControlValue, type MethodInputs, type StyleMethod } from '../methods.ts';
import type { RegisteredMethod } from '../registry.ts';
import type { Sample } from '../samples.ts';
import type { LossPoint } from '../ui/loss-plot.ts';
import { Store } from './store.ts';

export interface StyleEntry {
  id: number;
  loaded: LoadedImage;
  /** Slider position 0..1; normalised over the styles a method uses. */
  weight: number;
}

export interface ResultEntry {
  id: number;
  method: StyleMethod;
  image: RgbImage;
  values: Record<string, ControlValue>;
  content: LoadedImage;
  styles: StyleEntry[];
  elapsedMs: number;
  stopped: boolean;
  losses: LossPoint[];
  version: number;
  /** How long the latest live re-render of this result took (none yet: undefined). */
  rerunMs?: number;
}

/** Webcam live mode: frames from the camera, stylized one after another by `method.live`. */
export interface CameraSession {
  method: StyleMethod;
  controller: AbortController;
  stream: MediaStream;
  video: HTMLVideoElement;
  frames: number;
  /** When the latest stylized frame was drawn. */
  lastFrameAt: number;
  /** Smoothed frames per second (from the second frame on), and the latest frame's own time. */
  fps: number;
  frameMs: number;
  lastFrame: RgbImage | null;
  lastResult: RgbImage | null;
  done: Promise<void>;
}

export type RunMode = 'new' | 'live' | 'resume';

export interface ActiveRun {
  mode: RunMode;
  controller: AbortController;
  method: StyleMethod;
  /** The result being updated (live re-render or resume), or null for a new one. */
  target: ResultEntry | null;
  content: LoadedImage;
  styles: StyleEntry[];
  startedAt: number;
  priorMs: number;
  losses: LossPoint[];
  preview: RgbImage | null;
  superseded: boolean;
  done: Promise<void>;
}

/** What the progress bar shows (its label is also the result overlay's text). */
export interface ProgressView {
  label: string;
  /** 0..1, or undefined for an indeterminate bar. */
  fraction?: number;
}

export interface AppState {
  gpu: GpuStatus | null;
  content: LoadedImage | null;
  styles: StyleEntry[];
  samples: Sample[];
  methods: RegisteredMethod[];
  activeId: string;
  /** Control values per method id (filled with defaults on first use). */
  values: Map<string, Record<string, ControlValue>>;
  results: ResultEntry[];
  selected: ResultEntry | null;
  run: ActiveRun | null;
  camera: CameraSession | null;
  /** A control change is about to re-render the selected result. */
  livePending: boolean;
  lastError: string | null;
  status: string;
  /** The progress bar (null: hidden). */
  progress: ProgressView | null;
  /** The overlay over the result, while a run or the camera works on it. */
  overlay: boolean;
  /** `<method>/<control>/<value>` → a small JPEG of the latest result with that gallery option. */
  galleryThumbs: Map<string, string>;
  /** The latest weights file that could not be used, shown on its method's tab until the next try. */
  weightsFileError: { method: string; message: string } | null;
  weightsFileLoading: boolean;
}

export type AppStore = Store<AppState>;

export const MAX_STYLES = 4;
export const MAX_RESULTS = 12;

export function createAppStore(): AppStore {
  return new Store<AppState>({
    gpu: null,
    content: null,
    styles: [],
    samples: [],
    methods: [],
    activeId: '',
    values: new Map(),
    results: [],
    selected: null,
    run: null,
    camera: null,
    livePending: false,
    lastError: null,
    status: '',
    progress: null,
    overlay: false,
    galleryThumbs: new Map(),
    weightsFileError: null,
    weightsFileLoading: false,
  });
}

let lastId = 0;
/** Ids for style entries and results. */
export function nextId(): number {
  return ++lastId;
}

let lastVersion = 0;
/** Every new or updated result gets a higher version (the page shows it as `data-version`). */
export function nextResultVersion(): number {
  return ++lastVersion;
}

export function activeMethod(state: Readonly<AppState>): RegisteredMethod | undefined {
  return state.methods.find((m) => m.method.id === state.activeId);
}

export function gpuReady(state: Readonly<AppState>): boolean {
  return state.gpu?.ok === true;
}

/** The method's control values (its defaults until the user changes one). */
export function valuesFor(state: Readonly<AppState>, method: StyleMethod): Record<string, ControlValue> {
  let values = state.values.get(method.id);
  if (!values) {
    values = defaultValues(method.controls);
    state.values.set(method.id, values);
  }
  return values;
}

/** The styles a method uses, with weights normalised over them. */
export function stylesFor(method: StyleMethod, styles: StyleEntry[]): MethodInputs['styles'] {
  if (method.styleInputs === 'none') return [];
  const used = method.styleInputs === 'one' ? styles.slice(0, 1) : styles;
  const total = used.reduce((a, s) => a + s.weight, 0);
  return used.map((s) => ({
    image: s.loaded.image,
    name: s.loaded.name,
    weight: used.length === 1 ? 1 : total > 0 ? s.weight / total : 1 / used.length,
  }));
}

/** Adds a result to the front of the history (keeping the latest MAX_RESULTS). */
export function withResult(results: ResultEntry[], entry: ResultEntry): ResultEntry[] {
  return [entry, ...results].slice(0, MAX_RESULTS);
}
