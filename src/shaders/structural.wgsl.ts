import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';
import type { DType } from '../gpu/tensor.ts';
import { elementType, type VecWidth } from './common/nhwc.wgsl.ts';

export const STRUCTURAL_WG = 256;

/**
 * Strided copy: the invocation for flat index i decodes its coordinate over `dims` (the innermost
 * `rank` lanes of 8, row-major) and copies src[src_offset + Σ c·src_strides] to
 * dst[dst_offset + Σ c·dst_strides]. Slice (strided source), transpose (permuted source strides)
 * and each part of a concat (strided destination) are all this one kernel. Counts, offsets and
 * strides are in elements of the bound type (vec4 units in the vec4 variant).
 */
export function stridedCopyWgsl(dtype: DType, vec: VecWidth): string {
  const { header, type } = elementType(dtype, vec);
  return `${header}
struct Params {
  n: u32, rank: u32, src_offset: u32, dst_offset: u32,
  dims: array<vec4u, 2>, src_strides: array<vec4u, 2>, dst_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> src: array<${type}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${type}>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${STRUCTURAL_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(STRUCTURAL_WG)};
  if (i >= p.n) { return; }
  var rest = i;
  var s = p.src_offset;
  var d = p.dst_offset;
  for (var k = 0u; k < p.rank; k++) {
    let lane = 7u - k;
    let dim = p.dims[lane / 4u][lane % 4u];
    let c = rest % dim;
    rest = rest / dim;
    s += c * p.src_strides[lane / 4u][lane % 4u];
    d += c * p.dst_strides[lane / 4u][lane % 4u];
  }
  dst[d] = src[s];
}
`;
}

/**
 * The backward of slice: dst (the input's shape, `dims`) gets src (the slice's gradient) inside
 * the box [begin, begin + size) and zero elsewhere. One gather pass, no separate zero fill.
 */
export function sliceBackwardWgsl(dtype: DType, vec: VecWidth): string {
  const { header, type } = elementType(dtype, vec);
  return `${header}
struct Params {
  n: u32, rank: u32,
  dims: array<vec4u, 2>, begin: array<vec4u, 2>, size: array<vec4u, 2>, src_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> src: array<${type}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${type}>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${STRUCTURAL_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(STRUCTURAL_WG)};
  if (i >= p.n) { return; }
  var rest = i;
  var s = 0u;
  var inside = true;
  for (var k = 0u; k < p.rank; k++) {
    let lane = 7u - k;
    let dim = p.dims[lane / 4u][lane % 4u];
    let c = rest % dim;
    rest = rest / dim;
    // Unsigned wrap-around makes c < begin fail this test too.
    let local = c - p.begin[lane / 4u][lane % 4u];
    inside = inside && local < p.size[lane / 4u][lane % 4u];
    s += local * p.src_strides[lane / 4u][lane % 4u];
  }
  if (inside) {
    dst[i] = src[s];
  } else {
    dst[i] = ${type}(0.0);
  }
}
`;
}
