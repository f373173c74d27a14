// Magenta arbitrary stylization (Ghiasi et al. 2017): a style-prediction net turns the painting into a
// 100-number style vector that drives conditional instance norm in the transfer net. Placeholder until
// the TFLite graphs run on the engine (src/nets/).

import type { StyleMethod } from '../methods.ts';

const magenta: StyleMethod = {
  id: 'magenta',
  label: 'Magenta',
  summary: 'A style-prediction network condenses any painting into a style vector. Blend styles by mixing vectors.',
  order: 40,
  styleInputs: 'many',
  controls: [
    {
      kind: 'slider',
      id: 'strength',
      label: 'Style strength',
      hint: 'Mixes the style vector with the photo’s own.',
      min: 0,
      max: 1,
      step: 0.05,
      default: 1,
      live: true,
      format: (v) => `${Math.round(v * 100)}%`,
    },
  ],
  async available() {
    return 'Coming soon: the style-prediction and transfer networks are still being ported (src/nets/).';
  },
  async run() {
    throw new Error('Magenta is not available yet.');
  },
};

export default magenta;
