// Feed-forward style transfer (Johnson et al. 2016) on the page: the definition
// (src/nets/methods/feed-forward/definition.ts) gives the controls and runs it; the page adds the
// model gallery's pictures, a few working sizes, and webcam live mode (one forward pass a frame).

import type { ControlSpec, GalleryControl } from '../methods.ts';
import type { PageAdapter } from '../page-method.ts';
import { loadSamples } from '../samples.ts';
import { weightsAvailable } from '../weights.ts';

const PYTORCH = 'fast_neural_style net (PyTorch examples)';
const ML5 = 'lengstrom fast-style-transfer net (ml5)';

/** The gallery: PyTorch-examples nets first, then ml5 (lengstrom) nets. */
const TILES: Record<string, { label: string; caption: string }> = {
  candy: { label: 'Candy', caption: `Candy — ${PYTORCH}` },
  mosaic: { label: 'Mosaic', caption: `Mosaic — ${PYTORCH}` },
  pointilism: { label: 'Pointillism', caption: `Pointillism — ${PYTORCH}` },
  rain_princess: { label: 'Rain Princess', caption: `Rain Princess (Leonid Afremov) — ${PYTORCH}` },
  udnie: { label: 'Udnie', caption: `Udnie (Francis Picabia, 1913) — ${PYTORCH}` },
  mathura: { label: 'Mathura', caption: `Mathura — ${ML5}` },
  matilde_perez: { label: 'Matilde Pérez', caption: `Matilde Pérez — ${ML5}` },
  matta: { label: 'Matta', caption: `Matta (Roberto Matta) — ${ML5}` },
};

/** Models whose painting is among the sample images: that painting is the tile's picture. */
const PAINTING_SAMPLES: Record<string, string> = { udnie: 'udnie_picabia' };

const feedForward: PageAdapter = {
  method: 'feed-forward',
  order: 10,
  summary: 'A network trained on one painting restyles any photo in a single pass. Pick a model — or go live with the webcam.',
  controls: {
    // Live: picking another model re-renders the photo at once (one forward pass; a first pick of a
    // model also downloads its weights).
    model: { label: 'Model', ui: { control: 'gallery', live: true, default: 'mosaic' }, tiles: TILES, order: Object.keys(TILES), hint: '' },
    precision: { label: 'Precision', hint: "f16 halves the GPU memory traffic (arithmetic stays f32); it needs a GPU with 'shader-f16'." },
    size: { label: 'Working size', ui: { control: 'select', default: 512 }, values: [128, 256, 512, 1024], hint: 'Longer side in pixels (also the webcam frame size). Smaller is faster.' },
  },
  // The precision picks how the weights are stored: a change loads them anew.
  loadOptions: ['model', 'precision'],
  async available(controls: readonly ControlSpec[]) {
    const gallery = controls.find((c): c is GalleryControl => c.kind === 'gallery');
    const models = gallery?.options ?? [];
    const [results, samples] = await Promise.all([Promise.all(models.map((m) => weightsAvailable([`${m.value}.safetensors`]))), loadSamples()]);
    for (const option of models) {
      const stem = PAINTING_SAMPLES[option.value];
      const painting = stem ? samples.find((s) => s.file.replace(/\.[^.]+$/, '') === stem) : undefined;
      if (painting) option.thumbnail = painting.url;
    }
    return results.some((r) => r === true) ? true : ((results[0] as string | undefined) ?? 'No feed-forward models are known.');
  },
  // Never enlarge the photo: upscaling adds cost, not detail.
  run: (_definition, through) => (inputs, options, onProgress, signal) => {
    const long = Math.max(inputs.content.width, inputs.content.height);
    const size = Math.min(Number(options.size ?? long), long);
    return through(inputs, { ...options, size }, onProgress, signal);
  },
  live: {
    // The model may change between frames: the first frame with a new one waits for its weights.
    // One upload, one forward pass, one download; same-sized frames get the same pooled buffers.
    frameSize: (options) => Number(options.size ?? 512),
  },
};

export default feedForward;
