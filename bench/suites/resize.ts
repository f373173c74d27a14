import type { Tensor4D } from '@tensorflow/tfjs-core';
import { upsampleNearest } from '../../src/autograd/ops/resize.ts';
import { randomTensor, randomTf } from '../data.ts';
import type { BenchDef, Tier } from '../types.ts';

/** Nearest-neighbour ×2 upsampling as in the transformer net's decoder ([1, S/4, S/4, 128]). */
const SIZES: [number, readonly Tier[]][] = [
  [64, ['quick']],
  [256, ['default']],
  [1024, ['full']],
];

export const resizeBenches: BenchDef[] = SIZES.map(([image, tiers]) => {
  const s = image / 4;
  const shape = [1, s, s, 128] as const;
  const n = s * s * 128;
  return {
    name: `upsample nearest x2 ${s}x${s}x128`,
    group: 'resize',
    tiers,
    bytes: 4 * 5 * n,
    setup(rt) {
      const x = randomTensor(rt, shape, 1);
      return { run: () => void upsampleNearest(x, 2), dispose: () => x.dispose() };
    },
    peer(tf) {
      const x = randomTf<Tensor4D>(tf, shape, 1);
      return { run: () => void tf.image.resizeNearestNeighbor(x, [2 * s, 2 * s]), dispose: () => x.dispose() };
    },
  };
});
