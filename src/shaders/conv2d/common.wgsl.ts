import { storageArray } from '../common/f16.wgsl.ts';

/**
 * Convolution as an implicit GEMM. Three products share one tiled kernel skeleton:
 *
 *   forward      rows = output pixels (n, ho, wo)   cols = output channels   k = (ky, kx, ci)
 *   input grad   rows = input pixels (n, hi, wi)    cols = input channels    k = (ky, kx, co)
 *   filter grad  rows = weights (ky, kx, ci)        cols = output channels   k = output pixels
 *
 * with x NHWC, w HWIO [kh, kw, Cin/groups, Cout], y NHWC. The patch matrix is never materialised:
 * each workgroup stages a TM×TK tile of it and a TK×TN tile of the other operand in workgroup
 * memory, and each thread accumulates an RM×4 register block. Tiles are stored as vec4 either along
 * k ("k-inner", when the source is contiguous along k) or along rows/cols ("k-outer"), so every
 * global load and every workgroup-memory write is a whole vec4 (no component races).
 *
 * Index arithmetic along k is incremental: each load slot keeps its (ky, kx, channel) or pixel
 * coordinates and advances them by TK per step, so the inner loop has no integer divisions.
 * Reflect padding is folded into the index math (`src_index`) for the forward and filter gradient;
 * the input gradient of a reflect-padded conv is computed on the padded grid and folded by pad2d.
 */

export type ConvGemmKind = 'fwd' | 'dx' | 'dw';

/** Geometry shared by every convolution kernel (forward-conv terms: x → y). */
export const PARAMS = `
struct Params {
  batch: u32, in_h: u32, in_w: u32, in_c: u32,
  out_h: u32, out_w: u32, out_c: u32,
  k_h: u32, k_w: u32, stride: u32, dilation: u32,
  pad_top: i32, pad_left: i32, reflect: u32,
  groups: u32, cin_g: u32, cout_g: u32,
  gemm_m: u32, gemm_n: u32, gemm_k: u32,
  n_tiles: u32, k_chunk: u32, has_bias: u32, act: u32,
  sg_m: u32,
}`;

/** The fused activation of the forward epilogue: act 0 none, 1 relu, 2 relu6 (a uniform: one pipeline for all). */
export const ACTIVATION = `
fn activate(r: vec4f) -> vec4f {
  if (p.act == 1u) { return max(r, vec4f(0.0)); }
  if (p.act == 2u) { return clamp(r, vec4f(0.0), vec4f(6.0)); }
  return r;
}`;

/** Maps a padded coordinate to a source coordinate: mirrored (reflect) or -1 outside (zeros). */
export const SRC_INDEX = `
fn src_index(i: i32, n: u32) -> i32 {
  let ni = i32(n);
  if (p.reflect != 0u) {
    let j = abs(i);
    return select(j, 2 * ni - 2 - j, j >= ni);
  }
  return select(-1, i, i >= 0 && i < ni);
}`;


/** Storage array type of a conv operand: vec4 or scalar, f16 or f32. */
export const ARR = storageArray;

/** WGSL vector component names, by lane. */
export const lanes = ['x', 'y', 'z', 'w'];

export function range(n: number): number[] {
  return [...Array(n).keys()];
}

/** Stores `r` (a vec4f) at `index`: whole when `vec`, else lane by lane up to column gemm_n. */
export function store(buffer: string, index: string, col: string, vec: boolean, half = false): string {
  if (vec) return `if (${col} < p.gemm_n) { ${buffer}[(${index}) / 4u] = ${half ? 'vec4<f16>(r)' : 'r'}; }`;
  return [0, 1, 2, 3].map((j) => `if (${col} + ${j}u < p.gemm_n) { ${buffer}[${index} + ${j}u] = ${half ? `f16(r.${lanes[j]})` : `r.${lanes[j]}`}; }`).join('\n      ');
}
