import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const LOSS_WG = 256;

/**
 * What one reduction stage sums: `sqdiff` Σ(a − b)², `squares` Σa², `sum` Σa (the second stage,
 * over the first stage's per-workgroup partial sums).
 */
export type LossReduction = 'sqdiff' | 'squares' | 'sum';

/**
 * A fused map-and-sum: workgroup w sums its chunk of the elements (each thread striding by the
 * workgroup size, then a tree in workgroup memory) and writes scale · Σ to dst[w]. With `vec4`
 * the operands are read four at a time (their length must be a multiple of 4; `n` counts vec4s).
 */
export function lossReduceWgsl(kind: LossReduction, vec4: boolean): string {
  const T = vec4 ? 'vec4f' : 'f32';
  const term = {
    sqdiff: vec4 ? 'let d = a[i] - b[i];\n    acc += dot(d, d);' : 'let d = a[i] - b[i];\n    acc += d * d;',
    squares: vec4 ? 'acc += dot(a[i], a[i]);' : 'acc += a[i] * a[i];',
    sum: vec4 ? 'acc += dot(a[i], vec4f(1.0));' : 'acc += a[i];',
  }[kind];
  return `
struct Params { n: u32, chunk: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> a: array<${T}>;
${kind === 'sqdiff' ? `@group(0) @binding(1) var<storage, read> b: array<${T}>;` : ''}
@group(0) @binding(${kind === 'sqdiff' ? 2 : 1}) var<storage, read_write> dst: array<f32>;
@group(0) @binding(${kind === 'sqdiff' ? 3 : 2}) var<uniform> p: Params;

var<workgroup> partial: array<f32, ${LOSS_WG}>;

@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let begin = wid.x * p.chunk;
  let end = min(begin + p.chunk, p.n);
  var acc = 0.0;
  for (var i = begin + lid; i < end; i += ${LOSS_WG}u) {
    ${term}
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = ${LOSS_WG / 2}u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { dst[wid.x] = partial[0] * p.scale; }
}
`;
}

/**
 * Gradient of a squared loss, elementwise: dst = scale · dy · (a − b) (`diff`) or scale · dy · a,
 * where dy is the scalar upstream gradient, read on the GPU.
 */
export function lossGradWgsl(diff: boolean): string {
  return `
struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
${diff ? '@group(0) @binding(2) var<storage, read> b: array<f32>;' : ''}
@group(0) @binding(${diff ? 3 : 2}) var<storage, read_write> dst: array<f32>;
@group(0) @binding(${diff ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${LOSS_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(LOSS_WG)};
  if (i >= p.n) { return; }
  dst[i] = p.scale * dy[0] * ${diff ? '(a[i] - b[i])' : 'a[i]'};
}
`;
}
