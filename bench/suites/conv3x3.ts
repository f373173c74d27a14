import type { Tensor4D } from '@tensorflow/tfjs-core';
import { conv2d } from '../../src/autograd/ops/conv2d.ts';
import { hasEightWideSubgroups, type ConvKernelOptions } from '../../src/gpu/kernels/conv2d/rules.ts';
import type { Runtime } from '../../src/gpu/runtime.ts';
import { disposeAll, heScale, randomTensor, randomTf } from '../data.ts';
import type { BenchDef, Tier } from '../types.ts';

/*
 * 3×3 stride-1 forward convolutions by implicit GEMM (the subgroup kernels where the adapter has
 * 8-wide subgroups, else the tiled ones) and by Winograd F(2×2, 3×3) and F(4×4, 3×3), each forced.
 * FLOPs are those of the direct convolution for all, so GFLOP/s compare like for like.
 */

interface Shape3x3 {
  label: string;
  size: number;
  cin: number;
  cout: number;
  reflect: boolean;
  tiers: readonly Tier[];
}

const SHAPES: Shape3x3[] = [
  // VGG19 conv2_2 on a 128 px image; TransformerNet's residual convs and deconv2 on a 256 px image.
  { label: 'vgg conv2_2', size: 64, cin: 128, cout: 128, reflect: false, tiers: ['default'] },
  { label: 'ff residual', size: 64, cin: 128, cout: 128, reflect: true, tiers: ['default'] },
  { label: 'ff deconv2', size: 256, cin: 64, cout: 32, reflect: true, tiers: ['default'] },
  { label: 'vgg conv2_2', size: 16, cin: 128, cout: 128, reflect: false, tiers: ['quick'] },
  { label: 'ff residual', size: 16, cin: 128, cout: 128, reflect: true, tiers: ['quick'] },
];

const ALGORITHMS: { label: string; kernel: (rt: Runtime) => ConvKernelOptions }[] = [
  { label: 'implicit-gemm', kernel: (rt) => ({ algorithm: hasEightWideSubgroups(rt) ? 'subgroup' : 'tiled' }) },
  { label: 'winograd 2x2', kernel: () => ({ algorithm: 'winograd', winogradTile: 2 }) },
  { label: 'winograd 4x4', kernel: () => ({ algorithm: 'winograd', winogradTile: 4 }) },
];

export const conv3x3Benches: BenchDef[] = SHAPES.flatMap((s) =>
  ALGORITHMS.map(({ label, kernel }): BenchDef => {
    const xShape: [number, number, number, number] = [1, s.size, s.size, s.cin];
    const wShape: [number, number, number, number] = [3, 3, s.cin, s.cout];
    const scale = heScale(9 * s.cin);
    const padMode = s.reflect ? 'reflect' : 'zeros';
    return {
      name: `conv3x3 ${label} ${s.label} ${s.cin}->${s.cout} ${s.size}x${s.size}${s.reflect ? ' reflect' : ''} forward`,
      group: 'conv3x3',
      tiers: s.tiers,
      flops: 2 * s.size * s.size * 9 * s.cin * s.cout,
      bytes: 4 * (s.size * s.size * (s.cin + s.cout) + 9 * s.cin * s.cout),
      ...(s.reflect ? { peerWork: 'reflect-pad conv: tfjs first writes a padded copy (mirrorPad), then convolves it' } : {}),
      setup(rt) {
        const x = randomTensor(rt, xShape, 1);
        const wt = randomTensor(rt, wShape, 2, scale);
        const options = { padding: 1, padMode, kernel: kernel(rt) } as const;
        return { run: () => void conv2d(x, wt, options), dispose: () => disposeAll(x, wt) };
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, xShape, 1);
        const wt = randomTf<Tensor4D>(tf, wShape, 2, scale);
        const pads: [number, number][] = [[0, 0], [1, 1], [1, 1], [0, 0]];
        return { run: () => void tf.conv2d(s.reflect ? tf.mirrorPad(x, pads, 'reflect') : tf.pad(x, pads), wt, 1, 'valid'), dispose: () => disposeAll(x, wt) };
      },
    };
  }),
);
