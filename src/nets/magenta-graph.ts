/**
 * A small graph interpreter that runs TensorFlow Lite graphs (the two Magenta arbitrary-stylization
 * models, and anything else built from the same ops) on pastiche's own GPU ops, in float32.
 *
 * Three stages:
 *  1. `convertTfliteGraph(model)` lowers a parsed .tflite file (weights/tflite.ts) to a `GraphSpec`:
 *     a JSON-able list of nodes over numbered values, plus a map of f32 weights in pastiche's layouts
 *     (conv kernels HWIO, depthwise [kh, kw, C, m]). QUANTIZE / DEQUANTIZE disappear (activations run
 *     in float: each becomes an alias of its input); int8 weights are dequantized once with their
 *     per-channel scales; int32 biases use s_in·s_w, the scale TFLite's kernels compute with. Fixed
 *     sizes become relative: RESIZE_NEAREST_NEIGHBOR keeps its output/input ratio from the file
 *     (192 from 96 → ×2), so the graph runs on any input size. An op it cannot lower is an error
 *     naming the op, raised before anything runs.
 *  2. `GraphProgram.create(runtime, spec, weights)` validates every node (unknown ops and options are
 *     errors naming the node), uploads the weights once, and rewrites patterns into fused engine ops:
 *     the instance-norm subgraph MEAN → SQUARED_DIFFERENCE → MEAN → ADD ε → RSQRT → MUL γ → MUL x /
 *     MUL μ → SUB from β → ADD becomes one `conditionalInstanceNorm`; MIRROR_PAD (reflect) feeding a
 *     VALID conv becomes the conv's own reflect padding; a same-size nearest resize is dropped.
 *     `{ fuse: false }` runs the plain node-by-node interpretation (tests compare both).
 *  3. `program.run(inputs)` executes on tensors, freeing each intermediate after its last use.
 *
 * Pure (no Node APIs): the browser demo can run the same converted graphs.
 */
import { conv2d, depthwiseConv2d, type ConvPadding } from '../autograd/ops/conv2d.ts';
import { add, affine, clamp, mul, relu, relu6, rsqrt, sigmoid, square, sub, tanh } from '../autograd/ops/elementwise.ts';
import { conditionalInstanceNorm } from '../autograd/ops/norm.ts';
import { pad2d } from '../autograd/ops/pad.ts';
import { mean, reshape } from '../autograd/ops/reduce.ts';
import { resizeNearest, upsampleNearest } from '../autograd/ops/resize.ts';
import { noGrad } from '../autograd/tape.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { keep, scope } from '../gpu/scope.ts';
import { formatShape, type Tensor } from '../gpu/tensor.ts';
import { hostTensor, type HostTensor, type HostTensorMap } from './weights/host-tensor.ts';
import { parseSafetensors } from './weights/safetensors.ts';
import {
  dequantizeTensor,
  readIntTensor,
  tfliteConvToHwio,
  tfliteDepthwiseToHwim,
  type FusedActivation,
  type TfliteModel,
  type TfliteOperator,
} from './weights/tflite.ts';

// ---------------------------------------------------------------------------------------------
// The graph description (what `.graph.json` holds)

export const GRAPH_FORMAT = 'pastiche-graph';
/** Bumped whenever the lowering changes its output, so cached conversions are rebuilt. */
export const GRAPH_VERSION = 1;

export type GraphActivation = 'none' | 'relu' | 'relu6' | 'relu_n1_to_1' | 'tanh';

interface NodeBase {
  /** Value ids read, in the op's order. */
  inputs: number[];
  /** Value ids written. */
  outputs: number[];
  /** Index of the operator in the source file (for error messages). */
  source?: number;
}

export interface ConvNode extends NodeBase {
  op: 'conv2d' | 'depthwiseConv2d';
  /** Weight key: HWIO for conv2d, [kh, kw, C, multiplier] for depthwiseConv2d. */
  weight: string;
  /** Weight key of the [Cout] bias, or null. */
  bias: string | null;
  stride: [number, number];
  dilation: [number, number];
  /** 'same' (TensorFlow), 'valid', or explicit [top, bottom, left, right]. */
  padding: 'same' | 'valid' | [number, number, number, number];
  padMode: 'zeros' | 'reflect';
  activation: GraphActivation;
}
export interface BinaryNode extends NodeBase {
  op: 'add' | 'sub' | 'mul' | 'squaredDifference';
  activation: GraphActivation;
}
export interface MeanNode extends NodeBase {
  op: 'mean';
  axes: number[];
  keepDims: boolean;
}
export interface UnaryNode extends NodeBase {
  op: 'rsqrt' | 'logistic';
}
export interface MirrorPadNode extends NodeBase {
  op: 'mirrorPad';
  /** [top, bottom, left, right] of an NHWC tensor. */
  pads: [number, number, number, number];
  mode: 'reflect' | 'symmetric';
}
export interface ResizeNearestNode extends NodeBase {
  op: 'resizeNearest';
  /** Output size / input size per axis, from the file's static shapes (at run time: round(in · scale)). */
  scale: [number, number];
  /** The size written in the file (informational). */
  size: [number, number];
  alignCorners: boolean;
  halfPixelCenters: boolean;
}
export interface ReshapeNode extends NodeBase {
  op: 'reshape';
  shape: number[];
}
/** Produced by fusion only: inputs [x, gamma, beta] (gamma/beta [N,1,1,C] or anything of N·C or C values). */
export interface InstanceNormNode extends NodeBase {
  op: 'instanceNorm';
  eps: number;
  activation: GraphActivation;
}

export type GraphNode = ConvNode | BinaryNode | MeanNode | UnaryNode | MirrorPadNode | ResizeNearestNode | ReshapeNode | InstanceNormNode;
export type GraphOp = GraphNode['op'];

export interface GraphValue {
  id: number;
  name: string;
  /** Static shape in the source file (the graph runs on other spatial sizes too). */
  shape: number[];
}

export interface GraphSpec {
  format: typeof GRAPH_FORMAT;
  version: number;
  /** Where the graph came from (file name, sha256 when known). */
  source: { name: string; sha256?: string };
  inputs: GraphValue[];
  outputs: GraphValue[];
  /** Constant values read by nodes as operands (not conv weights): value id → weight key. */
  constants: Record<string, string>;
  /** Names and file shapes of every value the nodes touch, for messages. */
  values: GraphValue[];
  nodes: GraphNode[];
}

export interface ConvertedGraph {
  spec: GraphSpec;
  weights: HostTensorMap;
}

// ---------------------------------------------------------------------------------------------
// Lowering a parsed .tflite model

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

/** A converted graph from its two cached files' contents (`.graph.json` text, `.safetensors` bytes). */
export function readConvertedGraph(graphJson: string, safetensors: Uint8Array, sourceName = 'graph'): ConvertedGraph {
  const spec = parseGraphSpec(graphJson, `${sourceName}.graph.json`);
  return { spec, weights: parseSafetensors(safetensors, `${sourceName}.safetensors`).tensors };
}

/** Parses and checks a `.graph.json` text (format and version; nodes are checked by GraphProgram). */
export function parseGraphSpec(text: string, sourceName = 'graph.json'): GraphSpec {
  let spec: GraphSpec;
  try {
    spec = JSON.parse(text) as GraphSpec;
  } catch (err) {
    throw new Error(`${sourceName}: not valid JSON (${(err as Error).message})`);
  }
  if (spec === null || typeof spec !== 'object' || spec.format !== GRAPH_FORMAT) {
    throw new Error(`${sourceName}: not a pastiche graph description (format '${String((spec as { format?: unknown } | null)?.format)}', expected '${GRAPH_FORMAT}')`);
  }
  if (spec.version !== GRAPH_VERSION) throw new Error(`${sourceName}: graph version ${spec.version}, this build reads version ${GRAPH_VERSION}`);
  for (const key of ['inputs', 'outputs', 'values', 'nodes'] as const) {
    if (!Array.isArray(spec[key])) throw new Error(`${sourceName}: '${key}' must be an array`);
  }
  if (spec.constants === null || typeof spec.constants !== 'object') throw new Error(`${sourceName}: 'constants' must be an object`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Execution

export interface GraphProgramOptions {
  /** Rewrite known patterns into fused ops (default true). */
  fuse?: boolean;
  /** Shown in errors (default: the spec's source name). */
  name?: string;
}

/** What the compiled program runs: one step per (possibly fused) node. */
interface Step {
  node: GraphNode;
  run: (inputs: Tensor[]) => Tensor;
}

const KNOWN_OPS: ReadonlySet<string> = new Set<GraphOp>([
  'conv2d', 'depthwiseConv2d', 'add', 'sub', 'mul', 'squaredDifference', 'mean', 'rsqrt', 'logistic',
  'mirrorPad', 'resizeNearest', 'reshape', 'instanceNorm',
]);
const ACTIVATIONS: ReadonlySet<string> = new Set<GraphActivation>(['none', 'relu', 'relu6', 'relu_n1_to_1', 'tanh']);

function applyActivation(x: Tensor, act: GraphActivation): Tensor {
  switch (act) {
    case 'none': return x;
    case 'relu': return relu(x);
    case 'relu6': return relu6(x);
    case 'relu_n1_to_1': return clamp(x, -1, 1);
    case 'tanh': return tanh(x);
  }
}

/** Counts of what fusion did, for tests and diagnostics. */
export interface FusionReport {
  instanceNorms: number;
  reflectPadConvs: number;
  identityResizes: number;
}

/**
 * A graph ready to run: weights on the GPU, nodes validated and (optionally) fused. Not tied to one
 * input size. `dispose()` frees the weights.
 */
export class GraphProgram {
  readonly fusion: FusionReport = { instanceNorms: 0, reflectPadConvs: 0, identityResizes: 0 };
  private readonly weights = new Map<string, Tensor>();
  private readonly steps: Step[] = [];
  /** For each value, how many steps read it (outputs get one extra so they survive). */
  private readonly readers = new Map<number, number>();
  private disposed = false;

  private constructor(
    readonly runtime: Runtime,
    readonly spec: GraphSpec,
    readonly name: string,
  ) {}

  /** Validates `spec` against `weights`, uploads the weights, and compiles (fusing unless told not to). */
  static create(runtime: Runtime, spec: GraphSpec, weights: HostTensorMap, options: GraphProgramOptions = {}): GraphProgram {
    const program = new GraphProgram(runtime, spec, options.name ?? spec.source?.name ?? 'graph');
    program.validate(weights);
    for (const [key, value] of scalarConstantsOf(spec, weights)) program.scalarConstants.set(key, value);
    const nodes = options.fuse === false ? spec.nodes.map((n) => ({ ...n })) : program.fuseNodes(spec.nodes);
    // Upload only what the compiled nodes use (fusion can make a constant unnecessary).
    const needed = new Set<string>();
    for (const node of nodes) {
      if (node.op === 'conv2d' || node.op === 'depthwiseConv2d') {
        needed.add(node.weight);
        if (node.bias !== null) needed.add(node.bias);
      }
      for (const v of node.inputs) {
        const key = spec.constants[v];
        if (key !== undefined) needed.add(key);
      }
    }
    try {
      for (const key of needed) {
        const t = weights.get(key)!;
        program.weights.set(key, keep(runtime.upload(t.data, t.shape)));
      }
    } catch (err) {
      program.dispose();
      throw err;
    }
    for (const node of nodes) {
      program.steps.push({ node, run: program.compileNode(node) });
      for (const v of node.inputs) if (spec.constants[v] === undefined) program.readers.set(v, (program.readers.get(v) ?? 0) + 1);
    }
    for (const out of spec.outputs) program.readers.set(out.id, (program.readers.get(out.id) ?? 0) + 1);
    return program;
  }

  get stepCount(): number {
    return this.steps.length;
  }

  /** Ops of the compiled program, in order (for tests and diagnostics). */
  get compiledOps(): GraphOp[] {
    return this.steps.map((s) => s.node.op);
  }

  private where(node: GraphNode, index: number): string {
    return `${this.name}: node #${index}${node.source !== undefined ? ` (source operator #${node.source})` : ''} '${node.op}'`;
  }

  private valueName(id: number): string {
    const v = this.spec.values.find((x) => x.id === id);
    return v ? `'${v.name}'` : `#${id}`;
  }

  /** Everything that can be checked without running: ops, options, weights, and value flow. */
  private validate(weights: HostTensorMap): void {
    const spec = this.spec;
    const defined = new Set<number>(spec.inputs.map((v) => v.id));
    for (const id of Object.keys(spec.constants)) {
      const key = spec.constants[id]!;
      if (!weights.has(key)) throw new Error(`${this.name}: constant #${id} refers to weight '${key}', which the weights file lacks`);
      defined.add(Number(id));
    }
    const checkWeight = (where: string, key: string, rank: number): HostTensor => {
      const t = weights.get(key);
      if (!t) throw new Error(`${where}: weight '${key}' is missing from the weights file`);
      if (t.shape.length !== rank) throw new Error(`${where}: weight '${key}' has shape [${t.shape.join(', ')}], expected rank ${rank}`);
      return t;
    };
    spec.nodes.forEach((node, index) => {
      const where = this.where(node, index);
      if (!KNOWN_OPS.has(node.op)) {
        throw new Error(`${this.name}: node #${index}${node.source !== undefined ? ` (source operator #${node.source})` : ''} has op '${String(node.op)}', which the graph interpreter does not support (supported: ${[...KNOWN_OPS].join(', ')})`);
      }
      const arity: Record<GraphOp, number> = {
        conv2d: 1, depthwiseConv2d: 1, add: 2, sub: 2, mul: 2, squaredDifference: 2, mean: 1, rsqrt: 1, logistic: 1,
        mirrorPad: 1, resizeNearest: 1, reshape: 1, instanceNorm: 3,
      };
      if (!Array.isArray(node.inputs) || node.inputs.length !== arity[node.op]) {
        throw new Error(`${where}: expected ${arity[node.op]} input(s), got ${JSON.stringify(node.inputs)}`);
      }
      if (!Array.isArray(node.outputs) || node.outputs.length !== 1) throw new Error(`${where}: expected one output, got ${JSON.stringify(node.outputs)}`);
      for (const v of node.inputs) {
        if (!defined.has(v)) throw new Error(`${where}: input ${this.valueName(v)} is not produced by any earlier node, graph input or constant`);
      }
      if ('activation' in node && !ACTIVATIONS.has(node.activation)) throw new Error(`${where}: unknown activation '${String(node.activation)}'`);
      switch (node.op) {
        case 'conv2d':
        case 'depthwiseConv2d': {
          const w = checkWeight(where, node.weight, 4);
          if (node.bias !== null) {
            const b = checkWeight(where, node.bias, 1);
            const outC = node.op === 'conv2d' ? w.shape[3]! : w.shape[2]! * w.shape[3]!;
            if (b.shape[0] !== outC) throw new Error(`${where}: bias '${node.bias}' has ${b.shape[0]} values for ${outC} output channels`);
          }
          const [sh, sw] = node.stride;
          if (sh !== sw || (sh !== 1 && sh !== 2)) throw new Error(`${where}: stride [${node.stride.join(', ')}] is not supported (the engine's convolutions take equal strides of 1 or 2)`);
          if (node.dilation[0] !== node.dilation[1]) throw new Error(`${where}: unequal dilation [${node.dilation.join(', ')}] is not supported`);
          break;
        }
        case 'mirrorPad':
          if (node.mode !== 'reflect') throw new Error(`${where}: mirror pad mode '${node.mode}' is not supported (only REFLECT)`);
          break;
        case 'resizeNearest':
          if (!node.scale.every((s) => Number.isFinite(s) && s > 0)) throw new Error(`${where}: invalid scale [${node.scale.join(', ')}]`);
          break;
        case 'instanceNorm':
          if (!(node.eps > 0)) throw new Error(`${where}: eps must be positive, got ${node.eps}`);
          break;
        default:
          break;
      }
      defined.add(node.outputs[0]!);
    });
    for (const out of spec.outputs) {
      if (!defined.has(out.id)) throw new Error(`${this.name}: graph output '${out.name}' is never produced`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Fusion

  private fuseNodes(source: readonly GraphNode[]): GraphNode[] {
    const spec = this.spec;
    const outputs = new Set(spec.outputs.map((v) => v.id));
    let nodes: (GraphNode | null)[] = source.map((n) => ({ ...n }));
    const producer = new Map<number, number>();
    const consumers = new Map<number, number[]>();
    const reindex = (): void => {
      producer.clear();
      consumers.clear();
      nodes.forEach((n, i) => {
        if (!n) return;
        producer.set(n.outputs[0]!, i);
        for (const v of n.inputs) consumers.set(v, [...(consumers.get(v) ?? []), i]);
      });
    };
    reindex();
    const nodeOf = (v: number): GraphNode | null => {
      const i = producer.get(v);
      return i === undefined ? null : nodes[i]!;
    };
    const onlyReaders = (v: number, allowed: readonly (GraphNode | null)[]): boolean =>
      !outputs.has(v) && (consumers.get(v) ?? []).every((i) => allowed.includes(nodes[i]!));
    const constantScalar = (v: number): number | null => {
      const key = spec.constants[v];
      return key === undefined ? null : (this.scalarConstants.get(key) ?? null);
    };
    /** The other input of a binary node, given one. */
    const other = (n: GraphNode, v: number): number | null => {
      if (n.inputs.length !== 2) return null;
      if (n.inputs[0] === v) return n.inputs[1]!;
      if (n.inputs[1] === v) return n.inputs[0]!;
      return null;
    };
    const isSpatialMean = (n: GraphNode | null): n is MeanNode =>
      n !== null && n.op === 'mean' && n.keepDims && n.axes.length === 2 && n.axes.includes(1) && n.axes.includes(2);
    const readersOf = (v: number): GraphNode[] => (consumers.get(v) ?? []).map((i) => nodes[i]!);

    // Instance norm: find each RSQRT and walk the pattern around it.
    for (let i = 0; i < nodes.length; i++) {
      const r = nodes[i];
      if (!r || r.op !== 'rsqrt') continue;
      const ve = nodeOf(r.inputs[0]!);
      if (!ve || ve.op !== 'add' || ve.activation !== 'none') continue;
      const varMean = [nodeOf(ve.inputs[0]!), nodeOf(ve.inputs[1]!)].find(isSpatialMean);
      if (!varMean) continue;
      const eps = constantScalar(other(ve, varMean.outputs[0]!)!);
      if (eps === null || !(eps > 0)) continue;
      const sd = nodeOf(varMean.inputs[0]!);
      if (!sd || sd.op !== 'squaredDifference') continue;
      const muNode = [nodeOf(sd.inputs[0]!), nodeOf(sd.inputs[1]!)].find(isSpatialMean);
      if (!muNode) continue;
      const x = muNode.inputs[0]!;
      const mu = muNode.outputs[0]!;
      if (other(sd, mu) !== x) continue;
      const rReaders = readersOf(r.outputs[0]!);
      if (rReaders.length !== 1 || rReaders[0]!.op !== 'mul') continue;
      const mNode = rReaders[0]! as BinaryNode;
      if (mNode.activation !== 'none') continue;
      const gamma = other(mNode, r.outputs[0]!)!;
      const m = mNode.outputs[0]!;
      const mReaders = readersOf(m);
      if (mReaders.length !== 2 || mReaders.some((n) => n.op !== 'mul' || (n as BinaryNode).activation !== 'none')) continue;
      const xm = mReaders.find((n) => other(n, m) === x);
      const mm = mReaders.find((n) => other(n, m) === mu && n !== xm);
      if (!xm || !mm) continue;
      const shReaders = readersOf(mm.outputs[0]!);
      if (shReaders.length !== 1 || shReaders[0]!.op !== 'sub' || shReaders[0]!.inputs[1] !== mm.outputs[0]) continue;
      const sh = shReaders[0]! as BinaryNode;
      if (sh.activation !== 'none') continue;
      const beta = sh.inputs[0]!;
      const yReaders = readersOf(xm.outputs[0]!);
      if (yReaders.length !== 1 || yReaders[0]!.op !== 'add' || other(yReaders[0]!, xm.outputs[0]!) !== sh.outputs[0]) continue;
      const y = yReaders[0]! as BinaryNode;
      const pattern: GraphNode[] = [muNode, sd, varMean, ve, r, mNode, xm, mm, sh, y];
      // Every intermediate must stay inside the pattern (μ is also read by SQUARED_DIFFERENCE and MUL).
      if (!pattern.slice(0, -1).every((n) => onlyReaders(n.outputs[0]!, pattern))) continue;
      const fused: InstanceNormNode = {
        op: 'instanceNorm',
        inputs: [x, gamma, beta],
        outputs: [y.outputs[0]!],
        ...(y.source !== undefined ? { source: y.source } : {}),
        eps,
        activation: y.activation,
      };
      // The fused node goes where the final ADD was (all its inputs exist by then).
      const at = nodes.indexOf(y);
      for (const n of pattern) nodes[nodes.indexOf(n)] = null;
      nodes[at] = fused;
      this.fusion.instanceNorms++;
      reindex();
    }

    // Same-size nearest resize (align_corners off) is the identity: alias its output to its input.
    const renamed = new Map<number, number>();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (!n || n.op !== 'resizeNearest' || n.scale[0] !== 1 || n.scale[1] !== 1 || outputs.has(n.outputs[0]!)) continue;
      renamed.set(n.outputs[0]!, n.inputs[0]!);
      nodes[i] = null;
      this.fusion.identityResizes++;
    }
    if (renamed.size > 0) {
      const follow = (v: number): number => (renamed.has(v) ? follow(renamed.get(v)!) : v);
      nodes = nodes.map((n) => (n ? { ...n, inputs: n.inputs.map(follow) } : null));
      reindex();
    }

    // MIRROR_PAD (reflect) read only by a VALID conv: the conv pads by reflection itself.
    for (let i = 0; i < nodes.length; i++) {
      const p = nodes[i];
      if (!p || p.op !== 'mirrorPad' || p.mode !== 'reflect') continue;
      const readers = readersOf(p.outputs[0]!);
      if (readers.length !== 1 || outputs.has(p.outputs[0]!)) continue;
      const conv = readers[0]!;
      if ((conv.op !== 'conv2d' && conv.op !== 'depthwiseConv2d') || conv.padding !== 'valid') continue;
      nodes[nodes.indexOf(conv)] = { ...conv, inputs: [p.inputs[0]!], padding: [...p.pads], padMode: 'reflect' };
      nodes[i] = null;
      this.fusion.reflectPadConvs++;
      reindex();
    }
    return nodes.filter((n): n is GraphNode => n !== null);
  }

  /** Host values of the size-1 constants (filled in `create`), for fusion and the scalar fast path. */
  private readonly scalarConstants = new Map<string, number>();

  // -------------------------------------------------------------------------------------------

  private compileNode(node: GraphNode): (inputs: Tensor[]) => Tensor {
    switch (node.op) {
      case 'conv2d':
      case 'depthwiseConv2d': {
        const w = this.weights.get(node.weight)!;
        const bias = node.bias === null ? undefined : this.weights.get(node.bias)!;
        const act = node.activation;
        // ReLU and ReLU6 run in the conv's epilogue; other activations as a separate pass.
        const fused = act === 'relu' || act === 'relu6';
        const padding: ConvPadding = node.padding;
        const base = {
          stride: node.stride[0] as 1 | 2,
          padding,
          padMode: node.padMode,
          dilation: node.dilation[0],
          ...(bias ? { bias } : {}),
          ...(fused ? { activation: act } : {}),
        };
        const convolve = node.op === 'conv2d' ? conv2d : depthwiseConv2d;
        return ([x]) => {
          const y = convolve(x!, w, base);
          return fused ? y : applyActivation(y, act);
        };
      }
      case 'add':
      case 'sub':
      case 'mul': {
        const fn = node.op === 'add' ? add : node.op === 'sub' ? sub : mul;
        const [ca, cb] = node.inputs.map((v) => this.scalarOf(v));
        const act = node.activation;
        return ([a, b]) => {
          let y: Tensor;
          // A scalar constant operand becomes one affine pass (x·s + t) instead of a broadcast.
          if (cb !== null && node.op !== 'mul') y = affine(a!, 1, node.op === 'add' ? cb : -cb);
          else if (cb !== null) y = affine(a!, cb, 0);
          else if (ca !== null && node.op === 'add') y = affine(b!, 1, ca);
          else if (ca !== null && node.op === 'sub') y = affine(b!, -1, ca);
          else if (ca !== null) y = affine(b!, ca, 0);
          else y = fn(a!, b!);
          return applyActivation(y, act);
        };
      }
      case 'squaredDifference':
        return ([a, b]) => square(sub(a!, b!));
      case 'mean':
        return ([x]) => mean(x!, node.axes, node.keepDims);
      case 'rsqrt':
        return ([x]) => rsqrt(x!);
      case 'logistic':
        return ([x]) => sigmoid(x!);
      case 'mirrorPad':
        return ([x]) => pad2d(x!, node.pads, 'reflect');
      case 'resizeNearest':
        return ([x]) => {
          const [, h, w] = x!.shape as [number, number, number, number];
          const size: [number, number] = [Math.max(1, Math.round(h * node.scale[0])), Math.max(1, Math.round(w * node.scale[1]))];
          if (size[0] === h && size[1] === w && !node.alignCorners) return x!;
          // Whole factors without corner alignment or half-pixel centres read ⌊r / f⌋: plain upsampling.
          const fh = size[0] / h;
          const fw = size[1] / w;
          if (!node.alignCorners && !node.halfPixelCenters && Number.isInteger(fh) && Number.isInteger(fw)) return upsampleNearest(x!, [fh, fw]);
          return resizeNearest(x!, size, { alignCorners: node.alignCorners, halfPixelCenters: node.halfPixelCenters });
        };
      case 'reshape':
        return ([x]) => reshape(x!, node.shape);
      case 'instanceNorm':
        return ([x, gamma, beta]) => {
          const [n, , , c] = x!.shape as [number, number, number, number];
          const rows = (t: Tensor): Tensor | null => (t.size === n * c ? this.runtime.reshape(t, [n, c]) : t.size === c ? this.runtime.reshape(t, [c]) : null);
          const g = rows(gamma!);
          const b = rows(beta!);
          if (x!.rank === 4 && g && b) return applyActivation(conditionalInstanceNorm(x!, g, b, node.eps), node.activation);
          // Parameters of another shape: the unfused formula, which broadcasts.
          g?.dispose();
          b?.dispose();
          const mu = mean(x!, [1, 2], true);
          const variance = mean(square(sub(x!, mu)), [1, 2], true);
          const m = mul(rsqrt(affine(variance, 1, node.eps)), gamma!);
          return applyActivation(add(mul(x!, m), sub(beta!, mul(mu, m))), node.activation);
        };
    }
  }

  private scalarOf(v: number): number | null {
    const key = this.spec.constants[v];
    if (key === undefined) return null;
    return this.scalarConstants.get(key) ?? null;
  }

  /**
   * Runs the graph on `inputs` (one tensor per graph input, in order, or by input name) and returns
   * the outputs in order. Inputs are not consumed; every intermediate is freed.
   */
  run(inputs: readonly Tensor[] | Record<string, Tensor>): Tensor[] {
    if (this.disposed) throw new Error(`${this.name}: this graph program was disposed`);
    const spec = this.spec;
    const given = Array.isArray(inputs)
      ? inputs
      : spec.inputs.map((v) => {
        const t = (inputs as Record<string, Tensor>)[v.name];
        if (!t) throw new Error(`${this.name}: no tensor given for input '${v.name}' (inputs: ${spec.inputs.map((x) => x.name).join(', ')})`);
        return t;
      });
    if (given.length !== spec.inputs.length) throw new Error(`${this.name}: expected ${spec.inputs.length} input tensor(s), got ${given.length}`);
    return noGrad(() =>
      scope(() => {
        const env = new Map<number, Tensor>();
        // Reads still to come per tensor object (a step may return its input unchanged, so two
        // values can share one tensor); intermediates are freed when theirs reach zero.
        const pending = new Map<Tensor, number>();
        const owned = new Set<Tensor>();
        const bind = (id: number, t: Tensor): void => {
          env.set(id, t);
          pending.set(t, (pending.get(t) ?? 0) + (this.readers.get(id) ?? 0));
        };
        spec.inputs.forEach((v, k) => {
          const t = given[k]!;
          if (v.shape.length > 0 && t.rank !== v.shape.length) {
            throw new Error(`${this.name}: input '${v.name}' must have rank ${v.shape.length} (file shape ${formatShape(v.shape)}), got ${formatShape(t.shape)}`);
          }
          bind(v.id, t);
        });
        for (const [id, key] of Object.entries(spec.constants)) {
          const t = this.weights.get(key);
          if (t) env.set(Number(id), t);
        }
        this.steps.forEach((step, index) => {
          const args = step.node.inputs.map((v) => env.get(v)!);
          let y: Tensor;
          try {
            y = step.run(args);
          } catch (err) {
            const shapes = args.map((t) => formatShape(t.shape)).join(', ');
            throw new Error(`${this.where(step.node, index)} on ${shapes}: ${(err as Error).message}`, { cause: err });
          }
          if (!pending.has(y) && !args.includes(y)) owned.add(y);
          bind(step.node.outputs[0]!, y);
          for (const t of args) {
            if (!pending.has(t)) continue; // a constant
            const left = pending.get(t)! - 1;
            pending.set(t, left);
            if (left === 0 && owned.has(t)) {
              t.dispose();
              owned.delete(t);
            }
          }
        });
        return spec.outputs.map((v) => env.get(v.id)!);
      }),
    );
  }

  /** Frees the weights. */
  dispose(): void {
    this.disposed = true;
    for (const t of this.weights.values()) t.dispose();
    this.weights.clear();
  }
}

/** The host values of size-1 constants, by weight key. */
function scalarConstantsOf(spec: GraphSpec, weights: HostTensorMap): Map<string, number> {
  const out = new Map<string, number>();
  for (const key of Object.values(spec.constants)) {
    const t = weights.get(key);
    if (t && t.data.length === 1) out.set(key, t.data[0]!);
  }
  return out;
}
