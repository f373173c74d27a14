import type { DType } from '../../gpu/tensor.ts';

/** Elements each invocation moves: 4 when the innermost run allows vec4 loads and stores. */
export type VecWidth = 1 | 4;

/** WGSL header and element type for a storage dtype and vector width. */
export function elementType(dtype: DType, vec: VecWidth): { header: string; type: string } {
  return { header: dtype === 'f16' ? 'enable f16;\n' : '', type: vec === 4 ? `vec4<${dtype}>` : dtype };
}

/**
 * Aliases for NHWC kernels that compute in f32 whatever they store: `S` the storage element, `V` the
 * same width in f32 (`U` in u32), with the f16 header where needed.
 */
export function nhwcAliases(dtype: DType, vec: VecWidth): string {
  const of = (t: string) => (vec === 4 ? `vec4<${t}>` : t);
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}
alias S = ${of(dtype)};
alias V = ${of('f32')};
alias U = ${of('u32')};`;
}

/** WGSL statements decoding flat NHWC index `i` of a [?, h, w, c] grid into `ch`, `x`, `y` and batch `b`. */
export function nhwcCoordsWgsl(i: string, c: string, w: string, h: string, x: string, y: string): string {
  return `
  let ch = ${i} % ${c};
  var rest = ${i} / ${c};
  let ${x} = rest % ${w};
  rest = rest / ${w};
  let ${y} = rest % ${h};
  let b = rest / ${h};`;
}
