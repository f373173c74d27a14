import type { Tensor4D } from '@tensorflow/tfjs-core';
import { avgPool2d, maxPool2d } from '../../src/autograd/ops/pool.ts';
import { disposeAll, randomTensor, randomTf } from '../data.ts';
import { backwardWorkload } from '../grad.ts';
import type { BenchDef, Tier } from '../types.ts';

/** VGG's pool1 input ([1, S, S, 64]) for the tier's image size. */
const SIZES: [number, readonly Tier[]][] = [
  [64, ['quick']],
  [128, ['default']],
  [512, ['full']],
];

export const poolBenches: BenchDef[] = SIZES.flatMap(([s, tiers]): BenchDef[] => {
  const shape = [1, s, s, 64] as const;
  const n = s * s * 64;
  return [
    {
      name: `maxpool 2x2 ${s}x${s}x64`,
      group: 'pool',
      tiers,
      flops: (3 * n) / 4,
      bytes: 4 * n * 1.25,
      setup(rt) {
        const x = randomTensor(rt, shape, 1);
        return { run: () => void maxPool2d(x), dispose: () => x.dispose() };
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, shape, 1);
        return { run: () => void tf.maxPool(x, 2, 2, 'valid'), dispose: () => x.dispose() };
      },
    },
    {
      name: `maxpool 2x2 ${s}x${s}x64 input-grad`,
      group: 'pool',
      tiers,
      flops: n,
      bytes: 4 * n * 2.5,
      setup(rt) {
        const x = randomTensor(rt, shape, 1);
        return backwardWorkload(rt, () => maxPool2d(x), [x]);
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, shape, 1);
        const y = tf.maxPool(x, 2, 2, 'valid');
        const dy = randomTf(tf, y.shape, 99);
        const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
        return {
          run: () => void tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: y }, attrs),
          dispose: () => disposeAll(x, y, dy),
        };
      },
    },
    {
      name: `avgpool 2x2 ${s}x${s}x64`,
      group: 'pool',
      tiers,
      flops: n,
      bytes: 4 * n * 1.25,
      setup(rt) {
        const x = randomTensor(rt, shape, 2);
        return { run: () => void avgPool2d(x), dispose: () => x.dispose() };
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, shape, 2);
        return { run: () => void tf.avgPool(x, 2, 2, 'valid'), dispose: () => x.dispose() };
      },
    },
  ];
});
