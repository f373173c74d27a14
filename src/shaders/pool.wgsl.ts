import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';
import type { DType } from '../gpu/tensor.ts';
import { nhwcAliases, nhwcCoordsWgsl, type VecWidth } from './common/nhwc.wgsl.ts';

export const POOL_WG = 256;
export type PoolKind = 'max' | 'avg';

/**
 * 2×2 windows with stride 2 on NHWC, 'valid' padding (an odd last row or column is dropped).
 * `c` counts channel units: C, or C/4 in the vec4 variant (one invocation per 4 channels).
 * Arithmetic is f32 whatever the storage dtype.
 */
function declarations(dtype: DType, vec: VecWidth): string {
  return `${nhwcAliases(dtype, vec)}
struct Params { n: u32, c: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32 }
`;
}

export function pool2x2Wgsl(kind: PoolKind, dtype: DType, vec: VecWidth): string {
  const combine = kind === 'max' ? 'max(max(v0, v1), max(v2, v3))' : '(v0 + v1 + v2 + v3) * 0.25';
  return `${declarations(dtype, vec)}
@group(0) @binding(0) var<storage, read> src: array<S>;
@group(0) @binding(1) var<storage, read_write> dst: array<S>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${POOL_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let o = ${flatIndexWgsl(POOL_WG)};
  if (o >= p.n) { return; }${nhwcCoordsWgsl('o', 'p.c', 'p.out_w', 'p.out_h', 'ox', 'oy')}
  let row = p.in_w * p.c;
  let base = ((b * p.in_h + 2u * oy) * p.in_w + 2u * ox) * p.c + ch;
  let v0 = V(src[base]);
  let v1 = V(src[base + p.c]);
  let v2 = V(src[base + row]);
  let v3 = V(src[base + row + p.c]);
  dst[o] = S(${combine});
}
`;
}

/**
 * Backward as a gather: one invocation per input element. Windows do not overlap, so each input
 * element gets the gradient of at most one output: a quarter of it (avg), or all of it when it is
 * its window's first maximum in row-major order, as tfjs and TensorFlow pick on ties (max).
 * Elements in a dropped odd row or column get zero.
 */
export function pool2x2BackwardWgsl(kind: PoolKind, dtype: DType, vec: VecWidth): string {
  const xBinding = kind === 'max' ? `@group(0) @binding(2) var<storage, read> x: array<S>;\n` : '';
  const uniformBinding = kind === 'max' ? 3 : 2;
  const value =
    kind === 'max'
      ? `
  let base = ((b * p.in_h + 2u * oy) * p.in_w + 2u * ox) * p.c + ch;
  let row = p.in_w * p.c;
  var best = V(x[base]);
  var arg = U(0u);
  let v1 = V(x[base + p.c]);
  let v2 = V(x[base + row]);
  let v3 = V(x[base + row + p.c]);
  var gt = v1 > best;
  arg = select(arg, U(1u), gt);
  best = select(best, v1, gt);
  gt = v2 > best;
  arg = select(arg, U(2u), gt);
  best = select(best, v2, gt);
  gt = v3 > best;
  arg = select(arg, U(3u), gt);
  let mine = U((iy % 2u) * 2u + ix % 2u);
  dx[i] = S(select(V(0.0), V(dy[o]), arg == mine));`
      : `
  dx[i] = S(V(dy[o]) * 0.25);`;
  return `${declarations(dtype, vec)}
@group(0) @binding(0) var<storage, read> dy: array<S>;
@group(0) @binding(1) var<storage, read_write> dx: array<S>;
${xBinding}@group(0) @binding(${uniformBinding}) var<uniform> p: Params;

@compute @workgroup_size(${POOL_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(POOL_WG)};
  if (i >= p.n) { return; }${nhwcCoordsWgsl('i', 'p.c', 'p.in_w', 'p.in_h', 'ix', 'iy')}
  let ox = ix / 2u;
  let oy = iy / 2u;
  if (ox >= p.out_w || oy >= p.out_h) {
    dx[i] = S(V(0.0));
    return;
  }
  let o = ((b * p.out_h + oy) * p.out_w + ox) * p.c + ch;${value}
}
`;
}
