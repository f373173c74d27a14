/**
 * The TransformerNet forward pass (src/nets/transformer-net.ts, instance norm) as an ONNX graph, the
 * way PyTorch's fast_neural_style exports it: NCHW, reflection Pad + Conv (bias), InstanceNormalization,
 * Relu; 5 residual blocks (Add); nearest ×2 Resize + conv twice; a 9×9 output conv, not clamped.
 * Input and output are RGB 0..255, [1, 3, H, W]. Weights come from pastiche's host arrays
 * (bench/nets.ts: HWIO kernels), transposed to ONNX's OIHW.
 */
import { transformerNetConvSpecs } from '../../src/nets/models/transformer-net.ts';
import type { HostTensorMap } from '../../src/nets/weights/host-tensor.ts';
import type { CpuWorkload } from '../types.ts';
import { attr, encodeOnnxModel, type OnnxGraph, type OnnxInitializer, type OnnxNode } from './onnx-model.ts';
import { createCpuSession, floatOutput, type OnnxRuntime } from './onnx-runtime.ts';

/** Opset 17: Resize-13 (scales input), Pad-13 (pads as an input), InstanceNormalization-6. */
export const TRANSFORMER_NET_OPSET = 17;
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'stylized';

/** [kh, kw, in, out] (pastiche, TensorFlow) → [out, in, kh, kw] (ONNX Conv's W). */
export function hwioToOihw(data: Float32Array, [kh, kw, cin, cout]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < cin!; i++)
        for (let o = 0; o < cout!; o++) out[((o * cin! + i) * kh! + y) * kw! + x] = data[((y * kw! + x) * cin! + i) * cout! + o]!;
  return out;
}

/** Layers that the net runs after an upsampling (pastiche's `upsample: true` layers). */
const UPSAMPLED = new Set(['deconv1', 'deconv2']);
/** Convs whose norm is followed by ReLU: all but the second conv of each residual block. */
const hasRelu = (conv: string) => !/^res\d+\.conv2$/.test(conv);

export function transformerNetGraph(weights: HostTensorMap, height: number, width: number): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const weight = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`onnx transformer-net: missing weight '${name}'`);
    return t;
  };
  const constant = (name: string, dims: readonly number[], data: Float32Array | BigInt64Array) => {
    initializers.push({ name, dims, data });
    return name;
  };
  // Shared constants: reflection pads for each kernel size, the ×2 scales of Resize.
  const padsFor = new Map<number, string>();
  const pads = (p: number) => {
    let name = padsFor.get(p);
    if (!name) {
      // [N, C, H, W] begins, then ends.
      name = constant(`pads_${p}`, [8], BigInt64Array.from([0, 0, p, p, 0, 0, p, p].map(BigInt)));
      padsFor.set(p, name);
    }
    return name;
  };
  const scales = constant('upsample_scales', [4], Float32Array.from([1, 1, 2, 2]));

  let counter = 0;
  const op = (opType: string, inputs: string[], attributes?: OnnxNode['attributes']): string => {
    const output = `${opType.toLowerCase()}_${counter++}`;
    nodes.push({ opType, inputs, outputs: [output], name: output, attributes });
    return output;
  };

  const convNorm = (x: string, spec: ReturnType<typeof transformerNetConvSpecs>[number], stride: number): string => {
    const w = weight(`${spec.name}.conv2d.weight`);
    const b = weight(`${spec.name}.conv2d.bias`);
    const kernel = constant(`${spec.name}.weight`, [spec.cout, spec.cin, spec.k, spec.k], hwioToOihw(w.data, w.shape));
    const bias = constant(`${spec.name}.bias`, [spec.cout], b.data);
    const padded = op('Pad', [x, pads(Math.floor(spec.k / 2))], { mode: attr.string('reflect') });
    const y = op('Conv', [padded, kernel, bias], { kernel_shape: attr.ints([spec.k, spec.k]), strides: attr.ints([stride, stride]), pads: attr.ints([0, 0, 0, 0]) });
    if (!spec.norm) return y;
    const scale = constant(`${spec.norm}.weight`, [spec.cout], weight(`${spec.norm}.weight`).data);
    const shift = constant(`${spec.norm}.bias`, [spec.cout], weight(`${spec.norm}.bias`).data);
    const normed = op('InstanceNormalization', [y, scale, shift], { epsilon: attr.float(1e-5) });
    return hasRelu(spec.name) ? op('Relu', [normed]) : normed;
  };

  let x = ONNX_INPUT;
  let blockInput = x;
  for (const spec of transformerNetConvSpecs()) {
    if (UPSAMPLED.has(spec.name)) {
      // Resize-13: X, roi (unused, omitted), scales. Asymmetric + floor: output i reads input ⌊i/2⌋.
      x = op('Resize', [x, '', scales], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') });
    }
    if (spec.name.endsWith('.conv1')) blockInput = x;
    x = convNorm(x, spec, spec.name === 'conv2' || spec.name === 'conv3' ? 2 : 1);
    if (spec.name.endsWith('.conv2')) x = op('Add', [blockInput, x]);
  }
  // The last node's output is the graph output.
  nodes[nodes.length - 1] = { ...nodes[nodes.length - 1]!, outputs: [ONNX_OUTPUT] };
  return {
    name: 'transformer_net',
    nodes,
    initializers,
    inputs: [{ name: ONNX_INPUT, shape: [1, 3, height, width] }],
    outputs: [{ name: ONNX_OUTPUT, shape: [1, 3, height, width] }],
  };
}

/** The serialized model for an [1, 3, height, width] input. */
export function transformerNetOnnx(weights: HostTensorMap, height: number, width: number): Uint8Array {
  return encodeOnnxModel(transformerNetGraph(weights, height, width), { opset: TRANSFORMER_NET_OPSET, irVersion: 8 });
}

/** [1, H, W, C] → [1, C, H, W] (host arrays). */
export function nhwcToNchw(data: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = data[(y * w + x) * c + k]!;
  return out;
}

/** [1, C, H, W] → [1, H, W, C] (host arrays). */
export function nchwToNhwc(data: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = data[(k * h + y) * w + x]!;
  return out;
}

/**
 * The feed-forward line's onnxruntime workload: one session for an s×s image (fixed shapes, as a
 * plain PyTorch export has), the input already NCHW on the host; `output` gives NHWC for the check.
 */
export async function onnxTransformerNetWorkload(ort: OnnxRuntime, weights: HostTensorMap, image: { width: number; height: number; data: Float32Array }): Promise<CpuWorkload> {
  const { width: w, height: h } = image;
  const session = await createCpuSession(ort, transformerNetOnnx(weights, h, w));
  const feeds = { [ONNX_INPUT]: new ort.Tensor('float32', nhwcToNchw(image.data, h, w, 3), [1, 3, h, w]) };
  return {
    run: () => session.run(feeds),
    async output() {
      return nchwToNhwc(floatOutput(await session.run(feeds), ONNX_OUTPUT), h, w, 3);
    },
    dispose() {
      session.release().catch(() => undefined);
    },
  };
}
