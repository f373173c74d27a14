// Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie 2017) on the page:
// the controls are the options of src/nets/methods/adain/definition.ts. With no decoder of the user's
// own it runs through the definition on the bundled distilled level-4 pair (works with nothing
// installed). With a trained decoder the run is the page's own, because the page keeps the photo's
// VGG19 features on the GPU between re-renders: the VGG19 encoder (to relu4_1), AdaIN, and that decoder
// (src/nets/methods/adain/adain.ts). The decoder is a file the user loads on the tab (what
// `npx pastiche train adain` writes, or the reference `decoder.pth`), or `adain-decoder.safetensors`
// from the weights cache; a loaded file wins.
//
// What is slow runs once: the photo's encoder features stay on the GPU until the photo or the size
// changes, and each style's feature statistics are kept per image. Moving α, the colour switch or the
// blend weights only re-runs AdaIN and the decoder.

import { clamp } from '../../autograd/ops/elementwise.ts';
import { pad2d } from '../../autograd/ops/pad.ts';
import { slice } from '../../autograd/ops/structural.ts';
import { noGrad } from '../../autograd/tape.ts';
import { getRuntime } from '../../gpu/runtime.ts';
import { scope } from '../../gpu/scope.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import type { RgbImage } from '../../io/image.ts';
import { AdainDecoder, adainDecoderWeightsFromBytes, checkAdainDecoderWeights } from '../../nets/models/adain-decoder.ts';
import { adainPadAmounts, adainTarget, AdainStylizer, type AdainStyleStats } from '../../nets/methods/adain/adain.ts';
import { combineLuminance, matchColorHistogram } from '../../nets/image/color.ts';
import type { OptionValues } from '../../index.browser.ts';
import type { HostTensorMap } from '../../nets/weights/host-tensor.ts';
import { parseSafetensors } from '../../nets/weights/formats/safetensors.ts';
import type { MethodInputs, ProgressFn, WeightsFileInput } from '../methods.ts';
import { throwIfAborted } from '../methods.ts';
import type { PageAdapter } from '../page-method.ts';
import { fetchWeights, weightsAvailable } from '../weights.ts';
import { fitLongSide, loadVgg19, runtimeTag } from './_shared.ts';
import { DISTILLED_FILE } from './wct.ts';

export const ADAIN_DECODER_FILE = 'adain-decoder.safetensors';
/** A decoder file is about 14 MB (float32) or 7 MB (float16); anything far larger is something else. */
const MAX_DECODER_FILE_BYTES = 64e6;

/** A decoder file the user loaded on the tab: checked on the host, uploaded at the next run. */
interface UserDecoder {
  id: number;
  name: string;
  description: string;
  /** The weights until they are on the GPU (then dropped: the decoder keeps its own copy). */
  weights: HostTensorMap | null;
}

let userDecoder: UserDecoder | null = null;
let userDecoders = 0;
/** Whether the weights cache holds a decoder (learnt by `available()`). */
let cachedDecoder = false;

/** The stylizer for the decoder in use; rebuilt (and the old decoder freed) when that changes. */
let activeStylizer: { key: string; promise: Promise<AdainStylizer> } | null = null;

function loadStylizer(onProgress: ProgressFn): Promise<AdainStylizer> {
  const user = userDecoder;
  // A retry after a GPU fault starts a new runtime: the old decoder went with the old device.
  const key = `${runtimeTag()}:${user ? `file:${user.id}` : 'cache'}`;
  if (activeStylizer?.key === key) return activeStylizer.promise;
  const previous = activeStylizer;
  const promise = (async () => {
    // Runs never overlap (the page waits for one to end before starting the next), so nothing
    // still uses the previous decoder.
    const old = await previous?.promise.catch(() => null);
    old?.decoder.dispose();
    const vgg = await loadVgg19(onProgress);
    let decoder: AdainDecoder;
    if (user) {
      onProgress({ stage: 'weights', message: `Uploading the decoder ${user.name} to the GPU` });
      decoder = AdainDecoder.fromWeights(getRuntime(), user.weights!, user.name);
      user.weights = null;
    } else {
      const bytes = await fetchWeights(ADAIN_DECODER_FILE, onProgress, 'AdaIN decoder');
      decoder = AdainDecoder.fromWeights(getRuntime(), await adainDecoderWeightsFromBytes(bytes, ADAIN_DECODER_FILE), ADAIN_DECODER_FILE);
    }
    return new AdainStylizer(vgg, decoder);
  })();
  const entry = { key, promise };
  activeStylizer = entry;
  promise.catch(() => {
    if (activeStylizer === entry) activeStylizer = null; // retried at the next run
  });
  return promise;
}

/** What the file says about its training (the metadata `pastiche train adain` writes), in a few words. */
function describeTraining(metadata: Record<string, string>): string {
  const iteration = Number(metadata['iteration']);
  const size = Number(metadata['size']);
  const at = size > 0 ? ` at ${size} px` : '';
  if (iteration > 0) return `trained ${iteration.toLocaleString('en-US')} iterations${at}`;
  if (at) return `trained${at}`;
  return 'no training record in the file';
}

/** A PyTorch checkpoint (the reference decoder.pth) is a ZIP archive: it starts with "PK". */
function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b;
}

async function loadDecoderFile(file: File, onProgress: ProgressFn): Promise<void> {
  if (file.size > MAX_DECODER_FILE_BYTES) {
    throw new Error(`${file.name} is ${(file.size / 1e6).toFixed(0)} MB: too large for an AdaIN decoder (about 14 MB). Choose the .safetensors file \`pastiche train adain\` wrote.`);
  }
  onProgress({ stage: 'weights', message: `Reading ${file.name}` });
  const bytes = new Uint8Array(await file.arrayBuffer());
  let weights: HostTensorMap;
  let training: string;
  if (isZip(bytes)) {
    weights = await adainDecoderWeightsFromBytes(bytes, file.name);
    training = 'PyTorch decoder';
  } else {
    const contents = parseSafetensors(bytes, file.name);
    checkAdainDecoderWeights(contents.tensors, file.name);
    weights = contents.tensors;
    training = describeTraining(contents.metadata);
  }
  const mb = (file.size / 1e6).toFixed(1);
  userDecoder = { id: ++userDecoders, name: file.name, description: `${file.name} (${mb} MB, ${training})`, weights };
}

const decoderFile: WeightsFileInput = {
  label: 'Decoder',
  button: 'Load decoder file…',
  accept: '.safetensors,.pth',
  hint: 'Optional: without one, AdaIN runs on the bundled distilled VGG-19 pair. A decoder you trained with `npx pastiche train adain` (.safetensors) or the reference decoder.pth runs with VGG19 instead. Read in this tab, never uploaded.',
  current() {
    if (userDecoder) return userDecoder.description;
    return cachedDecoder ? `${ADAIN_DECODER_FILE} from the weights cache` : null;
  },
  load: loadDecoderFile,
};

/** The photo's relu4_1 features at one working size, kept on the GPU for re-renders. */
interface ContentFeatures {
  source: RgbImage;
  size: number;
  image: RgbImage;
  features: Tensor;
  pads: readonly [number, number, number, number];
}

let contentCache: ContentFeatures | null = null;

function contentFeatures(stylizer: AdainStylizer, source: RgbImage, size: number): ContentFeatures {
  if (contentCache && contentCache.source === source && contentCache.size === size && contentCache.features.runtime === getRuntime()) return contentCache;
  contentCache?.features.dispose();
  contentCache = null;
  const image = fitLongSide(source, size);
  const [top, bottom] = adainPadAmounts(image.height);
  const [left, right] = adainPadAmounts(image.width);
  const pads = [top, bottom, left, right] as const;
  // Reflection needs pads smaller than the side; tiny images fall back to zeros (as the library does).
  const reflect = top < image.height && bottom < image.height && left < image.width && right < image.width;
  const features = noGrad(() =>
    scope(() => {
      const x = getRuntime().upload(image.data, [1, image.height, image.width, 3]);
      return stylizer.encode(top + bottom + left + right > 0 ? pad2d(x, pads, reflect ? 'reflect' : 'zeros') : x);
    }),
  );
  contentCache = { source, size, image, features, pads };
  return contentCache;
}

/** Styles at the working size (textures at the photo's scale), by original image and size. */
const resizedStyles = new WeakMap<RgbImage, Map<number, RgbImage>>();
/** Statistics of styles recoloured to a photo's palette, by resized style, for the latest photo. */
const recoloured = new WeakMap<RgbImage, { content: RgbImage; stats: AdainStyleStats }>();

function styleAtSize(style: RgbImage, size: number): RgbImage {
  let bySize = resizedStyles.get(style);
  if (!bySize) resizedStyles.set(style, (bySize = new Map()));
  let image = bySize.get(size);
  if (!image) bySize.set(size, (image = fitLongSide(style, size)));
  return image;
}

async function styleStats(stylizer: AdainStylizer, style: RgbImage, content: RgbImage, preserve: boolean): Promise<AdainStyleStats> {
  if (!preserve) return stylizer.styleStats(style); // cached per image by the stylizer
  const hit = recoloured.get(style);
  if (hit && hit.content === content) return hit.stats;
  const stats = await stylizer.computeStyleStats(matchColorHistogram(style, content));
  recoloured.set(style, { content, stats });
  return stats;
}

async function stylize(inputs: MethodInputs, options: OptionValues, onProgress: ProgressFn, signal: AbortSignal): Promise<RgbImage> {
  const stylizer = await loadStylizer(onProgress);
  throwIfAborted(signal);
  const size = Number(options.size ?? 512);
  const styleSize = Math.max(16, Math.round(size * Number(options.styleScale ?? 1)));
  // As the definition reads it: statistics (histogram is the same) recolours the styles first,
  // luminance keeps the photo's chroma in the result.
  const preserveColor = String(options.preserveColor ?? 'none');
  const preserve = preserveColor === 'statistics' || preserveColor === 'histogram';
  const alpha = Number(options.alpha ?? 1);
  const encodesBefore = stylizer.counters.styleEncodes;
  const cached = contentCache?.source === inputs.content && contentCache.size === size;
  onProgress({ stage: 'run', message: cached ? 'Re-using the photo’s features' : 'Encoding the photo with VGG19' });
  const content = contentFeatures(stylizer, inputs.content, size);
  const stats: AdainStyleStats[] = [];
  for (const style of inputs.styles) {
    throwIfAborted(signal);
    stats.push(await styleStats(stylizer, styleAtSize(style.image, styleSize), content.image, preserve));
  }
  throwIfAborted(signal);
  const fresh = stylizer.counters.styleEncodes - encodesBefore;
  onProgress({ stage: 'run', message: `Decoding at α ${alpha.toFixed(2)}${cached && fresh === 0 ? ' (features cached)' : ''}` });
  const { width, height } = content.image;
  const [top, , left] = content.pads;
  const runtime = getRuntime();
  const out = noGrad(() =>
    scope(() => {
      const styles = stats.map((s) => ({ mean: runtime.upload(s.mean, [s.mean.length]), std: runtime.upload(s.std, [s.std.length]) }));
      const t = adainTarget(content.features, styles, { alpha, weights: inputs.styles.map((s) => s.weight), eps: stylizer.eps });
      const y = stylizer.decoder.forward(t);
      const cropped = y.shape[1] === height && y.shape[2] === width ? y : slice(y, [0, top, left, 0], [1, height, width, 3]);
      return clamp(cropped, 0, 255);
    }),
  );
  let image: RgbImage;
  try {
    image = { width, height, data: await out.data() };
  } finally {
    out.dispose();
  }
  return preserveColor === 'luminance' ? combineLuminance(image, content.image) : image;
}

const adain: PageAdapter = {
  method: 'adain',
  order: 30,
  summary: 'Any style in one pass: aligns the photo’s VGG features with the style’s statistics, then decodes. Mix several styles.',
  controls: {
    alpha: { label: 'Style strength (α)', hint: 'Re-renders from cached features.', ui: { control: 'slider', step: 0.05, live: true }, format: (v) => v.toFixed(2) },
    preserveColor: { label: 'Preserve colours', hint: 'Keep the photo’s colours, take only the texture.', ui: { control: 'select', live: true } },
    size: { label: 'Working size', ui: { control: 'select', default: 512 }, values: [64, 128, 256, 512, 768], hint: 'Longer side in pixels. Smaller is faster.' },
  },
  run: (_definition, through) => async (inputs, options, onProgress, signal) =>
    userDecoder || cachedDecoder ? stylize(inputs, options, onProgress, signal) : through(inputs, options, onProgress, signal),
  weightsFile: decoderFile,
  async available() {
    cachedDecoder = (await weightsAvailable([ADAIN_DECODER_FILE, 'vgg19.safetensors'])) === true;
    if (userDecoder) return weightsAvailable(['vgg19.safetensors']);
    return weightsAvailable([DISTILLED_FILE]);
  },
};

export default adain;
