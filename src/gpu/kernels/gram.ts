import { gridFor } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { SYMMETRIZE_WG, symmetrizeWgsl } from '../../shaders/gram.wgsl.ts';
import { launchMatmul, matmulKernel } from './matmul.ts';
import { assertShape } from './shape-utils.ts';

export interface GramOptions {
  /** Divide by C·H·W (the default), as in Gatys et al.'s style loss. */
  normalize?: boolean;
}

function checkFeatures(op: string, features: Tensor): { n: number; h: number; w: number; c: number } {
  if (features.rank !== 4) throw new Error(`${op}: features must be NHWC (rank 4), got shape ${formatShape(features.shape)}`);
  if (features.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${features.dtype}`);
  const [n, h, w, c] = features.shape as [number, number, number, number];
  return { n, h, w, c };
}

/** The factor `gram` multiplies FᵀF by. */
export function gramScale(features: Tensor, options: GramOptions = {}): number {
  const { h, w, c } = checkFeatures('gram', features);
  return options.normalize === false ? 1 : 1 / Math.max(1, c * h * w);
}

/**
 * G[n] = scale · F[n]ᵀ·F[n] for NHWC features, F[n] seen as an (H·W)×C matrix: [N, H, W, C] → [N, C, C].
 * One tiled matmul over the pixel axis, computing only the tiles on and above the diagonal and
 * mirroring them; split over K (the pixels) when the few output tiles would leave the GPU idle.
 */
export function gramKernel(features: Tensor, options: GramOptions = {}): Tensor {
  const { n, h, w, c } = checkFeatures('gram', features);
  const operand = { tensor: features, outer: h * w * c, inner: 0 };
  return launchMatmul({
    op: 'gram',
    a: operand,
    b: operand,
    transA: true,
    transB: false,
    m: c,
    n: c,
    k: h * w,
    outer: n,
    inner: 1,
    scale: gramScale(features, options),
    symmetric: true,
    outShape: [n, c, c],
  });
}

/** scale · (G + Gᵀ) for each matrix of a [N, C, C] batch. */
export function symmetrizeKernel(g: Tensor, scale = 1): Tensor {
  if (g.rank !== 3 || g.shape[1] !== g.shape[2]) throw new Error(`symmetrize: needs a batch of square matrices [N, C, C], got ${formatShape(g.shape)}`);
  const out = g.runtime.empty(g.shape);
  g.runtime.launch({
    name: 'symmetrize',
    source: symmetrizeWgsl,
    bindings: { src: g, dst: out },
    params: { n: g.size, size: g.shape[1]!, scale },
    workgroups: gridFor(g.size, SYMMETRIZE_WG),
  });
  return out;
}

/** dF = scale · F·(dG + dGᵀ): the gradient of `gramKernel` for an upstream gradient dG [N, C, C]. */
export function gramBackwardKernel(features: Tensor, dg: Tensor, options: GramOptions = {}): Tensor {
  const { n, h, w, c } = checkFeatures('gram backward', features);
  assertShape('gram backward', 'the upstream gradient', dg.shape, [n, c, c]);
  const sym = symmetrizeKernel(dg, gramScale(features, options));
  const f = features.runtime.reshape(features, [n, h * w, c]);
  const df = matmulKernel(f, sym);
  f.dispose();
  sym.dispose();
  const out = df.runtime.reshape(df, features.shape);
  df.dispose();
  return out;
}
