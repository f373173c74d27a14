import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { gram } from '../../src/autograd/ops/gram.ts';
import { disposeAll, randomTensor, randomTf } from '../data.ts';
import { backwardWorkload } from '../grad.ts';
import type { BenchDef, Tier } from '../types.ts';

/** VGG19 style taps: channels and downsampling of relu1_1 … relu5_1. */
const TAPS = [
  { tap: 'relu1_1', channels: 64, div: 1 },
  { tap: 'relu2_1', channels: 128, div: 2 },
  { tap: 'relu3_1', channels: 256, div: 4 },
  { tap: 'relu4_1', channels: 512, div: 8 },
  { tap: 'relu5_1', channels: 512, div: 16 },
];

/** Image sizes per tier (the Gram matrices of a Gatys style loss). */
const IMAGES: [number, readonly Tier[]][] = [
  [64, ['quick']],
  [256, ['default']],
  [512, ['full']],
];

export const gramBenches: BenchDef[] = IMAGES.flatMap(([image, tiers]) =>
  TAPS.flatMap(({ tap, channels: c, div }): BenchDef[] => {
    const s = image / div;
    const shape: [number, number, number, number] = [1, s, s, c];
    const pixels = s * s;
    const scale = 1 / (c * pixels);
    const base = `gram ${tap} ${s}x${s}x${c} (img ${image})`;
    return [
      {
        name: `${base} forward`,
        group: 'gram',
        tiers,
        // FᵀF as a full product (pastiche computes only the upper triangle: about half of this)
        flops: 2 * pixels * c * c,
        bytes: 4 * (pixels * c + c * c),
        peerWork: 'Gram forward: pastiche computes the upper triangle of FᵀF in one kernel (about half the multiply-adds), scales and mirrors it there; tfjs runs a full matMul, then a separate multiply by the scale',
        setup(rt) {
          const f = randomTensor(rt, shape, 1);
          return { run: () => void gram(f), dispose: () => f.dispose() };
        },
        peer(tf) {
          const f = randomTf<Tensor4D>(tf, shape, 1);
          return {
            run() {
              const m = tf.reshape(f, [pixels, c]) as Tensor2D;
              tf.mul(tf.matMul(m, m, true, false), scale);
            },
            dispose: () => f.dispose(),
          };
        },
      },
      {
        name: `${base} backward`,
        group: 'gram',
        tiers,
        // dF = F·(dG + dGᵀ)·scale
        flops: 2 * pixels * c * c,
        bytes: 4 * (2 * pixels * c + c * c),
        peerWork: 'Gram backward: pastiche computes F·(dG + dGᵀ)·scale in one kernel; tfjs runs transpose, add, matMul and multiply as four passes',
        setup(rt) {
          const f = randomTensor(rt, shape, 1);
          return backwardWorkload(rt, () => gram(f), [f]);
        },
        peer(tf) {
          // tfjs has no gram op (nor loadable autodiff here): the same formula by hand.
          const f = randomTf<Tensor4D>(tf, shape, 1);
          const dg = randomTf<Tensor2D>(tf, [c, c], 99);
          return {
            run() {
              const m = tf.reshape(f, [pixels, c]) as Tensor2D;
              tf.mul(tf.matMul(m, tf.add(dg, tf.transpose(dg))), scale);
            },
            dispose: () => disposeAll(f, dg),
          };
        },
      },
    ];
  }),
);
