// Feed-forward style transfer (Johnson et al. 2016): one pretrained net per style, one forward pass
// per image, run by the same engine code as `pastiche stylize --method transformer`. Fast enough for
// the webcam: live mode restyles camera frames continuously.

import { getRuntime } from '../../gpu/runtime.ts';
import { feedForwardFromWeights, stylizeFeedForward, type FeedForwardNet } from '../../nets/methods/feed-forward/feed-forward.ts';
import type { GalleryControl, ProgressFn, StyleMethod } from '../methods.ts';
import { numberValue, sizeControl, stringValue, throwIfAborted } from '../methods.ts';
import { loadSamples } from '../samples.ts';
import { fetchSafetensors, weightsAvailable } from '../weights.ts';
import { fitLongSide, once } from './_shared.ts';

const PYTORCH = 'fast_neural_style net (PyTorch examples)';
const ML5 = 'lengstrom fast-style-transfer net (ml5)';

/** The pretrained styles in weights/manifest.json: PyTorch-examples nets, then ml5 (lengstrom) nets. */
export const FEED_FORWARD_MODELS: GalleryControl['options'] = [
  { value: 'candy', label: 'Candy', caption: `Candy — ${PYTORCH}` },
  { value: 'mosaic', label: 'Mosaic', caption: `Mosaic — ${PYTORCH}` },
  { value: 'pointilism', label: 'Pointillism', caption: `Pointillism — ${PYTORCH}` },
  { value: 'rain_princess', label: 'Rain Princess', caption: `Rain Princess (Leonid Afremov) — ${PYTORCH}` },
  { value: 'udnie', label: 'Udnie', caption: `Udnie (Francis Picabia, 1913) — ${PYTORCH}` },
  { value: 'mathura', label: 'Mathura', caption: `Mathura — ${ML5}` },
  { value: 'matilde_perez', label: 'Matilde Pérez', caption: `Matilde Pérez — ${ML5}` },
  { value: 'matta', label: 'Matta', caption: `Matta (Roberto Matta) — ${ML5}` },
];

/** Models whose painting is among the sample images: that painting is the tile's picture. */
const PAINTING_SAMPLES: Record<string, string> = { udnie: 'udnie_picabia' };

/** Nets stay on the GPU once loaded, so switching back to a model (or the next webcam frame) is instant. */
const nets = new Map<string, Promise<FeedForwardNet>>();

function loadNet(model: string, onProgress: ProgressFn): Promise<FeedForwardNet> {
  return once(nets, model, async () => {
    const { tensors } = await fetchSafetensors(model, onProgress);
    return feedForwardFromWeights(getRuntime(), tensors, model);
  });
}

function labelOf(model: string): string {
  return FEED_FORWARD_MODELS.find((m) => m.value === model)?.label ?? model;
}

// Live: picking another model re-renders the photo at once (one forward pass; a first pick of a
// model also downloads its weights).
const modelControl: GalleryControl = { kind: 'gallery', id: 'model', label: 'Model', options: FEED_FORWARD_MODELS, default: 'mosaic', live: true };

const feedForward: StyleMethod = {
  id: 'feed-forward',
  label: 'Feed-forward',
  summary: 'A network trained on one painting restyles any photo in a single pass. Pick a model — or go live with the webcam.',
  order: 10,
  styleInputs: 'none',
  controls: [modelControl, sizeControl([128, 256, 512, 1024], 512, 'Longer side in pixels (also the webcam frame size). Smaller is faster.')],
  async available() {
    const [results, samples] = await Promise.all([
      Promise.all(FEED_FORWARD_MODELS.map((m) => weightsAvailable([`${m.value}.safetensors`]))),
      loadSamples(),
    ]);
    for (const option of FEED_FORWARD_MODELS) {
      const stem = PAINTING_SAMPLES[option.value];
      const painting = stem ? samples.find((s) => s.file.replace(/\.[^.]+$/, '') === stem) : undefined;
      if (painting) option.thumbnail = painting.url;
    }
    return results.some((r) => r === true) ? true : (results[0] as string);
  },
  async run(inputs, controls, onProgress, signal) {
    const model = stringValue(controls, 'model');
    const net = await loadNet(model, onProgress);
    throwIfAborted(signal);
    const content = fitLongSide(inputs.content, numberValue(controls, 'size'));
    onProgress({ stage: 'run', message: `Stylizing ${content.width}×${content.height} with ${labelOf(model)}…` });
    return stylizeFeedForward(net, content);
  },
  live: {
    frameSize: (controls) => numberValue(controls, 'size'),
    async frame(inputs, controls, onProgress, signal) {
      // The model may change between frames: the first frame with a new one waits for its weights.
      const net = await loadNet(stringValue(controls, 'model'), onProgress);
      throwIfAborted(signal);
      // One upload, one forward pass, one download; same-sized frames get the same pooled buffers.
      return stylizeFeedForward(net, inputs.content);
    },
  },
};

export default feedForward;
