/**
 * The converted-graph format (what a `.graph.json` holds next to its `.safetensors` weights): a
 * JSON-able list of nodes over numbered values, plus f32 weights in pastiche's layouts (conv kernels
 * HWIO, depthwise [kh, kw, C, m]).
 */
import type { HostTensorMap } from '../../../weights/host-tensor.ts';
import { parseSafetensors } from '../../../weights/formats/safetensors.ts';

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
