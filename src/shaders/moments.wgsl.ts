import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

/**
 * Mean and (biased) variance over the middle axis of x viewed as [P, R, Q]: the reduced axes of
 * an NHWC tensor are contiguous for the norms (H·W per sample and channel for instance norm,
 * N·H·W per channel for batch norm), so output (p, q) reduces x[p, 0..R, q] with stride Q.
 *
 * Numerically stable: each thread runs Welford's update over its elements and partial results
 * (count, mean, M2) are merged with Chan et al.'s pairwise formula; the sum of squares minus the
 * squared sum is never formed.
 */

export const MOMENTS_WG = 256;

const PARAMS = `struct Params { p_count: u32, r_count: u32, q_count: u32, chunk: u32, splits: u32 }`;

/** Chan's merge of two (count, mean, M2) triples. */
const MERGE = `
fn merge(a: vec3f, b: vec3f) -> vec3f {
  let n = a.x + b.x;
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let d = b.y - a.y;
  let f = b.x / n;
  return vec3f(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}
`;

/**
 * One workgroup per (Q tile, split, p): `lanes` threads side by side along Q (coalesced reads of
 * neighbouring channels) × 256/lanes rows striding over this split's chunk of R; a tree merge in
 * workgroup memory. `final` writes mean and variance; otherwise the triple goes to `part` for
 * `momentsMergeWgsl` (the reduction was split over several workgroups).
 */
export function momentsWorkgroupWgsl(lanes: number, final: boolean): string {
  const rows = MOMENTS_WG / lanes;
  const outputs = final
    ? `@group(0) @binding(1) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> var_out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`
    : `@group(0) @binding(1) var<storage, read_write> part: array<vec4f>;
@group(0) @binding(2) var<uniform> p: Params;`;
  const write = final
    ? `mean_out[o] = t.y;
    var_out[o] = select(t.z / t.x, 0.0, t.x == 0.0);`
    : `part[o * p.splits + split] = vec4f(t, 0.0);`;
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${outputs}

var<workgroup> stats: array<vec3f, ${MOMENTS_WG}>;
${MERGE}
@compute @workgroup_size(${MOMENTS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = wid.x * ${lanes}u + lid % ${lanes}u;
  let row = lid / ${lanes}u;
  let split = wid.y;
  let pi = wid.z;
  let r_begin = split * p.chunk;
  let r_end = min(r_begin + p.chunk, p.r_count);
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  if (q < p.q_count) {
    let base = pi * p.r_count * p.q_count + q;
    for (var r = r_begin + row; r < r_end; r += ${rows}u) {
      let v = x[base + r * p.q_count];
      n += 1.0;
      let d = v - mean;
      mean += d / n;
      m2 += d * (v - mean);
    }
  }
  stats[lid] = vec3f(n, mean, m2);
  workgroupBarrier();
  for (var stride = ${rows / 2}u; stride > 0u; stride = stride / 2u) {
    if (row < stride) { stats[lid] = merge(stats[lid], stats[lid + stride * ${lanes}u]); }
    workgroupBarrier();
  }
  if (row == 0u && q < p.q_count) {
    let o = pi * p.q_count + q;
    let t = stats[lid];
    ${write}
  }
}
`;
}

/** Second stage after a split reduction: one thread per output merges its `splits` partial triples. */
export function momentsMergeWgsl(): string {
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> part: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> var_out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
${MERGE}
@compute @workgroup_size(${MOMENTS_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let o = ${flatIndexWgsl(MOMENTS_WG)};
  if (o >= p.p_count * p.q_count) { return; }
  var t = vec3f(0.0);
  for (var s = 0u; s < p.splits; s++) { t = merge(t, part[o * p.splits + s].xyz); }
  mean_out[o] = t.y;
  var_out[o] = select(t.z / t.x, 0.0, t.x == 0.0);
}
`;
}

/**
 * One thread per output, two passes over its R elements (mean, then the sum of squared
 * deviations): for many outputs that each reduce few elements.
 */
export function momentsThreadWgsl(): string {
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> var_out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${MOMENTS_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let o = ${flatIndexWgsl(MOMENTS_WG)};
  if (o >= p.p_count * p.q_count) { return; }
  let pi = o / p.q_count;
  let q = o - pi * p.q_count;
  let base = pi * p.r_count * p.q_count + q;
  var s = 0.0;
  for (var r = 0u; r < p.r_count; r++) { s += x[base + r * p.q_count]; }
  let mean = s / f32(p.r_count);
  var ss = 0.0;
  for (var r = 0u; r < p.r_count; r++) {
    let d = x[base + r * p.q_count] - mean;
    ss += d * d;
  }
  mean_out[o] = mean;
  var_out[o] = ss / f32(p.r_count);
}
`;
}

/**
 * Backward rules over the same [P, R, Q] view, one thread per element of x:
 * `mean`: dx = scale · dy[p, q];  `variance`: dx = scale · (x − μ[p, q]) · dy[p, q].
 */
export function momentsGradWgsl(kind: 'mean' | 'variance'): string {
  const vari = kind === 'variance';
  return `
struct Params { n: u32, r_count: u32, q_count: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> dy: array<f32>;
${vari ? '@group(0) @binding(1) var<storage, read> x: array<f32>;\n@group(0) @binding(2) var<storage, read> mu: array<f32>;' : ''}
@group(0) @binding(${vari ? 3 : 1}) var<storage, read_write> dx: array<f32>;
@group(0) @binding(${vari ? 4 : 2}) var<uniform> p: Params;

@compute @workgroup_size(${MOMENTS_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(MOMENTS_WG)};
  if (i >= p.n) { return; }
  let q = i % p.q_count;
  let o = (i / (p.r_count * p.q_count)) * p.q_count + q;
  dx[i] = p.scale * ${vari ? '(x[i] - mu[o]) * dy[o]' : 'dy[o]'};
}
`;
}
