// Optimisation-based style transfer (Gatys et al. 2016): VGG19 features, Gram-matrix style loss,
// optimised pixel by pixel. Placeholder until the losses and optimisers land in src/nets/.
// The page already provides what it needs: live previews and loss curves via onProgress({ preview,
// losses, step }), and Stop / Resume (resumable: run() resolves with its current image on abort and
// gets it back as inputs.resumeFrom).

import type { StyleMethod } from '../methods.ts';
import { sizeControl } from '../methods.ts';

const exponent = (v: number) => v.toExponential(0).replace('e+', 'e');

const gatys: StyleMethod = {
  id: 'gatys',
  label: 'Gatys',
  summary: 'Optimises the image itself to match the style’s VGG19 textures. Slow, but works with any painting.',
  order: 20,
  styleInputs: 'one',
  resumable: true,
  controls: [
    { kind: 'slider', id: 'contentWeight', label: 'Content weight', min: 1e-1, max: 1e4, step: 0, scale: 'log', default: 1, format: exponent },
    { kind: 'slider', id: 'styleWeight', label: 'Style weight', min: 1e1, max: 1e7, step: 0, scale: 'log', default: 1e4, format: exponent },
    { kind: 'slider', id: 'tvWeight', label: 'Smoothness (TV)', min: 1e-4, max: 1e1, step: 0, scale: 'log', default: 1e-2, format: exponent },
    { kind: 'slider', id: 'iterations', label: 'Iterations', min: 10, max: 1000, step: 10, default: 200 },
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
    sizeControl([128, 256, 384, 512], 256),
  ],
  async available() {
    return 'Coming soon: the VGG19 losses and optimisers are still being written (src/nets/).';
  },
  async run() {
    throw new Error('Gatys style transfer is not available yet.');
  },
};

export default gatys;
