/**
 * Pattern fusion: rewrites node patterns into fused engine ops. The instance-norm subgraph MEAN →
 * SQUARED_DIFFERENCE → MEAN → ADD ε → RSQRT → MUL γ → MUL x / MUL μ → SUB from β → ADD becomes one
 * `instanceNorm` node; MIRROR_PAD (reflect) feeding a VALID conv becomes the conv's own reflect
 * padding; a same-size nearest resize is dropped.
 */
import type { HostTensorMap } from '../../../weights/host-tensor.ts';
import type { BinaryNode, GraphNode, GraphSpec, InstanceNormNode, MeanNode } from './format.ts';

/** Counts of what fusion did, for tests and diagnostics. */
export interface FusionReport {
  instanceNorms: number;
  reflectPadConvs: number;
  identityResizes: number;
}

export function fuseGraphNodes(spec: GraphSpec, source: readonly GraphNode[], scalarConstants: ReadonlyMap<string, number>, fusion: FusionReport): GraphNode[] {
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
    return key === undefined ? null : (scalarConstants.get(key) ?? null);
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
    fusion.instanceNorms++;
    reindex();
  }

  // Same-size nearest resize (align_corners off) is the identity: alias its output to its input.
  const renamed = new Map<number, number>();
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (!n || n.op !== 'resizeNearest' || n.scale[0] !== 1 || n.scale[1] !== 1 || outputs.has(n.outputs[0]!)) continue;
    renamed.set(n.outputs[0]!, n.inputs[0]!);
    nodes[i] = null;
    fusion.identityResizes++;
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
    fusion.reflectPadConvs++;
    reindex();
  }
  return nodes.filter((n): n is GraphNode => n !== null);
}

/** The host values of size-1 constants, by weight key. */
export function scalarConstantsOf(spec: GraphSpec, weights: HostTensorMap): Map<string, number> {
  const out = new Map<string, number>();
  for (const key of Object.values(spec.constants)) {
    const t = weights.get(key);
    if (t && t.data.length === 1) out.set(key, t.data[0]!);
  }
  return out;
}
