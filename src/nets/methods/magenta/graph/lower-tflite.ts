/**
 * Lowers a parsed .tflite file (weights/tflite.ts) to a graph spec. QUANTIZE / DEQUANTIZE disappear
 * (activations run in float: each becomes an alias of its input); int8 weights are dequantized once
 * with their per-channel scales; int32 biases use s_in·s_w, the scale TFLite's kernels compute with.
 * Fixed sizes become relative: RESIZE_NEAREST_NEIGHBOR keeps its output/input ratio from the file
 * (192 from 96 → ×2), so the graph runs on any input size. An op it cannot lower is an error naming
 * the op, raised before anything runs.
 */
import { hostTensor, type HostTensorMap } from '../../../weights/host-tensor.ts';
import {
  dequantizeTensor,
  readIntTensor,
  tfliteConvToHwio,
  tfliteDepthwiseToHwim,
  type FusedActivation,
  type TfliteModel,
  type TfliteOperator,
} from '../../../weights/formats/tflite.ts';
import { GRAPH_FORMAT, GRAPH_VERSION, type ConvertedGraph, type GraphActivation, type GraphNode, type GraphSpec, type GraphValue } from './format.ts';

/** The ops `convertTfliteGraph` lowers (QUANTIZE / DEQUANTIZE become aliases). */
export const TFLITE_OPS_LOWERED: ReadonlySet<string> = new Set([
  'CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD', 'MUL', 'SUB', 'SQUARED_DIFFERENCE', 'MEAN', 'RSQRT', 'LOGISTIC',
  'MIRROR_PAD', 'RESIZE_NEAREST_NEIGHBOR', 'RESHAPE', 'QUANTIZE', 'DEQUANTIZE',
]);

function lowerActivation(act: FusedActivation, where: string): GraphActivation {
  switch (act) {
    case 'NONE': return 'none';
    case 'RELU': return 'relu';
    case 'RELU6': return 'relu6';
    case 'RELU_N1_TO_1': return 'relu_n1_to_1';
    case 'TANH': return 'tanh';
    default: throw new Error(`${where}: fused activation ${act} is not supported`);
  }
}

/**
 * Lowers the first subgraph of a parsed .tflite model to a graph spec plus f32 weights. Every
 * operator is checked first: an unsupported one throws, naming it, before any weight is converted.
 */
export function convertTfliteGraph(model: TfliteModel, source: { sha256?: string } = {}): ConvertedGraph {
  const file = model.sourceName;
  for (const op of model.operators) {
    if (!TFLITE_OPS_LOWERED.has(op.op)) {
      throw new Error(`${file}: operator #${op.index} is ${op.op}, which the graph interpreter does not support (supported: ${[...TFLITE_OPS_LOWERED].join(', ')})`);
    }
  }
  const tensors = model.tensors;
  const isConstant = (id: number): boolean => (model.buffers[tensors[id]!.buffer]?.byteLength ?? 0) > 0;
  const alias = new Map<number, number>();
  const resolve = (id: number): number => alias.get(id) ?? id;
  const weights: HostTensorMap = new Map();
  const constants: Record<string, string> = {};
  const usedValues = new Set<number>();
  const nodes: GraphNode[] = [];

  const opWhere = (op: TfliteOperator): string => `${file} operator #${op.index} (${op.op})`;
  const requireInput = (op: TfliteOperator, k: number): number => {
    const id = op.inputs[k];
    if (id === undefined || id < 0) throw new Error(`${opWhere(op)}: input ${k} is missing`);
    return id;
  };
  /** A runtime operand: aliases resolved; constants registered for upload. */
  const operand = (id: number): number => {
    const v = resolve(id);
    if (isConstant(v) && constants[v] === undefined) {
      const key = `t${v}`;
      const t = dequantizeTensor(model, v);
      // Rank-0 constants (scalars such as epsilon) become [1], which broadcasts the same way.
      weights.set(key, t.shape.length === 0 ? hostTensor([1], t.data) : t);
      constants[v] = key;
    }
    usedValues.add(v);
    return v;
  };
  const output = (op: TfliteOperator): number => {
    if (op.outputs.length !== 1) throw new Error(`${opWhere(op)}: expected one output, got ${op.outputs.length}`);
    usedValues.add(op.outputs[0]!);
    return op.outputs[0]!;
  };

  const convWeightKey = (op: TfliteOperator, w: number, depthMultiplier: number | null): string => {
    if (!isConstant(resolve(w))) throw new Error(`${opWhere(op)}: the filter must be a constant tensor`);
    const src = resolve(w);
    const key = depthMultiplier === null ? `t${src}.hwio` : `t${src}.hwim`;
    if (!weights.has(key)) {
      const raw = dequantizeTensor(model, src);
      weights.set(key, depthMultiplier === null ? tfliteConvToHwio(raw) : tfliteDepthwiseToHwim(raw, depthMultiplier));
    }
    return key;
  };

  const biasKey = (op: TfliteOperator, x: number, w: number, b: number | undefined, outC: number): string | null => {
    if (b === undefined || b < 0) return null;
    const src = resolve(b);
    if (!isConstant(src)) throw new Error(`${opWhere(op)}: the bias must be a constant tensor`);
    const bt = tensors[src]!;
    let values: Float32Array;
    const sIn = tensors[x]!.quantization;
    const sW = tensors[resolve(w)]!.quantization;
    if (bt.type === 'INT32' && sIn !== undefined && sW !== undefined) {
      // TFLite's integer kernels scale the int32 bias by s_in · s_w[c], whatever the bias tensor
      // says (a bias shared between convs carries only one conv's scale).
      const q = readIntTensor(model, src);
      values = new Float32Array(q.length);
      for (let c = 0; c < q.length; c++) values[c] = q[c]! * sIn.scale[0]! * (sW.scale.length > 1 ? sW.scale[c]! : sW.scale[0]!);
    } else {
      values = dequantizeTensor(model, src).data;
    }
    if (values.length !== outC) throw new Error(`${opWhere(op)}: bias has ${values.length} values for ${outC} output channels`);
    let key = `t${src}.bias`;
    for (let n = 1; weights.has(key) && !sameValues(weights.get(key)!.data, values); n++) key = `t${src}.bias${n}`;
    if (!weights.has(key)) weights.set(key, hostTensor([outC], values));
    return key;
  };

  for (const op of model.operators) {
    const where = opWhere(op);
    switch (op.op) {
      case 'QUANTIZE':
      case 'DEQUANTIZE': {
        alias.set(output(op), resolve(requireInput(op, 0)));
        break;
      }
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const o = op.options;
        const x = requireInput(op, 0);
        const w = requireInput(op, 1);
        const wShape = tensors[w]!.shape;
        let multiplier: number | null = null;
        let outC = wShape[0]!;
        if (op.op === 'DEPTHWISE_CONV_2D') {
          const inC = tensors[x]!.shape[3]!;
          multiplier = op.options.depthMultiplier > 0 ? op.options.depthMultiplier : wShape[3]! / inC;
          outC = wShape[3]!;
        }
        nodes.push({
          op: op.op === 'CONV_2D' ? 'conv2d' : 'depthwiseConv2d',
          inputs: [operand(x)],
          outputs: [output(op)],
          source: op.index,
          weight: convWeightKey(op, w, multiplier),
          bias: biasKey(op, x, w, op.inputs[2], outC),
          stride: [o.strideH, o.strideW],
          dilation: [o.dilationH, o.dilationW],
          padding: o.padding === 'SAME' ? 'same' : 'valid',
          padMode: 'zeros',
          activation: lowerActivation(o.activation, where),
        });
        break;
      }
      case 'ADD':
      case 'SUB':
      case 'MUL':
      case 'SQUARED_DIFFERENCE': {
        const opName = op.op === 'SQUARED_DIFFERENCE' ? 'squaredDifference' : (op.op.toLowerCase() as 'add' | 'sub' | 'mul');
        const activation = op.op === 'SQUARED_DIFFERENCE' ? 'none' : lowerActivation(op.options.activation, where);
        nodes.push({
          op: opName,
          inputs: [operand(requireInput(op, 0)), operand(requireInput(op, 1))],
          outputs: [output(op)],
          source: op.index,
          activation,
        });
        break;
      }
      case 'MEAN': {
        const x = requireInput(op, 0);
        const rank = tensors[x]!.shape.length;
        const axes = readIntTensor(model, requireInput(op, 1)).map((a) => (a < 0 ? a + rank : a));
        nodes.push({ op: 'mean', inputs: [operand(x)], outputs: [output(op)], source: op.index, axes, keepDims: op.options.keepDims });
        break;
      }
      case 'RSQRT':
      case 'LOGISTIC':
        nodes.push({ op: op.op === 'RSQRT' ? 'rsqrt' : 'logistic', inputs: [operand(requireInput(op, 0))], outputs: [output(op)], source: op.index });
        break;
      case 'MIRROR_PAD': {
        const x = requireInput(op, 0);
        const p = readIntTensor(model, requireInput(op, 1));
        if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) {
          throw new Error(`${where}: only spatial padding of an NHWC tensor is supported, got paddings [${p.join(', ')}]`);
        }
        nodes.push({
          op: 'mirrorPad',
          inputs: [operand(x)],
          outputs: [output(op)],
          source: op.index,
          pads: [p[2]!, p[3]!, p[4]!, p[5]!],
          mode: op.options.mode === 'REFLECT' ? 'reflect' : 'symmetric',
        });
        break;
      }
      case 'RESIZE_NEAREST_NEIGHBOR': {
        const x = requireInput(op, 0);
        const size = readIntTensor(model, requireInput(op, 1));
        const inShape = tensors[x]!.shape;
        if (size.length !== 2 || inShape.length !== 4 || !(inShape[1]! > 0 && inShape[2]! > 0)) {
          throw new Error(`${where}: expected an NHWC input and a [2] size, got input [${inShape.join(', ')}] and size [${size.join(', ')}]`);
        }
        nodes.push({
          op: 'resizeNearest',
          inputs: [operand(x)],
          outputs: [output(op)],
          source: op.index,
          size: [size[0]!, size[1]!],
          scale: [size[0]! / inShape[1]!, size[1]! / inShape[2]!],
          alignCorners: op.options.alignCorners,
          halfPixelCenters: op.options.halfPixelCenters,
        });
        break;
      }
      case 'RESHAPE': {
        const shapeInput = op.inputs[1];
        const shape = shapeInput !== undefined && shapeInput >= 0 ? readIntTensor(model, shapeInput) : op.options.newShape;
        if (shape === undefined) throw new Error(`${where}: no target shape (neither a shape input nor new_shape)`);
        nodes.push({ op: 'reshape', inputs: [operand(requireInput(op, 0))], outputs: [output(op)], source: op.index, shape });
        break;
      }
    }
  }

  const valueOf = (id: number): GraphValue => ({ id, name: tensors[id]!.name, shape: [...tensors[id]!.shape] });
  const spec: GraphSpec = {
    format: GRAPH_FORMAT,
    version: GRAPH_VERSION,
    source: { name: file, ...(source.sha256 !== undefined ? { sha256: source.sha256 } : {}) },
    inputs: model.inputs.map(valueOf),
    outputs: model.outputs.map((id) => ({ ...valueOf(resolve(id)), name: tensors[id]!.name })),
    constants,
    values: [...usedValues].sort((a, b) => a - b).map(valueOf),
    nodes,
  };
  return { spec, weights };
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
