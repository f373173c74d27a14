// Magenta arbitrary stylization (Ghiasi et al. 2017) on the page: the controls are the options of
// src/nets/methods/magenta/definition.ts; the run is the page's own, because the page keeps more
// cached between re-renders than one run of the definition does. A style-prediction net turns the
// painting into a 100-number style vector that drives conditional instance norm in the transfer net.
// Both are the pretrained int8 TFLite models (from the weights cache), converted in the page and run
// in float32 on the engine (src/nets/methods/magenta/magenta.ts).
//
// What is slow runs once: the predictor runs once per style image and once per content photo (its
// own vector, which the strength slider mixes in); the vectors are kept here. Moving the strength
// slider or the blend weights only mixes vectors and re-runs the transfer net.

import { getRuntime } from '../../gpu/runtime.ts';
import type { RgbImage } from '../../io/image.ts';
import { Magenta, MAGENTA_MIN_CONTENT_SIZE } from '../../nets/methods/magenta/magenta.ts';
import type { OptionValues } from '../../index.browser.ts';
import { preserveColorPost } from '../../nets/methods/common-options.ts';
import { DEFAULT_RAW_FILES } from '../../nets/weights/fetch-weight-source.ts';
import type { MethodInputs, ProgressFn } from '../methods.ts';
import { throwIfAborted } from '../methods.ts';
import type { PageAdapter } from '../page-method.ts';
import { fetchWeights, weightsAvailable } from '../weights.ts';
import { fitLongSide, once } from './_shared.ts';

export const MAGENTA_FILES = { predict: DEFAULT_RAW_FILES['magenta-predict']!, transfer: DEFAULT_RAW_FILES['magenta-transfer']! } as const;

const models = new Map<string, Promise<Magenta>>();

function loadMagenta(onProgress: ProgressFn): Promise<Magenta> {
  return once(models, 'magenta', async () => {
    const [predict, transfer] = await Promise.all([
      fetchWeights(MAGENTA_FILES.predict, onProgress, 'style predictor'),
      fetchWeights(MAGENTA_FILES.transfer, onProgress, 'transfer net'),
    ]);
    onProgress({ stage: 'compile', message: 'Converting the TFLite graphs for the GPU' });
    await new Promise((resolve) => setTimeout(resolve, 0)); // paint the message first
    return Magenta.fromTflite(getRuntime(), predict, transfer);
  });
}

/**
 * Style vectors by image: the page hands the same RgbImage object for a style (or content) until the
 * user replaces it, so identity is the right key, and a WeakMap lets replaced images go.
 */
const vectors = new WeakMap<RgbImage, Float32Array>();
/** How many times the predictor ran (shown in progress messages; a re-render should not add any). */
let predictorRuns = 0;

async function vectorOf(magenta: Magenta, image: RgbImage, what: string, onProgress: ProgressFn, signal: AbortSignal): Promise<Float32Array> {
  let v = vectors.get(image);
  if (!v) {
    throwIfAborted(signal);
    onProgress({ stage: 'run', message: `Predicting the style vector of ${what}` });
    v = await magenta.predictStyle(image);
    predictorRuns++;
    vectors.set(image, v);
  }
  return v;
}

async function stylize(inputs: MethodInputs, options: OptionValues, onProgress: ProgressFn, signal: AbortSignal): Promise<RgbImage> {
  const magenta = await loadMagenta(onProgress);
  const runsBefore = predictorRuns;
  const styleVectors: Float32Array[] = [];
  for (const style of inputs.styles) styleVectors.push(await vectorOf(magenta, style.image, style.name, onProgress, signal));
  const strength = Number(options.strength ?? 1);
  // Strength mixes in the photo's own vector: predicted once per photo (on the whole input image),
  // even at 100%, so that the first move of the slider is already only a transfer.
  const contentVector = await vectorOf(magenta, inputs.content, 'the photo', onProgress, signal);
  const content = fitLongSide(inputs.content, Number(options.size ?? 384));
  if (Math.min(content.width, content.height) < MAGENTA_MIN_CONTENT_SIZE) {
    throw new Error(`The photo is too thin at this size (${content.width}×${content.height}); Magenta needs at least ${MAGENTA_MIN_CONTENT_SIZE} pixels a side.`);
  }
  throwIfAborted(signal);
  const cached = predictorRuns === runsBefore ? ' (style vectors cached)' : '';
  onProgress({ stage: 'run', message: `Transfer at ${content.width}×${content.height}, strength ${Math.round(strength * 100)}%${cached}` });
  const { image } = await magenta.stylizeDetailed(content, styleVectors, {
    strength,
    weights: inputs.styles.map((s) => s.weight),
    contentEmbedding: contentVector,
  });
  return preserveColorPost(image, content, options.preserveColor as string | undefined);
}

const magenta: PageAdapter = {
  method: 'magenta',
  order: 40,
  summary: 'A style-prediction network condenses any painting into a style vector. Blend styles by mixing vectors.',
  controls: {
    strength: {
      label: 'Style strength',
      hint: 'Mixes the style vector with the photo’s own. Re-renders without re-predicting.',
      ui: { control: 'slider', step: 0.05, live: true },
      format: (v) => `${Math.round(v * 100)}%`,
    },
    size: { label: 'Working size', ui: { control: 'select', default: 384 }, values: [128, 256, 384, 512], hint: 'Longer side in pixels (the transfer net was trained at 384). Smaller is faster.' },
  },
  available() {
    return weightsAvailable([MAGENTA_FILES.predict, MAGENTA_FILES.transfer]);
  },
  run: () => stylize,
  live: {
    frameSize: (options) => Number(options.size ?? 384),
    // Each frame is a new photo: its own vector would cost a predictor run per frame, so live mode
    // mixes with the vector of the frame it saw first (the strength slider still works, live).
    frame: () => async (inputs, options, onProgress, signal) => {
      liveContent ??= inputs.content;
      const own = await vectorOf(await loadMagenta(onProgress), liveContent, 'the first frame', onProgress, signal);
      vectors.set(inputs.content, own);
      return stylize(inputs, options, onProgress, signal);
    },
    stop() {
      liveContent = null;
    },
  },
};

let liveContent: RgbImage | null = null;

export default magenta;
