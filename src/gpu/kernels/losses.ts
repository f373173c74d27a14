import { gridFor } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { LOSS_WG, lossGradWgsl, lossReduceWgsl, type LossReduction } from '../../shaders/losses.wgsl.ts';
import { sameShape } from './shape-utils.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';

const LOSS_REDUCE = kernelFamily(
  'loss_reduce',
  (p: { kind: LossReduction; vec4: boolean }) => lossReduceWgsl(p.kind, p.vec4),
  () => everyCombination<{ kind: LossReduction; vec4: boolean }>({ kind: ['sqdiff', 'squares', 'sum'], vec4: [false, true] }),
);
const LOSS_GRAD = kernelFamily('loss_grad', (p: { difference: boolean }) => lossGradWgsl(p.difference), () => everyCombination({ difference: [false, true] }));

/** Elements (or vec4s) one workgroup sums before the work is spread over more workgroups. */
const MIN_CHUNK = LOSS_WG * 16;
/** Most first-stage workgroups; their partial sums are added by one more workgroup. */
const MAX_PARTIALS = 256;

function checkOperands(op: string, a: Tensor, b: Tensor | null): void {
  if (a.dtype !== 'f32' || (b && b.dtype !== 'f32')) throw new Error(`${op}: needs f32 tensors, got ${a.dtype}${b ? ` and ${b.dtype}` : ''}`);
  if (b && !sameShape(a.shape, b.shape)) throw new Error(`${op}: shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} differ`);
}

/** One stage: per-workgroup scale·Σ over chunks of `a` (and `b`), into a tensor of `groups` values. */
function reduceStage(kind: LossReduction, a: Tensor, b: Tensor | null, scale: number, outShape: readonly number[] | null): Tensor {
  const runtime = a.runtime;
  const vec4 = a.size % 4 === 0 && a.size > 0;
  const n = vec4 ? a.size / 4 : a.size;
  const groups = Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(n / MIN_CHUNK)));
  const chunk = Math.max(1, Math.ceil(n / groups));
  const out = runtime.empty(groups === 1 && outShape ? outShape : [groups]);
  runtime.launch({
    ...LOSS_REDUCE.program({ kind, vec4 }),
    bindings: b ? { a, b, dst: out } : { a, dst: out },
    params: { n, chunk, scale: groups === 1 ? scale : 1 },
    workgroups: [groups],
  });
  if (groups === 1) return out;
  const total = reduceStage('sum', out, null, scale, outShape);
  out.dispose();
  return total;
}

/** scale · Σ(a − b)² as a scalar tensor (shape []), fused and computed on the GPU. */
export function squaredErrorKernel(a: Tensor, b: Tensor, scale = 1, op = 'sumSquaredError'): Tensor {
  checkOperands(op, a, b);
  return reduceStage('sqdiff', a, b, scale, []);
}

/** scale · Σx² as a scalar tensor (shape []). */
export function sumSquaresKernel(x: Tensor, scale = 1, op = 'sumSquares'): Tensor {
  checkOperands(op, x, null);
  return reduceStage('squares', x, null, scale, []);
}

/** scale · dy · (a − b), or scale · dy · a without `b`; dy is a one-element tensor. */
export function squaredErrorGradKernel(dy: Tensor, a: Tensor, b: Tensor | null, scale: number): Tensor {
  if (dy.size !== 1) throw new Error(`squared error backward: the upstream gradient must be a scalar, got ${formatShape(dy.shape)}`);
  checkOperands('squared error backward', a, b);
  const out = a.runtime.empty(a.shape);
  a.runtime.launch({
    ...LOSS_GRAD.program({ difference: b !== null }),
    bindings: b ? { dy, a, b, dst: out } : { dy, a, dst: out },
    params: { n: a.size, scale },
    workgroups: gridFor(a.size, LOSS_WG),
  });
  return out;
}
