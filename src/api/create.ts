/**
 * `stylize` and `load` over the method registry, for any platform: the platform says how to get the
 * GPU runtime, where weights come from, and which input kinds it reads besides the core ones. Every
 * option is checked against the method's definition before anything loads, with the same messages
 * the command line gives (options named by their keys here).
 */
import type { Runtime } from '../gpu/runtime.ts';
import type { RgbImage } from '../io/image.ts';
import type { MethodDefinition, OptionValues, Progress, RunControl, StyleInput, Stylizer, WeightSource } from '../nets/methods/contract.ts';
import { resolveOptions } from '../nets/methods/options.ts';
import { defaultMethodId, methodById } from '../nets/methods/registry.ts';
import { coreImage, stylizedImage, type StylizedImage } from './images.ts';

export interface Platform<Input> {
  runtime(): Promise<Runtime>;
  /** The weights used when a call names no `weights` of its own. */
  weights(): WeightSource;
  /** The platform's own input kinds (a path, a DOM image); undefined when `input` is none of them. */
  readImage(input: Input, what: string): Promise<RgbImage | undefined>;
  /** The input kinds, for the error when an input is none of them. */
  inputKinds: string;
}

/** Options every call takes, besides the method's own (e.g. `strength`, `size`, `model`). */
export interface CallOptions {
  onProgress?: (progress: Progress) => void;
  /** Cancels: an iterative method resolves with its best image so far (`stopped: true`), others reject. */
  signal?: AbortSignal;
}

export interface LoadOptions extends CallOptions {
  /** Where weights come from (default: the platform's; in Node the weights cache and its mirror). */
  weights?: WeightSource;
  /** The method's own options; those that pick weights (`model`, `decoder`) take effect here. */
  [option: string]: unknown;
}

export interface RunOptions<Input> extends CallOptions {
  /** One style image or several (blended); none for methods whose style is in their model. */
  style?: Input | readonly Input[];
  /** Blend weights, one per style (default equal); they are normalised to sum to 1. */
  blend?: readonly number[];
  /** The method's own options. */
  [option: string]: unknown;
}

export interface StylizeOptions<Input> extends RunOptions<Input> {
  /** A method id or alias (default: feed-forward without a style, magenta with one). */
  method?: string;
  weights?: WeightSource;
}

/** A loaded method: its weights stay on the GPU for every `stylize` until `dispose()`. */
export interface Model<Input> {
  readonly method: MethodDefinition;
  stylize(content: Input, options?: RunOptions<Input>): Promise<StylizedImage>;
  /** Frees the method's GPU memory; the model cannot be used afterwards. */
  dispose(): void;
}

export interface Pastiche<Input> {
  stylize(content: Input, options?: StylizeOptions<Input>): Promise<StylizedImage>;
  load(method: string, options?: LoadOptions): Promise<Model<Input>>;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('stylize was cancelled');
}

function control(options: CallOptions): RunControl {
  return { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) };
}

const STYLE_KEYS = ['style', 'blend'];

export function createPastiche<Input>(platform: Platform<Input>): Pastiche<Input> {
  const readImage = async (input: Input, what: string): Promise<RgbImage> => {
    const image = coreImage(input, what) ?? (await platform.readImage(input, what));
    if (!image) throw new Error(`${what}: cannot read an image from ${describe(input)}; give ${platform.inputKinds}`);
    return image;
  };

  /** Option values checked against the definition; image options (e.g. a mask) read like any input. */
  const optionValues = async (method: MethodDefinition, given: Readonly<Record<string, unknown>>): Promise<OptionValues> => {
    const values: Record<string, unknown> = { ...given };
    for (const spec of method.options) {
      if (spec.kind === 'image' && values[spec.id] !== undefined) values[spec.id] = await readImage(values[spec.id] as Input, `option '${spec.id}'`);
    }
    return resolveOptions(method, values, 'key');
  };

  /** The style count and blend weights against what the method takes (before anything is read or loaded). */
  const checkStyles = (method: MethodDefinition, count: number, blend: readonly number[] | undefined): void => {
    if (method.styles === 'none' && count > 0) throw new Error(`method '${method.id}' takes no style image${method.styleHint ? `: ${method.styleHint}` : ''}`);
    if (blend !== undefined) {
      if (blend.length !== count) throw new Error(`option 'blend' needs one weight per style: ${count} style${count === 1 ? '' : 's'}, ${blend.length} weight${blend.length === 1 ? '' : 's'}`);
      if (!blend.every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new Error(`option 'blend' takes numbers ≥ 0, got [${blend.join(', ')}]`);
    }
    if (method.styles !== 'none' && count === 0) throw new Error(`${method.id} needs at least one style image`);
    if (method.styles === 'one' && count > 1) throw new Error(`${method.id} takes one style image, got ${count}`);
  };

  const styleInputs = async (method: MethodDefinition, style: RunOptions<Input>['style'], blend: readonly number[] | undefined): Promise<StyleInput[]> => {
    const list = styleList(style);
    checkStyles(method, list.length, blend);
    const styles: StyleInput[] = [];
    for (const [i, input] of list.entries()) {
      const name = typeof input === 'string' ? input : `style ${i + 1}`;
      styles.push({ image: await readImage(input, list.length === 1 ? 'style' : `style ${i + 1}`), name, weight: blend?.[i] ?? 1 });
    }
    return styles;
  };

  async function load(name: string, options: LoadOptions = {}): Promise<Model<Input>> {
    const method = methodById(name);
    const { weights, onProgress, signal, ...given } = options;
    for (const key of [...STYLE_KEYS, 'method']) {
      if (key in given) throw new Error(`load() takes the method's options; give '${key}' to stylize() instead`);
    }
    const loadValues = await optionValues(method, given);
    if (signal?.aborted) throw abortReason(signal);
    const runtime = await platform.runtime();
    const stylizer: Stylizer = await method.load({ runtime, weights: weights ?? platform.weights() }, loadValues, control({ onProgress, signal }));
    if (signal?.aborted) {
      stylizer.dispose();
      throw abortReason(signal);
    }
    let disposed = false;
    return {
      method,
      async stylize(content, runOptions = {}) {
        if (disposed) throw new Error(`this ${method.id} model was disposed; load it again`);
        const { style, blend, onProgress: progress, signal: stop, ...rest } = runOptions;
        if ('method' in rest && rest.method !== undefined && methodById(String(rest.method)) !== method) {
          throw new Error(`this model runs ${method.id}; load('${String(rest.method)}') for another method`);
        }
        delete rest.method;
        const values = await optionValues(method, { ...given, ...rest });
        const styles = await styleInputs(method, style, blend);
        method.checkInputs?.(styles.length, values);
        const image = await readImage(content, 'content');
        if (stop?.aborted && !method.iterative) throw abortReason(stop);
        const result = await stylizer.stylize(image, styles, values, control({ onProgress: progress, signal: stop }));
        // A one-pass method that finished its GPU work anyway still honours the cancellation.
        if (stop?.aborted && !method.iterative) throw abortReason(stop);
        return stylizedImage(result.image, result.stopped === true, result.summary);
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        stylizer.dispose();
      },
    };
  }

  async function stylize(content: Input, options: StylizeOptions<Input> = {}): Promise<StylizedImage> {
    const { method: name, style, blend, weights, onProgress, signal, ...rest } = options;
    const styleCount = styleList(style).length;
    const method = methodById(name ?? defaultMethodId(styleCount));
    // The cheap checks first, so a typo fails before weights load.
    checkStyles(method, styleCount, blend);
    method.checkInputs?.(styleCount, await optionValues(method, rest));
    const model = await load(method.id, { ...rest, ...(weights ? { weights } : {}), ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) });
    try {
      return await model.stylize(content, { style, blend, ...rest, ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) });
    } finally {
      model.dispose();
    }
  }

  return { stylize, load };
}

function styleList<Input>(style: Input | readonly Input[] | undefined): readonly Input[] {
  return style === undefined ? [] : Array.isArray(style) ? (style as readonly Input[]) : [style as Input];
}

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'object') return `a ${(input as object).constructor?.name ?? 'object'}`;
  return typeof input;
}
