import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export type ReduceOp = 'sum' | 'max' | 'min';
export const REDUCE_WG = 64;

const IDENTITY: Record<ReduceOp, string> = { sum: '0.0', max: '-3.0e38', min: '3.0e38' };
const COMBINE: Record<ReduceOp, (a: string, b: string) => string> = {
  sum: (a, b) => `${a} + ${b}`,
  max: (a, b) => `max(${a}, ${b})`,
  min: (a, b) => `min(${a}, ${b})`,
};

/**
 * Shared declarations. The input is addressed through strides, so any set of axes can be reduced
 * without a transpose: `kept_*` describe the output's axes, `red_*` the reduced ones (padded to 8).
 */
const DECLS = `
struct Params {
  out_count: u32, red_count: u32, chunk: u32, splits: u32, scale: f32,
  kept_dims: array<vec4u, 2>, kept_strides: array<vec4u, 2>,
  red_dims: array<vec4u, 2>, red_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn kept_offset(o: u32) -> u32 {
  var rest = o;
  var off = 0u;
  for (var d = 7; d >= 0; d--) {
    let dim = p.kept_dims[d / 4][d % 4];
    off += (rest % dim) * p.kept_strides[d / 4][d % 4];
    rest = rest / dim;
  }
  return off;
}

fn reduced_offset(r: u32) -> u32 {
  var rest = r;
  var off = 0u;
  for (var d = 7; d >= 0; d--) {
    let dim = p.red_dims[d / 4][d % 4];
    off += (rest % dim) * p.red_strides[d / 4][d % 4];
    rest = rest / dim;
  }
  return off;
}
`;

/** One thread per output element: for many outputs with few reduced elements each. */
export function reducePerThreadWgsl(op: ReduceOp): string {
  return `${DECLS}
@compute @workgroup_size(${REDUCE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let o = ${flatIndexWgsl(REDUCE_WG)};
  if (o >= p.out_count) { return; }
  let base = kept_offset(o);
  var acc = ${IDENTITY[op]};
  for (var r = 0u; r < p.red_count; r++) {
    let v = src[base + reduced_offset(r)];
    acc = ${COMBINE[op]('acc', 'v')};
  }
  dst[o] = acc * p.scale;
}
`;
}

/**
 * One workgroup per (output element, split): threads stride over a chunk of the reduced elements,
 * then combine in workgroup memory. Splits spread a large reduction over many workgroups; their
 * partial results are reduced again by a second launch.
 */
export function reducePerWorkgroupWgsl(op: ReduceOp): string {
  return `${DECLS}
var<workgroup> partial: array<f32, ${REDUCE_WG}>;

@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x;
  let split = wid.y;
  let base = kept_offset(o);
  let start = split * p.chunk;
  let end = min(start + p.chunk, p.red_count);
  var acc = ${IDENTITY[op]};
  for (var r = start + lid; r < end; r += ${REDUCE_WG}u) {
    let v = src[base + reduced_offset(r)];
    acc = ${COMBINE[op]('acc', 'v')};
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = ${REDUCE_WG / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = ${COMBINE[op]('partial[lid]', 'partial[lid + stride]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[o * p.splits + split] = partial[0] * p.scale; }
}
`;
}
