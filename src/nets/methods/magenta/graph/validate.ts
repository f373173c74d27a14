/**
 * Everything about a graph spec that can be checked without running it: ops, options, weights and
 * value flow. Errors name the node and the problem.
 */
import type { HostTensor, HostTensorMap } from '../../../weights/host-tensor.ts';
import type { GraphActivation, GraphNode, GraphOp, GraphSpec } from './format.ts';

export const KNOWN_OPS: ReadonlySet<string> = new Set<GraphOp>([
  'conv2d', 'depthwiseConv2d', 'add', 'sub', 'mul', 'squaredDifference', 'mean', 'rsqrt', 'logistic',
  'mirrorPad', 'resizeNearest', 'reshape', 'instanceNorm',
]);
const ACTIVATIONS: ReadonlySet<string> = new Set<GraphActivation>(['none', 'relu', 'relu6', 'relu_n1_to_1', 'tanh']);

/** Where a node is, for error messages: the program, the node's index and its source operator. */
export function nodeWhere(name: string, node: GraphNode, index: number): string {
  return `${name}: node #${index}${node.source !== undefined ? ` (source operator #${node.source})` : ''} '${node.op}'`;
}

function valueName(spec: GraphSpec, id: number): string {
  const v = spec.values.find((x) => x.id === id);
  return v ? `'${v.name}'` : `#${id}`;
}

/** Everything that can be checked without running: ops, options, weights, and value flow. */
export function validateGraph(spec: GraphSpec, weights: HostTensorMap, name: string): void {
  const defined = new Set<number>(spec.inputs.map((v) => v.id));
  for (const id of Object.keys(spec.constants)) {
    const key = spec.constants[id]!;
    if (!weights.has(key)) throw new Error(`${name}: constant #${id} refers to weight '${key}', which the weights file lacks`);
    defined.add(Number(id));
  }
  const checkWeight = (where: string, key: string, rank: number): HostTensor => {
    const t = weights.get(key);
    if (!t) throw new Error(`${where}: weight '${key}' is missing from the weights file`);
    if (t.shape.length !== rank) throw new Error(`${where}: weight '${key}' has shape [${t.shape.join(', ')}], expected rank ${rank}`);
    return t;
  };
  spec.nodes.forEach((node, index) => {
    const where = nodeWhere(name, node, index);
    if (!KNOWN_OPS.has(node.op)) {
      throw new Error(`${name}: node #${index}${node.source !== undefined ? ` (source operator #${node.source})` : ''} has op '${String(node.op)}', which the graph interpreter does not support (supported: ${[...KNOWN_OPS].join(', ')})`);
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
      if (!defined.has(v)) throw new Error(`${where}: input ${valueName(spec, v)} is not produced by any earlier node, graph input or constant`);
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
    if (!defined.has(out.id)) throw new Error(`${name}: graph output '${out.name}' is never produced`);
  }
}
