import { f16Header, storageArray } from '../common/f16.wgsl.ts';
import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../../gpu/grid.ts';
import { ACTIVATION, range, SRC_INDEX } from './common.wgsl.ts';

/*
 * Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray's minimal filtering): each 2×2
 * block of outputs ("tile") comes from a 4×4 input patch with 16 products per channel pair instead
 * of 36. Three transforms around one batched product:
 *
 *   U[ξ] = (G g Gᵀ)[ξ]       filter, per (ci, co)         u   [Cin, 16 · Cout]
 *   V[ξ] = (Bᵀ d B)[ξ]       input patch, per (tile, ci)  v   [tiles, 16 · Cin]
 *   M[ξ] = V[ξ] · U[ξ]       16 GEMMs, one per ξ          m   [tiles, 16 · Cout]
 *   y    = Aᵀ M A (+ bias, activation)                    y   NHWC, 2×2 per tile
 *
 * ξ = 4·row + column of the 4×4 transformed tile. v and u are laid out as the input and HWIO
 * filter of a 1×1 convolution with 16 groups, so the product runs on the tuned convolution kernels.
 * The transformed operands are f32 whatever the storage of x, w and y (f16 storage is read and
 * written at the edges only). Each thread handles 4 consecutive channels (a vec4 when the channel
 * count is a multiple of 4, else 4 guarded scalars).
 */

export const WINOGRAD_WG = 64;

export type WinogradStage = 'filter' | 'input' | 'output';

export interface WinogradVariant {
  stage: WinogradStage;
  /** The channel axis the stage runs along (Cout for filter/output, Cin for input) is a multiple of 4. */
  vec: boolean;
  /** f16 storage of x, w, bias and y. */
  half: boolean;
}

const PARAMS = `
struct Params {
  in_h: u32, in_w: u32, in_c: u32,
  out_h: u32, out_w: u32, out_c: u32,
  pad_top: i32, pad_left: i32, lim_h: i32, lim_w: i32, reflect: u32,
  tiles_h: u32, tiles_w: u32, tiles: u32,
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

/**
 * The 1-D transforms, applied to the rows and then the columns of a tile; `v(i)` names element i
 * of a line, the result is the list of output expressions.
 */
const TRANSFORMS = {
  // G (4×3): [g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2]
  filter: (v: (i: number) => string) => [v(0), `0.5 * (${v(0)} + ${v(1)} + ${v(2)})`, `0.5 * (${v(0)} - ${v(1)} + ${v(2)})`, v(2)],
  // Bᵀ (4×4): [d0-d2, d1+d2, d2-d1, d1-d3]
  input: (v: (i: number) => string) => [`${v(0)} - ${v(2)}`, `${v(1)} + ${v(2)}`, `${v(2)} - ${v(1)}`, `${v(1)} - ${v(3)}`],
  // Aᵀ (2×4): [m0+m1+m2, m1-m2-m3]
  output: (v: (i: number) => string) => [`${v(0)} + ${v(1)} + ${v(2)}`, `${v(1)} - ${v(2)} - ${v(3)}`],
};

/**
 * WGSL declaring `out{r}_{c}` = T e Tᵀ for the `inRows`×`inRows` grid `e{r}_{c}` already declared:
 * first along rows into `h{r}_{c}`, then along columns.
 */
function transform2d(kind: keyof typeof TRANSFORMS, inRows: number): string {
  const t = TRANSFORMS[kind];
  const outRows = t(() => '').length;
  let code = '';
  for (let c = 0; c < inRows; c++) {
    t((r) => `e${r}_${c}`).forEach((expr, r) => (code += `\n  let h${r}_${c} = ${expr};`));
  }
  for (let r = 0; r < outRows; r++) {
    t((c) => `h${r}_${c}`).forEach((expr, c) => (code += `\n  let out${r}_${c} = ${expr};`));
  }
  return code;
}

function filterStage(v: WinogradVariant): string {
  // One thread per (ci, output-channel quad); w HWIO [3, 3, Cin, Cout] → u [Cin, 16 · Cout].
  let code = `
  let c4n = (p.out_c + 3u) / 4u;
  if (i >= p.in_c * c4n) { return; }
  let c = (i % c4n) * 4u;
  let ci = i / c4n;`;
  for (const r of range(3)) for (const s of range(3)) {
    code += `
  let e${r}_${s} = ${loadQuad('w', `((${r * 3 + s}u) * p.in_c + ci) * p.out_c`, 'c', 'p.out_c', v.vec, v.half)};`;
  }
  code += transform2d('filter', 3);
  for (const r of range(4)) for (const s of range(4)) {
    code += `
  ${storeQuad('u', `(ci * 16u + ${r * 4 + s}u) * p.out_c`, 'c', 'p.out_c', `out${r}_${s}`, v.vec, false)}`;
  }
  return code;
}

function inputStage(v: WinogradVariant): string {
  // One thread per (tile, input-channel quad). Rows and columns past the padded input (the last
  // tile of an odd output) read as zeros; their outputs are never stored.
  let code = `
  let c4n = (p.in_c + 3u) / 4u;
  if (i >= p.tiles * c4n) { return; }
  let c = (i % c4n) * 4u;
  let t = i / c4n;
  let tw = t % p.tiles_w;
  let th = (t / p.tiles_w) % p.tiles_h;
  let n = t / (p.tiles_w * p.tiles_h);
  let h0 = i32(th * 2u) - p.pad_top;
  let w0 = i32(tw * 2u) - p.pad_left;`;
  for (const r of range(4)) {
    code += `
  let hi${r} = select(-1, src_index(h0 + ${r}, p.in_h), h0 + ${r} < p.lim_h);
  let wi${r} = select(-1, src_index(w0 + ${r}, p.in_w), w0 + ${r} < p.lim_w);`;
  }
  for (const r of range(4)) for (const s of range(4)) {
    const load = loadQuad('x', `((n * p.in_h + u32(hi${r})) * p.in_w + u32(wi${s})) * p.in_c`, 'c', 'p.in_c', v.vec, v.half);
    code += `
  var e${r}_${s} = vec4f(0.0);
  if (hi${r} >= 0 && wi${s} >= 0) { e${r}_${s} = ${load}; }`;
  }
  code += transform2d('input', 4);
  for (const r of range(4)) for (const s of range(4)) {
    code += `
  ${storeQuad('v', `(t * 16u + ${r * 4 + s}u) * p.in_c`, 'c', 'p.in_c', `out${r}_${s}`, v.vec, false)}`;
  }
  return code;
}

function outputStage(v: WinogradVariant): string {
  // One thread per (tile, output-channel quad): 2×2 outputs, bias and activation, the tile's
  // outputs past the image edge skipped.
  let code = `
  let c4n = (p.out_c + 3u) / 4u;
  if (i >= p.tiles * c4n) { return; }
  let c = (i % c4n) * 4u;
  let t = i / c4n;
  let tw = t % p.tiles_w;
  let th = (t / p.tiles_w) % p.tiles_h;
  let n = t / (p.tiles_w * p.tiles_h);`;
  for (const r of range(4)) for (const s of range(4)) {
    code += `
  let e${r}_${s} = ${loadQuad('m', `(t * 16u + ${r * 4 + s}u) * p.out_c`, 'c', 'p.out_c', v.vec, false)};`;
  }
  code += transform2d('output', 4);
  code += `
  var bv = vec4f(0.0);
  if (p.has_bias != 0u) { bv = ${loadQuad('bias', '0u', 'c', 'p.out_c', v.vec, v.half)}; }`;
  for (const r of range(2)) for (const s of range(2)) {
    code += `
  {
    let ho = th * 2u + ${r}u;
    let wo = tw * 2u + ${s}u;
    if (ho < p.out_h && wo < p.out_w) {
      let r = activate(out${r}_${s} + bv);
      let yb = ((n * p.out_h + ho) * p.out_w + wo) * p.out_c;
      ${storeQuad('y', 'yb', 'c', 'p.out_c', 'r', v.vec, v.half)}
    }
  }`;
  }
  return code;
}

/** The WGSL of one Winograd stage. */
export function convWinogradWgsl(v: WinogradVariant): string {
  const io = (vec: boolean) => storageArray(vec, v.half);
  const f32 = (vec: boolean) => storageArray(vec, false);
  const bindings = {
    filter: `
@group(0) @binding(0) var<storage, read> w: ${io(v.vec)};
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
  }[v.stage];
  const body = v.stage === 'filter' ? filterStage(v) : v.stage === 'input' ? inputStage(v) : outputStage(v);
  return `${f16Header(v.half)}${PARAMS}
${bindings}

@compute @workgroup_size(${WINOGRAD_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let i = ${flatIndexWgsl(WINOGRAD_WG)};${body}
}
`;
}
