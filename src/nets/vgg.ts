import { conv2d } from '../autograd/ops/conv2d.ts';
import { avgPool2d, maxPool2d } from '../autograd/ops/pool.ts';
import { relu, sub } from '../autograd/ops/elementwise.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { formatShape, type Tensor } from '../gpu/tensor.ts';
import { ParamStore, release } from './params.ts';
import type { HostTensorMap } from './weights/host-tensor.ts';
import type { StoreOptions } from './weights/store.ts';
import { VGG19_CAFFE_MEAN_RGB } from './weights/vgg19-uint8.ts';

export type VggArch = 'vgg16' | 'vgg19';
export type VggPooling = 'max' | 'avg';

/** Convs per block; every block ends with a 2×2 pool (the last one is never needed for taps). */
const BLOCKS: Record<VggArch, readonly number[]> = { vgg16: [2, 2, 3, 3, 3], vgg19: [2, 2, 4, 4, 4] };
const WIDTHS = [64, 128, 256, 512, 512];

export interface VggLayer {
  name: string; // conv3_2
  block: number; // 3
  inChannels: number;
  outChannels: number;
}

/** The conv layers of an architecture, in order. */
export function vggLayers(arch: VggArch): VggLayer[] {
  const layers: VggLayer[] = [];
  let inChannels = 3;
  BLOCKS[arch].forEach((count, b) => {
    for (let i = 1; i <= count; i++) {
      layers.push({ name: `conv${b + 1}_${i}`, block: b + 1, inChannels, outChannels: WIDTHS[b]! });
      inChannels = WIDTHS[b]!;
    }
  });
  return layers;
}

/** Every tap name: `convB_I` (before ReLU), `reluB_I` (after) and `poolB` for each block. */
export function vggTapNames(arch: VggArch): string[] {
  const names: string[] = [];
  for (const l of vggLayers(arch)) names.push(l.name, l.name.replace('conv', 'relu'));
  return names;
}

export interface VggOptions {
  arch?: VggArch;
  /** Gatys et al. recommend average pooling for image synthesis. */
  pooling?: VggPooling;
}

/**
 * VGG16/VGG19 as a feature extractor. Input: RGB images in 0..255, NHWC; `features` subtracts the
 * ImageNet mean the weights expect, runs the convs (3×3, zero padding 1, ReLU) and returns the
 * requested taps, stopping at the deepest one. Gradients flow through to the input.
 */
export class Vgg {
  readonly arch: VggArch;
  pooling: VggPooling;
  readonly layers: VggLayer[];
  private readonly mean: Tensor;

  constructor(
    readonly params: ParamStore,
    options: VggOptions = {},
  ) {
    this.arch = options.arch ?? 'vgg19';
    this.pooling = options.pooling ?? 'max';
    this.layers = vggLayers(this.arch);
    for (const l of this.layers) {
      params.get(`${l.name}.weight`, [3, 3, l.inChannels, l.outChannels]);
      params.get(`${l.name}.bias`, [l.outChannels]);
    }
    this.mean = params.runtime.upload(VGG19_CAFFE_MEAN_RGB, [3]);
  }

  static fromHost(runtime: Runtime, weights: HostTensorMap, options: VggOptions = {}, source = 'vgg'): Vgg {
    return new Vgg(ParamStore.fromHost(runtime, weights, source), options);
  }

  /** VGG19 with the pretrained ImageNet weights from the weight store. */
  static async loadPretrained(runtime: Runtime, options: Omit<VggOptions, 'arch'> & StoreOptions = {}): Promise<Vgg> {
    // The store reads the file system: loaded on use so that this module also runs in the browser.
    const { loadModelWeights } = await import('./weights/store.ts');
    const weights = await loadModelWeights('vgg19', options);
    return Vgg.fromHost(runtime, weights, { ...options, arch: 'vgg19' }, 'vgg19 weights');
  }

  /** Taps for an RGB (0..255) image batch [N, H, W, 3]. */
  features(image: Tensor, taps: readonly string[]): Map<string, Tensor> {
    if (image.rank !== 4 || image.shape[3] !== 3) throw new Error(`vgg: expects an RGB batch [N, H, W, 3], got ${formatShape(image.shape)}`);
    const known = vggTapNames(this.arch);
    for (const t of taps) {
      if (!known.includes(t)) throw new Error(`vgg: unknown tap '${t}' for ${this.arch}; taps are ${known.join(', ')}`);
    }
    const deepest = Math.max(...taps.map((t) => known.indexOf(t)));
    const out = new Map<string, Tensor>();
    const tapped = new Set<Tensor>();
    const drop = (t: Tensor) => {
      if (!tapped.has(t)) release(t);
    };
    let x = sub(image, this.mean);
    for (let i = 0; i < this.layers.length && 2 * i <= deepest; i++) {
      const layer = this.layers[i]!;
      const first = i > 0 && this.layers[i - 1]!.block !== layer.block;
      if (first) {
        const pooled = this.pooling === 'max' ? maxPool2d(x) : avgPool2d(x);
        drop(x);
        x = pooled;
      }
      const w = this.params.get(`${layer.name}.weight`);
      const bias = this.params.get(`${layer.name}.bias`);
      const reluName = layer.name.replace('conv', 'relu');
      let y: Tensor;
      if (taps.includes(layer.name)) {
        const pre = conv2d(x, w, { bias, padding: 'same' });
        out.set(layer.name, pre);
        tapped.add(pre);
        y = relu(pre);
      } else {
        y = conv2d(x, w, { bias, padding: 'same', activation: 'relu' });
      }
      drop(x);
      x = y;
      if (taps.includes(reluName)) {
        out.set(reluName, x);
        tapped.add(x);
      }
    }
    drop(x);
    return out;
  }

  dispose(): void {
    this.params.dispose();
    this.mean.dispose();
  }
}
