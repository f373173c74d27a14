import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const PAD_WG = 256;

/**
 * Spatial padding of NHWC tensors. `vec` variants move four channels at once (C % 4 == 0); then
 * `channels` counts vec4 groups. Reflect mirrors about the edge pixel without repeating it
 * (PyTorch ReflectionPad2d, TF MIRROR_PAD REFLECT); pads are smaller than the padded dimension.
 */
const PARAMS = `
struct Params {
  batch: u32, in_h: u32, in_w: u32, channels: u32,
  out_h: u32, out_w: u32, top: u32, left: u32, reflect: u32,
}`;

function elem(vec: boolean): string {
  return vec ? 'vec4f' : 'f32';
}

/** y[n, ph, pw, c] = x[n, mirror(ph - top), mirror(pw - left), c], or 0 outside for zero padding. */
export function pad2dWgsl(vec: boolean): string {
  const T = elem(vec);
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> y: array<${T}>;
@group(0) @binding(2) var<uniform> p: Params;

fn source(i: i32, n: u32) -> i32 {
  let ni = i32(n);
  if (p.reflect != 0u) {
    let j = abs(i);
    return select(j, 2 * ni - 2 - j, j >= ni);
  }
  return select(-1, i, i >= 0 && i < ni);
}

@compute @workgroup_size(${PAD_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(PAD_WG)};
  if (i >= p.batch * p.out_h * p.out_w * p.channels) { return; }
  let c = i % p.channels;
  let m = i / p.channels;
  let pw = m % p.out_w;
  let ph = (m / p.out_w) % p.out_h;
  let n = (m / p.out_w) / p.out_h;
  let h = source(i32(ph) - i32(p.top), p.in_h);
  let w = source(i32(pw) - i32(p.left), p.in_w);
  var v = ${T}(0.0);
  if (h >= 0 && w >= 0) { v = x[((n * p.in_h + u32(h)) * p.in_w + u32(w)) * p.channels + c]; }
  y[i] = v;
}
`;
}

/**
 * The adjoint of pad2d, one thread per input element: dx gathers dy at every padded position that
 * reads it — the position itself, plus (reflect) its mirror images above/left and below/right.
 * With pad < dim each axis contributes at most three positions, so no atomics are needed.
 */
export function pad2dBackwardWgsl(vec: boolean): string {
  const T = elem(vec);
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> dy: array<${T}>;
@group(0) @binding(1) var<storage, read_write> dx: array<${T}>;
@group(0) @binding(2) var<uniform> p: Params;

/** Padded coordinates reading source coordinate i (-1 when absent): direct, low mirror, high mirror. */
fn images(i: u32, n: u32, lo: u32, padded: u32) -> vec3i {
  var r = vec3i(i32(i + lo), -1, -1);
  if (p.reflect != 0u) {
    // low mirror: padded q < lo reads lo - q, so q = lo - i for 1 <= i <= lo
    if (i >= 1u && i <= lo) { r.y = i32(lo - i); }
    // high mirror: padded q >= lo + n reads 2(n - 1) - (q - lo), so q = lo + 2(n - 1) - i
    let q = i32(lo + 2u * (n - 1u)) - i32(i);
    if (i + 1u < n && q >= i32(lo + n) && q < i32(padded)) { r.z = q; }
  }
  return r;
}

@compute @workgroup_size(${PAD_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(PAD_WG)};
  if (i >= p.batch * p.in_h * p.in_w * p.channels) { return; }
  let c = i % p.channels;
  let m = i / p.channels;
  let w = m % p.in_w;
  let h = (m / p.in_w) % p.in_h;
  let n = (m / p.in_w) / p.in_h;
  let hs = images(h, p.in_h, p.top, p.out_h);
  let ws = images(w, p.in_w, p.left, p.out_w);
  var acc = ${T}(0.0);
  for (var a = 0u; a < 3u; a++) {
    let ph = hs[a];
    if (ph < 0) { continue; }
    for (var b = 0u; b < 3u; b++) {
      let pw = ws[b];
      if (pw < 0) { continue; }
      acc += dy[((n * p.out_h + u32(ph)) * p.out_w + u32(pw)) * p.channels + c];
    }
  }
  dx[i] = acc;
}
`;
}
