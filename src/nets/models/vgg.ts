import { conv2d } from '../../autograd/ops/conv2d.ts';
import { avgPool2d, maxPool2d } from '../../autograd/ops/pool.ts';
import { add, mul, relu } from '../../autograd/ops/elementwise.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { ParamStore, release } from './params.ts';
import type { HostTensor, HostTensorMap } from '../weights/host-tensor.ts';
import { VGG19_CAFFE_MEAN_RGB } from '../weights/formats/vgg19-uint8.ts';

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

/**
 * How the weights expect their input: 'caffe' (the Oxford VGG19 here: 0..255 minus the ImageNet mean)
 * or 'torchvision' (PyTorch's models: 0..1, normalised by the ImageNet mean and std).
 */
export type VggPreprocessing = 'caffe' | 'torchvision';

export interface VggOptions {
  arch?: VggArch;
  /** Gatys et al. recommend average pooling for image synthesis. */
  pooling?: VggPooling;
  preprocessing?: VggPreprocessing;
}

const TORCHVISION_MEAN = [0.485, 0.456, 0.406];
const TORCHVISION_STD = [0.229, 0.224, 0.225];

/** Per-channel x·scale + shift that maps RGB 0..255 to what the weights were trained on. */
function inputAffine(preprocessing: VggPreprocessing): { scale: number[]; shift: number[] } {
  if (preprocessing === 'caffe') return { scale: [1, 1, 1], shift: VGG19_CAFFE_MEAN_RGB.map((m) => -m) };
  return { scale: TORCHVISION_STD.map((s) => 1 / (255 * s)), shift: TORCHVISION_MEAN.map((m, i) => -m / TORCHVISION_STD[i]!) };
}

/** Conv indices in torchvision's `features` Sequential, in layer order. */
const TORCHVISION_CONV_INDICES: Record<VggArch, readonly number[]> = {
  vgg16: [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
  vgg19: [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34],
};

/** Renames a torchvision `vgg16`/`vgg19` state_dict (`features.N.weight`, OIHW) to pastiche's names (HWIO). */
export function vggFromTorchvision(stateDict: HostTensorMap, arch: VggArch, toHwio: (t: HostTensor) => HostTensor): HostTensorMap {
  const out: HostTensorMap = new Map();
  vggLayers(arch).forEach((layer, i) => {
    const index = TORCHVISION_CONV_INDICES[arch][i]!;
    const weight = stateDict.get(`features.${index}.weight`);
    const bias = stateDict.get(`features.${index}.bias`);
    if (!weight || !bias) throw new Error(`torchvision ${arch} state_dict: missing features.${index}.weight/bias (${layer.name}); is this a ${arch} checkpoint?`);
    out.set(`${layer.name}.weight`, toHwio(weight));
    out.set(`${layer.name}.bias`, bias);
  });
  return out;
}

/**
 * VGG16/VGG19 as a feature extractor. Input: RGB images in 0..255, NHWC; `features` subtracts the
 * ImageNet normalisation the weights expect (see VggPreprocessing), runs the convs (3×3, zero padding 1, ReLU) and returns the
 * requested taps, stopping at the deepest one. Gradients flow through to the input.
 */
export class Vgg {
  readonly arch: VggArch;
  pooling: VggPooling;
  readonly layers: VggLayer[];
  private readonly inputScale: Tensor;
  private readonly inputShift: Tensor;

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
    const affine = inputAffine(options.preprocessing ?? 'caffe');
    this.inputScale = params.runtime.upload(affine.scale, [3]);
    this.inputShift = params.runtime.upload(affine.shift, [3]);
  }

  static fromHost(runtime: Runtime, weights: HostTensorMap, options: VggOptions = {}, source = 'vgg'): Vgg {
    return new Vgg(ParamStore.fromHost(runtime, weights, source), options);
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
    const scaled = mul(image, this.inputScale);
    let x = add(scaled, this.inputShift);
    release(scaled);
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
    this.inputScale.dispose();
    this.inputShift.dispose();
  }
}
