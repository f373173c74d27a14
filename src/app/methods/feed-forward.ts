// Feed-forward style transfer (Johnson et al. 2016): one pretrained TransformerNet per style, one
// forward pass per image. Placeholder until the net lands in src/nets/: the tab shows the planned
// controls, disabled, with the reason. To finish it, implement `available()` (e.g. with
// weightsAvailable([`${model}.safetensors`])) and `run()`.

import type { StyleMethod } from '../methods.ts';
import { sizeControl } from '../methods.ts';

/** The pretrained styles in weights/manifest.json: PyTorch-examples nets, then ml5 (lengstrom) nets. */
export const FEED_FORWARD_MODELS = [
  { value: 'candy', label: 'Candy' },
  { value: 'mosaic', label: 'Mosaic' },
  { value: 'pointilism', label: 'Pointillism' },
  { value: 'rain_princess', label: 'Rain Princess' },
  { value: 'udnie', label: 'Udnie' },
  { value: 'mathura', label: 'Mathura' },
  { value: 'matilde_perez', label: 'Matilde Pérez' },
  { value: 'matta', label: 'Matta' },
];

const feedForward: StyleMethod = {
  id: 'feed-forward',
  label: 'Feed-forward',
  summary: 'A network trained on one painting restyles any photo in a single pass. Pick a model.',
  order: 10,
  styleInputs: 'none',
  controls: [
    { kind: 'gallery', id: 'model', label: 'Model', options: FEED_FORWARD_MODELS, default: 'mosaic' },
    sizeControl([256, 512, 1024], 512),
  ],
  async available() {
    return 'Coming soon: the TransformerNet forward pass is still being written (src/nets/).';
  },
  async run() {
    throw new Error('Feed-forward style transfer is not available yet.');
  },
};

export default feedForward;
