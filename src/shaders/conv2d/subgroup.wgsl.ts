import { f16Header } from '../common/f16.wgsl.ts';
import { ACTIVATION, ARR, lanes, PARAMS, range, SRC_INDEX, store, type ConvGemmKind } from './common.wgsl.ts';

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
  let code = `${f16Header(half)}${SG_HEADER}
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