/**
 * The one contract every style-transfer method implements. The CLI (`pastiche stylize`), the demo page
 * and the library API (`import { stylize } from 'pastiche'`) all read the same definitions: a method
 * declares its inputs and options once, here, and appears in all three.
 *
 * Platform-neutral: no Node or DOM imports. Where weights come from (the weight store on disk in Node,
 * `fetch` in the page) is the caller's `WeightSource`.
 */
import type { Runtime } from '../../gpu/runtime.ts';
import type { RgbImage } from '../../io/image.ts';
import type { HostTensorMap } from '../weights/host-tensor.ts';
import type { ConvertedGraph } from './magenta/graph/format.ts';

// ---- options -------------------------------------------------------------------------------------

interface OptionBase {
  /** Key in the options object a method receives (camelCase); the CLI flag is its kebab-case form. */
  id: string;
  /** Short label (page control, help text). */
  label: string;
  /** One line for `--help` and the page's hint. */
  description: string;
  /** How the page shows it; omitted: not shown on the page (CLI/API only). */
  ui?: OptionUi;
  /** The CLI flag when it is not `--<kebab-case id>` (e.g. `--save-every` for `previewEvery`). */
  flag?: string;
}

export interface OptionUi {
  control: 'slider' | 'select' | 'toggle' | 'gallery';
  /** Sliders over decades (e.g. style weights). */
  scale?: 'linear' | 'log';
  step?: number;
  /** Re-render automatically when it changes (only for options whose re-render is cheap). */
  live?: boolean;
  /** Page range when it differs from the option's own (e.g. a smaller size range in the browser). */
  min?: number;
  max?: number;
  /** Page default when it differs from the option's own. */
  default?: number | string | boolean;
}

export type IntegerOptionSpec = NumberOption & { kind: 'integer' };

export interface NumberOption extends OptionBase {
  kind: 'number' | 'integer';
  min: number;
  max: number;
  default?: number;
}

export interface ChoiceOption extends OptionBase {
  kind: 'choice';
  choices: readonly { value: string; label: string; description?: string }[];
  default?: string;
  /** Any other value is also accepted (e.g. a model file path besides the named models). */
  open?: boolean;
  /** The value a bare flag means (`--preserve-color` with no value); without it the flag needs a value. */
  bare?: string;
}

export interface BooleanOption extends OptionBase {
  kind: 'boolean';
  default?: boolean;
}

export interface ListOption extends OptionBase {
  /** Comma-separated numbers on the command line (e.g. blend weights, one per style). */
  kind: 'number-list';
  min: number;
  max: number;
  default?: readonly number[];
}

/** Free text checked by the method itself (a file path, a list of layer names). */
export interface TextOption extends OptionBase {
  kind: 'text';
  default?: string;
  /** What a valid value looks like, for help text and errors (e.g. 'relu1_1,relu2_1'). */
  example: string;
  pattern?: RegExp;
}

/** An image (a path on the command line, pixels in the API and the page), e.g. a spatial mask. */
export interface ImageOption extends OptionBase {
  kind: 'image';
}

export type OptionSpec = NumberOption | ChoiceOption | BooleanOption | ListOption | TextOption | ImageOption;
export type OptionValue = number | string | boolean | readonly number[] | RgbImage;
export type OptionValues = Readonly<Record<string, OptionValue | undefined>>;

// ---- inputs, progress, results -------------------------------------------------------------------

export interface StyleInput {
  image: RgbImage;
  /** What the user calls it (file name, sample title). */
  name: string;
  /** Blend weight; the weights of all styles given to `stylize` sum to 1. */
  weight: number;
}

export interface Progress {
  stage?: 'weights' | 'compile' | 'style' | 'run' | (string & {});
  message?: string;
  /** 0..1 when known. */
  fraction?: number;
  /** Iterative methods: the step these values belong to, and how many there will be. */
  step?: number;
  totalSteps?: number;
  /** Loss terms at `step` (read back only when a report is due; never per kernel). */
  losses?: Readonly<Record<string, number>>;
  /** An intermediate image (iterative methods, when asked for with `previewEvery`). */
  preview?: RgbImage;
}

export interface RunControl {
  onProgress?: (progress: Progress) => void;
  /**
   * Cancellation. An iterative method resolves with its best image so far (and `stopped: true`);
   * a one-pass method rejects with `signal.reason`. GPU memory is freed either way.
   */
  signal?: AbortSignal;
}

export interface StylizeResult {
  image: RgbImage;
  /** The run was cut short by `signal` (iterative methods only). */
  stopped?: boolean;
  /** Method-specific figures worth printing (iterations, final losses, timings). */
  summary?: string;
}

// ---- where weights come from ---------------------------------------------------------------------

export interface WeightSource {
  /** A model's tensors by manifest name (e.g. 'vgg19', 'mosaic', 'magenta-predict'). */
  tensors(name: string, onProgress?: (p: Progress) => void): Promise<HostTensorMap>;
  /** A model's raw file by manifest name (e.g. TFLite graphs), when a method converts it itself. */
  bytes?(name: string, onProgress?: (p: Progress) => void): Promise<Uint8Array>;
  /** A TFLite model already lowered to pastiche's graph form (a source that caches the conversion offers it). */
  graph?(name: string, onProgress?: (p: Progress) => void): Promise<ConvertedGraph>;
  /** A file the user named (a trained model or decoder); only where files can be read (Node). */
  file?(path: string): Promise<Uint8Array>;
}

/** Thrown by a WeightSource for a model it does not have, so a method can say how to get it. */
export class WeightsNotFoundError extends Error {
  constructor(
    readonly model: string,
    message: string,
  ) {
    super(message);
    this.name = 'WeightsNotFoundError';
  }
}

export interface MethodEnvironment {
  runtime: Runtime;
  weights: WeightSource;
}

// ---- the method ----------------------------------------------------------------------------------

/** A loaded method: weights on the GPU, ready to stylize many images. */
export interface Stylizer {
  stylize(content: RgbImage, styles: readonly StyleInput[], options: OptionValues, control?: RunControl): Promise<StylizeResult>;
  dispose(): void;
}

export interface MethodDefinition {
  /** Stable id: `--method <id>`, `#method=<id>` on the page, `stylize(..., { method: id })`. */
  id: string;
  /** Other accepted names (e.g. 'transformer' for 'feed-forward'). */
  aliases?: readonly string[];
  label: string;
  summary: string;
  /** How many style images it takes: none (the style is in the model), exactly one, or one or more. */
  styles: 'none' | 'one' | 'many';
  /** Iterative: `signal` stops it with the best image so far, which can be resumed from. */
  iterative?: boolean;
  /** Why a style is not taken, for the error when one is given (`styles: 'none'`). */
  styleHint?: string;
  options: readonly OptionSpec[];
  /** Cheap checks of a run's inputs before anything loads (e.g. a mask blends at most two styles). */
  checkInputs?(styleCount: number, options: OptionValues): void;
  /**
   * Loads what the method needs (weights, pipelines) for these options; the result serves many images.
   * Options that pick weights (e.g. `model`) are read here; the rest per `stylize` call.
   */
  load(env: MethodEnvironment, options: OptionValues, control?: RunControl): Promise<Stylizer>;
}
