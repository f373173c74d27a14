import type { Tensor4D } from '@tensorflow/tfjs-core';
import { conv2d, conv2dTranspose } from '../../src/autograd/ops/conv2d.ts';
import { disposeAll, heScale, randomTensor, randomTf } from '../data.ts';
import { backwardWorkload } from '../grad.ts';
import type { BenchDef, Tier } from '../types.ts';

type Shape4 = [number, number, number, number];

/**
 * VGG19 3×3 convolutions ('same' zero padding, stride 1) at the resolution each layer sees for
 * an input image of `image` px: conv1_x at full size, conv2_x at 1/2, conv3_x at 1/4, conv4_x at
 * 1/8. Every layer then costs about the same number of FLOPs.
 */
const VGG_LAYERS = [
  { layer: 'conv1_2', channels: 64, div: 1 },
  { layer: 'conv2_2', channels: 128, div: 2 },
  { layer: 'conv3_2', channels: 256, div: 4 },
  { layer: 'conv4_2', channels: 512, div: 8 },
];

/**
 * Which tiers run a layer at an image size. quick: a 32 px image (every layer and pass, in
 * seconds); default: 128 px, and conv1_2 also at 256 px; full: 256 and 512 px.
 */
function vggTiers(image: number, layer: string): readonly Tier[] {
  if (image === 32) return ['quick'];
  if (image === 128) return ['default'];
  if (image === 256) return layer === 'conv1_2' ? ['default', 'full'] : ['full'];
  return ['full'];
}
const VGG_IMAGES = [32, 128, 256, 512];

/** The three passes of one conv layer: forward, input gradient and weight gradient (via the op's backward). */
function convPasses(base: string, tiers: readonly Tier[], xShape: Shape4, wShape: Shape4, flops: number): BenchDef[] {
  const [n, h, w, cin] = xShape;
  const cout = wShape[3];
  const yShape: Shape4 = [n, h, w, cout];
  const bytes = 4 * (n * h * w * (cin + cout) + wShape.reduce((a, b) => a * b, 1));
  const scale = heScale(wShape[0] * wShape[1] * cin);
  const attrs = { strides: 1, pad: 'same' as const, dataFormat: 'NHWC' as const };
  return [
    {
      name: `${base} forward`,
      group: 'conv2d',
      tiers,
      flops,
      bytes,
      setup(rt) {
        const x = randomTensor(rt, xShape, 1);
        const wt = randomTensor(rt, wShape, 2, scale);
        return { run: () => void conv2d(x, wt, { padding: 'same' }), dispose: () => disposeAll(x, wt) };
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, xShape, 1);
        const wt = randomTf<Tensor4D>(tf, wShape, 2, scale);
        return { run: () => void tf.conv2d(x, wt, 1, 'same'), dispose: () => disposeAll(x, wt) };
      },
    },
    {
      name: `${base} input-grad`,
      group: 'conv2d',
      tiers,
      flops,
      bytes,
      setup(rt) {
        const x = randomTensor(rt, xShape, 1);
        const wt = randomTensor(rt, wShape, 2, scale);
        return backwardWorkload(rt, () => conv2d(x, wt, { padding: 'same' }), [x], [wt]);
      },
      peer(tf) {
        const wt = randomTf<Tensor4D>(tf, wShape, 2, scale);
        const dy = randomTf<Tensor4D>(tf, yShape, 99);
        return {
          run: () => void tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: wt }, { ...attrs, inputShape: xShape }),
          dispose: () => disposeAll(wt, dy),
        };
      },
    },
    {
      name: `${base} weight-grad`,
      group: 'conv2d',
      tiers,
      flops,
      bytes,
      setup(rt) {
        const x = randomTensor(rt, xShape, 1);
        const wt = randomTensor(rt, wShape, 2, scale);
        return backwardWorkload(rt, () => conv2d(x, wt, { padding: 'same' }), [wt], [x]);
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, xShape, 1);
        const dy = randomTf<Tensor4D>(tf, yShape, 99);
        return {
          run: () => void tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: wShape }),
          dispose: () => disposeAll(x, dy),
        };
      },
    },
  ];
}

const vggBenches = VGG_IMAGES.flatMap((image) =>
  VGG_LAYERS.flatMap(({ layer, channels, div }) => {
    const s = image / div;
    const flops = 2 * s * s * 9 * channels * channels;
    return convPasses(`${layer} 3x3 ${channels}->${channels} ${s}x${s} (img ${image})`, vggTiers(image, layer), [1, s, s, channels], [3, 3, channels, channels], flops);
  }),
);

/** Feed-forward (transformer-net) image sizes per tier. */
const FF_IMAGES: [number, readonly Tier[]][] = [
  [64, ['quick']],
  [256, ['default']],
  [512, ['full']],
];

/** 9×9 convs with reflection padding: the first (3→32) and last (32→3) layers of the feed-forward net. */
function nineByNine(label: string, s: number, tiers: readonly Tier[], cin: number, cout: number): BenchDef {
  const xShape: Shape4 = [1, s, s, cin];
  const wShape: Shape4 = [9, 9, cin, cout];
  const scale = heScale(81 * cin);
  return {
    name: `${label} 9x9 ${cin}->${cout} ${s}x${s} reflect-pad forward`,
    group: 'conv2d',
    tiers,
    flops: 2 * s * s * 81 * cin * cout,
    bytes: 4 * (s * s * (cin + cout) + 81 * cin * cout),
    peerWork: 'reflect-pad conv: pastiche reflects the borders inside the convolution; tfjs first writes a padded copy (mirrorPad), then convolves it',
    setup(rt) {
      const x = randomTensor(rt, xShape, 1);
      const wt = randomTensor(rt, wShape, 2, scale);
      return { run: () => void conv2d(x, wt, { padding: 4, padMode: 'reflect' }), dispose: () => disposeAll(x, wt) };
    },
    peer(tf) {
      const x = randomTf<Tensor4D>(tf, xShape, 1);
      const wt = randomTf<Tensor4D>(tf, wShape, 2, scale);
      // tfjs convs only zero-pad: reflection padding is a separate mirrorPad, as tfjs users write it.
      const pads: [number, number][] = [[0, 0], [4, 4], [4, 4], [0, 0]];
      return { run: () => void tf.conv2d(tf.mirrorPad(x, pads, 'reflect'), wt, 1, 'valid'), dispose: () => disposeAll(x, wt) };
    },
  };
}

const feedForwardBenches = FF_IMAGES.flatMap(([s, tiers]): BenchDef[] => {
  // Johnson-style upsampling: transposed conv 128→64, 3×3, stride 2, from 1/4 to 1/2 resolution.
  const hIn = s / 4;
  const xShape: Shape4 = [1, hIn, hIn, 128];
  const wShape: Shape4 = [3, 3, 64, 128]; // [kh, kw, Cout, Cin]
  const outShape: Shape4 = [1, 2 * hIn, 2 * hIn, 64];
  const scale = heScale(9 * 128);
  return [
    nineByNine('ff conv1', s, tiers, 3, 32),
    nineByNine('ff deconv3', s, tiers, 32, 3),
    {
      name: `conv-transpose 3x3 s2 128->64 ${hIn}x${hIn}->${2 * hIn}x${2 * hIn} forward`,
      group: 'conv2d',
      tiers,
      flops: 2 * hIn * hIn * 9 * 128 * 64,
      bytes: 4 * (hIn * hIn * 128 + 4 * hIn * hIn * 64 + 9 * 128 * 64),
      setup(rt) {
        const x = randomTensor(rt, xShape, 1);
        const wt = randomTensor(rt, wShape, 2, scale);
        return { run: () => void conv2dTranspose(x, wt, { stride: 2, padding: 'same' }), dispose: () => disposeAll(x, wt) };
      },
      peer(tf) {
        const x = randomTf<Tensor4D>(tf, xShape, 1);
        const wt = randomTf<Tensor4D>(tf, wShape, 2, scale);
        return { run: () => void tf.conv2dTranspose(x, wt, outShape, 2, 'same'), dispose: () => disposeAll(x, wt) };
      },
    },
  ];
});

export const conv2dBenches: BenchDef[] = [...vggBenches, ...feedForwardBenches];
