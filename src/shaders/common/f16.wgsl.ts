/** The `enable f16;` line a shader with f16 storage needs, or nothing. */
export function f16Header(half: boolean): string {
  return half ? 'enable f16;\n' : '';
}

/** A storage array of vec4s or scalars, in f16 or f32. */
export function storageArray(vec: boolean, half = false): string {
  return half ? (vec ? 'array<vec4<f16>>' : 'array<f16>') : vec ? 'array<vec4f>' : 'array<f32>';
}
