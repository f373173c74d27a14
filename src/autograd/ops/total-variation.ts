import { totalVariationBackwardKernel, totalVariationKernel, type TotalVariationKind } from '../../gpu/kernels/total-variation.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { record } from '../tape.ts';

export type { TotalVariationKind };

export interface TotalVariationOptions {
  /** 'squared' (default): squared neighbour differences; 'abs': absolute ones (anisotropic TV). */
  kind?: TotalVariationKind;
}

/**
 * Total variation of an NHWC f32 batch as a scalar (shape []):
 *
 *   TV(x) = Σ_{n,c} [ Σ_{i<H−1, j} φ(x[n,i+1,j,c] − x[n,i,j,c]) + Σ_{i, j<W−1} φ(x[n,i,j+1,c] − x[n,i,j,c]) ]
 *
 * with φ(d) = d² ('squared') or |d| ('abs'). It is a plain SUM over the batch, both directions and
 * all channels: no mean, no division by the pixel count, no square root; scale it yourself (e.g.
 * by the TV weight / (N·H·W·C)). The abs gradient uses sign(0) = 0.
 */
export function totalVariation(x: Tensor, options: TotalVariationOptions = {}): Tensor {
  const kind = options.kind ?? 'squared';
  return record('totalVariation', [x], totalVariationKernel(x, kind), (dy) => [totalVariationBackwardKernel(x, dy, kind)]);
}
