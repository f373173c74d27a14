/**
 * `pastiche stylize CONTENT... --method adain --style STYLE [--style S2 --style-weight 0.6,0.4]
 * [--alpha A] [--preserve-color] [--mask MASK.png] [--decoder PATH]`: arbitrary style transfer in one
 * pass (Huang & Belongie). Each style image is encoded once, however many contents are stylized.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Runtime } from '../../gpu/runtime.ts';
import { readImageFile, writeImageFile } from '../../io/image-file.ts';
import type { RgbImage } from '../../io/image.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { AdainStylizer, resolveAdainOptions } from '../../nets/methods/adain/adain.ts';
import { AdainDecoder, adainDecoderWeightsFromBytes } from '../../nets/models/adain-decoder.ts';
import { defaultAdainDecoderPath } from '../../nets/train/node/adain-decoder.ts';
import { combineLuminance } from '../../nets/image/color.ts';
import { Vgg } from '../../nets/models/vgg.ts';
import { defaultCacheDir } from '../../nets/weights/node/store.ts';
import type { StylizeContext } from './context.ts';

/** Style images are resized so their long side is this (× --style-scale) when --size is not given. */
export const ADAIN_DEFAULT_STYLE_SIDE = 512;

/** The decoder file to use: the one given, else the one `pastiche train adain` leaves in the weights cache. */
export function resolveAdainDecoderPath(given: string | undefined, cacheDir: string = defaultCacheDir()): string {
  if (given !== undefined) {
    if (!existsSync(given)) throw new Error(`AdaIN decoder not found: ${given}`);
    return given;
  }
  const cached = defaultAdainDecoderPath(cacheDir);
  if (existsSync(cached)) return cached;
  throw new Error(
    `--method adain needs a trained decoder and there is none at ${cached}. Either train one ` +
      `(npx pastiche train adain --content-dir PHOTOS --style-dir PAINTINGS writes it there), or pass ` +
      `--decoder PATH: a .safetensors decoder from pastiche train adain, or the reference PyTorch decoder.pth ` +
      `(naoto0804/pytorch-AdaIN).`,
  );
}

/** Loads a decoder file: pastiche's .safetensors or a PyTorch decoder.pth. */
export async function loadAdainDecoderFile(runtime: Runtime, path: string): Promise<AdainDecoder> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new Error(`cannot read the AdaIN decoder ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return AdainDecoder.fromWeights(runtime, await adainDecoderWeightsFromBytes(bytes, path), path);
}

type AdainColor = 'none' | 'statistics' | 'luminance';

/** `--preserve-color` alone (or `histogram`) matches the style's colour statistics to the content; `luminance` keeps the content's chroma. */
function parsePreserveColor(value: unknown): AdainColor {
  if (value === undefined || value === false) return 'none';
  if (value === true || value === 'histogram' || value === 'statistics') return 'statistics';
  if (value === 'luminance') return 'luminance';
  throw new Error(`--preserve-color for adain takes no value (colour statistics matching), or histogram | luminance; got '${String(value)}'`);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** `--method adain`. */
export async function runAdainMethod(ctx: StylizeContext): Promise<void> {
  const o = ctx.options;
  if (ctx.styles.length === 0) throw new Error('--method adain needs at least one --style image');
  if (o.mask && ctx.styles.length > 2) throw new Error('--mask blends two styles: give one or two --style images (white = first style, black = second style, or the content with one)');
  const color = parsePreserveColor(o.preserveColor as unknown);
  const { alpha, weights } = resolveAdainOptions(ctx.styles.length, { alpha: o.alpha, weights: ctx.styleWeights, mask: null });
  const decoderPath = resolveAdainDecoderPath(o.decoder, ctx.store.cacheDir);
  const started = performance.now();

  const styleSide = Math.max(16, Math.round((o.size ?? ADAIN_DEFAULT_STYLE_SIDE) * (o.styleScale ?? 1)));
  const styles: RgbImage[] = [];
  for (const path of ctx.styles) {
    const image = await readImageFile(path);
    styles.push(Math.max(image.width, image.height) > styleSide ? resizeToLongSide(image, styleSide) : image);
  }
  const mask = o.mask ? await readImageFile(o.mask) : null;

  const decoder = await loadAdainDecoderFile(ctx.runtime, decoderPath);
  let vgg: Vgg | null = null;
  try {
    vgg = await Vgg.loadPretrained(ctx.runtime, ctx.store);
    const stylizer = new AdainStylizer(vgg, decoder);
    const blend = mask ? 'mask' : ctx.styles.length > 1 ? `weights ${weights.map((w) => w.toFixed(2)).join(',')}` : '';
    process.stderr.write(`adain: decoder ${decoderPath}; α=${alpha}${blend ? `; ${blend}` : ''}${color !== 'none' ? `; preserve colour (${color})` : ''}\n`);
    await ctx.batch.forEach(async (contentPath, out) => {
      let content = await readImageFile(contentPath);
      if (o.size) content = resizeToLongSide(content, o.size);
      const t0 = performance.now();
      let result = await stylizer.stylize(content, styles, { alpha, weights, mask, preserveColor: color === 'statistics' });
      if (color === 'luminance') result = combineLuminance(result, content);
      await writeImageFile(out, result);
      process.stderr.write(`${contentPath} → ${out} (${content.width}×${content.height}, ${seconds(performance.now() - t0)})\n`);
    });
    process.stderr.write(
      `done: ${ctx.batch.outcome().written} image(s) with ${ctx.styles.length} style(s) in ${seconds(performance.now() - started)} ` +
        `(encoder passes: ${stylizer.counters.styleEncodes} style, ${stylizer.counters.contentEncodes} content)\n`,
    );
  } finally {
    vgg?.dispose();
    decoder.dispose();
  }
}
