/**
 * Option specs and steps several methods share, so that `size` or `preserveColor` mean the same thing
 * for every method that takes them.
 */
import type { Runtime } from '../../gpu/runtime.ts';
import type { RgbImage } from '../../io/image.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { combineLuminance, matchColorHistogram } from '../image/color.ts';
import type { ChoiceOption, MethodDefinition, OptionSpec, NumberOption, Progress, RunControl, StyleInput } from './contract.ts';

export const SIZE_OPTION: NumberOption = {
  id: 'size',
  label: 'Size',
  description: 'resize the content so its long side is this many pixels',
  kind: 'integer',
  min: 16,
  max: 8192,
};

/** Colour preservation as a post-process on a finished image: works for any method. */
export const PRESERVE_COLOR_POST: ChoiceOption = {
  id: 'preserveColor',
  label: 'Keep colours',
  description: "keep the content's colours: luminance (the result's brightness, the content's chroma) | histogram (the result recoloured to the content's colour statistics) | none",
  kind: 'choice',
  choices: [
    { value: 'none', label: 'No' },
    { value: 'luminance', label: 'Luminance only' },
    { value: 'histogram', label: 'Match colours' },
  ],
  default: 'none',
  bare: 'luminance',
  ui: { control: 'select' },
};

/** Colour preservation inside AdaIN/WCT: recolour the style first, or keep the content's chroma afterwards. */
export const PRESERVE_COLOR_STATISTICS: ChoiceOption = {
  id: 'preserveColor',
  label: 'Keep colours',
  description:
    "keep the content's colours: statistics (each style recoloured to the content's colour statistics first; histogram is the same) | luminance (the result's brightness, the content's chroma) | none",
  kind: 'choice',
  choices: [
    { value: 'none', label: 'No' },
    { value: 'statistics', label: 'Match colour statistics' },
    { value: 'histogram', label: 'Match colour statistics (same as statistics)' },
    { value: 'luminance', label: 'Luminance only' },
  ],
  default: 'none',
  bare: 'statistics',
  ui: { control: 'select' },
};

/** Storage of a net's weights and activations during inference; arithmetic is f32 either way. */
export type Precision = 'f32' | 'f16';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

export const PRECISION_OPTION: ChoiceOption = {
  id: 'precision',
  label: 'Precision',
  description: "storage of the weights and activations: f32, or f16 (half the memory traffic, arithmetic still f32; needs the GPU feature 'shader-f16')",
  kind: 'choice',
  choices: PRECISIONS.map((value) => ({ value, label: value === 'f16' ? 'f16 (half)' : 'f32 (full)' })),
  default: 'f32',
  ui: { control: 'select' },
};

/** Refuses an unknown precision, and f16 on an adapter without f16 shaders (before any weight loads). */
export function checkPrecision(runtime: Runtime, precision: Precision): void {
  if (!PRECISIONS.includes(precision)) throw new Error(`unknown precision ${JSON.stringify(precision)}: choose ${PRECISIONS.join(' or ')}`);
  if (precision === 'f16' && !runtime.hasF16) {
    const info = runtime.context.adapterInfo;
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'this adapter';
    throw new Error(`precision 'f16' needs the GPU adapter feature 'shader-f16', which ${name} lacks; use precision 'f32' (the default; --precision f32)`);
  }
}

export const MASK_OPTION: OptionSpec = {
  id: 'mask',
  label: 'Mask',
  description: 'spatial control mask: white = the first style, black = the second (or the content, with one style)',
  kind: 'image',
};

/** Why a mask run was refused: a mask splits the image between at most two styles. */
export const MASK_STYLES = 'the mask blends two styles: give one or two style images (white = first style, black = second style, or the content with one)';

/** The image with its long side `size` (when given and different). */
export function fitContent(image: RgbImage, size: number | undefined): RgbImage {
  if (size === undefined || Math.max(image.width, image.height) === size) return image;
  return resizeToLongSide(image, size);
}

/** Applies PRESERVE_COLOR_POST's choice to a finished image. */
export function preserveColorPost(result: RgbImage, content: RgbImage, how: string | undefined): RgbImage {
  if (how === 'luminance') return combineLuminance(result, content);
  if (how === 'histogram') return clampImage(matchColorHistogram(result, content));
  return result;
}

function clampImage(image: RgbImage): RgbImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, image.data[i]!));
  return { width: image.width, height: image.height, data };
}

/** Throws when `styles` does not fit what the method takes. */
export function checkStyleCount(definition: Pick<MethodDefinition, 'id' | 'styles'>, styles: readonly StyleInput[]): void {
  if (definition.styles === 'none' && styles.length > 0) throw new Error(`${definition.id} takes no style image: its style is fixed by its model`);
  if (definition.styles !== 'none' && styles.length === 0) throw new Error(`${definition.id} needs at least one style image`);
  if (definition.styles === 'one' && styles.length > 1) throw new Error(`${definition.id} takes one style image, got ${styles.length}`);
}

/** Blend weights of the styles, normalised to sum to 1. */
export function styleWeights(styles: readonly StyleInput[]): number[] {
  const total = styles.reduce((a, s) => a + s.weight, 0);
  if (!(total > 0)) throw new Error('the style blend weights must not all be zero');
  return styles.map((s) => s.weight / total);
}

/** Throws `signal.reason` when the run was cancelled (one-pass methods check between stages). */
export function throwIfAborted(control: RunControl | undefined): void {
  const signal = control?.signal;
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('stylize was cancelled');
}

export function report(control: RunControl | undefined, progress: Progress): void {
  control?.onProgress?.(progress);
}

export const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(2)} s`;
