// Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie 2017): VGG encoder,
// AdaIN, trained decoder. Placeholder until the decoder lands in src/nets/.

import type { StyleMethod } from '../methods.ts';
import { sizeControl } from '../methods.ts';

const adain: StyleMethod = {
  id: 'adain',
  label: 'AdaIN',
  summary: 'Any style in one pass: aligns the photo’s VGG feature statistics with the style’s. Mix several styles.',
  order: 30,
  styleInputs: 'many',
  controls: [
    { kind: 'slider', id: 'alpha', label: 'Style strength (α)', min: 0, max: 1, step: 0.05, default: 1, live: true, format: (v) => v.toFixed(2) },
    { kind: 'toggle', id: 'preserveColour', label: 'Preserve colours', hint: 'Keep the photo’s colours, take only the texture.', default: false, live: true },
    sizeControl([256, 512, 768], 512),
  ],
  async available() {
    return 'Coming soon: the AdaIN decoder is still being written (src/nets/).';
  },
  async run() {
    throw new Error('AdaIN is not available yet.');
  },
};

export default adain;
