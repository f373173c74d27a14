import { gridFor } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { adamWgsl, axpyWgsl, DOT_WG, dotPartialsWgsl, gatherScalarWgsl, guardedRatioWgsl, OPTIM_WG } from '../../shaders/optim.wgsl.ts';
import { reduce } from './reduce.ts';
import { kernelFamily } from '../kernel-family.ts';

const ONE = () => [{}];
const ADAM = kernelFamily('adam', () => adamWgsl(), ONE);
const AXPY = kernelFamily('axpy', () => axpyWgsl(), ONE);
const DOT_PARTIALS = kernelFamily('dot_partials', () => dotPartialsWgsl(), ONE);
const GUARDED_RATIO = kernelFamily('guarded_ratio', () => guardedRatioWgsl(), ONE);
const GATHER_SCALAR = kernelFamily('gather_scalar', () => gatherScalarWgsl(), ONE);

function assertSameSize(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new Error(`${op}: sizes differ: ${formatShape(a.shape)} vs ${formatShape(b.shape)}`);
}

export interface AdamStepParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step number, for the bias corrections */
  step: number;
  weightDecay?: number;
}

/** One Adam step, in place on `param`, `m` and `v`. */
export function adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamStepParams): void {
  for (const t of [grad, m, v]) assertSameSize('adam', param, t);
  const c1 = 1 - o.beta1 ** o.step;
  const c2 = 1 - o.beta2 ** o.step;
  param.runtime.launch({
    ...ADAM.program({}),
    bindings: { param, grad, m, v },
    // lr·m̂/(√v̂+ε) = (lr·√c2/c1)·m/(√v + ε·√c2)
    params: { n: param.size, beta1: o.beta1, beta2: o.beta2, step_size: (o.lr * Math.sqrt(c2)) / c1, eps_hat: o.eps * Math.sqrt(c2), weight_decay: o.weightDecay ?? 0 },
    workgroups: gridFor(param.size, OPTIM_WG),
  });
}

/** y += scale · coef[0] · x in place (coef omitted: y += scale · x). */
export function axpyInPlace(y: Tensor, x: Tensor, scale: number, coef?: Tensor): void {
  assertSameSize('axpy', y, x);
  if (coef && coef.size !== 1) throw new Error(`axpy: the coefficient must have one element, got ${formatShape(coef.shape)}`);
  y.runtime.launch({
    ...AXPY.program({}),
    bindings: { y, x, coef: coef ?? x },
    params: { n: y.size, scale, use_coef: coef ? 1 : 0 },
    workgroups: gridFor(y.size, OPTIM_WG),
  });
}

/** a·b over all elements, as a one-element tensor that stays on the GPU. */
export function dot(a: Tensor, b: Tensor): Tensor {
  assertSameSize('dot', a, b);
  const groups = Math.max(1, Math.min(256, Math.ceil(a.size / (DOT_WG * 16))));
  const partials = a.runtime.empty([groups]);
  a.runtime.launch({ ...DOT_PARTIALS.program({}), bindings: { a, b, partials }, params: { n: a.size }, workgroups: [groups] });
  const out = reduce('sum', partials, [0], { keepDims: true });
  partials.dispose();
  return out;
}

/** scale·a/b when cond > threshold, else fallback — all one-element tensors on the GPU. */
export function guardedRatio(a: Tensor, b: Tensor, cond: Tensor, fallback: Tensor, threshold: number, scale = 1): Tensor {
  const out = a.runtime.empty([1]);
  a.runtime.launch({
    ...GUARDED_RATIO.program({}),
    bindings: { a, b, cond, fallback, out },
    params: { threshold, scale },
    workgroups: [1],
  });
  return out;
}

/** Packs one-element tensors into a vector so that a single readback returns them all. */
export function packScalars(scalars: readonly Tensor[]): Tensor {
  const runtime = scalars[0]!.runtime;
  const out = runtime.empty([scalars.length]);
  scalars.forEach((src, index) => {
    if (src.size !== 1) throw new Error(`packScalars: element ${index} has shape ${formatShape(src.shape)}, expected one element`);
    runtime.launch({ ...GATHER_SCALAR.program({}), bindings: { src, dst: out }, params: { index }, workgroups: [1] });
  });
  return out;
}
