import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const OPTIM_WG = 256;

/**
 * Adam, fused: one pass updates the moments and the parameter in place. Bias corrections are
 * folded into `step_size` and `eps_hat` on the CPU (they depend only on the step number).
 */
export function adamWgsl(): string {
  return `
struct Params { n: u32, beta1: f32, beta2: f32, step_size: f32, eps_hat: f32, weight_decay: f32 }
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(${OPTIM_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(OPTIM_WG)};
  if (i >= p.n) { return; }
  let g = grad[i] + p.weight_decay * param[i];
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] - p.step_size * mi / (sqrt(vi) + p.eps_hat);
}
`;
}

/**
 * y += scale · c · x, where c is a scalar living on the GPU (coef[0]); `use_coef` = 0 ignores it.
 * L-BFGS uses it so that its step coefficients never travel to the CPU.
 */
export function axpyWgsl(): string {
  return `
struct Params { n: u32, scale: f32, use_coef: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${OPTIM_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(OPTIM_WG)};
  if (i >= p.n) { return; }
  let c = select(1.0, coef[0], p.use_coef != 0u);
  y[i] = y[i] + p.scale * c * x[i];
}
`;
}

/** Partial dot products: each workgroup sums a strided share of a·b; a second pass adds the partials. */
export const DOT_WG = 256;
export function dotPartialsWgsl(): string {
  return `
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> acc: array<f32, ${DOT_WG}>;

@compute @workgroup_size(${DOT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  let stride = nwg.x * ${DOT_WG}u;
  for (var i = wid.x * ${DOT_WG}u + lid; i < p.n; i += stride) { s += a[i] * b[i]; }
  acc[lid] = s;
  workgroupBarrier();
  for (var k = ${DOT_WG / 2}u; k > 0u; k = k / 2u) {
    if (lid < k) { acc[lid] += acc[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid.x] = acc[0]; }
}
`;
}

/**
 * Scalar arithmetic on one-element tensors, for optimiser bookkeeping that stays on the GPU:
 * out = scale·a/b when cond > threshold, else fallback. (L-BFGS drops curvature pairs with y·s ≈ 0.)
 */
export function guardedRatioWgsl(): string {
  return `
struct Params { threshold: f32, scale: f32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> cond: array<f32>;
@group(0) @binding(3) var<storage, read> fallback: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(1)
fn main() {
  out[0] = select(fallback[0], p.scale * a[0] / b[0], cond[0] > p.threshold);
}
`;
}

/** Copies one-element tensors into consecutive slots of a small vector, so one readback fetches them all. */
export function gatherScalarWgsl(): string {
  return `
struct Params { index: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(1)
fn main() { dst[p.index] = src[0]; }
`;
}
