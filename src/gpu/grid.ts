/**
 * Dispatch sizes for one-thread-per-element kernels. Counts above 65535 workgroups spill into y,
 * so kernels compute their flat index as `gid.x + gid.y * (nwg.x * WG)` (see `flatIndexWgsl`).
 */
export function gridFor(count: number, workgroupSize: number): [number, number, number] {
  const groups = Math.ceil(count / workgroupSize);
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / Math.max(x, 1)), 1];
}

/** WGSL snippet: entry-point parameters and the flat invocation index for `gridFor`. */
export const FLAT_ENTRY_PARAMS = '@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u';
export function flatIndexWgsl(workgroupSize: number): string {
  return `gid.x + gid.y * (nwg.x * ${workgroupSize}u)`;
}

/** Broadcast and strided kernels support tensors up to this rank. */
export const MAX_RANK = 8;

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Pads a per-axis array to MAX_RANK lanes (uniform arrays are fixed-size), `fill` at the front. */
export function padLanes(values: readonly number[], fill: number): number[] {
  return [...new Array<number>(MAX_RANK - values.length).fill(fill), ...values];
}
