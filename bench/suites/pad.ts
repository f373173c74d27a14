import type { Tensor4D } from '@tensorflow/tfjs-core';
import { pad2d } from '../../src/autograd/ops/pad.ts';
import { randomTensor, randomTf } from '../data.ts';
import { backwardWorkload } from '../grad.ts';
import type { BenchDef, Tier } from '../types.ts';

/** Reflection padding by 4 of the feed-forward net's last 9×9 conv input ([1, S, S, 32]). */
const SIZES: [number, readonly Tier[]][] = [
  [64, ['quick']],
  [256, ['default']],
  [1024, ['full']],
];

export const padBenches: BenchDef[] = SIZES.flatMap(([s, tiers]): BenchDef[] => {
  const shape = [1, s, s, 32] as const;
  const padded = (s + 8) * (s + 8) * 32;
  return [
    {
      name: `pad reflect 4 ${s}x${s}x32`,
      group: 'pad',
      tiers,
      bytes: 4 * (s * s * 32 + padded),
      setup(rt) {
        const x = randomTensor(rt, shape, 1);
        return { run: () => void pad2d(x, [4, 4, 4, 4], 'reflect'), dispose: () => x.dispose() };
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, shape, 1);
        const pads: [number, number][] = [[0, 0], [4, 4], [4, 4], [0, 0]];
        return { run: () => void tf.mirrorPad(x, pads, 'reflect'), dispose: () => x.dispose() };
      },
    },
    {
      name: `pad reflect 4 ${s}x${s}x32 input-grad`,
      group: 'pad',
      tiers,
      bytes: 4 * (s * s * 32 + padded),
      setup(rt) {
        const x = randomTensor(rt, shape, 1);
        return backwardWorkload(rt, () => pad2d(x, [4, 4, 4, 4], 'reflect'), [x]);
      },
      // No peer: tfjs's MirrorPad gradient is only reachable through its autodiff.
    },
  ];
});
