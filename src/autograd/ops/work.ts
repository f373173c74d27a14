import type { ConvGeometry } from '../../gpu/kernels/conv2d/geometry.ts';
import type { Runtime } from '../../gpu/tensor.ts';

/*
 * Nominal arithmetic of the ops that dominate every net, counted when they are recorded so the bench
 * can state GFLOP/s for whole pipelines: a convolution counts as the direct algorithm would compute it
 * (Winograd or not), a product as 2·m·n·k, a Gram matrix as its full product. Multiply-add = 2.
 */

export function countFlops(runtime: Runtime, flops: number): void {
  runtime.recorder.counters.flops += flops;
}

/** A convolution's forward pass, input gradient or filter gradient: each is the same number of products. */
export function convFlops(g: ConvGeometry): number {
  return 2 * g.batch * g.outH * g.outW * g.outC * g.kH * g.kW * g.cinG;
}

/** A batched product of [m, k] by [k, n] matrices. */
export function productFlops(batch: number, m: number, n: number, k: number): number {
  return 2 * batch * m * n * k;
}
