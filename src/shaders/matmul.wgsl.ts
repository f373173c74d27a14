/**
 * Tiled matrix product C = scale · Σ_inner op(A)·op(B), batched, for every transpose combination.
 *
 * Each workgroup computes one TILE×TILE block of C with (TILE/BLOCK)² threads; each thread owns a
 * BLOCK×BLOCK register block (4×4 or 8×8) made of 4×4 sub-blocks strided by the thread grid (rows
 * (g·side + ty)·4 + 0..3, columns (g·side + tx)·4 + 0..3), held as vec4 accumulators. The K axis is
 * walked in slices of DEPTH: both operands' slices are staged in workgroup memory k-major
 * (`a_tile[k][m]`, `b_tile[k][n]`), so each k step is BLOCK/2 vec4 reads and BLOCK²/4 vec4 FMAs.
 *
 * Transposes are handled by indexing: a slice is read along the operand's contiguous axis (with
 * vec4 loads in the `vec4` variant) and, when that axis is K, scattered into the k-major tile.
 *
 * The reduction index is (inner batch, K slice): `tiles = inner · k_tiles` slices in all. A launch
 * may split those slices over `splits` workgroups (split-K, for few output tiles and a long K);
 * split s writes its partial block to `c[(s · outer + batch) · M · N ..]`, summed by a second pass.
 * Summing over inner batches computes Σ_b A_b·B_b, the gradient of a batch-broadcast operand.
 *
 * `symmetric` (Gram matrices, where op(A)·op(B) is symmetric): only tiles on or above the diagonal
 * run, and each writes its block and the transposed block.
 */

export interface MatmulVariant {
  transA: boolean;
  transB: boolean;
  /** Global loads and stores as vec4: needs the contiguous axes of A, B and C to be multiples of 4. */
  vec4: boolean;
  /** Output tile edge (a multiple of `block`). */
  tile: number;
  /** Rows and columns of C each thread accumulates: 4 or 8; (tile / block)² threads. */
  block: 4 | 8;
  symmetric: boolean;
}

/** K slice staged per step. */
export const MATMUL_DEPTH = 16;

/**
 * Loads one operand slice into workgroup memory. `contiguousIsK` says whether the operand's
 * storage rows run along K (A untransposed, B transposed); `rows` is the other (M or N) extent.
 */
function loadSlice(opts: {
  src: string;
  dst: string;
  base: string;
  vec4: boolean;
  tile: number;
  threads: number;
  contiguousIsK: boolean;
  /** extent of the free axis (M or N) and its tile origin */
  extent: string;
  origin: string;
}): string {
  const { src, dst, base, vec4, tile, threads, contiguousIsK, extent, origin } = opts;
  const lanes = tile / 4; // vec4 slots per tile row in workgroup memory
  const slots = (tile * MATMUL_DEPTH) / 4; // vec4s per slice
  const perThread = slots / threads;
  const lines: string[] = [];
  for (let i = 0; i < perThread; i++) {
    const e = i === 0 ? 'lid' : `lid + ${i * threads}u`;
    if (!contiguousIsK) {
      // Storage is [K][extent]: a slot is 4 consecutive free-axis values of one k row.
      lines.push(`    {
      let e = ${e};
      let kk = e / ${lanes}u;
      let f = ${origin} + (e % ${lanes}u) * 4u;
      let k = k0 + kk;
      let row = ${base} + k * ${extent} + f;`);
      if (vec4) {
        lines.push(`      var v = vec4f(0.0);
      if (k < p.k && f < ${extent}) { v = ${src}[row / 4u]; }
      ${dst}[e] = v;
    }`);
      } else {
        lines.push(`      var v = vec4f(0.0);
      if (k < p.k) {
        for (var j = 0u; j < 4u; j++) {
          if (f + j < ${extent}) { v[j] = ${src}[row + j]; }
        }
      }
      ${dst}[e] = v;
    }`);
      }
    } else {
      // Storage is [extent][K]: a slot is 4 consecutive k values of one free-axis row, scattered.
      lines.push(`    {
      let e = ${e};
      let ff = e / ${MATMUL_DEPTH / 4}u;
      let kk = (e % ${MATMUL_DEPTH / 4}u) * 4u;
      let f = ${origin} + ff;
      let k = k0 + kk;
      let row = ${base} + f * p.k + k;`);
      if (vec4) {
        lines.push(`      var v = vec4f(0.0);
      if (f < ${extent} && k < p.k) { v = ${src}[row / 4u]; }`);
      } else {
        lines.push(`      var v = vec4f(0.0);
      if (f < ${extent}) {
        for (var j = 0u; j < 4u; j++) {
          if (k + j < p.k) { v[j] = ${src}[row + j]; }
        }
      }`);
      }
      lines.push(`      let slot = ff / 4u;
      let lane = ff % 4u;
      ${dst}[kk * ${lanes}u + slot][lane] = v.x;
      ${dst}[(kk + 1u) * ${lanes}u + slot][lane] = v.y;
      ${dst}[(kk + 2u) * ${lanes}u + slot][lane] = v.z;
      ${dst}[(kk + 3u) * ${lanes}u + slot][lane] = v.w;
    }`);
    }
  }
  return lines.join('\n');
}

function storeBlock(vec4: boolean, transposed: boolean, groups: number, side: number): string {
  // Register block (i4, j) holds rows (i4·side + ty)·4 + r and columns (j·side + tx)·4 + 0..3; its
  // mirror (a symmetric product's lower half) goes to the transposed position.
  const lines: string[] = [];
  for (let i4 = 0; i4 < groups; i4++) {
    for (let j = 0; j < groups; j++) {
      const acc = (r: number) => `acc[${(i4 * 4 + r) * groups + j}]`;
      lines.push(`  {
    let rows = m0 + (${i4 * side}u + ty) * 4u;
    let cols = n0 + (${j * side}u + tx) * 4u;`);
      for (let r = 0; r < 4; r++) {
        const value = transposed ? `vec4f(${acc(0)}[${r}], ${acc(1)}[${r}], ${acc(2)}[${r}], ${acc(3)}[${r}])` : acc(r);
        const row = transposed ? `cols + ${r}u` : `rows + ${r}u`;
        const col = transposed ? 'rows' : 'cols';
        const rowLimit = transposed ? 'p.n' : 'p.m';
        const colLimit = transposed ? 'p.m' : 'p.n';
        lines.push(`    {
      let row = ${row};
      let col = ${col};
      let v = ${value} * p.scale;`);
        if (vec4) {
          lines.push(`      if (row < ${rowLimit} && col < ${colLimit}) { c[(c_base + row * p.n + col) / 4u] = v; }`);
        } else {
          lines.push(`      if (row < ${rowLimit}) {
        for (var q = 0u; q < 4u; q++) {
          if (col + q < ${colLimit}) { c[c_base + row * p.n + col + q] = v[q]; }
        }
      }`);
        }
        lines.push('    }');
      }
      lines.push('  }');
    }
  }
  return lines.join('\n');
}

export function matmulWgsl(v: MatmulVariant): string {
  const T = v.vec4 ? 'vec4f' : 'f32';
  const lanes = v.tile / 4; // vec4 slots per k row of a staged slice
  const groups = v.block / 4; // 4-row (4-column) groups per thread
  const side = v.tile / v.block; // threads per side
  const threads = side * side;
  const slots = (v.tile * MATMUL_DEPTH) / 4;
  if (slots % threads !== 0) throw new Error(`matmul: a ${v.tile}×${MATMUL_DEPTH} slice does not divide over ${threads} threads`);
  const inner: string[] = [];
  for (let kk = 0; kk < MATMUL_DEPTH; kk++) {
    inner.push('    {');
    for (let g = 0; g < groups; g++) {
      inner.push(`      let a${g} = a_tile[${kk * lanes + g * side}u + ty];`);
      inner.push(`      let b${g} = b_tile[${kk * lanes + g * side}u + tx];`);
    }
    for (let i4 = 0; i4 < groups; i4++) {
      for (let r = 0; r < 4; r++) {
        for (let j = 0; j < groups; j++) {
          const idx = (i4 * 4 + r) * groups + j;
          inner.push(`      acc[${idx}] = fma(vec4f(a${i4}[${r}]), b${j}, acc[${idx}]);`);
        }
      }
    }
    inner.push('    }');
  }
  return `
struct Params {
  m: u32, n: u32, k: u32, k_tiles: u32,
  tiles: u32, chunk: u32, splits: u32, outer: u32,
  a_outer: u32, a_inner: u32, b_outer: u32, b_inner: u32,
  scale: f32,
}
@group(0) @binding(0) var<storage, read> a: array<${T}>;
@group(0) @binding(1) var<storage, read> b: array<${T}>;
@group(0) @binding(2) var<storage, read_write> c: array<${T}>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> a_tile: array<vec4f, ${slots}>;
var<workgroup> b_tile: array<vec4f, ${slots}>;

@compute @workgroup_size(${side}, ${side})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) local: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${v.symmetric ? 'if (wid.y > wid.x) { return; }' : ''}
  let split = wid.z % p.splits;
  let batch = wid.z / p.splits;
  let m0 = wid.y * ${v.tile}u;
  let n0 = wid.x * ${v.tile}u;
  let tx = local.x;
  let ty = local.y;
  var acc: array<vec4f, ${groups * groups * 4}>;
  let t_begin = split * p.chunk;
  let t_end = min(t_begin + p.chunk, p.tiles);
  for (var t = t_begin; t < t_end; t++) {
    let ib = t / p.k_tiles;
    let k0 = (t - ib * p.k_tiles) * ${MATMUL_DEPTH}u;
    let a_base = batch * p.a_outer + ib * p.a_inner;
    let b_base = batch * p.b_outer + ib * p.b_inner;
${loadSlice({ src: 'a', dst: 'a_tile', base: 'a_base', vec4: v.vec4, tile: v.tile, threads, contiguousIsK: !v.transA, extent: 'p.m', origin: 'm0' })}
${loadSlice({ src: 'b', dst: 'b_tile', base: 'b_base', vec4: v.vec4, tile: v.tile, threads, contiguousIsK: v.transB, extent: 'p.n', origin: 'n0' })}
    workgroupBarrier();
${inner.join('\n')}
    workgroupBarrier();
  }
  let c_base = (split * p.outer + batch) * p.m * p.n;
${storeBlock(v.vec4, false, groups, side)}
${v.symmetric ? `  if (wid.x != wid.y) {\n${storeBlock(v.vec4, true, groups, side)}\n  }` : ''}
}
`;
}
