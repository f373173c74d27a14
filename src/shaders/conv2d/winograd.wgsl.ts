import { f16Header, storageArray } from '../common/f16.wgsl.ts';
import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../../gpu/grid.ts';
import { ACTIVATION, range, SRC_INDEX } from './common.wgsl.ts';

/*
 * Winograd F(m×m, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray's minimal filtering), m = 2 or
 * 4: each m×m block of outputs ("tile") comes from an a×a input patch (a = m + 2) with a² products
 * per channel pair instead of 9·m² (16 for 36, or 36 for 144). Three transforms around one batched
 * product:
 *
 *   U[ξ] = (G g Gᵀ)[ξ]       filter, per (ci, co)         u   [Cin, a² · Cout]
 *   V[ξ] = (Bᵀ d B)[ξ]       input patch, per (tile, ci)  v   [tiles, a² · Cin]
 *   M[ξ] = V[ξ] · U[ξ]       a² GEMMs, one per ξ          m   [tiles, a² · Cout]
 *   y    = Aᵀ M A (+ bias, activation)                    y   NHWC, m×m per tile
 *
 * ξ = a·row + column of the a×a transformed tile. F(4×4) does 1.8× fewer products than F(2×2)
 * and moves less data per output, at the price of larger transform coefficients (rounding error
 * grows by about an order of magnitude). v and u are laid out as the input and HWIO
 * filter of a 1×1 convolution with 16 groups, so the product runs on the tuned convolution kernels.
 * A launch covers tiles tile_base .. tile_base + tiles - 1 (v and m hold that chunk only).
 * The transformed operands are f32 whatever the storage of x, w and y (f16 storage is read and
 * written at the edges only). Each thread handles 4 consecutive channels (a vec4 when the channel
 * count is a multiple of 4, else 4 guarded scalars).
 */

export const WINOGRAD_WG = 64;

/**
 * 'filter', 'input', 'output': the forward transforms above. The filter gradient uses their
 * adjoints: 'outputGrad' (dM = A dY Aᵀ per tile, from dy [N, outH, outW, Cout] into mg
 * [tiles, a² · Cout]) and 'filterGrad' (dw = Gᵀ dU G, from ug [Cin, a² · Cout] into dw HWIO), with
 * dU[ξ] = Σ over tiles of V[ξ]ᵀ · dM[ξ] computed between them.
 */
export type WinogradStage = 'filter' | 'input' | 'output' | 'outputGrad' | 'filterGrad';

export interface WinogradVariant {
  stage: WinogradStage;
  /** Output tile edge m: F(2×2, 3×3) or F(4×4, 3×3). */
  tile: 2 | 4;
  /** The channel axis the stage runs along (Cout for filter/output, Cin for input) is a multiple of 4. */
  vec: boolean;
  /** f16 storage of x, w, bias and y. */
  half: boolean;
  /**
   * Filter stage of an input gradient: u is built from the forward filter flipped in space with its
   * channel axes swapped (w read as [3, 3, out_c, in_c], scalar loads), so the same stages compute
   * dx = dy ⋆ w_flipped.
   */
  flip: boolean;
}

const PARAMS = `
struct Params {
  in_h: u32, in_w: u32, in_c: u32,
  out_h: u32, out_w: u32, out_c: u32,
  pad_top: i32, pad_left: i32, lim_h: i32, lim_w: i32, reflect: u32,
  tiles_h: u32, tiles_w: u32, tile_base: u32, tiles: u32,
  has_bias: u32, act: u32,
}`;

/** 4 channels of `buf` from `base + c` as a vec4f: one vec4 load, or 4 guarded scalar loads (c + j < n). */
function loadQuad(buf: string, base: string, c: string, n: string, vec: boolean, half: boolean): string {
  if (vec) return half ? `vec4f(${buf}[(${base} + ${c}) / 4u])` : `${buf}[(${base} + ${c}) / 4u]`;
  const lane = (j: number) => {
    const ok = `${c} + ${j}u < ${n}`;
    const read = `${buf}[select(0u, ${base} + ${c} + ${j}u, ${ok})]`;
    return `select(0.0, ${half ? `f32(${read})` : read}, ${ok})`;
  };
  return `vec4f(${range(4).map(lane).join(', ')})`;
}

/** Stores vec4f `value` at `base + c`: one vec4 store, or the lanes with c + j < n. */
function storeQuad(buf: string, base: string, c: string, n: string, value: string, vec: boolean, half: boolean): string {
  if (vec) return `${buf}[(${base} + ${c}) / 4u] = ${half ? `vec4<f16>(${value})` : value};`;
  const lanes = ['x', 'y', 'z', 'w'];
  return range(4)
    .map((j) => `if (${c} + ${j}u < ${n}) { ${buf}[${base} + ${c} + ${j}u] = ${half ? `f16(${value}.${lanes[j]})` : `${value}.${lanes[j]}`}; }`)
    .join('\n  ');
}

type Matrix = readonly (readonly number[])[];

/** The transform matrices of F(m, 3): Bᵀ (a×a), G (a×3), Aᵀ (m×a). */
const MATRICES: Record<2 | 4, { input: Matrix; filter: Matrix; output: Matrix }> = {
  2: {
    input: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    filter: [
      [1, 0, 0],
      [1 / 2, 1 / 2, 1 / 2],
      [1 / 2, -1 / 2, 1 / 2],
      [0, 0, 1],
    ],
    output: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  4: {
    input: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    filter: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    output: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  },
};

/** Σ_j row[j] · v(j) as WGSL, zero terms left out. */
function combine(row: readonly number[], v: (j: number) => string): string {
  let code = '';
  row.forEach((c, j) => {
    if (c === 0) return;
    const magnitude = Math.abs(c) === 1 ? v(j) : `${Math.abs(c).toPrecision(9)} * ${v(j)}`;
    code += code === '' ? (c < 0 ? `-${magnitude}` : magnitude) : ` ${c < 0 ? '-' : '+'} ${magnitude}`;
  });
  return code;
}

/**
 * WGSL declaring `out{r}_{c}` = T e Tᵀ for the grid `e{r}_{c}` already declared (T's column count
 * square): first along rows into `h{r}_{c}`, then along columns.
 */
function transform2d(t: Matrix): string {
  const inRows = t[0]!.length;
  let code = '';
  for (let c = 0; c < inRows; c++) {
    t.forEach((row, r) => (code += `\n  let h${r}_${c} = ${combine(row, (j) => `e${j}_${c}`)};`));
  }
  for (let r = 0; r < t.length; r++) {
    t.forEach((row, c) => (code += `\n  let out${r}_${c} = ${combine(row, (j) => `h${r}_${j}`)};`));
  }
  return code;
}

/** Taps (r, s) of the flipped filter for output channels c..c+3: w[2-r][2-s][c + j][ci] of the forward filter. */
function flippedTaps(r: number, s: number, half: boolean): string {
  const lane = (j: number) => {
    const ok = `c + ${j}u < p.out_c`;
    const read = `w[select(0u, (${(2 - r) * 3 + (2 - s)}u * p.out_c + c + ${j}u) * p.in_c + ci, ${ok})]`;
    return `select(0.0, ${half ? `f32(${read})` : read}, ${ok})`;
  };
  return `vec4f(${range(4).map(lane).join(', ')})`;
}

function filterStage(v: WinogradVariant): string {
  // One thread per (ci, output-channel quad); w HWIO [3, 3, Cin, Cout] → u [Cin, a² · Cout].
  const a = v.tile + 2;
  let code = `
  let c4n = (p.out_c + 3u) / 4u;
  if (i >= p.in_c * c4n) { return; }
  let c = (i % c4n) * 4u;
  let ci = i / c4n;`;
  for (const r of range(3)) for (const s of range(3)) {
    const load = v.flip ? flippedTaps(r, s, v.half) : loadQuad('w', `((${r * 3 + s}u) * p.in_c + ci) * p.out_c`, 'c', 'p.out_c', v.vec, v.half);
    code += `
  let e${r}_${s} = ${load};`;
  }
  code += transform2d(MATRICES[v.tile].filter);
  for (const r of range(a)) for (const s of range(a)) {
    code += `
  ${storeQuad('u', `(ci * ${a * a}u + ${r * a + s}u) * p.out_c`, 'c', 'p.out_c', `out${r}_${s}`, v.vec, false)}`;
  }
  return code;
}

/** WGSL that maps thread `i` to a tile (t in this chunk, tg overall; n, th, tw) and a quad `c` of `channels`. */
function tileThread(channels: string): string {
  return `
  let c4n = (${channels} + 3u) / 4u;
  if (i >= p.tiles * c4n) { return; }
  let c = (i % c4n) * 4u;
  let t = i / c4n;
  let tg = p.tile_base + t;
  let tw = tg % p.tiles_w;
  let th = (tg / p.tiles_w) % p.tiles_h;
  let n = tg / (p.tiles_w * p.tiles_h);`;
}

function inputStage(v: WinogradVariant): string {
  // One thread per (tile, input-channel quad). Rows and columns past the padded input (the last
  // tile of an output not a multiple of m) read as zeros; their outputs are never stored.
  const a = v.tile + 2;
  let code = tileThread('p.in_c') + `
  let h0 = i32(th * ${v.tile}u) - p.pad_top;
  let w0 = i32(tw * ${v.tile}u) - p.pad_left;`;
  for (const r of range(a)) {
    code += `
  let hi${r} = select(-1, src_index(h0 + ${r}, p.in_h), h0 + ${r} < p.lim_h);
  let wi${r} = select(-1, src_index(w0 + ${r}, p.in_w), w0 + ${r} < p.lim_w);`;
  }
  for (const r of range(a)) for (const s of range(a)) {
    const load = loadQuad('x', `((n * p.in_h + u32(hi${r})) * p.in_w + u32(wi${s})) * p.in_c`, 'c', 'p.in_c', v.vec, v.half);
    code += `
  var e${r}_${s} = vec4f(0.0);
  if (hi${r} >= 0 && wi${s} >= 0) { e${r}_${s} = ${load}; }`;
  }
  code += transform2d(MATRICES[v.tile].input);
  for (const r of range(a)) for (const s of range(a)) {
    code += `
  ${storeQuad('v', `(t * ${a * a}u + ${r * a + s}u) * p.in_c`, 'c', 'p.in_c', `out${r}_${s}`, v.vec, false)}`;
  }
  return code;
}

function outputStage(v: WinogradVariant): string {
  // One thread per (tile, output-channel quad): m×m outputs, bias and activation, the tile's
  // outputs past the image edge skipped.
  const a = v.tile + 2;
  let code = tileThread('p.out_c');
  for (const r of range(a)) for (const s of range(a)) {
    code += `
  let e${r}_${s} = ${loadQuad('m', `(t * ${a * a}u + ${r * a + s}u) * p.out_c`, 'c', 'p.out_c', v.vec, false)};`;
  }
  code += transform2d(MATRICES[v.tile].output);
  code += `
  var bv = vec4f(0.0);
  if (p.has_bias != 0u) { bv = ${loadQuad('bias', '0u', 'c', 'p.out_c', v.vec, v.half)}; }`;
  for (const r of range(v.tile)) for (const s of range(v.tile)) {
    code += `
  {
    let ho = th * ${v.tile}u + ${r}u;
    let wo = tw * ${v.tile}u + ${s}u;
    if (ho < p.out_h && wo < p.out_w) {
      let r = activate(out${r}_${s} + bv);
      let yb = ((n * p.out_h + ho) * p.out_w + wo) * p.out_c;
      ${storeQuad('y', 'yb', 'c', 'p.out_c', 'r', v.vec, v.half)}
    }
  }`;
  }
  return code;
}

const transpose = (t: Matrix): Matrix => t[0]!.map((_, j) => t.map((row) => row[j]!));

function outputGradStage(v: WinogradVariant): string {
  // One thread per (tile, output-channel quad): dy's m×m block (zeros past the image edge, where
  // the forward computed outputs it never stored), then A dY Aᵀ.
  const a = v.tile + 2;
  let code = tileThread('p.out_c');
  for (const r of range(v.tile)) for (const s of range(v.tile)) {
    code += `
  var e${r}_${s} = vec4f(0.0);
  {
    let ho = th * ${v.tile}u + ${r}u;
    let wo = tw * ${v.tile}u + ${s}u;
    if (ho < p.out_h && wo < p.out_w) { e${r}_${s} = ${loadQuad('dy', '((n * p.out_h + ho) * p.out_w + wo) * p.out_c', 'c', 'p.out_c', v.vec, v.half)}; }
  }`;
  }
  code += transform2d(transpose(MATRICES[v.tile].output));
  for (const r of range(a)) for (const s of range(a)) {
    code += `
  ${storeQuad('mg', `(t * ${a * a}u + ${r * a + s}u) * p.out_c`, 'c', 'p.out_c', `out${r}_${s}`, v.vec, false)}`;
  }
  return code;
}

function filterGradStage(v: WinogradVariant): string {
  // One thread per (ci, output-channel quad): ug [Cin, a² · Cout] → dw HWIO [3, 3, Cin, Cout].
  const a = v.tile + 2;
  let code = `
  let c4n = (p.out_c + 3u) / 4u;
  if (i >= p.in_c * c4n) { return; }
  let c = (i % c4n) * 4u;
  let ci = i / c4n;`;
  for (const r of range(a)) for (const s of range(a)) {
    code += `
  let e${r}_${s} = ${loadQuad('ug', `(ci * ${a * a}u + ${r * a + s}u) * p.out_c`, 'c', 'p.out_c', v.vec, false)};`;
  }
  code += transform2d(transpose(MATRICES[v.tile].filter));
  for (const r of range(3)) for (const s of range(3)) {
    code += `
  ${storeQuad('dw', `((${r * 3 + s}u) * p.in_c + ci) * p.out_c`, 'c', 'p.out_c', `out${r}_${s}`, v.vec, v.half)}`;
  }
  return code;
}

const STAGES: Record<WinogradStage, (v: WinogradVariant) => string> = {
  filter: filterStage,
  input: inputStage,
  output: outputStage,
  outputGrad: outputGradStage,
  filterGrad: filterGradStage,
};

/** The WGSL of one Winograd stage. */
export function convWinogradWgsl(v: WinogradVariant): string {
  const io = (vec: boolean) => storageArray(vec, v.half);
  const f32 = (vec: boolean) => storageArray(vec, false);
  const bindings = {
    filter: `
@group(0) @binding(0) var<storage, read> w: ${io(v.vec && !v.flip)};
@group(0) @binding(1) var<storage, read_write> u: ${f32(v.vec)};
@group(0) @binding(2) var<uniform> p: Params;`,
    input: `
@group(0) @binding(0) var<storage, read> x: ${io(v.vec)};
@group(0) @binding(1) var<storage, read_write> v: ${f32(v.vec)};
@group(0) @binding(2) var<uniform> p: Params;
${SRC_INDEX}`,
    output: `
@group(0) @binding(0) var<storage, read> m: ${f32(v.vec)};
@group(0) @binding(1) var<storage, read> bias: ${io(v.vec)};
@group(0) @binding(2) var<storage, read_write> y: ${io(v.vec)};
@group(0) @binding(3) var<uniform> p: Params;
${ACTIVATION}`,
    outputGrad: `
@group(0) @binding(0) var<storage, read> dy: ${io(v.vec)};
@group(0) @binding(1) var<storage, read_write> mg: ${f32(v.vec)};
@group(0) @binding(2) var<uniform> p: Params;`,
    filterGrad: `
@group(0) @binding(0) var<storage, read> ug: ${f32(v.vec)};
@group(0) @binding(1) var<storage, read_write> dw: ${io(v.vec)};
@group(0) @binding(2) var<uniform> p: Params;`,
  }[v.stage];
  if (v.flip && v.stage !== 'filter') throw new Error(`conv2d: only the winograd filter stage flips, not '${v.stage}'`);
  const body = STAGES[v.stage](v);
  return `${f16Header(v.half)}${PARAMS}
${bindings}

@compute @workgroup_size(${WINOGRAD_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(WINOGRAD_WG)};${body}
}
`;
}
