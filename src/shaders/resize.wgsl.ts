import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';
import type { DType } from '../gpu/tensor.ts';
import { nhwcAliases, nhwcCoordsWgsl, type VecWidth } from './common/nhwc.wgsl.ts';

export const RESIZE_WG = 256;

/**
 * Nearest-neighbour resize on NHWC. Along each axis, output index r reads input index
 * ⌊(a·r + b) / d⌋ in exact integer arithmetic; (a, b, d) encode every mode (plain, align-corners,
 * half-pixel-centres, integer upsampling; see `nearestAxisMap` in src/gpu/kernels/resize.ts).
 * `c` counts channel units: C, or C/4 in the vec4 variant.
 */
function declarations(dtype: DType, vec: VecWidth): string {
  return `${nhwcAliases(dtype, vec)}
struct Params {
  n: u32, c: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32,
  ah: u32, bh: u32, dh: u32, aw: u32, bw: u32, dw: u32,
}
`;
}

export function resizeNearestWgsl(dtype: DType, vec: VecWidth): string {
  return `${declarations(dtype, vec)}
@group(0) @binding(0) var<storage, read> src: array<S>;
@group(0) @binding(1) var<storage, read_write> dst: array<S>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${RESIZE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let o = ${flatIndexWgsl(RESIZE_WG)};
  if (o >= p.n) { return; }${nhwcCoordsWgsl('o', 'p.c', 'p.out_w', 'p.out_h', 'ox', 'oy')}
  let sy = min((p.ah * oy + p.bh) / p.dh, p.in_h - 1u);
  let sx = min((p.aw * ox + p.bw) / p.dw, p.in_w - 1u);
  dst[o] = src[((b * p.in_h + sy) * p.in_w + sx) * p.c + ch];
}
`;
}

/**
 * Backward as a gather: the outputs that read input index t along an axis form the range
 * [first(t), first(t + 1)), where first(t) is the least r with ⌊(a·r + b) / d⌋ ≥ t, i.e.
 * ⌈(t·d − b) / a⌉ clamped to [0, out]. Each input element sums dy over its rectangle; no atomics,
 * and the summation order is fixed (deterministic).
 */
export function resizeNearestBackwardWgsl(dtype: DType, vec: VecWidth): string {
  return `${declarations(dtype, vec)}
@group(0) @binding(0) var<storage, read> dy: array<S>;
@group(0) @binding(1) var<storage, read_write> dx: array<S>;
@group(0) @binding(2) var<uniform> p: Params;

fn first_output(t: u32, a: u32, b: u32, d: u32, out: u32) -> u32 {
  let goal = t * d;
  if (goal <= b) { return 0u; }
  if (a == 0u) { return out; }
  return min(out, (goal - b + a - 1u) / a);
}

@compute @workgroup_size(${RESIZE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(RESIZE_WG)};
  if (i >= p.n) { return; }${nhwcCoordsWgsl('i', 'p.c', 'p.in_w', 'p.in_h', 'ix', 'iy')}
  let y0 = first_output(iy, p.ah, p.bh, p.dh, p.out_h);
  // The last input index also takes outputs the forward clamps onto it.
  let y1 = select(first_output(iy + 1u, p.ah, p.bh, p.dh, p.out_h), p.out_h, iy + 1u == p.in_h);
  let x0 = first_output(ix, p.aw, p.bw, p.dw, p.out_w);
  let x1 = select(first_output(ix + 1u, p.aw, p.bw, p.dw, p.out_w), p.out_w, ix + 1u == p.in_w);
  var acc = V(0.0);
  for (var y = y0; y < y1; y++) {
    let row = (b * p.out_h + y) * p.out_w;
    for (var x = x0; x < x1; x++) {
      acc += V(dy[(row + x) * p.c + ch]);
    }
  }
  dx[i] = S(acc);
}
`;
}

/**
 * Integer-factor upsampling, forward and backward, one invocation per input element (`c` in
 * channel units as above): the forward copies it to its fh×fw output block, the backward sums dy
 * over that block in the same row-major order as the gather above. Two integer divisions per input
 * element, none when the channel count is a power of two, instead of eight per output element.
 */
export function upsampleNearestWgsl(dtype: DType, vec: VecWidth, backward: boolean): string {
  const body = backward
    ? `
  var acc = V(0.0);
  for (var i = 0u; i < p.fh; i++) {
    for (var j = 0u; j < p.fw; j++) {
      acc += V(dy[o + i * down + j * p.c]);
    }
  }
  dx[t] = S(acc);`
    : `
  let v = src[t];
  for (var i = 0u; i < p.fh; i++) {
    for (var j = 0u; j < p.fw; j++) {
      dst[o + i * down + j * p.c] = v;
    }
  }`;
  const buffers = backward
    ? `@group(0) @binding(0) var<storage, read> dy: array<S>;
@group(0) @binding(1) var<storage, read_write> dx: array<S>;`
    : `@group(0) @binding(0) var<storage, read> src: array<S>;
@group(0) @binding(1) var<storage, read_write> dst: array<S>;`;
  return `${nhwcAliases(dtype, vec)}
struct Params { threads: u32, c: u32, c_pow2: u32, c_shift: u32, w: u32, fh: u32, fw: u32 }
${buffers}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${RESIZE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let t = ${flatIndexWgsl(RESIZE_WG)};
  if (t >= p.threads) { return; }
  var ch: u32;
  var q: u32;
  if (p.c_pow2 != 0u) {
    ch = t & (p.c - 1u);
    q = t >> p.c_shift;
  } else {
    ch = t % p.c;
    q = t / p.c;
  }
  let x = q % p.w;
  let row = q / p.w; // b·H + y: output rows fh·row .. fh·row + fh − 1
  let down = p.fw * p.w * p.c;
  let o = row * p.fh * down + x * p.fw * p.c + ch;${body}
}
`;
}
