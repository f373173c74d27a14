import { f16Header } from '../common/f16.wgsl.ts';
import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../../gpu/grid.ts';
import { ACTIVATION, PARAMS, SRC_INDEX, type ConvGemmKind } from './common.wgsl.ts';

// ---------------------------------------------------------------------------------------------
// Direct kernels: one thread per output element. Used for depthwise-like convolutions (few
// channels per group), where a GEMM tile would be mostly empty, and as the naive baseline.
// ---------------------------------------------------------------------------------------------

export const CONV_DIRECT_WG = 64;

/**
 * `half`: f16 storage for x, w, bias and y with f32 accumulation (forward only; the caller checks
 * for 'shader-f16').
 */
export function convDirectWgsl(kind: ConvGemmKind, half = false): string {
  const idx = flatIndexWgsl(CONV_DIRECT_WG);
  if (half && kind !== 'fwd') throw new Error(`conv2d: f16 storage is implemented for the forward pass only, not '${kind}'`);
  if (kind === 'fwd') {
    const t = half ? 'f16' : 'f32';
    return `${f16Header(half)}${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<${t}>;
@group(0) @binding(1) var<storage, read> w: array<${t}>;
@group(0) @binding(2) var<storage, read> bias: array<${t}>;
@group(0) @binding(3) var<storage, read_write> y: array<${t}>;
@group(0) @binding(4) var<uniform> p: Params;
${SRC_INDEX}
${ACTIVATION}

@compute @workgroup_size(${CONV_DIRECT_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${idx};
  if (i >= p.batch * p.out_h * p.out_w * p.out_c) { return; }
  let co = i % p.out_c;
  let m = i / p.out_c;
  let wo = m % p.out_w;
  let ho = (m / p.out_w) % p.out_h;
  let n = (m / p.out_w) / p.out_h;
  let cbase = (co / p.cout_g) * p.cin_g;
  var acc = 0.0;
  for (var ky = 0u; ky < p.k_h; ky++) {
    let hi = src_index(i32(ho * p.stride + ky * p.dilation) - p.pad_top, p.in_h);
    if (hi < 0) { continue; }
    for (var kx = 0u; kx < p.k_w; kx++) {
      let wi = src_index(i32(wo * p.stride + kx * p.dilation) - p.pad_left, p.in_w);
      if (wi < 0) { continue; }
      let xb = ((n * p.in_h + u32(hi)) * p.in_w + u32(wi)) * p.in_c + cbase;
      let wb = (ky * p.k_w + kx) * p.cin_g * p.out_c + co;
      for (var ci = 0u; ci < p.cin_g; ci++) {
        acc = fma(f32(x[xb + ci]), f32(w[wb + ci * p.out_c]), acc);
      }
    }
  }
  if (p.has_bias != 0u) { acc += f32(bias[co]); }
  acc = activate(vec4f(acc)).x;
  y[i] = ${t}(acc);
}
`;
  }
  if (kind === 'dx') {
    return `${PARAMS}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${CONV_DIRECT_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${idx};
  if (i >= p.batch * p.in_h * p.in_w * p.in_c) { return; }
  let c = i % p.in_c;
  let m = i / p.in_c;
  let wp = i32(m % p.in_w) + p.pad_left;
  let hp = i32((m / p.in_w) % p.in_h) + p.pad_top;
  let n = (m / p.in_w) / p.in_h;
  let g = c / p.cin_g;
  let ci = c % p.cin_g;
  let smask = i32(p.stride) - 1;
  let sshift = p.stride - 1u;
  var acc = 0.0;
  for (var ky = 0u; ky < p.k_h; ky++) {
    let th = hp - i32(ky * p.dilation);
    if (th < 0 || (th & smask) != 0) { continue; }
    let ho = u32(th) >> sshift;
    if (ho >= p.out_h) { continue; }
    for (var kx = 0u; kx < p.k_w; kx++) {
      let tw = wp - i32(kx * p.dilation);
      if (tw < 0 || (tw & smask) != 0) { continue; }
      let wo = u32(tw) >> sshift;
      if (wo >= p.out_w) { continue; }
      let yb = ((n * p.out_h + ho) * p.out_w + wo) * p.out_c + g * p.cout_g;
      let wb = ((ky * p.k_w + kx) * p.cin_g + ci) * p.out_c + g * p.cout_g;
      for (var co = 0u; co < p.cout_g; co++) {
        acc = fma(dy[yb + co], w[wb + co], acc);
      }
    }
  }
  dx[i] = acc;
}
`;
  }
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
${SRC_INDEX}

@compute @workgroup_size(${CONV_DIRECT_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${idx};
  let wsize = p.k_h * p.k_w * p.cin_g * p.out_c;
  if (i >= wsize * p.n_tiles) { return; }
  let split = i / wsize;
  let wi_ = i % wsize;
  let co = wi_ % p.out_c;
  let r = wi_ / p.out_c;
  let ci = (co / p.cout_g) * p.cin_g + r % p.cin_g;
  let dh = i32(((r / p.cin_g) / p.k_w) * p.dilation) - p.pad_top;
  let dw_ = i32(((r / p.cin_g) % p.k_w) * p.dilation) - p.pad_left;
  let begin = split * p.k_chunk;
  let end = min(begin + p.k_chunk, p.gemm_k);
  var wo = begin % p.out_w;
  var ho = (begin / p.out_w) % p.out_h;
  var n = (begin / p.out_w) / p.out_h;
  var acc = 0.0;
  for (var pix = begin; pix < end; pix++) {
    let hi = src_index(i32(ho * p.stride) + dh, p.in_h);
    let wi = src_index(i32(wo * p.stride) + dw_, p.in_w);
    if (hi >= 0 && wi >= 0) {
      acc = fma(x[((n * p.in_h + u32(hi)) * p.in_w + u32(wi)) * p.in_c + ci], dy[pix * p.out_c + co], acc);
    }
    wo += 1u;
    if (wo == p.out_w) {
      wo = 0u;
      ho += 1u;
      if (ho == p.out_h) { ho = 0u; n += 1u; }
    }
  }
  dw[i] = acc;
}
`;
}

export const BIAS_GRAD_WG = 64;

/**
 * Bias gradient: partial[split, c] = Σ dy[pix, c] over a chunk of pixels. Threads run along
 * channels, so neighbouring threads read neighbouring addresses.
 */
export function biasGradWgsl(): string {
  return `
struct Params { pixels: u32, channels: u32, chunk: u32, splits: u32 }
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${BIAS_GRAD_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(BIAS_GRAD_WG)};
  if (i >= p.channels * p.splits) { return; }
  let c = i % p.channels;
  let split = i / p.channels;
  let begin = split * p.chunk;
  let end = min(begin + p.chunk, p.pixels);
  var acc = 0.0;
  for (var pix = begin; pix < end; pix++) {
    acc += dy[pix * p.channels + c];
  }
  partial[i] = acc;
}
`;
}
