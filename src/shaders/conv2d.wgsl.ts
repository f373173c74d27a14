import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

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

export interface ConvTile {
  /** Rows per workgroup tile. */
  tm: number;
  /** Columns per workgroup tile. */
  tn: number;
  /** Reduction depth staged per step. */
  tk: number;
  /** Rows per thread (a multiple of 4). */
  rm: number;
  /** Columns per thread (a multiple of 4). */
  rn: number;
}

export interface ConvGemmVariant {
  kind: ConvGemmKind;
  tile: ConvTile;
  /** Operand A is read as vec4 (its contiguous axis has a multiple of 4 channels). */
  vecA: boolean;
  /** Operand B is read as vec4. */
  vecB: boolean;
  /** The result is written as vec4. */
  vecC: boolean;
}

export function convTileThreads(t: ConvTile): number {
  return (t.tm / t.rm) * (t.tn / t.rn);
}

export function convTileBytes(t: ConvTile): number {
  return (t.tm + t.tn) * t.tk * 4;
}

export function convVariantKey(v: ConvGemmVariant): string {
  const t = v.tile;
  return `${t.tm}x${t.tn}x${t.tk}r${t.rm}x${t.rn}_${v.vecA ? 'a4' : 'a1'}${v.vecB ? 'b4' : 'b1'}${v.vecC ? 'c4' : 'c1'}`;
}

/** Geometry shared by every convolution kernel (forward-conv terms: x → y). */
const PARAMS = `
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
const ACTIVATION = `
fn activate(r: vec4f) -> vec4f {
  if (p.act == 1u) { return max(r, vec4f(0.0)); }
  if (p.act == 2u) { return clamp(r, vec4f(0.0), vec4f(6.0)); }
  return r;
}`;

/** Maps a padded coordinate to a source coordinate: mirrored (reflect) or -1 outside (zeros). */
const SRC_INDEX = `
fn src_index(i: i32, n: u32) -> i32 {
  let ni = i32(n);
  if (p.reflect != 0u) {
    let j = abs(i);
    return select(j, 2 * ni - 2 - j, j >= ni);
  }
  return select(-1, i, i >= 0 && i < ni);
}`;

const ARR = (vec: boolean, half = false) => (half ? (vec ? 'array<vec4<f16>>' : 'array<f16>') : vec ? 'array<vec4f>' : 'array<f32>');

/** Code for one operand: per-slot setup before the k loop, the load inside it, the advance after. */
interface OperandCode {
  setup: string;
  load: string;
  advance: string;
}

/** Generates `count` load slots for `threads` invocations (count and threads are powers of two). */
function slots(prefix: string, count: number, threads: number, body: (s: number, l: string) => OperandCode): OperandCode {
  const n = Math.max(1, count / threads);
  const guard = count < threads;
  const parts: OperandCode = { setup: '', load: '', advance: '' };
  for (let s = 0; s < n; s++) {
    const l = `${prefix}${s}`;
    const c = body(s, l);
    parts.setup += c.setup;
    parts.load += guard ? `\n    if (${l} < ${count}u) {${c.load}\n    }` : c.load;
    parts.advance += c.advance;
  }
  return parts;
}

/** WGSL that advances a (channel, kx, ky) triple by TK along a k axis ordered (ky, kx, channel). */
function advanceKCoords(ch: string, kx: string, ky: string, channels: string, tk: number): string {
  return `
  ${ch} += ${tk}u;
  loop {
    if (${ch} < ${channels}) { break; }
    ${ch} -= ${channels};
    ${kx} += 1u;
    if (${kx} == p.k_w) { ${kx} = 0u; ${ky} += 1u; }
  }`;
}

/** WGSL that decodes k index `kk` into (channel, kx, ky) variables. */
function decodeKCoords(kk: string, ch: string, kx: string, ky: string, channels: string): string {
  return `
  var ${ch} = ${kk} % ${channels};
  var ${kx} = (${kk} / ${channels}) % p.k_w;
  var ${ky} = (${kk} / ${channels}) / p.k_w;`;
}

const lanes = ['x', 'y', 'z', 'w'];

// ---------------------------------------------------------------------------------------------
// Operand loaders for each kind.
// ---------------------------------------------------------------------------------------------

/** Forward, A = input patches, k-inner along ci. */
function fwdA(v: ConvGemmVariant, threads: number): OperandCode {
  const { tk } = v.tile;
  const count = (v.tile.tm * tk) / 4;
  return slots('la', count, threads, (s, l) => {
    const js = v.vecA ? [0] : [0, 1, 2, 3];
    let setup = `
  let ${l} = lid + ${s * threads}u;
  let ma${s} = tile_m + ${l} / ${tk / 4}u;
  let ka${s} = (${l} % ${tk / 4}u) * 4u;
  let okm${s} = ma${s} < p.gemm_m;
  let h0_${s} = i32(((ma${s} / p.out_w) % p.out_h) * p.stride) - p.pad_top;
  let w0_${s} = i32((ma${s} % p.out_w) * p.stride) - p.pad_left;
  let nb${s} = ((ma${s} / p.out_w) / p.out_h) * p.in_h;`;
    let load = `
    {
      var v = vec4f(0.0);`;
    let advance = '';
    for (const j of js) {
      const c = `a${s}_${j}`;
      setup += decodeKCoords(`(k_begin + ka${s} + ${j}u)`, `ci_${c}`, `kx_${c}`, `ky_${c}`, 'p.cin_g');
      const read = v.vecA
        ? `v = x[(((nb${s} + u32(hi)) * p.in_w + u32(wi)) * p.in_c + g * p.cin_g + ci_${c}) / 4u];`
        : `v.${lanes[j]} = x[((nb${s} + u32(hi)) * p.in_w + u32(wi)) * p.in_c + g * p.cin_g + ci_${c}];`;
      load += `
      if (okm${s} && kt + ka${s} + ${j}u < k_end) {
        let hi = src_index(h0_${s} + i32(ky_${c} * p.dilation), p.in_h);
        let wi = src_index(w0_${s} + i32(kx_${c} * p.dilation), p.in_w);
        if (hi >= 0 && wi >= 0) { ${read} }
      }`;
      advance += advanceKCoords(`ci_${c}`, `kx_${c}`, `ky_${c}`, 'p.cin_g', tk);
    }
    load += `
      tile_a[${l}] = v;
    }`;
    return { setup, load, advance };
  });
}

/**
 * B = a row-major [k, out_c] matrix read k-outer, vec4 along the output channels of group g: the
 * weights (forward, k = window tap × channel) or dy (filter gradient, k = pixel). `array` names the
 * binding, `kName` the row variable the read uses.
 */
function kOuterB(v: ConvGemmVariant, threads: number, array: 'w' | 'dy', kName: 'kk' | 'pix'): OperandCode {
  const { tn, tk } = v.tile;
  const count = (tn * tk) / 4;
  return slots('lb', count, threads, (s, l) => {
    const setup = `
  let ${l} = lid + ${s * threads}u;
  let kb${s} = ${l} / ${tn / 4}u;
  let cb${s} = tile_n + (${l} % ${tn / 4}u) * 4u;`;
    const read = v.vecB
      ? `if (cb${s} < p.gemm_n) { v = ${array}[(${kName} * p.out_c + g * p.cout_g + cb${s}) / 4u]; }`
      : [0, 1, 2, 3].map((j) => `if (cb${s} + ${j}u < p.gemm_n) { v.${lanes[j]} = ${array}[${kName} * p.out_c + g * p.cout_g + cb${s} + ${j}u]; }`).join('\n        ');
    const load = `
    {
      var v = vec4f(0.0);
      let ${kName} = kt + kb${s};
      if (${kName} < k_end) {
        ${read}
      }
      tile_b[${l}] = v;
    }`;
    return { setup, load, advance: '' };
  });
}

/** Input gradient, A = dy gathered through the transposed window, k-inner along co. */
function dxA(v: ConvGemmVariant, threads: number): OperandCode {
  const { tk } = v.tile;
  const count = (v.tile.tm * tk) / 4;
  return slots('la', count, threads, (s, l) => {
    const js = v.vecA ? [0] : [0, 1, 2, 3];
    let setup = `
  let ${l} = lid + ${s * threads}u;
  let ma${s} = tile_m + ${l} / ${tk / 4}u;
  let ka${s} = (${l} % ${tk / 4}u) * 4u;
  let okm${s} = ma${s} < p.gemm_m;
  let hb${s} = i32((ma${s} / p.in_w) % p.in_h) + p.pad_top;
  let wb${s} = i32(ma${s} % p.in_w) + p.pad_left;
  let nb${s} = ((ma${s} / p.in_w) / p.in_h) * p.out_h;`;
    let load = `
    {
      var v = vec4f(0.0);`;
    let advance = '';
    for (const j of js) {
      const c = `a${s}_${j}`;
      setup += decodeKCoords(`(k_begin + ka${s} + ${j}u)`, `co_${c}`, `kx_${c}`, `ky_${c}`, 'p.cout_g');
      const read = v.vecA
        ? `v = dy[(((nb${s} + ho) * p.out_w + wo) * p.out_c + g * p.cout_g + co_${c}) / 4u];`
        : `v.${lanes[j]} = dy[((nb${s} + ho) * p.out_w + wo) * p.out_c + g * p.cout_g + co_${c}];`;
      load += `
      if (okm${s} && kt + ka${s} + ${j}u < k_end) {
        let th = hb${s} - i32(ky_${c} * p.dilation);
        let tw = wb${s} - i32(kx_${c} * p.dilation);
        if (th >= 0 && tw >= 0 && ((th | tw) & smask) == 0) {
          let ho = u32(th) >> sshift;
          let wo = u32(tw) >> sshift;
          if (ho < p.out_h && wo < p.out_w) { ${read} }
        }
      }`;
      advance += advanceKCoords(`co_${c}`, `kx_${c}`, `ky_${c}`, 'p.cout_g', tk);
    }
    load += `
      tile_a[${l}] = v;
    }`;
    return { setup, load, advance };
  });
}

/** Input gradient, B = weights seen as [k = (ky, kx, co), ci], k-inner (contiguous along co). */
function dxB(v: ConvGemmVariant, threads: number): OperandCode {
  const { tk } = v.tile;
  const count = (v.tile.tn * tk) / 4;
  return slots('lb', count, threads, (s, l) => {
    const js = v.vecB ? [0] : [0, 1, 2, 3];
    let setup = `
  let ${l} = lid + ${s * threads}u;
  let cb${s} = tile_n + ${l} / ${tk / 4}u;
  let kb${s} = (${l} % ${tk / 4}u) * 4u;`;
    let load = `
    {
      var v = vec4f(0.0);`;
    let advance = '';
    for (const j of js) {
      const c = `b${s}_${j}`;
      setup += `
  var co_${c} = (k_begin + kb${s} + ${j}u) % p.cout_g;
  var kp_${c} = (k_begin + kb${s} + ${j}u) / p.cout_g;`;
      const read = v.vecB
        ? `v = w[((kp_${c} * p.cin_g + cb${s}) * p.out_c + g * p.cout_g + co_${c}) / 4u];`
        : `v.${lanes[j]} = w[(kp_${c} * p.cin_g + cb${s}) * p.out_c + g * p.cout_g + co_${c}];`;
      load += `
      if (cb${s} < p.gemm_n && kt + kb${s} + ${j}u < k_end) { ${read} }`;
      advance += `
  co_${c} += ${tk}u;
  loop {
    if (co_${c} < p.cout_g) { break; }
    co_${c} -= p.cout_g;
    kp_${c} += 1u;
  }`;
    }
    load += `
      tile_b[${l}] = v;
    }`;
    return { setup, load, advance };
  });
}

/** Filter gradient, A = input patches seen as [rows = (ky, kx, ci), k = pixel], k-outer (vec4 along ci). */
function dwA(v: ConvGemmVariant, threads: number): OperandCode {
  const { tm, tk } = v.tile;
  const count = (tm * tk) / 4;
  return slots('la', count, threads, (s, l) => {
    const js = v.vecA ? [0] : [0, 1, 2, 3];
    let setup = `
  let ${l} = lid + ${s * threads}u;
  let ka${s} = ${l} / ${tm / 4}u;
  let ra${s} = tile_m + (${l} % ${tm / 4}u) * 4u;
  var pix${s} = k_begin + ka${s};
  var wo${s} = pix${s} % p.out_w;
  var ho${s} = (pix${s} / p.out_w) % p.out_h;
  var n${s} = (pix${s} / p.out_w) / p.out_h;`;
    let load = `
    {
      var v = vec4f(0.0);
      if (pix${s} < k_end) {
        let hs = i32(ho${s} * p.stride);
        let ws = i32(wo${s} * p.stride);`;
    for (const j of js) {
      const c = `a${s}_${j}`;
      setup += `
  let r_${c} = ra${s} + ${j}u;
  let ok_${c} = r_${c} < p.gemm_m;
  let ci_${c} = r_${c} % p.cin_g;
  let dh_${c} = i32(((r_${c} / p.cin_g) / p.k_w) * p.dilation) - p.pad_top;
  let dw_${c} = i32(((r_${c} / p.cin_g) % p.k_w) * p.dilation) - p.pad_left;`;
      const read = v.vecA
        ? `v = x[(((n${s} * p.in_h + u32(hi)) * p.in_w + u32(wi)) * p.in_c + g * p.cin_g + ci_${c}) / 4u];`
        : `v.${lanes[j]} = x[((n${s} * p.in_h + u32(hi)) * p.in_w + u32(wi)) * p.in_c + g * p.cin_g + ci_${c}];`;
      load += `
        if (ok_${c}) {
          let hi = src_index(hs + dh_${c}, p.in_h);
          let wi = src_index(ws + dw_${c}, p.in_w);
          if (hi >= 0 && wi >= 0) { ${read} }
        }`;
    }
    load += `
      }
      tile_a[${l}] = v;
    }`;
    const advance = `
  pix${s} += ${tk}u;
  wo${s} += ${tk}u;
  loop {
    if (wo${s} < p.out_w) { break; }
    wo${s} -= p.out_w;
    ho${s} += 1u;
    if (ho${s} == p.out_h) { ho${s} = 0u; n${s} += 1u; }
  }`;
    return { setup, load, advance };
  });
}

// ---------------------------------------------------------------------------------------------
// The shared skeleton: tile loop, compute loop, epilogue.
// ---------------------------------------------------------------------------------------------

/** The multiply-accumulate over one staged tile for each combination of operand layouts. */
function computeLoop(kind: ConvGemmKind, t: ConvTile): string {
  const { tm, tn, tk, rm, rn } = t;
  const rows = [...Array(rm).keys()];
  const col4s = [...Array(rn / 4).keys()];
  let code = '';
  if (kind === 'fwd') {
    // A k-inner, B k-outer: acc[i][j4] += Σ_kk a_i[kk] · b[kk][j4]
    for (let k4 = 0; k4 < tk / 4; k4++) {
      code += `
    {`;
      for (let kk = 0; kk < 4; kk++) for (const j4 of col4s) code += `
      let b${kk}_${j4} = tile_b[${(k4 * 4 + kk) * (tn / 4) + j4}u + col0 / 4u];`;
      for (const i of rows) {
        code += `
      let a${i} = tile_a[(row0 + ${i}u) * ${tk / 4}u + ${k4}u];`;
        for (const j4 of col4s) code += `
      acc${i}_${j4} = fma(vec4f(a${i}.w), b3_${j4}, fma(vec4f(a${i}.z), b2_${j4}, fma(vec4f(a${i}.y), b1_${j4}, fma(vec4f(a${i}.x), b0_${j4}, acc${i}_${j4}))));`;
      }
      code += `
    }`;
    }
  } else if (kind === 'dx') {
    // A and B k-inner: acc[i][j] += dot(a_i, b_j)
    for (let k4 = 0; k4 < tk / 4; k4++) {
      code += `
    {`;
      for (let j = 0; j < rn; j++) code += `
      let b${j} = tile_b[(col0 + ${j}u) * ${tk / 4}u + ${k4}u];`;
      for (const i of rows) {
        code += `
      let a${i} = tile_a[(row0 + ${i}u) * ${tk / 4}u + ${k4}u];`;
        for (const j4 of col4s) code += `
      acc${i}_${j4} += vec4f(dot(a${i}, b${j4 * 4}), dot(a${i}, b${j4 * 4 + 1}), dot(a${i}, b${j4 * 4 + 2}), dot(a${i}, b${j4 * 4 + 3}));`;
      }
      code += `
    }`;
    }
  } else {
    // A and B k-outer: outer products acc[i][j4] += a[i] · b[j4]
    code += `
    for (var k = 0u; k < ${tk}u; k++) {`;
    for (const j4 of col4s) code += `
      let b${j4} = tile_b[k * ${tn / 4}u + col0 / 4u + ${j4}u];`;
    for (let i4 = 0; i4 < rm / 4; i4++) {
      code += `
      let a${i4} = tile_a[k * ${tm / 4}u + row0 / 4u + ${i4}u];`;
      for (let j = 0; j < 4; j++) for (const j4 of col4s) code += `
      acc${i4 * 4 + j}_${j4} = fma(vec4f(a${i4}.${lanes[j]}), b${j4}, acc${i4 * 4 + j}_${j4});`;
    }
    code += `
    }`;
  }
  return code;
}

function epilogue(v: ConvGemmVariant): string {
  const rows = [...Array(v.tile.rm).keys()];
  const col4s = [...Array(v.tile.rn / 4).keys()];
  let code = '';
  for (const j4 of col4s) {
    code += `
  {
    let col = tile_n + col0 + ${j4 * 4}u;`;
    if (v.kind === 'fwd') {
      code += `
    var bv = vec4f(0.0);
    ${v.vecC
      ? `if (p.has_bias != 0u && col < p.gemm_n) { bv = bias[(g * p.cout_g + col) / 4u]; }`
      : [0, 1, 2, 3].map((j) => `if (p.has_bias != 0u && col + ${j}u < p.gemm_n) { bv.${lanes[j]} = bias[g * p.cout_g + col + ${j}u]; }`).join('\n    ')}`;
    }
    for (const i of rows) {
      const target =
        v.kind === 'fwd'
          ? store('y', 'm * p.out_c + g * p.cout_g + col', 'col', v.vecC)
          : v.kind === 'dx'
            ? store('dx', 'm * p.in_c + g * p.cin_g + col', 'col', v.vecC)
            : store('dw', 'split * p.gemm_m * p.out_c + m * p.out_c + g * p.cout_g + col', 'col', v.vecC);
      const value = v.kind === 'fwd' ? `let r = activate(acc${i}_${j4} + bv);` : `let r = acc${i}_${j4};`;
      code += `
    {
      let m = tile_m + row0 + ${i}u;
      ${value}
      if (m < p.gemm_m) {
        ${target}
      }
    }`;
    }
    code += `
  }`;
  }
  return code;
}

function store(buffer: string, index: string, col: string, vec: boolean, half = false): string {
  if (vec) return `if (${col} < p.gemm_n) { ${buffer}[(${index}) / 4u] = ${half ? 'vec4<f16>(r)' : 'r'}; }`;
  return [0, 1, 2, 3].map((j) => `if (${col} + ${j}u < p.gemm_n) { ${buffer}[${index} + ${j}u] = ${half ? `f16(r.${lanes[j]})` : `r.${lanes[j]}`}; }`).join('\n      ');
}

/** The tiled implicit-GEMM convolution kernel for one kind and variant. */
export function convGemmWgsl(v: ConvGemmVariant): string {
  const t = v.tile;
  const threads = convTileThreads(t);
  if (threads > 256 || convTileBytes(t) > 16384 || t.rm % 4 !== 0 || t.rn % 4 !== 0 || t.tk % 4 !== 0) {
    throw new Error(`conv2d: invalid tile ${JSON.stringify(t)}`);
  }
  let bindings: string;
  let a: OperandCode;
  let b: OperandCode;
  if (v.kind === 'fwd') {
    bindings = `
@group(0) @binding(0) var<storage, read> x: ${ARR(v.vecA)};
@group(0) @binding(1) var<storage, read> w: ${ARR(v.vecB)};
@group(0) @binding(2) var<storage, read> bias: ${ARR(v.vecC)};
@group(0) @binding(3) var<storage, read_write> y: ${ARR(v.vecC)};
@group(0) @binding(4) var<uniform> p: Params;`;
    a = fwdA(v, threads);
    b = kOuterB(v, threads, 'w', 'kk');
  } else if (v.kind === 'dx') {
    bindings = `
@group(0) @binding(0) var<storage, read> dy: ${ARR(v.vecA)};
@group(0) @binding(1) var<storage, read> w: ${ARR(v.vecB)};
@group(0) @binding(2) var<storage, read_write> dx: ${ARR(v.vecC)};
@group(0) @binding(3) var<uniform> p: Params;`;
    a = dxA(v, threads);
    b = dxB(v, threads);
  } else {
    bindings = `
@group(0) @binding(0) var<storage, read> x: ${ARR(v.vecA)};
@group(0) @binding(1) var<storage, read> dy: ${ARR(v.vecB)};
@group(0) @binding(2) var<storage, read_write> dw: ${ARR(v.vecC)};
@group(0) @binding(3) var<uniform> p: Params;`;
    a = dwA(v, threads);
    b = kOuterB(v, threads, 'dy', 'pix');
  }
  const accs = [...Array(t.rm).keys()].flatMap((i) => [...Array(t.rn / 4).keys()].map((j4) => `  var acc${i}_${j4} = vec4f(0.0);`)).join('\n');
  const strideVars = v.kind === 'dx' ? '\n  let smask = i32(p.stride) - 1;\n  let sshift = p.stride - 1u;' : '';
  return `${PARAMS}
${bindings}
${SRC_INDEX}
${v.kind === 'fwd' ? ACTIVATION : ''}

var<workgroup> tile_a: array<vec4f, ${(t.tm * t.tk) / 4}>;
var<workgroup> tile_b: array<vec4f, ${(t.tn * t.tk) / 4}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile_m = (wid.x + wid.y * nwg.x) * ${t.tm}u;
  if (tile_m >= p.gemm_m) { return; }
  let tile_n = (wid.z % p.n_tiles) * ${t.tn}u;
  let g = (wid.z / p.n_tiles) % p.groups;
  let split = (wid.z / p.n_tiles) / p.groups;
  let k_begin = split * p.k_chunk;
  let k_end = min(k_begin + p.k_chunk, p.gemm_k);
  let row0 = (lid / ${t.tn / t.rn}u) * ${t.rm}u;
  let col0 = (lid % ${t.tn / t.rn}u) * ${t.rn}u;${strideVars}
${accs}
${a.setup}
${b.setup}

  for (var kt = k_begin; kt < k_end; kt += ${t.tk}u) {${a.load}${b.load}
    workgroupBarrier();
${computeLoop(v.kind, t)}
    workgroupBarrier();
${a.advance}
${b.advance}
  }
${epilogue(v)}
}
`;
}

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
    return `${half ? 'enable f16;\n' : ''}${PARAMS}
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

// ---------------------------------------------------------------------------------------------
// Subgroup kernels, for adapters whose subgroups are exactly 8 invocations wide (llvmpipe/lavapipe
// runs a subgroup as one 8-lane SIMD register). There every load from memory, workgroup memory
// included, costs a per-lane sequence, while a broadcast between lanes is one register shuffle.
// So each lane loads a distinct slice of the filter and the other lanes read it through
// subgroupBroadcast: no workgroup memory, no barriers, and many multiply-adds per load.
//
// Each lane owns SG_ROWS output rows (pixels, or filter rows for the filter gradient; the forward
// and input gradient take 1 or 2 for convolutions with very few pixels); a subgroup covers `tn` columns (output channels) with 4-column vec4 accumulators. The k loop runs over the
// window positions (ky, kx) outside and channel quads inside, so no index is decoded per step.
// ---------------------------------------------------------------------------------------------

export const SG_SIZE = 8;
export const SG_WG = 64;
export const SG_ROWS = 4;

export interface ConvSubgroupVariant {
  kind: ConvGemmKind;
  /** Columns per subgroup: 8 or 32. */
  tn: number;
  /** The reduction axis (input channels; output channels for dx) has a multiple of 4 channels. */
  vecK: boolean;
  /** The column axis has a multiple of 4 channels. */
  vecN: boolean;
  /** f16 storage with f32 accumulation (forward only). */
  half?: boolean;
  /**
   * Rows (pixels) per lane of the forward and input gradient: 4 (default), or 2 or 1 for
   * convolutions with at most 16 or 8 pixels, where a 32-row subgroup would mostly compute padding.
   */
  rows?: 1 | 2 | 4;
}

export function convSubgroupKey(v: ConvSubgroupVariant): string {
  return `sg${v.tn}${sgRows(v) === SG_ROWS ? '' : `r${sgRows(v)}`}_${v.vecK ? 'k4' : 'k1'}${v.vecN ? 'n4' : 'n1'}${v.half ? '_f16' : ''}`;
}

/** Rows per lane of a subgroup kernel (the filter gradient always has SG_ROWS). */
export function sgRows(v: ConvSubgroupVariant): number {
  const rows = v.kind === 'dw' ? SG_ROWS : (v.rows ?? SG_ROWS);
  if (rows !== 1 && rows !== 2 && rows !== 4) throw new Error(`conv2d: invalid subgroup rows per lane ${rows}`);
  return rows;
}

/** Rows one subgroup of a subgroup kernel covers. */
export const SG_BLOCK_M = SG_SIZE * SG_ROWS;
/** Subgroups per workgroup. */
export const SG_PER_WG = SG_WG / SG_SIZE;

function range(n: number): number[] {
  return [...Array(n).keys()];
}

/** Loads 4 consecutive channels starting at `index` (scalar path: each lane checked by `ok(j)`). */
function quad(buffer: string, index: string, vec: boolean, ok: (j: number) => string, half = false): string {
  if (vec) return half ? `vec4f(${buffer}[(${index}) / 4u])` : `${buffer}[(${index}) / 4u]`;
  const read = (i: string) => (half ? `f32(${buffer}[${i}])` : `${buffer}[${i}]`);
  return `vec4f(${range(4).map((j) => `select(0.0, ${read(`select(0u, ${index} + ${j}u, ${ok(j)})`)}, ${ok(j)})`).join(', ')})`;
}

const SG_HEADER = `enable subgroups;
${PARAMS}`;

/**
 * A workgroup's 8 subgroups form a grid of sg_m row blocks × (8 / sg_m) column blocks (uniform
 * `sg_m`), so small images with many channels still fill every lane. `n_tiles` counts column
 * tiles of (8 / sg_m) · TN columns.
 */
const sgEntry = (rows: number) => `@compute @workgroup_size(${SG_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let sgi = lid / ${SG_SIZE}u;
  let tile_m = (wid.x + wid.y * nwg.x) * p.sg_m * ${SG_SIZE * rows}u;
  if (tile_m >= p.gemm_m) { return; }
  let tile_n = ((wid.z % p.n_tiles) * (${SG_WG / SG_SIZE}u / p.sg_m) + sgi / p.sg_m) * TN;
  let g = (wid.z / p.n_tiles) % p.groups;
  let zrest = (wid.z / p.n_tiles) / p.groups;
  let sg_row0 = tile_m + (sgi % p.sg_m) * ${SG_SIZE * rows}u;`;

function accDecls(rows: number, j4s: number): string {
  return range(rows)
    .flatMap((i) => range(j4s).map((j4) => `  var acc${i}_${j4} = vec4f(0.0);`))
    .join('\n');
}

/**
 * Forward: rows = output pixels, columns = output channels, k = (ky, kx, input channel).
 *
 * With a multiple of 4 output channels the filter is read as vec4s along the output channels (one
 * load per lane for 4 values; per-lane loads are what costs on llvmpipe): slot s of lane l holds
 * filter row c + t, columns 4q..4q+3 of the tile, for (t, q) pair number l + 8s, and products are
 * fmas of a pixel's channel value with a broadcast column quad. Otherwise lane l holds, for column
 * l + 8s, the four filter taps of the current channel quad (four scalar loads), and products are
 * dot products of a pixel's channel quad with a broadcast tap quad.
 */
function sgForward(v: ConvSubgroupVariant): string {
  const { tn, vecK, vecN } = v;
  const half = v.half ?? false;
  const J4 = tn / 4;
  const slotsB = Math.ceil(tn / SG_SIZE);
  const rows = range(sgRows(v));
  let code = `${half ? 'enable f16;\n' : ''}${SG_HEADER}
@group(0) @binding(0) var<storage, read> x: ${ARR(vecK, half)};
@group(0) @binding(1) var<storage, read> w: ${ARR(vecN, half)};
@group(0) @binding(2) var<storage, read> bias: ${ARR(vecN, half)};
@group(0) @binding(3) var<storage, read_write> y: ${ARR(vecN, half)};
@group(0) @binding(4) var<uniform> p: Params;
${SRC_INDEX}
${ACTIVATION}
const TN = ${tn}u;

${sgEntry(rows.length)}
${accDecls(rows.length, J4)}`;
  for (const i of rows) {
    code += `
  let m${i} = sg_row0 + ${i * SG_SIZE}u + sid;
  let okm${i} = m${i} < p.gemm_m;
  let h0_${i} = i32(((m${i} / p.out_w) % p.out_h) * p.stride) - p.pad_top;
  let w0_${i} = i32((m${i} % p.out_w) * p.stride) - p.pad_left;
  let nb${i} = ((m${i} / p.out_w) / p.out_h) * p.in_h;`;
  }
  for (let s = 0; s < slotsB; s++) {
    if (vecN) {
      // tn / 8 slots hold the 4 · tn / 4 (row, column quad) pairs exactly.
      code += `
  let t${s} = (sid + ${s * SG_SIZE}u) / ${J4}u;
  let colb${s} = tile_n + ((sid + ${s * SG_SIZE}u) % ${J4}u) * 4u;
  let okb${s} = colb${s} < p.cout_g;
  let wcol${s} = t${s} * p.out_c + g * p.cout_g + colb${s};`;
    } else {
      code += `
  let colb${s} = tile_n + sid + ${s * SG_SIZE}u;
  let okb${s} = sid + ${s * SG_SIZE}u < TN && colb${s} < p.cout_g;
  let wcol${s} = select(0u, g * p.cout_g + colb${s}, okb${s});`;
    }
  }
  code += `
  let cbase = g * p.cin_g;
  for (var ky = 0u; ky < p.k_h; ky++) {
    for (var kx = 0u; kx < p.k_w; kx++) {`;
  for (const i of rows) {
    code += `
      let hi${i} = src_index(h0_${i} + i32(ky * p.dilation), p.in_h);
      let wi${i} = src_index(w0_${i} + i32(kx * p.dilation), p.in_w);
      let ok${i} = okm${i} && hi${i} >= 0 && wi${i} >= 0;
      let xb${i} = select(0u, ((nb${i} + u32(hi${i})) * p.in_w + u32(wi${i})) * p.in_c + cbase, ok${i});`;
  }
  code += `
      let wrow = (ky * p.k_w + kx) * p.cin_g;
      for (var c = 0u; c < p.cin_g; c += 4u) {`;
  for (const i of rows) code += `
        let a${i} = select(vec4f(0.0), ${quad('x', `xb${i} + c`, vecK, (j) => `ok${i} && c + ${j}u < p.cin_g`, half)}, ok${i});`;
  for (let s = 0; s < slotsB; s++) {
    if (vecN) {
      const ok = vecK ? `okb${s}` : `okb${s} && c + t${s} < p.cin_g`;
      const load = `w[select(0u, (wrow + c) * p.out_c + wcol${s}, ${ok}) / 4u]`;
      code += `
        let b${s} = select(vec4f(0.0), ${half ? `vec4f(${load})` : load}, ${ok});`;
      continue;
    }
    const read = (i: string) => (half ? `f32(w[${i}])` : `w[${i}]`);
    const tap = (j: number) => (vecK ? read(`(wrow + c + ${j}u) * p.out_c + wcol${s}`) : read(`select(0u, (wrow + c + ${j}u) * p.out_c + wcol${s}, c + ${j}u < p.cin_g)`));
    const okTap = (j: number) => (vecK ? `okb${s}` : `okb${s} && c + ${j}u < p.cin_g`);
    code += `
        let b${s} = vec4f(${range(4).map((j) => `select(0.0, ${tap(j)}, ${okTap(j)})`).join(', ')});`;
  }
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
        {`;
    for (let j = 0; j < 4; j++) {
      // Column quad j4 of filter row c + j (vecN), or the taps of column 4·j4 + j.
      const pair = vecN ? j * J4 + j4 : j4 * 4 + j;
      code += `
          let bb${j} = subgroupBroadcast(b${Math.floor(pair / SG_SIZE)}, ${pair % SG_SIZE}u);`;
    }
    for (const i of rows) code += vecN
      ? `
          acc${i}_${j4} = fma(vec4f(a${i}.x), bb0, fma(vec4f(a${i}.y), bb1, fma(vec4f(a${i}.z), bb2, fma(vec4f(a${i}.w), bb3, acc${i}_${j4}))));`
      : `
          acc${i}_${j4} += vec4f(dot(a${i}, bb0), dot(a${i}, bb1), dot(a${i}, bb2), dot(a${i}, bb3));`;
    code += `
        }`;
  }
  code += `
      }
    }
  }`;
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
  {
    let col = tile_n + ${j4 * 4}u;
    var bv = vec4f(0.0);
    if (p.has_bias != 0u) { bv = ${vecN ? `select(vec4f(0.0), ${half ? 'vec4f(' : ''}bias[select(0u, g * p.cout_g + col, col < p.cout_g) / 4u]${half ? ')' : ''}, col < p.cout_g)` : quad('bias', 'g * p.cout_g + col', false, (j) => `col + ${j}u < p.cout_g`, half)}; }`;
    for (const i of rows) {
      code += `
    {
      var r = acc${i}_${j4} + bv;
      r = activate(r);
      if (okm${i}) {
        ${store('y', `m${i} * p.out_c + g * p.cout_g + col`, 'col', vecN, half)}
      }
    }`;
    }
    code += `
  }`;
  }
  return code + '\n}\n';
}

/**
 * Input gradient: rows = input pixels of one stride phase (ph, pw), columns = input channels,
 * k = (ky, kx, output channel). Within a phase every row sees the same valid window taps, so the
 * taps a stride skips are skipped for the whole workgroup.
 */
function sgInputGrad(v: ConvSubgroupVariant): string {
  const { tn, vecK, vecN } = v;
  const J4 = tn / 4;
  const slotsB = Math.ceil(tn / SG_SIZE);
  const rows = range(sgRows(v));
  let code = `${SG_HEADER}
@group(0) @binding(0) var<storage, read> dy: ${ARR(vecK)};
@group(0) @binding(1) var<storage, read> w: ${ARR(vecK)};
@group(0) @binding(2) var<storage, read_write> dx: ${ARR(vecN)};
@group(0) @binding(3) var<uniform> p: Params;
const TN = ${tn}u;

${sgEntry(rows.length)}
  let ph = zrest / p.stride;
  let pw = zrest % p.stride;
  let qh = (p.in_h + p.stride - 1u) / p.stride;
  let qw = (p.in_w + p.stride - 1u) / p.stride;
  let smask = i32(p.stride) - 1;
  let sshift = p.stride - 1u;
${accDecls(rows.length, J4)}`;
  for (const i of rows) {
    code += `
  let m${i} = sg_row0 + ${i * SG_SIZE}u + sid;
  let hp${i} = ((m${i} / qw) % qh) * p.stride + ph;
  let wp${i} = (m${i} % qw) * p.stride + pw;
  let n${i} = (m${i} / qw) / qh;
  let okm${i} = m${i} < p.gemm_m && hp${i} < p.in_h && wp${i} < p.in_w;
  let hb${i} = i32(hp${i}) + p.pad_top;
  let wb${i} = i32(wp${i}) + p.pad_left;`;
  }
  // Filter slots: slot s of lane l holds column (input channel) l + 8s, 4 consecutive k (co) values.
  for (let s = 0; s < slotsB; s++) {
    code += `
  let colb${s} = tile_n + sid + ${s * SG_SIZE}u;
  let okb${s} = sid + ${s * SG_SIZE}u < TN && colb${s} < p.cin_g;`;
  }
  code += `
  let ybase = g * p.cout_g;
  for (var ky = 0u; ky < p.k_h; ky++) {
    let tph = i32(ph) + p.pad_top - i32(ky * p.dilation);
    if ((tph & smask) != 0) { continue; }
    for (var kx = 0u; kx < p.k_w; kx++) {
      let tpw = i32(pw) + p.pad_left - i32(kx * p.dilation);
      if ((tpw & smask) != 0) { continue; }`;
  for (const i of rows) {
    code += `
      let th${i} = hb${i} - i32(ky * p.dilation);
      let tw${i} = wb${i} - i32(kx * p.dilation);
      let ho${i} = u32(max(th${i}, 0)) >> sshift;
      let wo${i} = u32(max(tw${i}, 0)) >> sshift;
      let ok${i} = okm${i} && th${i} >= 0 && tw${i} >= 0 && ho${i} < p.out_h && wo${i} < p.out_w;
      let yb${i} = select(0u, ((n${i} * p.out_h + ho${i}) * p.out_w + wo${i}) * p.out_c + ybase, ok${i});`;
  }
  code += `
      let wrow = (ky * p.k_w + kx) * p.cin_g;
      for (var c = 0u; c < p.cout_g; c += 4u) {`;
  for (const i of rows) code += `
        let a${i} = select(vec4f(0.0), ${quad('dy', `yb${i} + c`, vecK, (j) => `ok${i} && c + ${j}u < p.cout_g`)}, ok${i});`;
  for (let s = 0; s < slotsB; s++) {
    const idx = `(wrow + colb${s}) * p.out_c + ybase + c`;
    code += `
        let b${s} = select(vec4f(0.0), ${quad('w', `select(0u, ${idx}, okb${s})`, vecK, (j) => `okb${s} && c + ${j}u < p.cout_g`)}, okb${s});`;
  }
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
        {`;
    for (let j = 0; j < 4; j++) {
      const col = j4 * 4 + j;
      code += `
          let bb${j} = subgroupBroadcast(b${Math.floor(col / SG_SIZE)}, ${col % SG_SIZE}u);`;
    }
    for (const i of rows) code += `
          acc${i}_${j4} += vec4f(dot(a${i}, bb0), dot(a${i}, bb1), dot(a${i}, bb2), dot(a${i}, bb3));`;
    code += `
        }`;
  }
  code += `
      }
    }
  }`;
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
  {
    let col = tile_n + ${j4 * 4}u;`;
    for (const i of rows) {
      code += `
    {
      let r = acc${i}_${j4};
      if (okm${i}) {
        ${store('dx', `((n${i} * p.in_h + hp${i}) * p.in_w + wp${i}) * p.in_c + g * p.cin_g + col`, 'col', vecN)}
      }
    }`;
    }
    code += `
  }`;
  }
  return code + '\n}\n';
}

/**
 * Filter gradient: rows = filter rows (ky, kx, ci), four consecutive per lane; columns = output
 * channels; k = output pixels of one split. Every lane walks the same pixels, so the pixel
 * coordinates advance uniformly.
 */
function sgFilterGrad(v: ConvSubgroupVariant): string {
  const { tn, vecK, vecN } = v;
  const J4 = tn / 4;
  const rows = range(4);
  let code = `${SG_HEADER}
@group(0) @binding(0) var<storage, read> x: ${ARR(vecK)};
@group(0) @binding(1) var<storage, read> dy: ${ARR(vecN)};
@group(0) @binding(2) var<storage, read_write> dw: ${ARR(vecN)};
@group(0) @binding(3) var<uniform> p: Params;
${SRC_INDEX}
const TN = ${tn}u;

${sgEntry(SG_ROWS)}
  let split = zrest;
  let k_begin = split * p.k_chunk;
  let k_end = min(k_begin + p.k_chunk, p.gemm_k);
  let rbase = sg_row0 + sid * 4u;
${accDecls(4, J4)}`;
  const rowGroups = vecK ? [0] : rows;
  for (const j of rowGroups) {
    code += `
  let r${j} = rbase + ${j}u;
  let okr${j} = r${j} < p.gemm_m;
  let ci${j} = g * p.cin_g + r${j} % p.cin_g;
  let dh${j} = i32(((r${j} / p.cin_g) / p.k_w) * p.dilation) - p.pad_top;
  let dw${j} = i32(((r${j} / p.cin_g) % p.k_w) * p.dilation) - p.pad_left;`;
  }
  code += `
  let colb = tile_n + sid * 4u;
  let okb = sid < ${J4}u && colb < p.cout_g;
  let ycol = g * p.cout_g + colb;
  var wo = k_begin % p.out_w;
  var ho = (k_begin / p.out_w) % p.out_h;
  var nb = ((k_begin / p.out_w) / p.out_h) * p.in_h;
  for (var pix = k_begin; pix < k_end; pix++) {
    let hs = i32(ho * p.stride);
    let ws = i32(wo * p.stride);`;
  if (vecK) {
    code += `
    let hi = src_index(hs + dh0, p.in_h);
    let wi = src_index(ws + dw0, p.in_w);
    let ok = okr0 && hi >= 0 && wi >= 0;
    let a = select(vec4f(0.0), x[select(0u, ((nb + u32(hi)) * p.in_w + u32(wi)) * p.in_c + ci0, ok) / 4u], ok);`;
  } else {
    for (const j of rows) {
      code += `
    let hi${j} = src_index(hs + dh${j}, p.in_h);
    let wi${j} = src_index(ws + dw${j}, p.in_w);
    let ok${j} = okr${j} && hi${j} >= 0 && wi${j} >= 0;
    let a${j} = select(0.0, x[select(0u, ((nb + u32(hi${j})) * p.in_w + u32(wi${j})) * p.in_c + ci${j}, ok${j})], ok${j});`;
    }
    code += `
    let a = vec4f(a0, a1, a2, a3);`;
  }
  code += `
    let b = ${vecN ? `select(vec4f(0.0), dy[select(0u, pix * p.out_c + ycol, okb) / 4u], okb)` : quad('dy', 'pix * p.out_c + ycol', false, (j) => `sid < ${J4}u && colb + ${j}u < p.cout_g`)};`;
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
    {
      let bb = subgroupBroadcast(b, ${j4}u);`;
    for (const r of rows) code += `
      acc${r}_${j4} = fma(vec4f(a.${lanes[r]}), bb, acc${r}_${j4});`;
    code += `
    }`;
  }
  code += `
    wo += 1u;
    if (wo == p.out_w) {
      wo = 0u;
      ho += 1u;
      nb += select(0u, p.in_h, ho == p.out_h);
      ho = select(ho, 0u, ho == p.out_h);
    }
  }
  let split_base = split * p.gemm_m * p.out_c;`;
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
  {
    let col = tile_n + ${j4 * 4}u;`;
    for (const r of rows) {
      code += `
    {
      let m = rbase + ${r}u;
      let r = acc${r}_${j4};
      if (m < p.gemm_m) {
        ${store('dw', 'split_base + m * p.out_c + g * p.cout_g + col', 'col', vecN)}
      }
    }`;
    }
    code += `
  }`;
  }
  return code + '\n}\n';
}

export function convSubgroupWgsl(v: ConvSubgroupVariant): string {
  if (v.tn !== 8 && v.tn !== 32) throw new Error(`conv2d: invalid subgroup tile width ${v.tn}`);
  if (v.half && v.kind !== 'fwd') throw new Error(`conv2d: f16 storage is implemented for the forward pass only, not '${v.kind}'`);
  if (v.kind === 'fwd') return sgForward(v);
  if (v.kind === 'dx') return sgInputGrad(v);
  return sgFilterGrad(v);
}
