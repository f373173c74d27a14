// Optimisation-based style transfer (Gatys et al. 2016): VGG19 features, Gram-matrix style loss, the
// image itself optimised on the GPU by L-BFGS or Adam (src/nets/gatys.ts). The page shows the image
// evolving and the loss curves; Stop keeps the best image so far, Resume continues from it.

import type { ColorPreservation } from '../../nets/image/color.ts';
import { DEFAULT_GATYS_WEIGHTS, stylizeGatys, type GatysOptions } from '../../nets/methods/gatys/gatys.ts';
import type { StyleMethod } from '../methods.ts';
import { numberValue, stringValue, throwIfAborted, yieldToBrowser } from '../methods.ts';
import { weightsAvailable } from '../weights.ts';
import { fitLongSide, loadVgg19 } from './_shared.ts';

const exponent = (v: number) => v.toExponential(0).replace('e+', 'e');

const gatys: StyleMethod = {
  id: 'gatys',
  label: 'Gatys',
  summary: 'Optimises the image itself to match the style’s VGG19 textures. Slow, but works with any painting — watch it paint.',
  order: 20,
  styleInputs: 'many',
  resumable: true,
  controls: [
    { kind: 'slider', id: 'styleWeight', label: 'Style weight', hint: 'How strongly textures win over the photo’s structure.', min: 1e-1, max: 1e2, step: 0, scale: 'log', default: DEFAULT_GATYS_WEIGHTS.styleWeight, format: exponent },
    { kind: 'slider', id: 'contentWeight', label: 'Content weight', min: 1e-1, max: 1e2, step: 0, scale: 'log', default: DEFAULT_GATYS_WEIGHTS.contentWeight, format: exponent },
    { kind: 'slider', id: 'tvWeight', label: 'Smoothness (TV)', min: 1e-5, max: 1e-1, step: 0, scale: 'log', default: DEFAULT_GATYS_WEIGHTS.tvWeight, format: exponent },
    { kind: 'slider', id: 'iterations', label: 'Iterations', min: 1, max: 1000, step: 1, default: 200 },
    {
      kind: 'select',
      id: 'optimizer',
      label: 'Optimizer',
      options: [
        { value: 'lbfgs', label: 'L-BFGS' },
        { value: 'adam', label: 'Adam' },
      ],
      default: 'lbfgs',
    },
    {
      kind: 'select',
      id: 'init',
      label: 'Start from',
      options: [
        { value: 'content', label: 'Photo' },
        { value: 'noise', label: 'Noise' },
      ],
      default: 'content',
    },
    {
      kind: 'select',
      id: 'preserveColor',
      label: 'Preserve colours',
      hint: 'Keep the photo’s colours: transfer only brightness, or recolour the style first.',
      options: [
        { value: 'none', label: 'Off' },
        { value: 'luminance', label: 'Luminance' },
        { value: 'histogram', label: 'Histogram' },
      ],
      default: 'none',
    },
    {
      // A slider rather than a few sizes: the cost grows with the pixel count times the iterations,
      // so a quick look at 64 px (or less, on a software adapter) is as useful as 1024 px on a GPU.
      kind: 'slider',
      id: 'size',
      label: 'Working size',
      hint: 'Longer side in pixels. Smaller is much faster: try 64 px for a quick look.',
      min: 32,
      max: 1024,
      step: 32,
      default: 256,
      format: (v) => `${v} px`,
    },
  ],
  async available() {
    return weightsAvailable(['vgg19.safetensors']);
  },
  async run(inputs, controls, onProgress, signal) {
    const vgg = await loadVgg19(onProgress);
    throwIfAborted(signal);
    const content = fitLongSide(inputs.content, numberValue(controls, 'size'));
    const total = numberValue(controls, 'iterations');
    const resume = inputs.resumeFrom;
    const firstStep = resume ? Math.min(inputs.resumeStep ?? 0, total - 1) : 0;
    const iterations = total - firstStep;
    const options: GatysOptions = {
      contentWeight: numberValue(controls, 'contentWeight'),
      styleWeight: numberValue(controls, 'styleWeight'),
      tvWeight: numberValue(controls, 'tvWeight'),
      styleBlend: inputs.styles.map((s) => s.weight),
      iterations,
      optimizer: stringValue(controls, 'optimizer') === 'adam' ? 'adam' : 'lbfgs',
      // A resumed run starts from the stopped image (the library resizes it if the size changed).
      init: resume ?? (stringValue(controls, 'init') === 'noise' ? 'noise' : 'content'),
      preserveColor: stringValue(controls, 'preserveColor') as ColorPreservation,
      previewEvery: Math.max(1, Math.round(total / 80)),
      previewLast: true,
      shouldStop: () => signal.aborted,
    };
    onProgress({ stage: 'compile', message: 'Computing the style and content targets' });
    const run = stylizeGatys(vgg, content, inputs.styles.map((s) => s.image), options);
    for (;;) {
      const next = await run.next();
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
