import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';

export const SYMMETRIZE_WG = 256;

function range(n: number): number[] {
  return [...Array(n).keys()];
}

const COMPONENTS = ['x', 'y', 'z', 'w'];

/**
 * dst[b, i, j] = scale · (src[b, i, j] + src[b, j, i]) for a batch of square matrices: the part of
 * a Gram matrix's upstream gradient that reaches the features (G = FᵀF ⇒ dF = F·(dG + dGᵀ)).
 */
export function symmetrizeWgsl(): string {
  return `
struct Params { n: u32, size: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${SYMMETRIZE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let idx = ${flatIndexWgsl(SYMMETRIZE_WG)};
  if (idx >= p.n) { return; }
  let square = p.size * p.size;
  let base = (idx / square) * square;
  let r = idx - base;
  let i = r / p.size;
  let j = r - i * p.size;
  dst[idx] = p.scale * (src[idx] + src[base + j * p.size + i]);
}
`;
}

/**
 * The same for matrices whose size is a multiple of 4, a 4×4 block per thread: 4 row vec4s of the
 * block and 4 of its mirror, transposed in registers, so no load is strided (the scalar version's
 * transposed read is a gather per element).
 */
export function symmetrizeBlocksWgsl(): string {
  const rows = range(4)
    .map((r) => `  dst[at + ${r}u * c4] = p.scale * (src[at + ${r}u * c4] + vec4f(${range(4).map((q) => `m${q}.${COMPONENTS[r]}`).join(', ')}));`)
    .join('\n');
  return `
struct Params { blocks: u32, size: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${SYMMETRIZE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let idx = ${flatIndexWgsl(SYMMETRIZE_WG)};
  if (idx >= p.blocks) { return; }
  let c4 = p.size / 4u;
  let bx = idx % c4;
  let rest = idx / c4;
  let by = rest % c4;
  let base = (rest - by) * p.size;
  // Block rows 4·by .. +3 at column quad bx, and the mirror block's rows 4·bx .. +3 at quad by.
  let at = base + by * 4u * c4 + bx;
  let mirror = base + bx * 4u * c4 + by;
${range(4).map((q) => `  let m${q} = src[mirror + ${q}u * c4];`).join('\n')}
${rows}
}
`;
}

// ---------------------------------------------------------------------------------------------
// Subgroup kernels for adapters whose subgroups are exactly 8 lanes wide (llvmpipe runs one as an
// 8-wide SIMD register, where every memory load is a per-lane sequence but a lane-to-lane
// broadcast is one shuffle): each lane loads a distinct vec4 of an operand and the others read it
// through subgroupBroadcast, so there is no workgroup memory, no barrier and many multiply-adds
// per load. Both need a channel count that is a multiple of 4 (vec4 loads along the channels).
// ---------------------------------------------------------------------------------------------

export const GRAM_SG_SIZE = 8;
/** Threads per workgroup: 8 subgroups of 8 lanes. */
export const GRAM_SG_WG = 64;
/** Channels per Gram block: 8 lanes × 4 channels. */
export const GRAM_BLOCK = 32;

/**
 * Partial Gram blocks, split over the pixels. Each subgroup runs one task: a 32×32 block (bi, bj)
 * on or above the diagonal, of one batch, summed over one chunk of pixels; the 8 subgroups of a
 * workgroup take consecutive tasks, block pairs fastest, so they walk the same pixels. Lane l
 * holds channels bi·32 + 4l .. +3 of the current pixel (its 4 rows) and loads channels
 * bj·32 + 4l .. +3; the other lanes' column quads arrive by broadcast, so per pixel a lane does 2
 * loads, 8 broadcasts and 32 vec4 FMAs. Every subgroup runs the same trip count (pixels past the
 * chunk's end are masked), so the broadcasts stay in uniform control flow. With several splits,
 * partial[n, split, i, j] holds the sums for blocks on or above the diagonal and `gramReduceWgsl`
 * sums the splits and mirrors; with one split the kernel writes G itself, scaled and mirrored.
 */
export function gramPartialWgsl(): string {
  const acc = (r: number, j4: number) => `acc${r}_${j4}`;
  let body = '';
  for (let j4 = 0; j4 < 8; j4++) {
    body += `
    {
      let bb = subgroupBroadcast(b, ${j4}u);`;
    for (let r = 0; r < 4; r++) body += `
      ${acc(r, j4)} = fma(vec4f(a.${COMPONENTS[r]}), bb, ${acc(r, j4)});`;
    body += `
    }`;
  }
  let store = '';
  for (let r = 0; r < 4; r++) {
    for (let j4 = 0; j4 < 8; j4++) {
      store += `
    if (col0 + ${j4 * 4}u < p.c) { partial[(out_row + ${r}u * p.c + col0) / 4u + ${j4}u] = ${acc(r, j4)} * p.scale; }`;
    }
  }
  // The mirror: column col0 + 4·j4 + q of the block is a row of the lower block, whose 4 values
  // at this lane's channels are component q of the lane's 4 row accumulators.
  let mirror = '';
  for (let j4 = 0; j4 < 8; j4++) {
    for (let q = 0; q < 4; q++) {
      mirror += `
      if (col0 + ${j4 * 4 + q}u < p.c) { partial[(mirror_base + (col0 + ${j4 * 4 + q}u) * p.c) / 4u + quad_a] = vec4f(${range(4).map((r) => `${acc(r, j4)}.${COMPONENTS[q]}`).join(', ')}) * p.scale; }`;
    }
  }
  return `enable subgroups;
struct Params { pixels: u32, c: u32, chunk: u32, splits: u32, blocks: u32, pairs: u32, tasks: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> f: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> partial: array<vec4f>;
@group(0) @binding(2) var<uniform> p: Params;

/** Index of the first pair of block row \`bi\` (pairs run row by row over the upper triangle). */
fn row_start(bi: u32) -> u32 { return bi * (2u * p.blocks + 1u - bi) / 2u; }

@compute @workgroup_size(${GRAM_SG_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let task_id = (wid.x + wid.y * nwg.x) * ${GRAM_SG_WG / GRAM_SG_SIZE}u + lid / ${GRAM_SG_SIZE}u;
  let live = task_id < p.tasks;
  let task = min(task_id, p.tasks - 1u);
  let pair = task % p.pairs;
  let rest = task / p.pairs;
  let split = rest % p.splits;
  let n = rest / p.splits;
  // Block row of the pair: the float estimate of the triangular root, then corrected by one.
  let q = f32(2u * p.blocks + 1u);
  var bi = min(u32(max(floor((q - sqrt(max(q * q - 8.0 * f32(pair), 0.0))) * 0.5), 0.0)), p.blocks - 1u);
  bi = select(bi, bi - 1u, bi > 0u && row_start(bi) > pair);
  bi = select(bi, bi + 1u, bi + 1u < p.blocks && row_start(bi + 1u) <= pair);
  let bj = bi + pair - row_start(bi);
  let c4 = p.c / 4u;
  let quad_a = bi * 8u + sid;
  let quad_b = bj * 8u + sid;
  let ok_a = quad_a < c4;
  let ok_b = quad_b < c4;
  let pix0 = split * p.chunk;
  let batch_base = n * p.pixels * c4;
${range(4).flatMap((r) => range(8).map((j4) => `  var ${acc(r, j4)} = vec4f(0.0);`)).join('\n')}
  for (var t = 0u; t < p.chunk; t++) {
    let pix = pix0 + t;
    let in_range = pix < p.pixels;
    let row = batch_base + pix * c4;
    let a = select(vec4f(0.0), f[select(0u, row + quad_a, in_range && ok_a)], in_range && ok_a);
    let b = select(vec4f(0.0), f[select(0u, row + quad_b, in_range && ok_b)], in_range && ok_b);${body}
  }
  if (live && ok_a) {
    let out_row = (rest * p.c + quad_a * 4u) * p.c;
    let col0 = bj * ${GRAM_BLOCK}u;${store}
    if (p.splits == 1u && bi != bj) {
      let mirror_base = rest * p.c * p.c;${mirror}
    }
  }
}
`;
}

export const GRAM_REDUCE_WG = 256;

/**
 * G[n, i, j] = scale · Σ_split partial[n, split, i', j'] where (i', j') is (i, j) for blocks on or
 * above the diagonal and (j, i) below it (the partial kernel computes only those blocks).
 */
export function gramReduceWgsl(): string {
  return `
struct Params { total: u32, c: u32, splits: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${GRAM_REDUCE_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let idx = ${flatIndexWgsl(GRAM_REDUCE_WG)};
  if (idx >= p.total) { return; }
  let square = p.c * p.c;
  let base = (idx / square) * square;
  let r = idx - base;
  let i = r / p.c;
  let j = r - i * p.c;
  let src = base * p.splits + select(j * p.c + i, r, i / ${GRAM_BLOCK}u <= j / ${GRAM_BLOCK}u);
  var sum = 0.0;
  for (var s = 0u; s < p.splits; s++) { sum += partial[src + s * square]; }
  g[idx] = p.scale * sum;
}
`;
}

/** Pixels each lane of the backward kernel owns. */
export const GRAM_BWD_ROWS = 4;
/** Columns (channels) each subgroup of the backward kernel covers. */
export const GRAM_BWD_COLS = 32;

/**
 * dF[n] = F[n]·S[n] for features F [pixels, C] and a symmetric S [C, C] (the symmetrised, scaled
 * upstream gradient). A workgroup's 8 subgroups form sg_m row blocks × (8 / sg_m) column blocks;
 * lane l owns pixels row0 + l + 8i (i < 4) and the subgroup 32 columns. Per channel quad k a lane
 * loads its 4 pixels' quads and — S being symmetric — rows col0 + l + 8s (s < 4) of S at k as
 * vec4s, which are those columns at rows k..k+3; the 32 columns then arrive by broadcast and each
 * product is a dot of a pixel's quad with a column quad (8 loads, 32 broadcasts, 512 MACs).
 */
export function gramBackwardWgsl(): string {
  const R = GRAM_BWD_ROWS;
  const J4 = GRAM_BWD_COLS / 4;
  const slots = GRAM_BWD_COLS / GRAM_SG_SIZE;
  let code = `enable subgroups;
struct Params { pixels: u32, c: u32, sg_m: u32, n_tiles: u32 }
@group(0) @binding(0) var<storage, read> f: array<vec4f>;
@group(0) @binding(1) var<storage, read> s: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> df: array<vec4f>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${GRAM_SG_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let sgi = lid / 8u;
  let c4 = p.c / 4u;
  let n = wid.z / p.n_tiles;
  let tile_m = wid.x + wid.y * nwg.x;
  let tile_n = ((wid.z % p.n_tiles) * (8u / p.sg_m) + sgi / p.sg_m) * ${GRAM_BWD_COLS}u;
  let row0 = (tile_m * p.sg_m + sgi % p.sg_m) * ${GRAM_SG_SIZE * R}u;
  let f_base = n * p.pixels * c4;
  let s_base = n * p.c * c4;
${range(R).flatMap((i) => range(J4).map((j4) => `  var acc${i}_${j4} = vec4f(0.0);`)).join('\n')}`;
  for (let i = 0; i < R; i++) {
    code += `
  let m${i} = row0 + ${i * GRAM_SG_SIZE}u + sid;
  let okm${i} = m${i} < p.pixels;
  let fa${i} = select(0u, f_base + m${i} * c4, okm${i});`;
  }
  // Slot sl of lane l: row (= column, S being symmetric) tile_n + l + 8·sl of S.
  for (let sl = 0; sl < slots; sl++) {
    code += `
  let okb${sl} = tile_n + ${sl * GRAM_SG_SIZE}u + sid < p.c;
  let sb${sl} = select(0u, s_base + (tile_n + ${sl * GRAM_SG_SIZE}u + sid) * c4, okb${sl});`;
  }
  code += `
  for (var k = 0u; k < c4; k++) {`;
  for (let i = 0; i < R; i++) code += `
    let a${i} = f[fa${i} + k];`;
  for (let sl = 0; sl < slots; sl++) code += `
    let b${sl} = select(vec4f(0.0), s[sb${sl} + k], okb${sl});`;
  for (let j4 = 0; j4 < J4; j4++) {
    code += `
    {`;
    for (let j = 0; j < 4; j++) {
      const col = j4 * 4 + j;
      code += `
      let bb${j} = subgroupBroadcast(b${Math.floor(col / GRAM_SG_SIZE)}, ${col % GRAM_SG_SIZE}u);`;
    }
    for (let i = 0; i < R; i++) code += `
      acc${i}_${j4} += vec4f(dot(a${i}, bb0), dot(a${i}, bb1), dot(a${i}, bb2), dot(a${i}, bb3));`;
    code += `
    }`;
  }
  code += `
  }`;
  for (let i = 0; i < R; i++) {
    code += `
  if (okm${i}) {`;
    for (let j4 = 0; j4 < J4; j4++) code += `
    if (tile_n + ${j4 * 4}u < p.c) { df[fa${i} + tile_n / 4u + ${j4}u] = acc${i}_${j4}; }`;
    code += `
  }`;
  }
  return code + '\n}\n';
}
