import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const TV_WG = 256;
export type TotalVariationKind = 'squared' | 'abs';

/** The penalty on one neighbour difference d, and its derivative. */
const PENALTY: Record<TotalVariationKind, (d: string) => string> = {
  squared: (d) => `${d} * ${d}`,
  abs: (d) => `abs(${d})`,
};
const DERIVATIVE: Record<TotalVariationKind, (d: string) => string> = {
  squared: (d) => `2.0 * ${d}`,
  abs: (d) => `sign(${d})`,
};

/** Decodes a flat NHWC index into (x, y) for the neighbour tests; `c`, `w`, `h` are uniforms. */
const COORDS = `
  let rest = i / p.c;
  let x = rest % p.w;
  let y = (rest / p.w) % p.h;`;

/**
 * Stage 1 of the total variation: workgroup g sums, over elements [g·chunk, (g+1)·chunk), the
 * penalties of the differences to the right and lower neighbours (where they exist), and writes
 * one partial sum. Each element reads itself and two neighbours, so one pass does all the work.
 */
export function totalVariationPartialWgsl(kind: TotalVariationKind): string {
  return `
struct Params { n: u32, c: u32, w: u32, h: u32, chunk: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
var<workgroup> sums: array<f32, ${TV_WG}>;

@compute @workgroup_size(${TV_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.n);
  var acc = 0.0;
  for (var i = start + lid; i < end; i += ${TV_WG}u) {${COORDS}
    let v = src[i];
    if (x + 1u < p.w) {
      let d = src[i + p.c] - v;
      acc += ${PENALTY[kind]('d')};
    }
    if (y + 1u < p.h) {
      let d = src[i + p.w * p.c] - v;
      acc += ${PENALTY[kind]('d')};
    }
  }
  sums[lid] = acc;
  workgroupBarrier();
  for (var stride = ${TV_WG / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = sums[0]; }
}
`;
}

/** Stage 2: one workgroup adds the `m` partial sums into dst[0] (in a fixed order: deterministic). */
export function sumPartialsWgsl(): string {
  return `
struct Params { m: u32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
var<workgroup> sums: array<f32, ${TV_WG}>;

@compute @workgroup_size(${TV_WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < p.m; i += ${TV_WG}u) { acc += partials[i]; }
  sums[lid] = acc;
  workgroupBarrier();
  for (var stride = ${TV_WG / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[0] = sums[0]; }
}
`;
}

/**
 * Backward: ∂TV/∂x[y, x] = Σ over the (up to four) differences that involve the element of
 * ±penalty'(difference), times the upstream scalar gradient dy[0].
 */
export function totalVariationBackwardWgsl(kind: TotalVariationKind): string {
  const g = DERIVATIVE[kind];
  return `
struct Params { n: u32, c: u32, w: u32, h: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${TV_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(TV_WG)};
  if (i >= p.n) { return; }${COORDS}
  let v = src[i];
  let row = p.w * p.c;
  var acc = 0.0;
  if (x + 1u < p.w) { acc -= ${g(`(src[i + p.c] - v)`)}; }
  if (x > 0u) { acc += ${g(`(v - src[i - p.c])`)}; }
  if (y + 1u < p.h) { acc -= ${g(`(src[i + row] - v)`)}; }
  if (y > 0u) { acc += ${g(`(v - src[i - row])`)}; }
  dx[i] = acc * dy[0];
}
`;
}
