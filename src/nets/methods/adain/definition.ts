/**
 * Huang & Belongie's adaptive instance normalisation as a method. By default on the distilled level-4
 * encoder/decoder pair (bundled, no training: ../wct/distilled-method.ts); with `decoder`, the VGG19
 * encoder, AdaIN at relu4_1 and that trained decoder. Each style image is encoded once, however many
 * contents follow.
 */
import type { RgbImage } from '../../../io/image.ts';
import { combineLuminance } from '../../image/color.ts';
import { Vgg } from '../../models/vgg.ts';
import { AdainDecoder, adainDecoderWeightsFromBytes } from '../../models/adain-decoder.ts';
import { WeightsNotFoundError, type MethodDefinition, type OptionValues, type RunControl, type StyleInput, type Stylizer } from '../contract.ts';
import {
  checkPrecision,
  fitContent,
  MASK_OPTION,
  MASK_STYLES,
  PRECISION_OPTION,
  PRESERVE_COLOR_STATISTICS,
  report,
  SIZE_OPTION,
  styleWeights,
  throwIfAborted,
  type Precision,
} from '../common-options.ts';
import { AdainStylizer, resolveAdainOptions } from './adain.ts';
import { DistilledMethodStylizer, loadDistilledNets, TILE_OPTION } from '../wct/distilled-method.ts';
import { resizeToLongSide } from '../../../io/resize.ts';
import type { HostTensorMap } from '../../weights/host-tensor.ts';

/** Style images are resized so their long side is this (× styleScale) when no size is given. */
export const ADAIN_DEFAULT_STYLE_SIDE = 512;
/** The name a trained decoder has in the weights (`pastiche train adain` writes it there). */
export const ADAIN_DECODER_MODEL = 'adain-decoder';

export const adainMethod: MethodDefinition = {
  id: 'adain',
  label: 'AdaIN',
  summary: 'Huang & Belongie: encoder, adaptive instance norm, decoder (the distilled VGG-19 pair, or a VGG19 decoder you trained); any style in one pass, α trade-off, blending, masks',
  styles: 'many',
  options: [
    { id: 'alpha', label: 'Style α', description: 'content–style trade-off: 1 = full style, 0 = the decoded content', kind: 'number', min: 0, max: 1, default: 1, ui: { control: 'slider', step: 0.01, live: true } },
    { id: 'styleScale', label: 'Style scale', description: 'style image size relative to the content size', kind: 'number', min: 0.05, max: 8, default: 1 },
    PRESERVE_COLOR_STATISTICS,
    MASK_OPTION,
    {
      id: 'decoder',
      label: 'Decoder',
      description:
        'a VGG19 decoder to use instead of the distilled level-4 pair (the default): a .safetensors from pastiche train adain, the reference PyTorch decoder.pth, or "adain-decoder" for the one pastiche train adain stored in the cache',
      kind: 'text',
      example: 'decoder.pth',
    },
    SIZE_OPTION,
    { ...TILE_OPTION, description: `${TILE_OPTION.description}; distilled nets only` },
    // CLI and API only: the page's own VGG19-decoder runs are f32.
    { ...PRECISION_OPTION, description: `${PRECISION_OPTION.description}; distilled nets only`, ui: undefined },
  ],
  checkInputs(styleCount, options) {
    if (options.mask !== undefined && styleCount > 2) throw new Error(MASK_STYLES);
  },
  async load(env, options, control) {
    const chosen = options.decoder as string | undefined;
    const precision = String(options.precision ?? 'f32') as Precision;
    checkPrecision(env.runtime, precision);
    // Without a decoder of the user's own, the distilled level-4 encoder/decoder pair: AdaIN out of the box.
    if (chosen === undefined) return new DistilledMethodStylizer(await loadDistilledNets(env, control, precision === 'f16'), 'adain');
    if (precision === 'f16') throw new Error("adain: precision 'f16' runs the distilled nets only; with --decoder use --precision f32 (the default), or leave --decoder out");
    const path = chosen === ADAIN_DECODER_MODEL ? undefined : chosen;
    let weights: HostTensorMap;
    if (path !== undefined) {
      if (!env.weights.file) throw new Error('adain: a decoder file cannot be read here; give the decoder weights another way');
      weights = await adainDecoderWeightsFromBytes(await env.weights.file(path), path);
    } else {
      try {
        weights = await env.weights.tensors(ADAIN_DECODER_MODEL, control?.onProgress);
      } catch (err) {
        if (!(err instanceof WeightsNotFoundError)) throw err;
        throw new Error(
          `adain: no trained decoder "${ADAIN_DECODER_MODEL}" in the weights (${err.message}). Train one ` +
            `(npx pastiche train adain --content-dir PHOTOS --style-dir PAINTINGS stores it), pass --decoder PATH ` +
            `(a .safetensors from pastiche train adain, or the reference PyTorch decoder.pth), or leave --decoder out ` +
            `to use the bundled distilled nets.`,
          { cause: err },
        );
      }
    }
    report(control, { stage: 'weights', message: `adain: decoder ${path ?? ADAIN_DECODER_MODEL}` });
    const decoder = AdainDecoder.fromWeights(env.runtime, weights, path ?? ADAIN_DECODER_MODEL);
    let vgg: Vgg;
    try {
      vgg = Vgg.fromHost(env.runtime, await env.weights.tensors('vgg19', control?.onProgress), { arch: 'vgg19' }, 'vgg19 weights');
    } catch (err) {
      decoder.dispose();
      throw err;
    }
    const stylizer = new AdainStylizer(vgg, decoder);
    // Resized style images by source image and side, so the stylizer's statistics cache hits across a batch.
    const resized = new WeakMap<RgbImage, Map<number, RgbImage>>();
    const styleAt = (image: RgbImage, side: number): RgbImage => {
      if (Math.max(image.width, image.height) <= side) return image;
      let bySide = resized.get(image);
      if (!bySide) resized.set(image, (bySide = new Map()));
      let out = bySide.get(side);
      if (!out) bySide.set(side, (out = resizeToLongSide(image, side)));
      return out;
    };
    return {
      async stylize(content: RgbImage, styles: readonly StyleInput[], values: OptionValues, run?: RunControl) {
        if (styles.length === 0) throw new Error('adain needs at least one style image');
        const mask = (values.mask as RgbImage | undefined) ?? null;
        if (mask && styles.length > 2) throw new Error(MASK_STYLES);
        throwIfAborted(run);
        const size = values.size as number | undefined;
        const input = fitContent(content, size);
        const side = Math.max(16, Math.round((size ?? ADAIN_DEFAULT_STYLE_SIDE) * ((values.styleScale as number | undefined) ?? 1)));
        const { alpha, weights } = resolveAdainOptions(styles.length, { alpha: (values.alpha as number | undefined) ?? 1, weights: styleWeights(styles), mask: null });
        const color = values.preserveColor as string | undefined;
        const statistics = color === 'statistics' || color === 'histogram';
        let image = await stylizer.stylize(input, styles.map((s) => styleAt(s.image, side)), { alpha, weights, mask, preserveColor: statistics });
        if (color === 'luminance') image = combineLuminance(image, input);
        return { image, summary: `α=${alpha}; encoder passes so far: ${stylizer.counters.styleEncodes} style, ${stylizer.counters.contentEncodes} content` };
      },
      dispose() {
        vgg.dispose();
        decoder.dispose();
      },
    } satisfies Stylizer;
  },
};
