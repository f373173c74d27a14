import { pad2d } from '../../../autograd/ops/pad.ts';
import { slice } from '../../../autograd/ops/structural.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { cast } from '../../../gpu/kernels/cast.ts';
import type { Runtime } from '../../../gpu/runtime.ts';
import { scope } from '../../../gpu/scope.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import type { RgbImage } from '../../../io/image.ts';
import { JohnsonNet, johnsonLayers } from '../../models/johnson-net.ts';
import { ParamStore } from '../../models/params.ts';
import { applyTiled, assertMinimumSize, bufferLimitOf, planTiles, type ActivationSpec, type NetFootprint } from '../../image/tiling.ts';
import { checkedOutput } from '../../image/checked-output.ts';
import { TransformerNet } from '../../models/transformer-net.ts';
import type { HostTensorMap } from '../../weights/host-tensor.ts';
import { checkPrecision, type Precision } from '../common-options.ts';

export type FeedForwardNet = TransformerNet | JohnsonNet;

/** Storage of the weights and activations during a forward pass (see PRECISION_OPTION). */
export type FeedForwardPrecision = Precision;

/**
 * The parameters a net keeps in f16 at f16 precision: the conv filters and biases. Norm scales and
 * shifts stay f32 (the norm kernels read their per-channel operands as f32; a few hundred values),
 * and so do the Johnson net's transposed-conv filters, which have no f16 kernel.
 */
function storedInHalf(name: string, johnson: boolean): boolean {
  if (!johnson) return /\.conv2d\.(weight|bias)$/.test(name);
  return johnsonLayers().some((l) => !l.transposed && name === `${l.name}.weight`);
}

/** The parameter store of a net: every tensor f32, or at f16 precision the conv weights cast to f16 once, here. */
function paramStore(runtime: Runtime, weights: HostTensorMap, source: string, precision: FeedForwardPrecision, johnson: boolean): ParamStore {
  if (precision === 'f32') return ParamStore.fromHost(runtime, weights, source);
  const store = new ParamStore(runtime, source);
  for (const [name, t] of weights) store.set(name, runtime.upload(t.data, t.shape, storedInHalf(name, johnson) ? 'f16' : 'f32'));
  return store;
}

/**
 * A copy of an f32 net at f16 precision, its conv weights cast on the GPU (no host round trip); the
 * original is left as it is. For the tuner and for callers that hold a net rather than its weights.
 */
export function halfPrecisionCopy(net: FeedForwardNet): FeedForwardNet {
  const runtime = net.params.runtime;
  checkPrecision(runtime, 'f16');
  const johnson = net instanceof JohnsonNet;
  const store = new ParamStore(runtime, `${net.params.source} (f16)`);
  for (const name of net.params.names()) {
    const t = net.params.get(name);
    store.set(name, cast(t, storedInHalf(name, johnson) ? 'f16' : t.dtype));
  }
  const options = { norm: net.norm };
  return johnson ? new JohnsonNet(store, options) : new TransformerNet(store, options);
}

/** The dtype the net's activations have: that of its first conv's filter. */
export function activationDtype(net: FeedForwardNet): FeedForwardPrecision {
  return net.params.get(net instanceof TransformerNet ? 'conv1.conv2d.weight' : 'conv1.weight').dtype === 'f16' ? 'f16' : 'f32';
}

/** Both nets downsample twice by 2: inputs are padded to a multiple of this and cropped back. */
const SIZE_MULTIPLE = 4;

/**
 * Builds the right net for a weights map from its parameter names. `precision` 'f16' stores the conv
 * weights and every activation in f16 (inference only; needs the adapter feature 'shader-f16').
 */
export function feedForwardFromWeights(runtime: Runtime, weights: HostTensorMap, source: string, precision: FeedForwardPrecision = 'f32'): FeedForwardNet {
  checkPrecision(runtime, precision);
  if (weights.has('conv1.conv2d.weight')) {
    // Batch-norm variants carry running statistics (PyTorch instance-norm exports have them dropped on import).
    const norm = weights.has('in1.running_mean') ? 'batch' : 'instance';
    return new TransformerNet(paramStore(runtime, weights, source, precision, false), { norm });
  }
  if (weights.has('conv1.norm.scale')) {
    const norm = weights.has('conv1.norm.running_mean') ? 'batch' : 'instance';
    return new JohnsonNet(paramStore(runtime, weights, source, precision, true), { norm });
  }
  throw new Error(`${source}: not a feed-forward style model (expected 'conv1.conv2d.weight' for transformer-net or 'conv1.norm.scale' for a Johnson net)`);
}

function padAmount(n: number): [number, number] {
  const extra = (SIZE_MULTIPLE - (n % SIZE_MULTIPLE)) % SIZE_MULTIPLE;
  return [Math.floor(extra / 2), extra - Math.floor(extra / 2)];
}

/**
 * Runs the net on a batch [N, H, W, 3] (sides at least the net's minimum): reflect-pads to a multiple of 4,
 * runs and crops back, unclamped (checkedOutput clamps after the readback, once NaN is ruled out).
 * An f16 net gets its input cast to f16 and its output cast back: the result is always f32.
 * Returns a new tensor; intermediates are freed.
 */
export function runFeedForward(net: FeedForwardNet, batch: Tensor): Tensor {
  return noGrad(() =>
    scope(() => {
      const [, h, w] = batch.shape as [number, number, number, number];
      assertMinimumSize(feedForwardFootprint(net), w, h);
      const [top, bottom] = padAmount(h);
      const [left, right] = padAmount(w);
      // Reflection needs the pad to be smaller than the side; tiny images fall back to zeros.
      const mode = top + bottom < h && left + right < w ? 'reflect' : 'zeros';
      const padded = top + bottom + left + right > 0 ? pad2d(batch, [top, bottom, left, right], mode) : batch;
      const half = activationDtype(net) === 'f16';
      const out = net.forward(half ? cast(padded, 'f16') : padded);
      const y = half ? cast(out, 'f32') : out;
      return padded === batch ? y : slice(y, [0, top, left, 0], [-1, h, w, 3]);
    }),
  );
}

/**
 * TransformerNet's tensors: conv1 (32 ch) at full size, two stride-2 convs (64, 128 ch), the residual
 * blocks at 1/4, then two nearest upsamplings each followed by a conv. The second upsampling holds
 * 64 channels at full size: the largest tensor.
 */
const TRANSFORMER_NET_ACTIVATIONS: ActivationSpec[] = [
  { channels: 3, downsample: 1 },
  { channels: 32, downsample: 1 },
  { channels: 64, downsample: 2 },
  { channels: 128, downsample: 4 },
  { channels: 128, downsample: 2 },
  { channels: 64, downsample: 2 },
  { channels: 64, downsample: 1 },
  { channels: 32, downsample: 1 },
];

/** The Johnson net's tensors, walked from its layer list: strides divide the size, transposed convs double it. */
function johnsonNetActivations(): ActivationSpec[] {
  const out: ActivationSpec[] = [{ channels: 3, downsample: 1 }];
  let downsample = 1;
  for (const l of johnsonLayers()) {
    if (l.transposed) downsample /= l.stride;
    else downsample *= l.stride;
    out.push({ channels: l.cout, downsample });
  }
  return out;
}

/**
 * Smallest side: after padding to a multiple of 4, the residual blocks' 3×3 reflection pads need
 * at least 2 px at 1/4 resolution, i.e. 8 px, which a side of 5 or more reaches (5 → 8).
 */
const TRANSFORMER_NET_MIN_SIDE = 5;

/** TransformerNet's tensors and size rules. */
export function transformerNetFootprint(): NetFootprint {
  return { name: 'transformer', activations: TRANSFORMER_NET_ACTIVATIONS, sizeMultiple: SIZE_MULTIPLE, border: 0, minSide: TRANSFORMER_NET_MIN_SIDE };
}

/** Zero ('same') padding everywhere: even a 1-px side runs. */
export function johnsonNetFootprint(): NetFootprint {
  return { name: 'transformer (Johnson net)', activations: johnsonNetActivations(), sizeMultiple: SIZE_MULTIPLE, border: 0, minSide: 1 };
}

/** What a feed-forward net allocates, for planning tiles. */
export function feedForwardFootprint(net: FeedForwardNet): NetFootprint {
  return net instanceof TransformerNet ? transformerNetFootprint() : johnsonNetFootprint();
}

export interface FeedForwardOptions {
  /** Process in overlapping tiles of this many pixels (default: only when the image is too big for the device). */
  tileSize?: number;
  tileOverlap?: number;
  /** Largest buffer in bytes to plan for (default: the device's limits). */
  bufferLimit?: number;
}

/** Stylizes one image, in blended tiles when its tensors would not fit the device's buffers. */
export async function stylizeFeedForward(net: FeedForwardNet, image: RgbImage, options: FeedForwardOptions = {}): Promise<RgbImage> {
  const runtime = net.params.runtime;
  const footprint = feedForwardFootprint(net);
  assertMinimumSize(footprint, image.width, image.height);
  const limit = options.bufferLimit ?? bufferLimitOf(runtime.context.limits);
  const plan = planTiles(footprint, image.width, image.height, limit, options.tileSize);
  if (plan.tile !== null) {
    return applyTiled(image, plan.tile, options.tileOverlap ?? plan.overlap, (part) => runWhole(net, part));
  }
  return runWhole(net, image);
}

async function runWhole(net: FeedForwardNet, image: RgbImage): Promise<RgbImage> {
  const input = net.params.runtime.upload(image.data, [1, image.height, image.width, 3]);
  const out = runFeedForward(net, input);
  input.dispose();
  const data = await out.data();
  out.dispose();
  checkedOutput(data, image.width, `the feed-forward model ${net.params.source}`);
  return { width: image.width, height: image.height, data };
}
