import { FLAT_ENTRY_PARAMS, flatIndexWgsl } from '../gpu/grid.ts';
import { f16Header } from './common/f16.wgsl.ts';

/**
 * Kernels for the normalisation layers (instance, conditional instance, batch norm, AdaIN).
 * Activations are NHWC viewed as [groups, pixels, channels]: a group is one sample (instance
 * statistics) or the whole batch (batch statistics). Every shape lives in the uniforms.
 */

/** Threads per workgroup of the statistics kernels; a power of two (channel blocks divide it). */
export const STATS_WG = 64;
/** Threads per workgroup of the one-thread-per-element kernels. */
export const NORM_WG = 256;

/**
 * `moments`: Welford (count, mean, M2) of `src` per (group, channel), merged with Chan's formula,
 * so the variance is stable even when |mean| ≫ std. `sums`: (Σ src, Σ src·aux) per (group,
 * channel), the two reductions of the normalisation backward (Σ dy and Σ dy·x̂).
 */
export type StatsMode = 'moments' | 'sums';

function mergeWgsl(mode: StatsMode): string {
  if (mode === 'sums') {
    return `
fn merge(a: vec4f, b: vec4f) -> vec4f {
  return a + b;
}`;
  }
  return `
// Chan et al.: combine two (count, mean, M2) summaries.
fn merge(a: vec4f, b: vec4f) -> vec4f {
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let n = a.x + b.x;
  let w = b.x / n;
  let d = b.y - a.y;
  return vec4f(n, a.y + d * w, a.z + b.z + d * d * a.x * w, 0.0);
}`;
}

/** f16 storage is read by the forward statistics only; the backward sums stay f32. */
function checkHalfStats(mode: StatsMode, half: boolean): void {
  if (half && mode !== 'moments') throw new Error("norm statistics: f16 storage is implemented for 'moments' (inference) only");
}

/**
 * Partial statistics: one workgroup per (channel block, split, group). Its 64 threads are `cb`
 * channels × `lanes` pixel lanes (cb · lanes = 64), so neighbouring threads read neighbouring
 * channels of a pixel. Each thread accumulates a strided run of the split's pixels, then the lanes
 * are merged in workgroup memory. Splits spread a large image over many workgroups (CPU cores on
 * lavapipe); `normStatsCombineWgsl` merges them.
 * Output: partial[(group · splits + split) · channels + c] = (count, mean, M2, 0) or (Σa, Σab, 0, 0).
 */
export function normStatsPartialWgsl(mode: StatsMode, half = false): string {
  checkHalfStats(mode, half);
  const aux = mode === 'sums' ? '\n@group(0) @binding(1) var<storage, read> aux: array<f32>;' : '';
  const binding = mode === 'sums' ? 2 : 1;
  const accumulate =
    mode === 'sums'
      ? `
      let v = src[at];
      s.x += v;
      s.y += v * aux[at];`
      : `
      let v = f32(src[at]);
      s.x += 1.0;
      let d = v - s.y;
      s.y += d / s.x;
      s.z += d * (v - s.y);`;
  return `${f16Header(half)}
struct Params { pixels: u32, channels: u32, cb: u32, lanes: u32, chunk: u32, splits: u32 }
@group(0) @binding(0) var<storage, read> src: array<${half ? 'f16' : 'f32'}>;${aux}
@group(0) @binding(${binding}) var<storage, read_write> partial: array<vec4f>;
@group(0) @binding(${binding + 1}) var<uniform> p: Params;

var<workgroup> acc: array<vec4f, ${STATS_WG}>;
${mergeWgsl(mode)}

@compute @workgroup_size(${STATS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let cc = lid % p.cb;
  let lane = lid / p.cb;
  let c = wid.x * p.cb + cc;
  let split = wid.y;
  let g = wid.z;
  let start = split * p.chunk;
  let end = min(start + p.chunk, p.pixels);
  var s = vec4f(0.0);
  if (c < p.channels) {
    let base = g * p.pixels * p.channels + c;
    for (var px = start + lane; px < end; px += p.lanes) {
      let at = base + px * p.channels;${accumulate}
    }
  }
  acc[lid] = s;
  workgroupBarrier();
  for (var stride = p.lanes / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      acc[lid] = merge(acc[lid], acc[lid + stride * p.cb]);
    }
    workgroupBarrier();
  }
  if (lane == 0u && c < p.channels) {
    partial[(g * p.splits + split) * p.channels + c] = acc[lid];
  }
}
`;
}

/**
 * `normStatsPartialWgsl` four channels per thread (C % 4 == 0; `channels` and `cb` count vec4s):
 * vec4 loads, and in `moments` one shared count, so one division per pixel updates four running
 * means. The output is the scalar kernel's, one entry per channel, so the same merge follows.
 */
export function normStatsPartialVec4Wgsl(mode: StatsMode, half = false): string {
  checkHalfStats(mode, half);
  const moments = mode === 'moments';
  const aux = moments ? '' : '\n@group(0) @binding(1) var<storage, read> aux: array<vec4f>;';
  const binding = moments ? 1 : 2;
  const accumulate = moments
    ? `
      let v = vec4f(src[at]);
      n += 1.0;
      let d = v - a;
      a += d / n;
      b += d * (v - a);`
    : `
      let v = src[at];
      a += v;
      b += v * aux[at];`;
  // Chan's merge with the other side's count nb (a side with no values leaves this one as it is).
  const merge = moments
    ? `
      let nb = acc_n[o];
      if (nb > 0.0) {
        let na = acc_n[lid];
        let total = na + nb;
        let w = nb / total;
        let d = acc_a[o] - acc_a[lid];
        acc_a[lid] = acc_a[lid] + d * w;
        acc_b[lid] = acc_b[lid] + acc_b[o] + d * d * na * w;
        acc_n[lid] = total;
      }`
    : `
      acc_a[lid] = acc_a[lid] + acc_a[o];
      acc_b[lid] = acc_b[lid] + acc_b[o];`;
  const entry = moments ? 'vec4f(acc_n[lid], acc_a[lid][k], acc_b[lid][k], 0.0)' : 'vec4f(acc_a[lid][k], acc_b[lid][k], 0.0, 0.0)';
  return `${f16Header(half)}
struct Params { pixels: u32, channels: u32, cb: u32, lanes: u32, chunk: u32, splits: u32 }
@group(0) @binding(0) var<storage, read> src: array<${half ? 'vec4<f16>' : 'vec4f'}>;${aux}
@group(0) @binding(${binding}) var<storage, read_write> partial: array<vec4f>;
@group(0) @binding(${binding + 1}) var<uniform> p: Params;

// moments: count, mean, M2; sums: -, Σa, Σab.
var<workgroup> acc_n: array<f32, ${STATS_WG}>;
var<workgroup> acc_a: array<vec4f, ${STATS_WG}>;
var<workgroup> acc_b: array<vec4f, ${STATS_WG}>;

@compute @workgroup_size(${STATS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let cc = lid % p.cb;
  let lane = lid / p.cb;
  let c = wid.x * p.cb + cc;
  let split = wid.y;
  let g = wid.z;
  let start = split * p.chunk;
  let end = min(start + p.chunk, p.pixels);
  var n = 0.0;
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  if (c < p.channels) {
    let base = g * p.pixels * p.channels + c;
    for (var px = start + lane; px < end; px += p.lanes) {
      let at = base + px * p.channels;${accumulate}
    }
  }
  acc_n[lid] = n;
  acc_a[lid] = a;
  acc_b[lid] = b;
  workgroupBarrier();
  for (var stride = p.lanes / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      let o = lid + stride * p.cb;${merge}
    }
    workgroupBarrier();
  }
  if (lane == 0u && c < p.channels) {
    let row = (g * p.splits + split) * p.channels * 4u + c * 4u;
    for (var k = 0u; k < 4u; k++) {
      partial[row + k] = ${entry};
    }
  }
}
`;
}

/**
 * Merges the splits of `normStatsPartialWgsl`: one thread per (group, channel) row.
 * `moments` writes the mean, the biased variance, 1/√(var + eps) and √(var + eps);
 * `sums` writes the two sums.
 */
export function normStatsCombineWgsl(mode: StatsMode): string {
  const outputs =
    mode === 'sums'
      ? `
@group(0) @binding(1) var<storage, read_write> sum_a: array<f32>;
@group(0) @binding(2) var<storage, read_write> sum_b: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`
      : `
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> variance: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> stddev: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;`;
  const write =
    mode === 'sums'
      ? `
  sum_a[r] = s.x;
  sum_b[r] = s.y;`
      : `
  let v = max(s.z / max(s.x, 1.0), 0.0);
  mean[r] = s.y;
  variance[r] = v;
  rstd[r] = 1.0 / sqrt(v + p.eps);
  stddev[r] = sqrt(v + p.eps);`;
  return `
struct Params { rows: u32, channels: u32, splits: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> partial: array<vec4f>;${outputs}
${mergeWgsl(mode)}

@compute @workgroup_size(${STATS_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let r = ${flatIndexWgsl(STATS_WG)};
  if (r >= p.rows) { return; }
  let g = r / p.channels;
  let c = r % p.channels;
  var s = vec4f(0.0);
  for (var k = 0u; k < p.splits; k++) {
    s = merge(s, partial[(g * p.splits + k) * p.channels + c]);
  }${write}
}
`;
}

/** Pixels one invocation of the apply / gradient kernels handles when the pixel count allows it. */
export const NORM_ROWS = 4;

/**
 * The shape uniforms and the thread → (pixel rows, channel) mapping shared by the apply and the
 * gradient kernels. The activation is a [rows, channels] matrix (rows = N · pixels; channels and
 * every operand index counted in elements of the kernel's type, f32 or vec4f). One invocation takes
 * one channel of `per_thread` consecutive rows of one sample, so its per-channel operands are loaded
 * once for all of them; masks and shifts replace the integer divisions (emulated per lane on CPU
 * drivers) when the channel count is a power of two, and a single sample needs none.
 */
const SHAPE_FIELDS = 'threads: u32, channels: u32, channels_pow2: u32, channels_shift: u32, pixels: u32, samples: u32, per_thread: u32,';

const THREAD_MAPPING = `
fn channelOf(t: u32) -> u32 {
  if (p.channels_pow2 != 0u) { return t & (p.channels - 1u); }
  return t % p.channels;
}
fn firstRowOf(t: u32) -> u32 {
  if (p.channels_pow2 != 0u) { return (t >> p.channels_shift) * p.per_thread; }
  return (t / p.channels) * p.per_thread;
}
fn sampleOf(row: u32) -> u32 {
  if (p.samples == 1u) { return 0u; }
  return row / p.pixels;
}`;

/** The variants of `normApplyWgsl`. */
export interface NormApplyVariant {
  /** Also write the normalised x̂ = (x − mean) · rstd for the backward pass. */
  xhat: boolean;
  /** Four channels per invocation (C % 4 == 0): vec4 loads of x and of every per-channel operand. */
  vec4: boolean;
  /** Epilogue: max(y, 0). */
  relu: boolean;
  /** Epilogue: y + residual (same shape as x), after the ReLU. */
  residual: boolean;
  /**
   * f16 storage for x, y, x̂ and the residual (arithmetic in f32; the per-channel operands stay
   * f32). Absent means f32, so the f32 variants keep their keys.
   */
  half?: boolean;
}

/**
 * y = act(alpha · ((x − mean) · rstd · scale + shift)) + residual, per element of an NHWC tensor.
 * Each per-channel operand is read at `n · stride + c` with stride C (one row per sample) or 0
 * (shared by the batch). Absent scale / shift are flagged off (their bindings then hold any
 * read-only tensor).
 */
export function normApplyWgsl(v: NormApplyVariant): string {
  const T = v.vec4 ? 'vec4f' : 'f32';
  // The activations' storage type: T itself, or its f16 counterpart.
  const S = v.half ? (v.vec4 ? 'vec4<f16>' : 'f16') : T;
  const store = (e: string) => (v.half ? `${S}(${e})` : e);
  const load = (e: string) => (v.half ? `${T}(${e})` : e);
  const extra = [
    v.xhat ? `@group(0) @binding(7) var<storage, read_write> xhat: array<${S}>;` : '',
    v.residual ? `@group(0) @binding(8) var<storage, read> residual: array<${S}>;` : '',
  ].filter(Boolean);
  return `${f16Header(v.half ?? false)}
struct Params {
  ${SHAPE_FIELDS}
  mean_stride: u32, rstd_stride: u32, scale_stride: u32, shift_stride: u32,
  has_scale: u32, has_shift: u32, alpha: f32,
}
@group(0) @binding(0) var<storage, read> src: array<${S}>;
@group(0) @binding(1) var<storage, read> mean: array<${T}>;
@group(0) @binding(2) var<storage, read> rstd: array<${T}>;
@group(0) @binding(3) var<storage, read> scale: array<${T}>;
@group(0) @binding(4) var<storage, read> shift: array<${T}>;
@group(0) @binding(5) var<storage, read_write> dst: array<${S}>;
@group(0) @binding(6) var<uniform> p: Params;${extra.map((l) => `\n${l}`).join('')}
${THREAD_MAPPING}

@compute @workgroup_size(${NORM_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let t = ${flatIndexWgsl(NORM_WG)};
  if (t >= p.threads) { return; }
  let c = channelOf(t);
  let row0 = firstRowOf(t);
  let n = sampleOf(row0);
  let m = mean[n * p.mean_stride + c];
  let r = rstd[n * p.rstd_stride + c];
  var g = ${T}(1.0);
  if (p.has_scale != 0u) { g = scale[n * p.scale_stride + c]; }
  var b = ${T}(0.0);
  if (p.has_shift != 0u) { b = shift[n * p.shift_stride + c]; }
  for (var k = 0u; k < p.per_thread; k++) {
    let i = (row0 + k) * p.channels + c;
    let xh = (${load('src[i]')} - m) * r;
    var y = p.alpha * (xh * g + b);${v.relu ? `\n    y = max(y, ${T}(0.0));` : ''}${v.residual ? `\n    y = y + ${load('residual[i]')};` : ''}
    dst[i] = ${store('y')};${v.xhat ? `\n    xhat[i] = ${store('xh')};` : ''}
  }
}
`;
}

/**
 * The input gradient of a normalisation, with g = scale · rstd:
 *   full (statistics depend on x): dx = g · (dy − (Σdy + x̂ · Σdy·x̂) / count)
 *   frozen (running statistics):   dx = g · dy
 * Σdy and Σdy·x̂ are per (group, channel), read with `sums_stride` like the other operands;
 * `vec4` and the thread mapping as in `normApplyWgsl`.
 */
export function normGradWgsl(vec4: boolean): string {
  const T = vec4 ? 'vec4f' : 'f32';
  return `
struct Params {
  ${SHAPE_FIELDS}
  rstd_stride: u32, scale_stride: u32, sums_stride: u32,
  has_scale: u32, full: u32, inv_count: f32,
}
@group(0) @binding(0) var<storage, read> dy: array<${T}>;
@group(0) @binding(1) var<storage, read> xhat: array<${T}>;
@group(0) @binding(2) var<storage, read> rstd: array<${T}>;
@group(0) @binding(3) var<storage, read> scale: array<${T}>;
@group(0) @binding(4) var<storage, read> sum_dy: array<${T}>;
@group(0) @binding(5) var<storage, read> sum_dy_xhat: array<${T}>;
@group(0) @binding(6) var<storage, read_write> dx: array<${T}>;
@group(0) @binding(7) var<uniform> p: Params;
${THREAD_MAPPING}

@compute @workgroup_size(${NORM_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let t = ${flatIndexWgsl(NORM_WG)};
  if (t >= p.threads) { return; }
  let c = channelOf(t);
  let row0 = firstRowOf(t);
  let n = sampleOf(row0);
  var g = rstd[n * p.rstd_stride + c];
  if (p.has_scale != 0u) { g = g * scale[n * p.scale_stride + c]; }
  var s = ${T}(0.0);
  var sx = ${T}(0.0);
  if (p.full != 0u) {
    let k = n * p.sums_stride + c;
    s = sum_dy[k] * p.inv_count;
    sx = sum_dy_xhat[k] * p.inv_count;
  }
  for (var k = 0u; k < p.per_thread; k++) {
    let i = (row0 + k) * p.channels + c;
    var v = dy[i];
    if (p.full != 0u) { v = v - (s + xhat[i] * sx); }
    dx[i] = g * v;
  }
}
`;
}

/**
 * Batch norm's running statistics, updated in place (PyTorch's convention):
 *   running_mean = (1 − momentum) · running_mean + momentum · batch_mean
 *   running_var  = (1 − momentum) · running_var  + momentum · batch_var · n / (n − 1)
 */
export function runningUpdateWgsl(): string {
  return `
struct Params { channels: u32, momentum: f32, unbias: f32 }
@group(0) @binding(0) var<storage, read> batch_mean: array<f32>;
@group(0) @binding(1) var<storage, read> batch_var: array<f32>;
@group(0) @binding(2) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(${STATS_WG})
fn main(${FLAT_ENTRY_PARAMS}) {
  let c = ${flatIndexWgsl(STATS_WG)};
  if (c >= p.channels) { return; }
  let m = p.momentum;
  running_mean[c] = (1.0 - m) * running_mean[c] + m * batch_mean[c];
  running_var[c] = (1.0 - m) * running_var[c] + m * batch_var[c] * p.unbias;
}
`;
}
