import { gridFor } from '../grid.ts';
import { formatShape, type Shape, type Tensor } from '../tensor.ts';
import { pool2x2BackwardWgsl, pool2x2Wgsl, POOL_WG, type PoolKind } from '../../shaders/pool.wgsl.ts';
import type { VecWidth } from '../../shaders/common/nhwc.wgsl.ts';
import { assertRank, assertShape } from './shape-utils.ts';
import { everyCombination, kernelFamily, STORAGE_DTYPES } from '../kernel-family.ts';
import type { DType } from '../tensor.ts';

interface PoolParams {
  kind: PoolKind;
  dtype: DType;
  vec: VecWidth;
}
const POOL2X2 = kernelFamily('pool2x2', (p: PoolParams) => pool2x2Wgsl(p.kind, p.dtype, p.vec), () => everyCombination<PoolParams>({ kind: ['max', 'avg'], dtype: STORAGE_DTYPES, vec: [1, 4] }));
const POOL2X2_BACKWARD = kernelFamily('pool2x2_backward', (p: PoolParams) => pool2x2BackwardWgsl(p.kind, p.dtype, p.vec), () => everyCombination<PoolParams>({ kind: ['max', 'avg'], dtype: STORAGE_DTYPES, vec: [1, 4] }));

export type { PoolKind };

/** [N, H, W, C] → [N, ⌊H/2⌋, ⌊W/2⌋, C]: 2×2 windows, stride 2, 'valid' (odd edges dropped). */
export function pool2x2Shape(op: string, shape: Shape): number[] {
  assertRank(op, 'input', shape, 4);
  const [n, h, w, c] = shape as [number, number, number, number];
  return [n, Math.floor(h / 2), Math.floor(w / 2), c];
}

function uniforms(inShape: Shape, outShape: Shape, vec: VecWidth, count: number) {
  return {
    n: count / vec,
    c: inShape[3]! / vec,
    in_h: inShape[1]!,
    in_w: inShape[2]!,
    out_h: outShape[1]!,
    out_w: outShape[2]!,
  };
}

const vecFor = (channels: number): VecWidth => (channels % 4 === 0 ? 4 : 1);

/** 2×2 stride-2 max or average pooling of an NHWC tensor. */
export function pool2x2Kernel(kind: PoolKind, x: Tensor): Tensor {
  const op = `${kind}Pool2d`;
  const outShape = pool2x2Shape(op, x.shape);
  const out = x.runtime.empty(outShape, x.dtype);
  const vec = vecFor(x.shape[3]!);
  x.runtime.launch({
    ...POOL2X2.program({ kind, dtype: x.dtype, vec }),
    bindings: { src: x, dst: out },
    params: uniforms(x.shape, outShape, vec, out.size),
    workgroups: gridFor(out.size / vec, POOL_WG),
  });
  return out;
}

/** Gradient of `pool2x2Kernel` with respect to its input x, given dy (the output's gradient). */
export function pool2x2BackwardKernel(kind: PoolKind, x: Tensor, dy: Tensor): Tensor {
  const op = `${kind}Pool2d backward`;
  const outShape = pool2x2Shape(op, x.shape);
  assertShape(op, 'dy', dy.shape, outShape);
  if (dy.dtype !== x.dtype) throw new Error(`${op}: dy is ${dy.dtype} but x is ${x.dtype} (${formatShape(x.shape)})`);
  const dx = x.runtime.empty(x.shape, x.dtype);
  const vec = vecFor(x.shape[3]!);
  x.runtime.launch({
    ...POOL2X2_BACKWARD.program({ kind, dtype: x.dtype, vec }),
    bindings: kind === 'max' ? { dy, dx, x } : { dy, dx },
    params: uniforms(x.shape, outShape, vec, x.size),
    workgroups: gridFor(x.size / vec, POOL_WG),
  });
  return dx;
}
