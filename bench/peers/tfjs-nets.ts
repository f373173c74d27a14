/**
 * The end-to-end workloads written in plain TensorFlow.js, as a tfjs user would write them, mirroring
 * what pastiche runs: VGG19 features and the Gatys loss (src/nets/vgg.ts, gatys.ts, style-losses.ts)
 * and the TransformerNet forward pass (src/nets/transformer-net.ts). Weights come from the same host
 * arrays as pastiche's (bench/nets.ts). test/bench/e2e-peers.test.ts checks that both sides compute
 * the same values.
 */
import type { Scalar, Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import { DEFAULT_GATYS_WEIGHTS } from '../../src/nets/methods/gatys/gatys.ts';
import { DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, type LayerWeights } from '../../src/nets/losses/style-losses.ts';
import type { HostTensorMap } from '../../src/nets/weights/host-tensor.ts';
import { VGG19_CAFFE_MEAN_RGB } from '../../src/nets/weights/formats/vgg19-uint8.ts';
import type { Tfjs } from '../types.ts';

/** Uploads host weights as tfjs tensors, by name. */
export function uploadWeights(tf: Tfjs, weights: HostTensorMap): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of weights) out.set(name, tf.tensor(t.data, t.shape));
  return out;
}

function param<T extends Tensor>(params: ReadonlyMap<string, Tensor>, name: string): T {
  const t = params.get(name);
  if (!t) throw new Error(`tfjs peer: missing weight '${name}'`);
  return t as T;
}

/** An RGB 0..255 image on the host as a tfjs [1, H, W, 3] tensor. */
export function tfImage(tf: Tfjs, image: { width: number; height: number; data: Float32Array }): Tensor4D {
  return tf.tensor4d(image.data, [1, image.height, image.width, 3]);
}

export interface TfVgg {
  params: Map<string, Tensor>;
  /** Conv layer names in order (conv1_1 … conv5_4). */
  layers: string[];
  pooling: 'avg' | 'max';
  mean: Tensor1D;
}

/** VGG19 from host weights named `convB_I.weight` / `.bias` (pastiche's names), Caffe preprocessing. */
export function tfVgg(tf: Tfjs, weights: HostTensorMap, pooling: 'avg' | 'max'): TfVgg {
  const layers = [...weights.keys()].filter((n) => n.endsWith('.weight')).map((n) => n.slice(0, -'.weight'.length));
  return { params: uploadWeights(tf, weights), layers, pooling, mean: tf.tensor1d([...VGG19_CAFFE_MEAN_RGB]) };
}

export function disposeTfVgg(vgg: TfVgg): void {
  for (const t of vgg.params.values()) t.dispose();
  vgg.mean.dispose();
}

const blockOf = (layer: string) => Number(/^conv(\d+)_/.exec(layer)![1]);

/**
 * VGG taps (`convB_I` before the ReLU, `reluB_I` after) of an RGB 0..255 batch, stopping at the
 * deepest one. Convs are tf.conv2d + bias + relu, not tf.fused.conv2d: under a gradient tape tfjs
 * unfuses a ReLU conv anyway, and a fused linear conv's gradient would also compute the filter and
 * bias gradients, which neither side needs (tf.grad prunes what does not lead to the image).
 */
export function tfVggFeatures(tf: Tfjs, vgg: TfVgg, image: Tensor4D, taps: readonly string[]): Map<string, Tensor4D> {
  const deepest = Math.max(...taps.map((t) => vgg.layers.indexOf(t.replace('relu', 'conv'))));
  if (deepest < 0 || taps.some((t) => !vgg.layers.includes(t.replace('relu', 'conv')))) throw new Error(`tfjs vgg: unknown tap in ${taps.join(', ')}`);
  const out = new Map<string, Tensor4D>();
  let x: Tensor4D = tf.sub(image, vgg.mean);
  for (let i = 0; i <= deepest; i++) {
    const layer = vgg.layers[i]!;
    if (i > 0 && blockOf(vgg.layers[i - 1]!) !== blockOf(layer)) x = vgg.pooling === 'avg' ? tf.avgPool(x, 2, 2, 'valid') : tf.maxPool(x, 2, 2, 'valid');
    const pre: Tensor4D = tf.add(tf.conv2d(x, param<Tensor4D>(vgg.params, `${layer}.weight`), 1, 'same'), param(vgg.params, `${layer}.bias`));
    if (taps.includes(layer)) out.set(layer, pre);
    x = tf.relu(pre);
    const reluName = layer.replace('conv', 'relu');
    if (taps.includes(reluName)) out.set(reluName, x);
  }
  return out;
}

/** Gram matrices [N, C, C] of NHWC features, divided by C·H·W (as pastiche's `gram(…, { normalize: true })`). */
export function tfGram(tf: Tfjs, features: Tensor4D): Tensor {
  const [n, h, w, c] = features.shape;
  const flat = tf.reshape(features, [n, h * w, c]);
  return tf.div(tf.matMul(flat, flat, true, false), c * h * w);
}

/** Mean over all neighbour pairs (vertical and horizontal) of the squared difference. */
export function tfTotalVariation(tf: Tfjs, x: Tensor4D): Scalar {
  const [n, h, w, c] = x.shape;
  const down = tf.sub(tf.slice(x, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(x, [0, 0, 0, 0], [n, h - 1, w, c]));
  const right = tf.sub(tf.slice(x, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(x, [0, 0, 0, 0], [n, h, w - 1, c]));
  const pairs = n * c * ((h - 1) * w + h * (w - 1));
  return tf.div(tf.add(tf.sum(tf.square(down)), tf.sum(tf.square(right))), pairs);
}

export interface TfGatysOptions {
  contentWeight?: number;
  styleWeight?: number;
  tvWeight?: number;
  contentLayers?: LayerWeights;
  styleLayers?: LayerWeights;
}

/**
 * GatysLoss in tfjs, for one content and one style image: α·Σ v_l·mse(F_l, P_l)/mean(P_l²) +
 * β·Σ u_l·mse(G_l, A_l)/mean(A_l²) + γ·tv, with the same defaults as pastiche's GatysLoss.
 */
export class TfGatysLoss {
  private constructor(
    private readonly tf: Tfjs,
    private readonly vgg: TfVgg,
    private readonly weights: { content: number; style: number; tv: number },
    private readonly content: Map<string, { target: Tensor; weight: number }>,
    private readonly style: Map<string, { target: Tensor; weight: number }>,
  ) {}

  static async create(tf: Tfjs, vgg: TfVgg, content: Tensor4D, style: Tensor4D, o: TfGatysOptions = {}): Promise<TfGatysLoss> {
    const weights = {
      content: o.contentWeight ?? DEFAULT_GATYS_WEIGHTS.contentWeight,
      style: o.styleWeight ?? DEFAULT_GATYS_WEIGHTS.styleWeight,
      tv: o.tvWeight ?? DEFAULT_GATYS_WEIGHTS.tvWeight,
    };
    const contentLayers = weights.content > 0 ? Object.entries(o.contentLayers ?? DEFAULT_CONTENT_LAYERS).filter(([, w]) => w > 0) : [];
    const styleLayers = weights.style > 0 ? Object.entries(o.styleLayers ?? DEFAULT_STYLE_LAYERS).filter(([, w]) => w > 0) : [];
    const targets = tf.tidy(() => {
      const c = contentLayers.length ? tfVggFeatures(tf, vgg, content, contentLayers.map(([l]) => l)) : new Map<string, Tensor4D>();
      const s = styleLayers.length ? tfVggFeatures(tf, vgg, style, styleLayers.map(([l]) => l)) : new Map<string, Tensor4D>();
      return [...contentLayers.map(([l]) => c.get(l)!), ...styleLayers.map(([l]) => tfGram(tf, s.get(l)!))];
    });
    // The divisors are constants, read back once (as pastiche does).
    const energies = await Promise.all(
      targets.map(async (t) => {
        const m = tf.tidy(() => tf.mean(tf.square(t)));
        const v = (await m.data())[0]!;
        m.dispose();
        return v;
      }),
    );
    const weighted = (layers: [string, number][], offset: number) => {
      const out = new Map<string, { target: Tensor; weight: number }>();
      layers.forEach(([layer, w], i) => {
        const target = targets[offset + i]!;
        // An all-zero target carries no information: skipped, as in pastiche.
        if (energies[offset + i]! > 1e-12) out.set(layer, { target, weight: w / energies[offset + i]! });
        else target.dispose();
      });
      return out;
    };
    return new TfGatysLoss(tf, vgg, weights, weighted(contentLayers, 0), weighted(styleLayers, contentLayers.length));
  }

  /** The weighted terms of an image [1, H, W, 3] (RGB 0..255) and their sum, as GatysLoss packs them. */
  terms(x: Tensor4D): { total: Scalar; content: Scalar; style: Scalar; tv: Scalar } {
    const tf = this.tf;
    const taps = [...new Set([...this.content.keys(), ...this.style.keys()])];
    const features = taps.length ? tfVggFeatures(tf, this.vgg, x, taps) : new Map<string, Tensor4D>();
    const weightedSum = (terms: { term: Scalar; weight: number }[]): Scalar => {
      let sum: Scalar = tf.scalar(0);
      for (const { term, weight } of terms) if (weight !== 0) sum = tf.add(sum, tf.mul(term, weight));
      return sum;
    };
    const content = weightedSum([...this.content].map(([layer, t]) => ({ term: tf.mean(tf.squaredDifference(features.get(layer)!, t.target)), weight: this.weights.content * t.weight })));
    const style = weightedSum([...this.style].map(([layer, t]) => ({ term: tf.mean(tf.squaredDifference(tfGram(tf, features.get(layer)!), t.target)), weight: this.weights.style * t.weight })));
    const tv: Scalar = this.weights.tv > 0 ? tf.mul(tfTotalVariation(tf, x), this.weights.tv) : tf.scalar(0);
    return { total: tf.add(tf.add(content, style), tv), content, style, tv };
  }

  /** The total loss; differentiable with tf.grad / optimizers. */
  total(x: Tensor4D): Scalar {
    return this.terms(x).total;
  }

  dispose(): void {
    for (const t of [...this.content.values(), ...this.style.values()]) t.target.dispose();
  }
}

/**
 * Instance norm as a tfjs user writes it: per-(sample, channel) moments over H and W (biased
 * variance), then tf.batchNorm with those moments and the affine scale and shift.
 */
function tfInstanceNorm(tf: Tfjs, x: Tensor4D, scale: Tensor1D, shift: Tensor1D, eps: number): Tensor4D {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  const c = x.shape[3];
  // tf.batchNorm wants the offset and scale of the moments' rank (reshapes are free in tfjs).
  const offset: Tensor4D = tf.reshape(shift, [1, 1, 1, c]);
  const gain: Tensor4D = tf.reshape(scale, [1, 1, 1, c]);
  return tf.batchNorm(x, mean as Tensor4D, variance as Tensor4D, offset, gain, eps);
}

/**
 * The TransformerNet forward pass (instance norm, PyTorch fast_neural_style layout): reflection-padded
 * convs (tf.mirrorPad, then a fused conv with bias), instance norm, ReLU; 5 residual blocks; nearest
 * ×2 upsampling + conv twice; a 9×9 output conv. Input and output RGB 0..255, NHWC.
 */
export function tfTransformerNet(tf: Tfjs, params: ReadonlyMap<string, Tensor>, image: Tensor4D): Tensor4D {
  const convNorm = (x: Tensor4D, name: string, stride: 1 | 2, norm: string | null, relu: boolean): Tensor4D => {
    const filter = param<Tensor4D>(params, `${name}.conv2d.weight`);
    const p = Math.floor(filter.shape[0] / 2);
    const padded = tf.mirrorPad(x, [[0, 0], [p, p], [p, p], [0, 0]], 'reflect');
    const y = tf.fused.conv2d({ x: padded, filter, strides: stride, pad: 'valid', bias: param(params, `${name}.conv2d.bias`) });
    if (!norm) return y;
    const normed = tfInstanceNorm(tf, y, param(params, `${norm}.weight`), param(params, `${norm}.bias`), 1e-5);
    return relu ? tf.relu(normed) : normed;
  };
  let x = convNorm(image, 'conv1', 1, 'in1', true);
  x = convNorm(x, 'conv2', 2, 'in2', true);
  x = convNorm(x, 'conv3', 2, 'in3', true);
  for (let r = 1; r <= 5; r++) {
    const h = convNorm(x, `res${r}.conv1`, 1, `res${r}.in1`, true);
    x = tf.add(x, convNorm(h, `res${r}.conv2`, 1, `res${r}.in2`, false));
  }
  for (const [conv, norm] of [
    ['deconv1', 'in4'],
    ['deconv2', 'in5'],
  ] as const) {
    const [, h, w] = x.shape;
    x = convNorm(tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]), conv, 1, norm, true);
  }
  return convNorm(x, 'deconv3', 1, null, false);
}
