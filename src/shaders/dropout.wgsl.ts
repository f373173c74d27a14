import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';
import type { DType } from '../gpu/tensor.ts';

export const DROPOUT_WG = 256;

/**
 * The PCG-RXS-M-XS 32-bit output permutation (O'Neill), used as an integer hash. Only wrapping
 * u32 multiplies, adds, shifts and xors: the same bits on every device.
 */
export const PCG_HASH_WGSL = `
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
`;

/**
 * Inverted dropout with a counter-based mask: element i is kept when the top 24 bits of
 * pcg_hash(pcg_hash(i + key0) ^ key1) are at least `threshold` (= round(p·2²⁴)); kept values are
 * multiplied by `scale` (= 1/(1−p)), dropped ones become exactly 0. The keys come from the seed
 * (see `dropoutKeys`), so the mask is a pure function of (seed, i): backward recomputes it.
 */
export function dropoutWgsl(dtype: DType): string {
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}
struct Params { n: u32, key0: u32, key1: u32, threshold: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<${dtype}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${dtype}>;
@group(0) @binding(2) var<uniform> p: Params;
${PCG_HASH_WGSL}
@compute @workgroup_size(${DROPOUT_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(DROPOUT_WG)};
  if (i >= p.n) { return; }
  let bits = pcg_hash(pcg_hash(i + p.key0) ^ p.key1) >> 8u;
  dst[i] = select(${dtype}(0.0), ${dtype}(f32(src[i]) * p.scale), bits >= p.threshold);
}
`;
}
