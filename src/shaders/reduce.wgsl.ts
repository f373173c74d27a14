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
const PARAMS = `
struct Params {
  out_count: u32, red_count: u32, chunk: u32, splits: u32, scale: f32,
  kept_dims: array<vec4u, 2>, kept_strides: array<vec4u, 2>,
  red_dims: array<vec4u, 2>, red_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
`;

const GENERIC_OFFSETS = `
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

/**
 * Ranks of a collapsed reduction (see `collapseReduction`) the kernels are specialised to: the
 * offset functions are unrolled over exactly that many axes (held in the last lanes of the padded
 * uniform arrays), so a contiguous reduced block costs no division per element at all. Without
 * ranks the kernels decode all 8 lanes.
 */
export interface ReduceRanks {
  kept: number;
  reduced: number;
}

/** `fn name(i) -> offset` over `rank` axes in lanes 8 − rank .. 7 of `dims` / `strides`. */
function unrolledOffset(name: string, rank: number, dims: string, strides: string): string {
  const lane = (j: number) => `[${Math.floor((8 - rank + j) / 4)}][${(8 - rank + j) % 4}]`;
  const lines: string[] = [];
  for (let j = rank - 1; j >= 1; j--) {
    lines.push(`  off += (rest % p.${dims}${lane(j)}) * p.${strides}${lane(j)};`, `  rest = rest / p.${dims}${lane(j)};`);
  }
  if (rank >= 1) lines.push(`  off += rest * p.${strides}${lane(0)};`);
  return `
fn ${name}(i: u32) -> u32 {
  var rest = i;
  var off = 0u;
${lines.join('\n')}
  return off;
}
`;
}

function decls(ranks?: ReduceRanks): string {
  if (!ranks) return PARAMS + GENERIC_OFFSETS;
  return PARAMS + unrolledOffset('kept_offset', ranks.kept, 'kept_dims', 'kept_strides') + unrolledOffset('reduced_offset', ranks.reduced, 'red_dims', 'red_strides');
}

/** One thread per output element: for many outputs with few reduced elements each. */
export function reducePerThreadWgsl(op: ReduceOp, ranks?: ReduceRanks): string {
  return `${decls(ranks)}
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
export function reducePerWorkgroupWgsl(op: ReduceOp, ranks?: ReduceRanks): string {
  return `${decls(ranks)}
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

/**
 * Rows of x viewed as [P, R] with R a multiple of 4, read as vec4s (a quarter of the loads, which
 * dominate on CPU-emulated GPUs): one workgroup per (row, split) combines its chunk of `chunk4`
 * vec4s, then the workgroup's tree. The result goes to dst[row · splits + split].
 */
export function reduceRowsVec4Wgsl(op: ReduceOp): string {
  return `
struct Params { row4: u32, chunk4: u32, splits: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> partial: array<f32, ${REDUCE_WG}>;

@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  let split = wid.y;
  let base = row * p.row4;
  let end = min((split + 1u) * p.chunk4, p.row4);
  var acc = vec4f(${IDENTITY[op]});
  for (var r = split * p.chunk4 + lid; r < end; r += ${REDUCE_WG}u) {
    acc = ${COMBINE[op]('acc', 'src[base + r]')};
  }
  partial[lid] = ${COMBINE[op](COMBINE[op]('acc.x', 'acc.y'), COMBINE[op]('acc.z', 'acc.w'))};
  workgroupBarrier();
  for (var stride = ${REDUCE_WG / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = ${COMBINE[op]('partial[lid]', 'partial[lid + stride]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[row * p.splits + split] = partial[0] * p.scale; }
}
`;
}

export const COLUMNS_WG = 256;

/**
 * Reduction over the middle axis of x viewed as [P, R, Q] with Q > 1: the reduced axes are outer
 * to (some of) the kept ones, as for sums over N, H, W of an NHWC tensor ([1, N·H·W, C]).
 * One workgroup per (Q tile, split, p): `lanes` threads side by side along Q read neighbouring
 * columns (coalesced), 256 / lanes rows of threads stride over this split's chunk of R, then a
 * tree in workgroup memory combines the rows. The result for (p, split, q) goes to
 * `dst[(p · splits + split) · Q + q]`: the output itself when there is one split, else partials
 * laid out as [P, splits, Q] that this same kernel reduces again.
 */
export function reduceColumnsWgsl(op: ReduceOp, lanes: number): string {
  const rows = COLUMNS_WG / lanes;
  return `
struct Params { p_count: u32, r_count: u32, q_count: u32, chunk: u32, splits: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> partial: array<f32, ${COLUMNS_WG}>;

@compute @workgroup_size(${COLUMNS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = wid.x * ${lanes}u + lid % ${lanes}u;
  let row = lid / ${lanes}u;
  let split = wid.y;
  let pi = wid.z;
  let r_begin = split * p.chunk;
  let r_end = min(r_begin + p.chunk, p.r_count);
  var acc = ${IDENTITY[op]};
  if (q < p.q_count) {
    let base = pi * p.r_count * p.q_count + q;
    for (var r = r_begin + row; r < r_end; r += ${rows}u) {
      let v = src[base + r * p.q_count];
      acc = ${COMBINE[op]('acc', 'v')};
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = ${rows / 2}u; stride > 0u; stride = stride / 2u) {
    if (row < stride) { partial[lid] = ${COMBINE[op]('partial[lid]', `partial[lid + stride * ${lanes}u]`)}; }
    workgroupBarrier();
  }
  if (row == 0u && q < p.q_count) {
    dst[(pi * p.splits + split) * p.q_count + q] = partial[lid] * p.scale;
  }
}
`;
}
