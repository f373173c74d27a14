import { f16Header } from '../common/f16.wgsl.ts';
import { ACTIVATION, ARR, lanes, PARAMS, range, SRC_INDEX } from './common.wgsl.ts';

// ---------------------------------------------------------------------------------------------
// Narrow forward kernels, for adapters whose subgroups are exactly 8 wide (llvmpipe): convolutions
// with at most 4 output channels ('out', e.g. a 9×9 32 → 3 last layer) or at most 4 input channels
// ('in', e.g. a 9×9 3 → 32 first layer), where the subgroup kernel's 8- or 32-column tiles or its
// channel quads are mostly padding.
//
// On llvmpipe a per-lane load from memory costs a sequence per lane, and with few channels the
// input loads are most of the work (measured: removing them made the 32 → 3 kernel 4.8× faster).
// So the 8 lanes of a subgroup own 8 consecutive output pixels of one row (a "chunk"), and for each
// window row each lane loads SPAN input columns once (column 8t + lane of the chunk's window); the
// value a lane needs at window column kx comes from the lane that loaded it, by subgroupShuffle.
// A 9-wide window then costs 2 loads per pixel and window row instead of 9. Column coordinates
// (reflect padding included) are resolved once per pixel, row coordinates once per window row.
// Filter values are loaded one slice per lane and shared by subgroupBroadcast, as in the subgroup
// kernels. Each lane owns ROWS chunks.
//
//   'out': one vec4 accumulator per pixel holds all (≤ 4) output channels; the input is read as
//          channel quads (vec4 loads when Cin is a multiple of 4), the filter one row (tap,
//          channel) per lane as a vec4 over the output channels, lanes past Cout zero.
//   'in':  the (≤ 4) channels of a pixel are read as one padded quad per loaded column; output
//          channels are COLS / 4 vec4 accumulators per pixel, one column tile per workgroup (z).
// Groups must be 1; SPAN · 8 must cover 7 · stride + (kw - 1) · dilation + 1 columns.
// `n_tiles` carries the number of chunks per output row.
// ---------------------------------------------------------------------------------------------

export const NARROW_WG = 64;
const SG = 8;

export interface ConvNarrowVariant {
  /** Which side has at most 4 channels. */
  side: 'out' | 'in';
  /** Chunks of 8 output pixels per subgroup (one pixel of each per lane). */
  rows: number;
  /** 'in': output channels per workgroup (8, 16 or 32); 'out': 4. */
  cols: number;
  /** Input columns each lane loads per window row (1-3). */
  span: number;
  /** The wide side has a multiple of 4 channels (vec4 loads and stores along it). */
  vec: boolean;
  /** f16 storage with f32 accumulation. */
  half: boolean;
}

/** Output pixels one workgroup of a narrow kernel covers (as chunks of 8 along a row). */
export function narrowChunksPerWorkgroup(v: ConvNarrowVariant): number {
  return (NARROW_WG / SG) * v.rows;
}

/** Input columns each lane must load per window row for a window and stride. */
export function narrowSpan(kW: number, stride: number, dilation: number): number {
  return Math.ceil((7 * stride + (kW - 1) * dilation + 1) / SG);
}

const f32Of = (half: boolean, e: string) => (half ? `f32(${e})` : e);
const vec4Of = (half: boolean, e: string) => (half ? `vec4f(${e})` : e);

/** Up to 4 scalars from `buffer` at index + j for j < `count` (uniform), zero past it and where `ok` fails. */
function guardedQuad(buffer: string, index: string, count: string, half: boolean, ok?: string): string {
  return `vec4f(${range(4)
    .map((j) => {
      const valid = ok ? `${ok} && ${j}u < ${count}` : `${j}u < ${count}`;
      return j === 0 && !ok ? f32Of(half, `${buffer}[${index}]`) : `select(0.0, ${f32Of(half, `${buffer}[select(0u, ${index} + ${j}u, ${valid})]`)}, ${valid})`;
    })
    .join(', ')})`;
}

function header(v: ConvNarrowVariant): string {
  const { half } = v;
  // 'out' reads x by quads when Cin % 4 == 0; 'in' reads w and writes y by quads when Cout % 4 == 0.
  const xVec = v.side === 'out' && v.vec;
  const wVec = v.side === 'in' && v.vec;
  return `${f16Header(half)}enable subgroups;
${PARAMS}
@group(0) @binding(0) var<storage, read> x: ${ARR(xVec, half)};
@group(0) @binding(1) var<storage, read> w: ${ARR(wVec, half)};
@group(0) @binding(2) var<storage, read> bias: ${ARR(wVec, half)};
@group(0) @binding(3) var<storage, read_write> y: ${ARR(wVec, half)};
@group(0) @binding(4) var<uniform> p: Params;
${SRC_INDEX}
${ACTIVATION}

@compute @workgroup_size(${NARROW_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let first = (wid.x + wid.y * nwg.x) * ${narrowChunksPerWorkgroup(v)}u;
  let out_rows = p.batch * p.out_h;
  if (first >= out_rows * p.n_tiles) { return; }
  let chunk_base = first + (lid / ${SG}u) * ${v.rows}u;`;
}

/**
 * Per chunk i: its pixel (m${i}, okm${i}), the columns this lane loads (ic${i}_t), and the window
 * row loop up to the row base rb${i} (okr${i}: the chunk's row and window row are inside).
 */
function chunkSetup(rows: number[], span: number): { setup: string; rowLoop: string; shuffle: (value: (i: number, t: number) => string, i: number) => string } {
  let setup = '';
  for (const i of rows) {
    setup += `
  let chunk${i} = chunk_base + ${i}u;
  let row${i} = chunk${i} / p.n_tiles;
  let cw${i} = (chunk${i} % p.n_tiles) * ${SG}u;
  let wo${i} = cw${i} + sid;
  let okrow${i} = row${i} < out_rows;
  let okm${i} = okrow${i} && wo${i} < p.out_w;
  let m${i} = row${i} * p.out_w + wo${i};
  let h0_${i} = i32((row${i} % p.out_h) * p.stride) - p.pad_top;
  let nb${i} = (row${i} / p.out_h) * p.in_h;
  let wb${i} = i32(cw${i} * p.stride) - p.pad_left + i32(sid);`;
    for (let t = 0; t < span; t++) {
      setup += `
  let ic${i}_${t} = src_index(wb${i} + ${t * SG}, p.in_w);
  let okc${i}_${t} = okrow${i} && ic${i}_${t} >= 0 && ic${i}_${t} < i32(p.in_w);`;
    }
  }
  let rowLoop = `
  for (var ky = 0u; ky < p.k_h; ky++) {`;
  for (const i of rows) {
    rowLoop += `
    let hi${i} = src_index(h0_${i} + i32(ky * p.dilation), p.in_h);
    let okh${i} = hi${i} >= 0;
    let rb${i} = (nb${i} + u32(max(hi${i}, 0))) * p.in_w;`;
  }
  // The lane and load that hold window column kx of this lane's pixel.
  const shuffle = (value: (i: number, t: number) => string, i: number) => {
    let expr = `subgroupShuffle(${value(i, 0)}, src)`;
    for (let t = 1; t < span; t++) expr = `select(${expr}, subgroupShuffle(${value(i, t)}, src), part == ${t}u)`;
    return expr;
  };
  return { setup, rowLoop, shuffle };
}

const WINDOW_COLUMN = `
      let idx = sid * p.stride + kx * p.dilation;
      let src = idx % ${SG}u;
      let part = idx / ${SG}u;`;

function narrowOut(v: ConvNarrowVariant): string {
  const rows = range(v.rows);
  const spans = range(v.span);
  const { half, vec } = v;
  const c = chunkSetup(rows, v.span);
  let code = `${header(v)}${c.setup}
${rows.map((i) => `  var acc${i} = vec4f(0.0);`).join('\n')}${c.rowLoop}
    for (var c = 0u; c < p.in_c; c += 8u) {
      let two = c + 4u < p.in_c;`;
  // Two channel quads per step (the 8 filter rows of one step are one per lane).
  for (let q = 0; q < 2; q++) {
    for (const i of rows) {
      for (const t of spans) {
        const ok = `okh${i} && okc${i}_${t}${q === 1 ? ' && two' : ''}`;
        const index = `(rb${i} + u32(ic${i}_${t})) * p.in_c + c + ${4 * q}u`;
        const a = vec
          ? `select(vec4f(0.0), ${vec4Of(half, `x[select(0u, ${index}, ${ok}) / 4u]`)}, ${ok})`
          : guardedQuad('x', `select(0u, ${index}, ${ok})`, `p.in_c - c - ${4 * q}u`, half, ok);
        code += `
      let x${q}_${i}_${t} = ${a};`;
      }
    }
  }
  code += `
      for (var kx = 0u; kx < p.k_w; kx++) {
        let fr = c + sid;
        let okf = fr < p.in_c;
        let f = ${guardedQuad('w', `select(0u, ((ky * p.k_w + kx) * p.in_c + fr) * p.out_c, okf)`, 'p.out_c', half, 'okf')};${WINDOW_COLUMN.replace(/\n/g, '\n  ')}`;
  for (let q = 0; q < 2; q++) {
    code += q === 0 ? '\n        {' : '\n        if (two) {';
    for (let j = 0; j < 4; j++) code += `
          let f${j} = subgroupBroadcast(f, ${4 * q + j}u);`;
    for (const i of rows) {
      code += `
          let a${i} = ${c.shuffle((ii, t) => `x${q}_${ii}_${t}`, i)};
          acc${i} = fma(vec4f(a${i}.x), f0, fma(vec4f(a${i}.y), f1, fma(vec4f(a${i}.z), f2, fma(vec4f(a${i}.w), f3, acc${i}))));`;
    }
    code += '\n        }';
  }
  code += `
      }
    }
  }
  var bv = vec4f(0.0);
  if (p.has_bias != 0u) { bv = ${guardedQuad('bias', '0u', 'p.out_c', half)}; }`;
  for (const i of rows) {
    code += `
  if (okm${i}) {
    let r = activate(acc${i} + bv);
    let yb = m${i} * p.out_c;`;
    for (let j = 0; j < 4; j++) {
      const value = half ? `f16(r.${lanes[j]})` : `r.${lanes[j]}`;
      code += j === 0 ? `\n    y[yb] = ${value};` : `\n    if (p.out_c > ${j}u) { y[yb + ${j}u] = ${value}; }`;
    }
    code += `
  }`;
  }
  return `${code}\n}\n`;
}

function narrowIn(v: ConvNarrowVariant): string {
  const rows = range(v.rows);
  const spans = range(v.span);
  const { half, vec } = v;
  const quads = range(v.cols / 4);
  const slots = range(v.cols / 8);
  const c = chunkSetup(rows, v.span);
  // Slot s of lane l holds piece l + 8s: filter row (tap, ci), column quad q, piece = ci · Q + q.
  let code = `${header(v)}
  let col0 = wid.z * ${v.cols}u;${slots
    .map(
      (s) => `
  let ci${s} = (sid + ${8 * s}u) / ${quads.length}u;
  let colf${s} = col0 + ((sid + ${8 * s}u) % ${quads.length}u) * 4u;
  let okf${s} = ci${s} < p.in_c && colf${s} < p.out_c;`,
    )
    .join('')}${c.setup}
${rows.flatMap((i) => quads.map((q) => `  var acc${i}_${q} = vec4f(0.0);`)).join('\n')}${c.rowLoop}`;
  for (const i of rows) {
    for (const t of spans) {
      const ok = `okh${i} && okc${i}_${t}`;
      code += `
    let x${i}_${t} = ${guardedQuad('x', `select(0u, (rb${i} + u32(ic${i}_${t})) * p.in_c, ${ok})`, 'p.in_c', half, ok)};`;
    }
  }
  code += `
    for (var kx = 0u; kx < p.k_w; kx++) {
      let wrow = (ky * p.k_w + kx) * p.in_c;`;
  for (const s of slots) {
    const ok = `okf${s}`;
    const index = `(wrow + ci${s}) * p.out_c + colf${s}`;
    const f = vec
      ? `select(vec4f(0.0), ${vec4Of(half, `w[select(0u, ${index}, ${ok}) / 4u]`)}, ${ok})`
      : guardedQuad('w', `select(0u, ${index}, ${ok})`, `p.out_c - min(p.out_c, colf${s})`, half, ok);
    code += `
      let f${s} = ${f};`;
  }
  code += WINDOW_COLUMN;
  for (const i of rows) code += `
      let a${i} = ${c.shuffle((ii, t) => `x${ii}_${t}`, i)};`;
  for (let ci = 0; ci < 4; ci++) {
    code += ci === 0 ? '\n      {' : `\n      if (p.in_c > ${ci}u) {`;
    for (const q of quads) {
      const piece = ci * quads.length + q;
      code += `
        let b${q} = subgroupBroadcast(f${Math.floor(piece / 8)}, ${piece % 8}u);`;
      for (const i of rows) code += `
        acc${i}_${q} = fma(vec4f(a${i}.${lanes[ci]}), b${q}, acc${i}_${q});`;
    }
    code += '\n      }';
  }
  code += `
    }
  }`;
  for (const q of quads) {
    const col = `col0 + ${q * 4}u`;
    code += `
  if (${col} < p.out_c) {
    var bv = vec4f(0.0);
    if (p.has_bias != 0u) { bv = ${vec ? vec4Of(half, `bias[(${col}) / 4u]`) : guardedQuad('bias', col, `p.out_c - ${col}`, half)}; }`;
    for (const i of rows) {
      code += `
    if (okm${i}) {
      let r = activate(acc${i}_${q} + bv);
      let yb = m${i} * p.out_c + ${col};`;
      if (vec) code += `\n      y[yb / 4u] = ${half ? 'vec4<f16>(r)' : 'r'};`;
      else {
        for (let j = 0; j < 4; j++) {
          const value = half ? `f16(r.${lanes[j]})` : `r.${lanes[j]}`;
          code += `\n      if (${col} + ${j}u < p.out_c) { y[yb + ${j}u] = ${value}; }`;
        }
      }
      code += `
    }`;
    }
    code += `
  }`;
  }
  return `${code}\n}\n`;
}

export function convNarrowWgsl(v: ConvNarrowVariant): string {
  if (!Number.isInteger(v.rows) || v.rows < 1 || v.rows > 8) throw new Error(`conv2d: invalid narrow rows per lane ${v.rows}`);
  if (!Number.isInteger(v.span) || v.span < 1 || v.span > 3) throw new Error(`conv2d: invalid narrow column span ${v.span}`);
  if (v.side === 'out') {
    if (v.cols !== 4) throw new Error(`conv2d: the narrow 'out' kernel has 4 columns, got ${v.cols}`);
    return narrowOut(v);
  }
  if (![8, 16, 32].includes(v.cols)) throw new Error(`conv2d: invalid narrow column tile ${v.cols}`);
  return narrowIn(v);
}
