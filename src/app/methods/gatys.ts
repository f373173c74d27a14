// Optimisation-based style transfer (Gatys et al. 2016) on the page: the controls are the options of
// src/nets/methods/gatys/definition.ts, and their values become the library's options the same way
// the definition makes them (gatysLibraryOptions). The run is the page's own so that Stop keeps the
// best image so far and Resume continues from it, with previews and the loss curves as it goes.

import { gatysLibraryOptions } from '../../nets/methods/gatys/definition.ts';
import { stylizeGatys, type GatysOptions } from '../../nets/methods/gatys/gatys.ts';
import { throwIfAborted, yieldToBrowser } from '../methods.ts';
import type { PageAdapter } from '../page-method.ts';
import { weightsAvailable } from '../weights.ts';
import { fitLongSide, loadVgg19 } from './_shared.ts';

const exponent = (v: number) => v.toExponential(0).replace('e+', 'e');

const gatys: PageAdapter = {
  method: 'gatys',
  order: 20,
  summary: 'Optimises the image itself to match the style’s VGG19 textures. Slow, but works with any painting — watch it paint.',
  resumable: true,
  controls: {
    // One by one: a quick look at two iterations on a software adapter is as useful as 1000 on a GPU.
    iterations: { ui: { control: 'slider', scale: 'linear', step: 1 } },
    styleWeight: { label: 'Style weight', hint: 'How strongly textures win over the photo’s structure.', format: exponent },
    // The definition leaves these to the command line; the page shows them over the useful decades.
    contentWeight: { label: 'Content weight', ui: { control: 'slider', scale: 'log', min: 0.1, max: 100 }, format: exponent },
    tvWeight: { label: 'Smoothness (TV)', ui: { control: 'slider', scale: 'log', min: 1e-5, max: 0.1 }, format: exponent },
    // The cost grows with the pixel count times the iterations, so a quick look at 64 px (or less, on
    // a software adapter) is as useful as 1024 px on a GPU.
    size: { label: 'Working size', hint: 'Longer side in pixels. Smaller is much faster: try 64 px for a quick look.', format: (v) => `${v} px` },
  },
  available: () => weightsAvailable(['vgg19.safetensors']),
  run: () => async (inputs, options, onProgress, signal) => {
    const vgg = await loadVgg19(onProgress);
    throwIfAborted(signal);
    const content = fitLongSide(inputs.content, Number(options.size ?? 256));
    const total = Number(options.iterations);
    const resume = inputs.resumeFrom;
    const firstStep = resume ? Math.min(inputs.resumeStep ?? 0, total - 1) : 0;
    const library = gatysLibraryOptions(options, inputs.styles, () => signal.aborted);
    const run: GatysOptions = {
      ...library,
      iterations: total - firstStep,
      // A resumed run starts from the stopped image (the library resizes it if the size changed).
      init: resume ?? library.init,
      previewEvery: Math.max(1, Math.round(total / 80)),
      previewLast: true,
      measureBaseline: false,
    };
    onProgress({ stage: 'compile', message: 'Computing the style and content targets' });
    const generator = stylizeGatys(vgg, content, inputs.styles.map((s) => s.image), run);
    for (;;) {
      const next = await generator.next();
      if (next.done) return next.value.image; // on Stop: the best image so far (the page offers Resume)
      const p = next.value;
      const step = firstStep + p.step;
      onProgress({
        stage: 'run',
        message: `Iteration ${step} / ${total} · ${p.itersPerSecond.toFixed(p.itersPerSecond < 10 ? 2 : 1)} it/s`,
        fraction: step / total,
        step,
        losses: { content: p.losses.content, style: p.losses.style, tv: p.losses.tv },
        ...(p.preview ? { preview: p.preview } : {}),
      });
      // Let the page paint the preview and take a Stop click before the next iteration is queued
      // (resuming the generator runs straight into the next iteration's GPU work).
      await yieldToBrowser();
    }
  },
};

export default gatys;
