// Universal style transfer (whitening and colouring transforms, levels 5→1) on the page: runs through
// src/nets/methods/wct/definition.ts on the bundled distilled nets, which the dev server serves from
// weights/bundled/ with nothing installed. The page adds its wording and a few working sizes: WCT runs
// five encoder/decoder pairs, so on a software GPU 256 px takes seconds where 512 px takes most of a minute.

import type { PageAdapter } from '../page-method.ts';
import { weightsAvailable } from '../weights.ts';

export const DISTILLED_FILE = 'distilled-16x.safetensors';

const wct: PageAdapter = {
  method: 'wct',
  order: 35,
  summary: 'Any style, no training: whitens the photo’s features and colours them with the painting’s, at five depths, coarse to fine.',
  controls: {
    alpha: { label: 'Style strength (α)', format: (v) => v.toFixed(2) },
    levels: {
      label: 'Depth',
      hint: 'Which encoder levels run, coarse to fine. Fewer: faster, finer textures, less of the painting’s large shapes.',
      ui: { control: 'select' },
      lists: [
        { value: [5, 4, 3, 2, 1], label: '5→1' },
        { value: [4, 3, 2, 1], label: '4→1' },
        { value: [3, 2, 1], label: '3→1' },
        { value: [2, 1], label: '2→1' },
      ],
    },
    preserveColor: { label: 'Preserve colours', hint: 'Keep the photo’s colours, take only the texture.', ui: { control: 'select' } },
    size: { label: 'Working size', ui: { control: 'select', default: 256 }, values: [64, 128, 256, 384, 512, 768], hint: 'Longer side in pixels. Smaller is faster.' },
  },
  available: () => weightsAvailable([DISTILLED_FILE]),
  // The styles at the working size too: their textures at the photo's scale, and no encoder pass on a
  // full-size painting for a small preview.
  run: (_definition, through) => (inputs, options, onProgress, signal) => through(inputs, { ...options, styleSize: options.styleSize ?? options.size }, onProgress, signal),
};

export default wct;
