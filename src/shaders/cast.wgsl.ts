import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';
import type { DType } from '../gpu/tensor.ts';

export const CAST_WG = 256;

/**
 * dst[i] = to(src[i]). f32 → f16 rounds to a neighbouring f16 (WGSL lets the device pick which
 * of the two; GPUs round to nearest); values beyond ±65504 are not representable in f16 and give
 * undefined results. f16 → f32 is exact.
 */
export function castWgsl(from: DType, to: DType): string {
  const header = from === 'f16' || to === 'f16' ? 'enable f16;\n' : '';
  return `${header}struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> src: array<${from}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${to}>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${CAST_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(CAST_WG)};
  if (i >= p.n) { return; }
  dst[i] = ${to}(src[i]);
}
`;
}
