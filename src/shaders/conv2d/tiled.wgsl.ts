import { ACTIVATION, ARR, lanes, PARAMS, SRC_INDEX, store, type ConvGemmKind } from './common.wgsl.ts';

/**
 * The tiled implicit-GEMM kernels: each workgroup stages a TM×TK tile of the patch matrix and a
 * TK×TN tile of the other operand in workgroup memory (see common.wgsl.ts for the three products).
 */

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
