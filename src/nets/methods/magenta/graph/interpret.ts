/**
 * The graph interpreter: runs a converted graph (the two Magenta arbitrary-stylization models, and
 * anything else built from the same ops) on pastiche's own GPU ops, in float32.
 * `GraphProgram.create(runtime, spec, weights)` validates every node (validate.ts), uploads the
 * weights once and fuses patterns (fuse.ts; `{ fuse: false }` runs the plain node-by-node
 * interpretation, which tests compare); `program.run(inputs)` executes on tensors, freeing each
 * intermediate after its last use. Pure (no Node APIs): the browser demo runs the same graphs.
 */
import { conv2d, depthwiseConv2d, type ConvPadding } from '../../../../autograd/ops/conv2d.ts';
import { add, affine, clamp, mul, relu, relu6, rsqrt, sigmoid, square, sub, tanh } from '../../../../autograd/ops/elementwise.ts';
import { conditionalInstanceNorm } from '../../../../autograd/ops/norm.ts';
import { pad2d } from '../../../../autograd/ops/pad.ts';
import { mean, reshape } from '../../../../autograd/ops/reduce.ts';
import { resizeNearest, upsampleNearest } from '../../../../autograd/ops/resize.ts';
import { noGrad } from '../../../../autograd/tape.ts';
import { cast } from '../../../../gpu/kernels/cast.ts';
import type { Runtime } from '../../../../gpu/runtime.ts';
import { keep, scope } from '../../../../gpu/scope.ts';
import { formatShape, type Tensor } from '../../../../gpu/tensor.ts';
import type { HostTensorMap } from '../../../weights/host-tensor.ts';
import type { GraphActivation, GraphNode, GraphOp, GraphSpec } from './format.ts';
import { fuseGraphNodes, scalarConstantsOf, type FusionReport } from './fuse.ts';
import { nodeWhere, validateGraph } from './validate.ts';

export interface GraphProgramOptions {
  /** Rewrite known patterns into fused ops (default true). */
  fuse?: boolean;
  /** Shown in errors (default: the spec's source name). */
  name?: string;
  /**
   * f16 storage for the weights and every intermediate, arithmetic in f32 (inference; needs
   * 'shader-f16'): inputs are cast to f16 on entry and outputs back to f32.
   */
  half?: boolean;
}

/** What the compiled program runs: one step per (possibly fused) node. */
interface Step {
  node: GraphNode;
  run: (inputs: Tensor[]) => Tensor;
}

function applyActivation(x: Tensor, act: GraphActivation): Tensor {
  switch (act) {
    case 'none': return x;
    case 'relu': return relu(x);
    case 'relu6': return relu6(x);
    case 'relu_n1_to_1': return clamp(x, -1, 1);
    case 'tanh': return tanh(x);
  }
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
    readonly half: boolean,
  ) {}

  /** Validates `spec` against `weights`, uploads the weights, and compiles (fusing unless told not to). */
  static create(runtime: Runtime, spec: GraphSpec, weights: HostTensorMap, options: GraphProgramOptions = {}): GraphProgram {
    const program = new GraphProgram(runtime, spec, options.name ?? spec.source?.name ?? 'graph', options.half ?? false);
    validateGraph(spec, weights, program.name);
    for (const [key, value] of scalarConstantsOf(spec, weights)) program.scalarConstants.set(key, value);
    const nodes = options.fuse === false ? spec.nodes.map((n) => ({ ...n })) : fuseGraphNodes(spec, spec.nodes, program.scalarConstants, program.fusion);
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
        program.weights.set(key, keep(runtime.upload(t.data, t.shape, options.half ? 'f16' : 'f32')));
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
          // The norm reads its per-channel operands as f32 ([N, C]: a cast of a few hundred values).
          const wide = (t: Tensor | null): Tensor | null => (t && t.dtype !== 'f32' ? cast(t, 'f32') : t);
          const g = wide(rows(gamma!));
          const b = wide(rows(beta!));
          if (x!.rank === 4 && g && b) {
            // A ReLU runs in the norm's output pass; other activations after it.
            if (node.activation === 'relu') return conditionalInstanceNorm(x!, g, b, node.eps, { activation: 'relu' });
            return applyActivation(conditionalInstanceNorm(x!, g, b, node.eps), node.activation);
          }
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
          bind(v.id, this.half && t.dtype !== 'f16' ? cast(t, 'f16') : t);
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
            throw new Error(`${nodeWhere(this.name, step.node, index)} on ${shapes}: ${(err as Error).message}`, { cause: err });
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
        return spec.outputs.map((v) => (this.half ? cast(env.get(v.id)!, 'f32') : env.get(v.id)!));
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
