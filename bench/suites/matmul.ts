import type { Tensor2D } from '@tensorflow/tfjs-core';
import { matmul } from '../../src/autograd/ops/matmul.ts';
import { disposeAll, randomTensor, randomTf } from '../data.ts';
import type { BenchDef, Tier } from '../types.ts';

/** Square sizes and the tiers that run them (2048 takes ~10 s per product on lavapipe). */
const SIZES: [number, readonly Tier[]][] = [
  [256, ['quick', 'default', 'full']],
  [512, ['quick', 'default', 'full']],
  [1024, ['quick', 'default', 'full']],
  [2048, ['default', 'full']],
  [4096, ['full']],
];

export const matmulBenches: BenchDef[] = SIZES.map(([n, tiers]) => ({
  name: `matmul ${n}x${n}x${n}`,
  group: 'matmul',
  tiers,
  flops: 2 * n ** 3,
  bytes: 3 * 4 * n * n,
  setup(rt) {
    const a = randomTensor(rt, [n, n], 1);
    const b = randomTensor(rt, [n, n], 2);
    return { run: () => void matmul(a, b), dispose: () => disposeAll(a, b) };
  },
  peer(tf) {
    const a = randomTf<Tensor2D>(tf, [n, n], 1);
    const b = randomTf<Tensor2D>(tf, [n, n], 2);
    return { run: () => void tf.matMul(a, b), dispose: () => disposeAll(a, b) };
  },
}));
