import type { Tensor as TfTensor } from '@tensorflow/tfjs-core';
import { adain, instanceNorm } from '../../src/autograd/ops/norm.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { cast } from '../../src/gpu/kernels/cast.ts';
import { disposeAll, randomTensor, randomTf } from '../data.ts';
import { backwardWorkload } from '../grad.ts';
import type { BenchDef, Tfjs } from '../types.ts';

const EPS = 1e-5;
const ALL = ['quick', 'default', 'full'] as const;

/** [1, H, W, C] activations: 64×64×256 as asked (AdaIN at relu4_1 of a 512 px image). */
const SHAPE: readonly number[] = [1, 64, 64, 256];
const N = SHAPE.reduce((a, b) => a * b, 1);
const C = SHAPE[3]!;

/** TransformerNet's residual-block activations at 256 px, where IN + ReLU and IN + residual run. */
const BLOCK_SHAPE: readonly number[] = [1, 64, 64, 128];
const BLOCK_N = BLOCK_SHAPE.reduce((a, b) => a * b, 1);
const BLOCK_C = BLOCK_SHAPE[3]!;

/** y = (x − μ)·rsqrt(σ² + eps)·γ + β in tfjs (what tfjs users write; tfjs has no instance-norm op). */
function tfInstanceNorm(tf: Tfjs, x: TfTensor, scale: TfTensor, shift: TfTensor): TfTensor {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS))), scale), shift);
}

export const normBenches: BenchDef[] = [
  {
    name: 'instance norm 64x64x256',
    group: 'norm',
    tiers: ALL,
    // mean (1), variance (3), normalise (2), scale and shift (2) per element
    flops: 8 * N,
    bytes: 2 * 4 * N,
    peerWork: 'instance norm: pastiche computes the per-channel moments, then normalises, scales and shifts in one kernel; tfjs runs tf.moments, then six elementwise ops, each a separate kernel',
    setup(rt) {
      const x = randomTensor(rt, SHAPE, 1);
      const scale = randomTensor(rt, [C], 2);
      const shift = randomTensor(rt, [C], 3);
      return { run: () => void instanceNorm(x, { scale, shift, eps: EPS }), dispose: () => disposeAll(x, scale, shift) };
    },
    peer(tf) {
      const x = randomTf(tf, SHAPE, 1);
      const scale = randomTf(tf, [C], 2);
      const shift = randomTf(tf, [C], 3);
      return { run: () => void tfInstanceNorm(tf, x, scale, shift), dispose: () => disposeAll(x, scale, shift) };
    },
  },
  {
    name: 'instance norm 64x64x256 backward (x, scale, shift)',
    group: 'norm',
    tiers: ALL,
    // Σdy, Σdy·x̂ (4), dx (6) per element
    flops: 10 * N,
    bytes: 3 * 4 * N,
    setup(rt) {
      const x = randomTensor(rt, SHAPE, 1);
      const scale = randomTensor(rt, [C], 2);
      const shift = randomTensor(rt, [C], 3);
      return backwardWorkload(rt, () => instanceNorm(x, { scale, shift, eps: EPS }), [x, scale, shift]);
    },
    // No peer: tfjs has no instance-norm op, and its autodiff is not loadable here (see peers/tfjs-webgpu.ts).
  },
  {
    name: 'AdaIN 64x64x256',
    group: 'norm',
    tiers: ALL,
    // content and style statistics (4 each), apply (4) per element
    flops: 12 * N,
    bytes: 3 * 4 * N,
    peerWork: 'AdaIN: pastiche computes both inputs\' moments, then applies them in one kernel; tfjs runs tf.moments twice, then eight elementwise ops, each a separate kernel',
    setup(rt) {
      const content = randomTensor(rt, SHAPE, 4);
      const style = randomTensor(rt, SHAPE, 5);
      return { run: () => void adain(content, style, EPS), dispose: () => disposeAll(content, style) };
    },
    peer(tf) {
      const content = randomTf(tf, SHAPE, 4);
      const style = randomTf(tf, SHAPE, 5);
      return {
        run() {
          const c = tf.moments(content, [1, 2], true);
          const s = tf.moments(style, [1, 2], true);
          const normalized = tf.mul(tf.sub(content, c.mean), tf.rsqrt(tf.add(c.variance, EPS)));
          tf.add(tf.mul(normalized, tf.sqrt(tf.add(s.variance, EPS))), s.mean);
        },
        dispose: () => disposeAll(content, style),
      };
    },
  },
  {
    name: 'instance norm + ReLU 64x64x128',
    group: 'norm',
    tiers: ALL,
    // moments (4), normalise, scale, shift (4), ReLU (1) per element
    flops: 9 * BLOCK_N,
    bytes: 2 * 4 * BLOCK_N,
    peerWork: 'instance norm + ReLU: pastiche computes the moments, then normalises, scales, shifts and clips in one kernel; tfjs runs tf.moments, six elementwise ops and tf.relu',
    setup(rt) {
      const x = randomTensor(rt, BLOCK_SHAPE, 6);
      const scale = randomTensor(rt, [BLOCK_C], 7);
      const shift = randomTensor(rt, [BLOCK_C], 8);
      return { run: () => void instanceNorm(x, { scale, shift, eps: EPS, activation: 'relu' }), dispose: () => disposeAll(x, scale, shift) };
    },
    peer(tf) {
      const x = randomTf(tf, BLOCK_SHAPE, 6);
      const scale = randomTf(tf, [BLOCK_C], 7);
      const shift = randomTf(tf, [BLOCK_C], 8);
      return { run: () => void tf.relu(tfInstanceNorm(tf, x, scale, shift)), dispose: () => disposeAll(x, scale, shift) };
    },
  },
  {
    name: 'instance norm + residual 64x64x128',
    group: 'norm',
    tiers: ALL,
    // moments (4), normalise, scale, shift (4), residual add (1) per element
    flops: 9 * BLOCK_N,
    bytes: 3 * 4 * BLOCK_N,
    peerWork: 'residual block output r + IN(x): pastiche adds the residual in the normalising kernel; tfjs runs tf.moments, six elementwise ops and tf.add',
    setup(rt) {
      const x = randomTensor(rt, BLOCK_SHAPE, 9);
      const residual = randomTensor(rt, BLOCK_SHAPE, 10);
      const scale = randomTensor(rt, [BLOCK_C], 11);
      const shift = randomTensor(rt, [BLOCK_C], 12);
      return { run: () => void instanceNorm(x, { scale, shift, eps: EPS, residual }), dispose: () => disposeAll(x, residual, scale, shift) };
    },
    peer(tf) {
      const x = randomTf(tf, BLOCK_SHAPE, 9);
      const residual = randomTf(tf, BLOCK_SHAPE, 10);
      const scale = randomTf(tf, [BLOCK_C], 11);
      const shift = randomTf(tf, [BLOCK_C], 12);
      return { run: () => void tf.add(residual, tfInstanceNorm(tf, x, scale, shift)), dispose: () => disposeAll(x, residual, scale, shift) };
    },
  },
  {
    // The same as 'instance norm + ReLU 64x64x128' on an f16 activation (f16 storage, f32 arithmetic;
    // the --precision f16 path). No peer: the f32 line carries the comparison.
    name: 'instance norm + ReLU 64x64x128 f16',
    group: 'norm',
    tiers: ALL,
    flops: 9 * BLOCK_N,
    bytes: 2 * 2 * BLOCK_N,
    setup(rt) {
      const wide = randomTensor(rt, BLOCK_SHAPE, 6);
      const x = cast(wide, 'f16');
      wide.dispose();
      const scale = randomTensor(rt, [BLOCK_C], 7);
      const shift = randomTensor(rt, [BLOCK_C], 8);
      return { run: () => void noGrad(() => instanceNorm(x, { scale, shift, eps: EPS, activation: 'relu' })), dispose: () => disposeAll(x, scale, shift) };
    },
  },
];
