import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const SYMMETRIZE_WG = 256;

/**
 * dst[b, i, j] = scale · (src[b, i, j] + src[b, j, i]) for a batch of square matrices: the part of
 * a Gram matrix's upstream gradient that reaches the features (G = FᵀF ⇒ dF = F·(dG + dGᵀ)).
 */
export function symmetrizeWgsl(): string {
  return `
struct Params { n: u32, size: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${SYMMETRIZE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let idx = ${flatIndexWgsl(SYMMETRIZE_WG)};
  if (idx >= p.n) { return; }
  let square = p.size * p.size;
  let base = (idx / square) * square;
  let r = idx - base;
  let i = r / p.size;
  let j = r - i * p.size;
  dst[idx] = p.scale * (src[idx] + src[base + j * p.size + i]);
}
`;
}
