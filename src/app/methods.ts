// The contract between the demo page and a style-transfer method.
//
// To add a method, create `src/app/methods/<id>.ts` whose default export is a `StyleMethod`.
// The page finds it by itself (see registry.ts): no list to edit. The page renders the method's
// controls, gathers the inputs, shows progress, previews, loss curves and the result; the method
// only computes.

import type { RgbImage } from '../io/image.ts';

// ---- controls ------------------------------------------------------------------------------------

interface ControlBase {
  /** Key in the values object `run()` receives. */
  id: string;
  label: string;
  /** One short line under the control. */
  hint?: string;
  /**
   * Re-render automatically when this control changes and a result of this method is on screen.
   * Only where a re-render is fast (about a second or less on a GPU): keep the slow one-off work
   * (weights, style predictions, encoder features) cached so that it only redoes the cheap part.
   * The page tries the first re-render whatever the first run cost, then goes by the measured time.
   */
  live?: boolean;
  /** Show the control only when this returns true for the current values (e.g. optimizer-specific settings). */
  visibleWhen?: (values: ControlValues) => boolean;
}

/** A number. `scale: 'log'` for weights that span decades (e.g. 1e0..1e6). */
export interface SliderControl extends ControlBase {
  kind: 'slider';
  min: number;
  max: number;
  /** Step in value units (linear) or ignored (log, which moves in 1/20 decades). */
  step: number;
  default: number;
  scale?: 'linear' | 'log';
  /** Whole numbers only (a log slider rounds to them). */
  integer?: boolean;
  /** How to print the value (default: the number, trimmed). */
  format?: (value: number) => string;
}

/** One of a few options, shown as a segmented button row. */
export interface SelectControl extends ControlBase {
  kind: 'select';
  options: { value: string; label: string }[];
  default: string;
}

export interface ToggleControl extends ControlBase {
  kind: 'toggle';
  default: boolean;
}

/** One of many options with pictures, e.g. the feed-forward model gallery. */
export interface GalleryControl extends ControlBase {
  kind: 'gallery';
  options: { value: string; label: string; thumbnail?: string; caption?: string }[];
  default: string;
}

export type ControlSpec = SliderControl | SelectControl | ToggleControl | GalleryControl;

export type ControlValue = number | string | boolean;
export type ControlValues = Readonly<Record<string, ControlValue>>;

// ---- inputs and progress -------------------------------------------------------------------------

export interface StyleInput {
  image: RgbImage;
  /** What the user calls it (file name or sample title). */
  name: string;
  /** Interpolation weight; the weights of all styles passed to `run()` sum to 1. */
  weight: number;
}

export interface MethodInputs {
  /** The photo to stylize, at most 1024 px on its longer side (methods resize further as they need). */
  content: RgbImage;
  /**
   * Style images with their interpolation weights: empty for `styleInputs: 'none'`, exactly one for
   * `'one'`, one or more for `'many'`.
   */
  styles: StyleInput[];
  /**
   * Set when the user resumes a stopped run of a `resumable` method: the image that run returned.
   * Continue optimising from it instead of starting over.
   */
  resumeFrom?: RgbImage;
  /** With `resumeFrom`: the last step the stopped run reported. Continue counting (and reporting `step`) from here. */
  resumeStep?: number;
}

export interface Progress {
  /** Which phase; the page shows a label for the known ones and `message` for others. */
  stage?: 'weights' | 'compile' | 'run' | (string & {});
  /** Human text, e.g. "Downloading mosaic (3.1 / 6.7 MB)" or "Iteration 40 / 300". */
  message?: string;
  /** 0..1 for a determinate bar; omit for an indeterminate one. */
  fraction?: number;
  /** An intermediate image, drawn live in the result pane (e.g. every few optimiser steps). */
  preview?: RgbImage;
  /** Loss values at `step`, plotted per key (e.g. { content: 1.2e5, style: 3.4e6, tv: 12 }). */
  losses?: Record<string, number>;
  /** The optimiser step these values belong to; after a resume, keep counting from `resumeStep`. */
  step?: number;
}

export type ProgressFn = (progress: Progress) => void;

// ---- the method ----------------------------------------------------------------------------------

export interface StyleMethod {
  /** Stable, URL-safe id (used in the address bar: #method=<id>). */
  id: string;
  /** Tab label. */
  label: string;
  /** One line shown under the tabs. */
  summary: string;
  /** Tab order (lower first). */
  order: number;
  /** How many style images the method takes: none (the style is in the model), one, or many (interpolated). */
  styleInputs: 'none' | 'one' | 'many';
  controls: ControlSpec[];
  /** Shows Stop / Resume: `run()` resolves with its partial result when `signal` aborts. */
  resumable?: boolean;
  /**
   * `true` when the method can run in this page now; otherwise one short sentence saying why not
   * (shown on the disabled tab), e.g. "Coming soon: …" or "Weights missing: run `npx pastiche weights`".
   * Called once at start-up, after WebGPU is up; may fetch `/weights/index.json` (see weights.ts).
   */
  available(): Promise<true | string>;
  /**
   * Stylizes `inputs.content`. Report progress through `onProgress` (cheap: call it often).
   * When `signal` aborts: a `resumable` method resolves with its current image; any other method
   * rejects (throw `signal.reason`). GPU memory must be freed either way.
   */
  run(inputs: MethodInputs, controls: ControlValues, onProgress: ProgressFn, signal: AbortSignal): Promise<RgbImage>;
  /**
   * A weights file the user can load from disk for this method (e.g. a decoder they trained). The page
   * shows a file picker on the method's tab, also while the method is unavailable, and asks
   * `available()` again after a file is loaded.
   */
  weightsFile?: WeightsFileInput;
  /**
   * Webcam live mode: set by methods fast enough to restyle camera frames continuously (one forward
   * pass per frame). The page shows a "Live webcam" button and an fps readout.
   */
  live?: LiveMode;
}

/** A user-supplied weights file: the picker's wording, and what to do with the file. */
export interface WeightsFileInput {
  /** What the file is, for the row's title, e.g. 'Decoder'. */
  label: string;
  /** The picker's button text, e.g. 'Load decoder file…'. */
  button: string;
  /** File types the picker offers (an `<input accept>` value), e.g. '.safetensors,.pth'. */
  accept: string;
  /** One short line under the row. */
  hint?: string;
  /** The weights in use now, in a few words (null: none). */
  current(): string | null;
  /**
   * Checks the file and makes the method use it. Rejects with an error that says what is wrong with
   * the file (then whatever was in use before stays in use).
   */
  load(file: File, onProgress: ProgressFn): Promise<void>;
}

/**
 * Continuous stylization of camera frames. The page captures each frame straight at `frameSize`
 * (no 1024 px detour) and calls `frame` again and again; frames keep one size, so the engine's
 * buffer pool hands the same GPU buffers back every frame.
 */
export interface LiveMode {
  /** Longer side of the frames, in pixels, for these control values (e.g. the working size). */
  frameSize(controls: ControlValues): number;
  /**
   * Stylizes one frame (`inputs.content`, already at `frameSize`; `inputs.styles` as for `run`):
   * one upload, one forward pass, one download. Controls and styles may change between frames (e.g.
   * another model): read them each time, and cache whatever does not depend on the frame. Reject
   * with `signal.reason` when aborted before the GPU work starts.
   */
  frame(inputs: MethodInputs, controls: ControlValues, onProgress: ProgressFn, signal: AbortSignal): Promise<RgbImage>;
  /** Live mode ended: free what only it needed. */
  stop?(): void;
}

// ---- helpers for method authors ------------------------------------------------------------------

/** The default value of every control: the values a method gets before the user touches anything. */
export function defaultValues(controls: readonly ControlSpec[]): Record<string, ControlValue> {
  const values: Record<string, ControlValue> = {};
  for (const c of controls) values[c.id] = c.default;
  return values;
}

function read(values: ControlValues, id: string): ControlValue {
  const v = values[id];
  if (v === undefined) throw new Error(`control '${id}' has no value (is it in the method's controls?)`);
  return v;
}

export function numberValue(values: ControlValues, id: string): number {
  const v = read(values, id);
  return typeof v === 'number' ? v : Number(v);
}

export function stringValue(values: ControlValues, id: string): string {
  return String(read(values, id));
}

export function booleanValue(values: ControlValues, id: string): boolean {
  const v = read(values, id);
  return v === true || v === 'true';
}

/** A processing-size control: the longer side of the image the method works on, in pixels. */
export function sizeControl(sizes: readonly number[], fallback: number, hint?: string): SelectControl {
  return {
    kind: 'select',
    id: 'size',
    label: 'Working size',
    hint: hint ?? 'Longer side in pixels. Smaller is faster.',
    options: sizes.map((s) => ({ value: String(s), label: `${s}px` })),
    default: String(fallback),
  };
}

/** Throws the abort reason if the run was cancelled; call between GPU steps. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new DOMException('The run was stopped', 'AbortError');
}

/**
 * Yields to the browser between steps of a long loop, so it can paint previews and deliver a Stop
 * click. (A timer rather than requestAnimationFrame, which stalls in background tabs.)
 */
export function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
