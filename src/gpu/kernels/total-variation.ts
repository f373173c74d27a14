import { gridFor } from '../grid.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import {
  sumPartialsWgsl,
  totalVariationBackwardWgsl,
  totalVariationPartialWgsl,
  TV_WG,
  type TotalVariationKind,
} from '../../shaders/total-variation.wgsl.ts';
import { assertRank } from './shape-utils.ts';
import { everyCombination, kernelFamily } from '../kernel-family.ts';

const TV_KINDS = () => everyCombination<{ kind: TotalVariationKind }>({ kind: ['squared', 'abs'] });
const TV_PARTIAL = kernelFamily('total_variation', (p: { kind: TotalVariationKind }) => totalVariationPartialWgsl(p.kind), TV_KINDS);
const TV_SUM = kernelFamily('total_variation_sum', () => sumPartialsWgsl(), () => [{}]);
const TV_BACKWARD = kernelFamily('total_variation_backward', (p: { kind: TotalVariationKind }) => totalVariationBackwardWgsl(p.kind), TV_KINDS);

export type { TotalVariationKind };

/** Stage 1 uses at most this many workgroups (stage 2 is one workgroup looping over them). */
export const TV_MAX_PARTIALS = 1024;
/** Elements per workgroup below which fewer workgroups are used. */
const TV_MIN_CHUNK = 8 * TV_WG;

function checkInput(op: string, x: Tensor, kind: TotalVariationKind): [number, number, number, number] {
  if (kind !== 'squared' && kind !== 'abs') throw new Error(`${op}: kind must be 'squared' or 'abs', got ${JSON.stringify(kind)}`);
  assertRank(op, 'input', x.shape, 4);
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${x.dtype} ${formatShape(x.shape)}`);
  return x.shape as [number, number, number, number];
}

/**
 * Total variation of an NHWC batch, summed over batch, rows, columns and channels (a scalar,
 * shape []):
 *   squared: Σ (x[n,i+1,j,c] − x[n,i,j,c])² + Σ (x[n,i,j+1,c] − x[n,i,j,c])²
 *   abs:     the same with |·| (anisotropic TV; tf.image.total_variation per image, summed)
 * Each sum runs over the pairs that exist (i < H−1, resp. j < W−1). No normalisation: callers scale.
 * Two launches: per-workgroup partial sums, then one workgroup adds them (deterministic order).
 */
export function totalVariationKernel(x: Tensor, kind: TotalVariationKind): Tensor {
  const op = 'totalVariation';
  const [, h, w, c] = checkInput(op, x, kind);
  const runtime = x.runtime;
  const groups = Math.min(TV_MAX_PARTIALS, Math.ceil(x.size / TV_MIN_CHUNK));
  const chunk = groups === 0 ? 0 : Math.ceil(x.size / groups);
  const partials = runtime.empty([Math.max(groups, 1)]);
  runtime.launch({
    ...TV_PARTIAL.program({ kind }),
    bindings: { src: x, partials },
    params: { n: x.size, c, w, h, chunk },
    workgroups: [groups],
  });
  const out = runtime.empty([]);
  runtime.launch({
    ...TV_SUM.program({}),
    bindings: { partials, dst: out },
    params: { m: groups },
    workgroups: [1],
  });
  partials.dispose();
  return out;
}

/** Gradient of `totalVariationKernel` with respect to x, given the scalar upstream gradient dy. */
export function totalVariationBackwardKernel(x: Tensor, dy: Tensor, kind: TotalVariationKind): Tensor {
  const op = 'totalVariation backward';
  const [, h, w, c] = checkInput(op, x, kind);
  if (dy.size !== 1 || dy.dtype !== 'f32') throw new Error(`${op}: dy must be an f32 scalar, got ${dy.dtype} ${formatShape(dy.shape)}`);
  const dx = x.runtime.empty(x.shape);
  x.runtime.launch({
    ...TV_BACKWARD.program({ kind }),
    bindings: { src: x, dy, dx },
    params: { n: x.size, c, w, h },
    workgroups: gridFor(x.size, TV_WG),
  });
  return dx;
}
