import { pad2d } from '../autograd/ops/pad.ts';
import { slice } from '../autograd/ops/structural.ts';
import { noGrad } from '../autograd/tape.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { scope } from '../gpu/scope.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { RgbImage } from '../io/image.ts';
import { JohnsonNet } from './johnson-net.ts';
import { ParamStore } from './params.ts';
import { applyTiled } from './tiling.ts';
import { checkedOutput } from './checked-output.ts';
import { TransformerNet } from './transformer-net.ts';
import type { HostTensorMap } from './weights/host-tensor.ts';

export type FeedForwardNet = TransformerNet | JohnsonNet;

/** Both nets downsample twice by 2: inputs are padded to a multiple of this and cropped back. */
const SIZE_MULTIPLE = 4;

/** Builds the right net for a weights map from its parameter names. */
export function feedForwardFromWeights(runtime: Runtime, weights: HostTensorMap, source: string): FeedForwardNet {
  if (weights.has('conv1.conv2d.weight')) {
    // Batch-norm variants carry running statistics (PyTorch instance-norm exports have them dropped on import).
    const norm = weights.has('in1.running_mean') ? 'batch' : 'instance';
    return new TransformerNet(ParamStore.fromHost(runtime, weights, source), { norm });
  }
  if (weights.has('conv1.norm.scale')) {
    const norm = weights.has('conv1.norm.running_mean') ? 'batch' : 'instance';
    return new JohnsonNet(ParamStore.fromHost(runtime, weights, source), { norm });
  }
  throw new Error(`${source}: not a feed-forward style model (expected 'conv1.conv2d.weight' for transformer-net or 'conv1.norm.scale' for a Johnson net)`);
}

function padAmount(n: number): [number, number] {
  const extra = (SIZE_MULTIPLE - (n % SIZE_MULTIPLE)) % SIZE_MULTIPLE;
  return [Math.floor(extra / 2), extra - Math.floor(extra / 2)];
}

/**
 * Runs the net on a batch [N, H, W, 3] of any size: reflect-pads to a multiple of 4, runs and crops
 * back, unclamped (checkedOutput clamps after the readback, once NaN is ruled out). Returns a new
 * tensor; intermediates are freed.
 */
export function runFeedForward(net: FeedForwardNet, batch: Tensor): Tensor {
  return noGrad(() =>
    scope(() => {
      const [, h, w] = batch.shape as [number, number, number, number];
      const [top, bottom] = padAmount(h);
      const [left, right] = padAmount(w);
      // Reflection needs the pad to be smaller than the side; tiny images fall back to zeros.
      const mode = top + bottom < h && left + right < w ? 'reflect' : 'zeros';
      const padded = top + bottom + left + right > 0 ? pad2d(batch, [top, bottom, left, right], mode) : batch;
      const y = net.forward(padded);
      return padded === batch ? y : slice(y, [0, top, left, 0], [-1, h, w, 3]);
    }),
  );
}

export interface FeedForwardOptions {
  /** Process in overlapping tiles of this many pixels (default: only when the image is too big for the device). */
  tileSize?: number;
  tileOverlap?: number;
}

/** Bytes of the largest activation (32 channels at full resolution, f32). */
const bytesPerPixel = 32 * 4;

/** Stylizes one image, in blended tiles when it is too large for the device's buffers. */
export async function stylizeFeedForward(net: FeedForwardNet, image: RgbImage, options: FeedForwardOptions = {}): Promise<RgbImage> {
  const runtime = net.params.runtime;
  const maxPixels = Math.floor(runtime.context.limits.maxStorageBufferBindingSize / bytesPerPixel);
  const tile = options.tileSize ?? (image.width * image.height > maxPixels ? Math.floor(Math.sqrt(maxPixels) / 4) * 4 : 0);
  if (tile > 0 && (image.width > tile || image.height > tile)) {
    return applyTiled(image, tile, options.tileOverlap ?? Math.min(64, Math.floor(tile / 4)), (part) => stylizeFeedForward(net, part, { tileSize: 0 }));
  }
  const input = runtime.upload(image.data, [1, image.height, image.width, 3]);
  const out = runFeedForward(net, input);
  input.dispose();
  const data = await out.data();
  out.dispose();
  checkedOutput(data, image.width, `the feed-forward model ${net.params.source}`);
  return { width: image.width, height: image.height, data };
}
