import { gridFor } from '../grid.ts';
import { formatShape, sizeOf, type Tensor } from '../tensor.ts';
import {
  BIAS_GRAD_WG,
  biasGradWgsl,
  CONV_DIRECT_WG,
  convDirectWgsl,
  convGemmWgsl,
  convSubgroupKey,
  convSubgroupWgsl,
  convVariantKey,
  SG_BLOCK_M,
  SG_PER_WG,
  SG_SIZE,
  sgRows,
  type ConvGemmKind,
  type ConvGemmVariant,
  type ConvSubgroupVariant,
  type ConvTile,
} from '../../shaders/conv2d.wgsl.ts';
import { tuningNoise, type TuneJob } from '../autotune.ts';
import type { Runtime } from '../runtime.ts';
import { reduce } from './reduce.ts';
import { pad2dBackward, type PadMode } from './pad.ts';

/** 'valid', TensorFlow 'same', one pad for every side, or [top, bottom, left, right]. */
export type ConvPadding = 'valid' | 'same' | number | readonly [number, number, number, number];

export interface ConvGeometryOptions {
  stride?: number;
  padding?: ConvPadding;
  padMode?: PadMode;
  groups?: number;
  dilation?: number;
}

/** Everything a convolution kernel needs to know about shapes, in forward-conv terms (x → y). */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  stride: number;
  dilation: number;
  /** [top, bottom, left, right] */
  pads: [number, number, number, number];
  padMode: PadMode;
  groups: number;
  cinG: number;
  coutG: number;
}

/**
 * Checks x [N, H, W, Cin] against a filter [kh, kw, Cin/groups, Cout] and resolves padding and the
 * output size. Every shape problem throws here, naming `op` and the shapes, before any dispatch.
 */
export function conv2dGeometry(op: string, xShape: readonly number[], wShape: readonly number[], opts: ConvGeometryOptions = {}): ConvGeometry {
  const shapes = `x ${formatShape(xShape)}, filter ${formatShape(wShape)}`;
  if (xShape.length !== 4) throw new Error(`${op}: x must be NHWC with rank 4 (${shapes})`);
  if (wShape.length !== 4) throw new Error(`${op}: filter must have rank 4 [kh, kw, in, out] (${shapes})`);
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const groups = opts.groups ?? 1;
  const padMode = opts.padMode ?? 'zeros';
  if (stride !== 1 && stride !== 2) throw new Error(`${op}: stride must be 1 or 2, got ${stride} (${shapes})`);
  if (!Number.isInteger(dilation) || dilation < 1) throw new Error(`${op}: dilation must be a positive integer, got ${dilation} (${shapes})`);
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups} (${shapes})`);
  if (padMode !== 'zeros' && padMode !== 'reflect') throw new Error(`${op}: unknown padMode '${String(padMode)}'`);
  const [batch, inH, inW, inC] = xShape as [number, number, number, number];
  const [kH, kW, cinG, outC] = wShape as [number, number, number, number];
  if (kH < 1 || kW < 1 || outC < 1) throw new Error(`${op}: filter has an empty dimension (${shapes})`);
  if (inC % groups !== 0 || outC % groups !== 0) {
    throw new Error(`${op}: ${groups} groups must divide both ${inC} input and ${outC} output channels (${shapes})`);
  }
  if (cinG !== inC / groups) {
    throw new Error(`${op}: filter expects ${cinG} input channels per group but x has ${inC} channels in ${groups} group(s) (${shapes})`);
  }
  const effH = (kH - 1) * dilation + 1;
  const effW = (kW - 1) * dilation + 1;
  const padding = opts.padding ?? 'valid';
  let pads: [number, number, number, number];
  if (padding === 'valid') pads = [0, 0, 0, 0];
  else if (padding === 'same') {
    const th = Math.max((Math.ceil(inH / stride) - 1) * stride + effH - inH, 0);
    const tw = Math.max((Math.ceil(inW / stride) - 1) * stride + effW - inW, 0);
    pads = [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  } else if (typeof padding === 'number') pads = [padding, padding, padding, padding];
  else if (Array.isArray(padding) && padding.length === 4) pads = [...padding] as [number, number, number, number];
  else throw new Error(`${op}: padding must be 'valid', 'same', a number or [top, bottom, left, right], got ${JSON.stringify(padding)}`);
  if (pads.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`${op}: padding must be non-negative integers, got [${pads.join(', ')}] (${shapes})`);
  if (padMode === 'reflect' && (pads[0] >= inH || pads[1] >= inH || pads[2] >= inW || pads[3] >= inW)) {
    throw new Error(`${op}: reflect padding [${pads.join(', ')}] must be smaller than the input's height ${inH} and width ${inW} (${shapes})`);
  }
  const outH = Math.floor((inH + pads[0] + pads[1] - effH) / stride) + 1;
  const outW = Math.floor((inW + pads[2] + pads[3] - effW) / stride) + 1;
  if (outH < 1 || outW < 1 || batch < 1) {
    throw new Error(`${op}: the ${effH}x${effW} window does not fit the padded input (${shapes}, pads [${pads.join(', ')}])`);
  }
  return { batch, inH, inW, inC, outH, outW, outC, kH, kW, stride, dilation, pads, padMode, groups, cinG, coutG: outC / groups };
}

/**
 * 'subgroup': register-blocked kernels sharing filter values through subgroupBroadcast (adapters
 * whose subgroups are exactly 8 wide, such as llvmpipe); 'tiled': implicit GEMM staged in
 * workgroup memory (any adapter); 'direct': one thread per output value (depthwise, baseline).
 */
export type ConvAlgorithm = 'auto' | 'subgroup' | 'tiled' | 'direct';

/** Activation fused into the forward kernel's epilogue. */
export type ConvActivation = 'none' | 'relu' | 'relu6';
const ACTIVATION_CODE: Record<ConvActivation, number> = { none: 0, relu: 1, relu6: 2 };

export interface ConvKernelOptions {
  /**
   * 'auto': the variant `runtime.autotune` measured fastest for this shape on this adapter; without
   * one, 'direct' for depthwise-like convolutions, else 'subgroup' where supported, else 'tiled'
   * ('direct' for GEMMs of fewer than 4 columns).
   */
  algorithm?: ConvAlgorithm;
  /** Overrides the tile of the 'tiled' kernels (benchmarks; tm, tn, tk, rm, rn multiples of 4). */
  tile?: ConvTile;
  /** Overrides the column width of the 'subgroup' kernels. */
  subgroupWidth?: 8 | 32;
  /** Overrides the rows per lane of the 'subgroup' forward and input-gradient kernels. */
  subgroupRows?: 1 | 2 | 4;
}

type ConvKind = ConvGemmKind;

/** A resolved choice: the algorithm and, where the rule would pick them by shape, its tile or width. */
interface ConvChoice {
  algorithm: Exclude<ConvAlgorithm, 'auto'>;
  tile?: ConvTile;
  subgroupWidth?: 8 | 32;
  subgroupRows?: 1 | 2 | 4;
}

const tile4 = (tm: number, tn: number): ConvTile => ({ tm, tn, tk: 16, rm: 4, rn: 4 });

/** Every variant the tuner may choose, by the id stored in the tuning cache. */
const CONV_CHOICES: Record<string, ConvChoice> = {
  'subgroup/32': { algorithm: 'subgroup', subgroupWidth: 32, subgroupRows: 4 },
  'subgroup/8': { algorithm: 'subgroup', subgroupWidth: 8, subgroupRows: 4 },
  'subgroup/32r2': { algorithm: 'subgroup', subgroupWidth: 32, subgroupRows: 2 },
  'subgroup/32r1': { algorithm: 'subgroup', subgroupWidth: 32, subgroupRows: 1 },
  'tiled/64x64': { algorithm: 'tiled', tile: tile4(64, 64) },
  'tiled/128x32': { algorithm: 'tiled', tile: tile4(128, 32) },
  'tiled/128x16': { algorithm: 'tiled', tile: tile4(128, 16) },
  direct: { algorithm: 'direct' },
};

/**
 * The candidate ids this adapter can run (for f16 tensors: the kernels with an f16-storage
 * variant); with a pass and geometry, only those that run that shape.
 */
export function convCandidateIds(runtime: Runtime, half = false, shape?: { kind: ConvKind; g: ConvGeometry }): string[] {
  return Object.keys(CONV_CHOICES).filter((id) => choiceRuns(runtime, CONV_CHOICES[id]!, half, shape));
}

function choiceRuns(runtime: Runtime, choice: ConvChoice, half: boolean, shape?: { kind: ConvKind; g: ConvGeometry }): boolean {
  const algorithm = choice.algorithm;
  if (algorithm === 'subgroup' && !hasEightWideSubgroups(runtime)) return false;
  // The filter gradient has one row count: its variants of fewer rows would time the same kernel again.
  if (shape?.kind === 'dw' && choice.subgroupRows !== undefined && choice.subgroupRows !== 4) return false;
  return !half || algorithm !== 'tiled';
}

/** Kernel options that force a candidate (tests, bench, the tuner). */
export function convCandidateOptions(id: string): ConvKernelOptions {
  const c = CONV_CHOICES[id];
  if (!c) throw new Error(`conv2d: unknown variant '${id}' (known: ${Object.keys(CONV_CHOICES).join(', ')})`);
  return {
    algorithm: c.algorithm,
    ...(c.tile ? { tile: c.tile } : {}),
    ...(c.subgroupWidth ? { subgroupWidth: c.subgroupWidth } : {}),
    ...(c.subgroupRows ? { subgroupRows: c.subgroupRows } : {}),
  };
}

/**
 * The shape class a tuned choice applies to: pass, window, stride, dilation, groups and channels
 * exactly, output pixels (batch included) to the nearest power of two.
 */
export function convShapeKey(kind: ConvKind, g: ConvGeometry, half = false): string {
  const pixels = g.batch * g.outH * g.outW;
  const extra = `${g.dilation > 1 ? ` d${g.dilation}` : ''}${g.groups > 1 ? ` g${g.groups}` : ''}`;
  return `${kind} ${g.kH}x${g.kW} s${g.stride}${extra} ${g.cinG}>${g.coutG} px2^${Math.round(Math.log2(pixels))}${half ? ' f16' : ''}`;
}

interface Epilogue {
  hasBias?: boolean;
  activation?: ConvActivation;
}

function params(g: ConvGeometry, gemm: { m: number; n: number; k: number; nTiles: number; kChunk: number; sgM?: number }, extra: Epilogue = {}) {
  return {
    batch: g.batch,
    in_h: g.inH,
    in_w: g.inW,
    in_c: g.inC,
    out_h: g.outH,
    out_w: g.outW,
    out_c: g.outC,
    k_h: g.kH,
    k_w: g.kW,
    stride: g.stride,
    dilation: g.dilation,
    pad_top: g.pads[0],
    pad_left: g.pads[2],
    reflect: g.padMode === 'reflect' ? 1 : 0,
    groups: g.groups,
    cin_g: g.cinG,
    cout_g: g.coutG,
    gemm_m: gemm.m,
    gemm_n: gemm.n,
    gemm_k: gemm.k,
    n_tiles: gemm.nTiles,
    k_chunk: gemm.kChunk,
    has_bias: extra.hasBias ? 1 : 0,
    act: ACTIVATION_CODE[extra.activation ?? 'none'],
    sg_m: gemm.sgM ?? 1,
  };
}

/** Tiles by the number of GEMM columns: wide tiles for many channels, tall ones for few. */
export function chooseTile(cols: number): ConvTile {
  if (cols > 32) return { tm: 64, tn: 64, tk: 16, rm: 4, rn: 4 };
  if (cols > 16) return { tm: 128, tn: 32, tk: 16, rm: 4, rn: 4 };
  return { tm: 128, tn: 16, tk: 16, rm: 4, rn: 4 };
}

const subgroupSupport = new WeakMap<Runtime, boolean>();

/** Whether the device runs the subgroup kernels: the feature is on and subgroups are exactly 8 wide. */
export function hasEightWideSubgroups(runtime: Runtime): boolean {
  let known = subgroupSupport.get(runtime);
  if (known === undefined) {
    const info = runtime.device.adapterInfo as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
    known = runtime.device.features.has('subgroups') && info?.subgroupMinSize === 8 && info?.subgroupMaxSize === 8;
    subgroupSupport.set(runtime, known);
  }
  return known;
}

/** The rule used when nothing was tuned for a shape. */
function ruleChoice(runtime: Runtime, kind: ConvKind, g: ConvGeometry, half: boolean): ConvChoice {
  if (g.groups > 1 && (g.cinG < 4 || g.coutG < 4)) return { algorithm: 'direct' };
  // Subgroup kernels win on every dense shape measured, RGB in or out included (lavapipe: 4-8× over direct).
  if (hasEightWideSubgroups(runtime)) return { algorithm: 'subgroup' };
  if (half) return { algorithm: 'direct' }; // the tiled kernels have no f16 variant
  // A GEMM with fewer than 4 columns (Cout; Cin for the input gradient) fills at most 3/16 of a
  // tile's columns: one thread per output is 2-3× faster (lavapipe, 9×9 32 → 3 and 3×3 3 → 64 at 128 px).
  const columns = kind === 'dx' ? g.cinG : g.coutG;
  return { algorithm: columns < 4 ? 'direct' : 'tiled' };
}

function pickAlgorithm(runtime: Runtime, kind: ConvKind, g: ConvGeometry, options: ConvKernelOptions, half = false): ConvChoice {
  const algorithm = options.algorithm ?? 'auto';
  if (algorithm === 'subgroup' && !hasEightWideSubgroups(runtime)) {
    throw new Error("conv2d: algorithm 'subgroup' needs the 'subgroups' feature with 8-wide subgroups");
  }
  if (half && algorithm === 'tiled') throw new Error("conv2d: the 'tiled' kernels are f32 only; f16 tensors run 'subgroup' or 'direct'");
  const overrides = { tile: options.tile, subgroupWidth: options.subgroupWidth, subgroupRows: options.subgroupRows };
  if (algorithm !== 'auto') return { algorithm, ...overrides };
  if (options.tile || options.subgroupWidth || options.subgroupRows) return { ...ruleChoice(runtime, kind, g, half), ...overrides };
  const tuning = runtime.tuning;
  const shape = convShapeKey(kind, g, half);
  if (tuning.capturing) tuning.offer('conv2d', shape, () => convTuneJob(runtime, kind, g, half));
  const tuned = tuning.lookup('conv2d', shape);
  const choice = tuned === undefined ? undefined : CONV_CHOICES[tuned];
  // An id from another version of pastiche, or a kernel this device or dtype cannot run: the rule.
  if (choice && choiceRuns(runtime, choice, half, { kind, g })) return choice;
  return ruleChoice(runtime, kind, g, half);
}

/** Inputs of geometry `g` and one launch per candidate variant, for the tuner (`half`: f16 tensors, forward only). */
export function convTuneJob(runtime: Runtime, kind: ConvKind, g: ConvGeometry, half = false): TuneJob {
  const dtype = half ? 'f16' : 'f32';
  const x = tuningNoise(runtime, [g.batch, g.inH, g.inW, g.inC], 1, dtype);
  const w = tuningNoise(runtime, [g.kH, g.kW, g.cinG, g.outC], 2, dtype);
  const dy = tuningNoise(runtime, [g.batch, g.outH, g.outW, g.outC], 3);
  const candidates = convCandidateIds(runtime, half, { kind, g }).map((id) => {
    const forced = convCandidateOptions(id);
    const run =
      kind === 'fwd'
        ? () => void conv2dForwardKernel(x, w, g, null, 'none', forced)
        : kind === 'dx'
          ? () => void conv2dInputGradKernel(dy, w, g, forced)
          : () => void conv2dFilterGradKernel(x, dy, g, w.shape, forced);
    return { id, run };
  });
  return { candidates, dispose: () => [x, w, dy].forEach((t) => t.dispose()) };
}

/** Subgroup tile width for a column count (two widths keep the number of pipelines down). */
function subgroupWidth(cols: number): number {
  return cols > 8 ? 32 : 8;
}

/**
 * Rows per lane for a GEMM of `rows` rows: 4 unless a subgroup (8 lanes) would then cover mostly
 * rows past the end (VGG's conv4/conv5 at 2×2 and 4×4 px: lavapipe, 1.5-2× faster with 1 or 2).
 */
function subgroupRows(rows: number): 1 | 2 | 4 {
  return rows <= SG_SIZE ? 1 : rows <= 2 * SG_SIZE ? 2 : 4;
}

function launchSubgroup(kind: ConvGemmKind, variant: ConvSubgroupVariant, bindings: Record<string, Tensor>, g: ConvGeometry, m: number, n: number, k: number, zSlices: number, kChunk: number, extra: Epilogue = {}): void {
  // Row blocks per workgroup: all 8 subgroups on rows unless there are too few rows to fill them.
  const block = SG_SIZE * sgRows(variant);
  let sgM = SG_PER_WG;
  while (sgM > 1 && (sgM / 2) * block >= m) sgM /= 2;
  const nTiles = Math.ceil(n / (variant.tn * (SG_PER_WG / sgM)));
  const mTiles = Math.ceil(m / (block * sgM));
  const x = Math.min(mTiles, 65535);
  const runtime = Object.values(bindings)[0]!.runtime;
  runtime.launch({
    name: `conv2d_${kind}`,
    variant: convSubgroupKey(variant),
    source: () => convSubgroupWgsl(variant),
    bindings,
    params: params(g, { m, n, k, nTiles, kChunk, sgM }, extra),
    workgroups: [x, Math.ceil(mTiles / x), nTiles * g.groups * zSlices],
  });
}

function launchGemm(kind: ConvGemmKind, variant: ConvGemmVariant, bindings: Record<string, Tensor>, g: ConvGeometry, m: number, n: number, k: number, splits: number, kChunk: number, extra: Epilogue = {}): void {
  const t = variant.tile;
  const nTiles = Math.ceil(n / t.tn);
  const mTiles = Math.ceil(m / t.tm);
  const x = Math.min(mTiles, 65535);
  const runtime = Object.values(bindings)[0]!.runtime;
  runtime.launch({
    name: `conv2d_${kind}`,
    variant: convVariantKey(variant),
    source: () => convGemmWgsl(variant),
    bindings,
    params: params(g, { m, n, k, nTiles, kChunk }, extra),
    workgroups: [x, Math.ceil(mTiles / x), nTiles * g.groups * splits],
  });
}

function checkTensor(op: string, what: string, t: Tensor, shape: readonly number[], dtype = 'f32'): void {
  if (t.dtype !== dtype) throw new Error(`${op}: ${what} must be ${dtype}${dtype === 'f32' ? ' (f16 is supported by the forward pass only)' : ' like x'}, got ${t.dtype}`);
  if (t.size !== sizeOf(shape)) throw new Error(`${op}: ${what} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
}

/**
 * y = act(conv(x, w) + bias), y [N, outH, outW, Cout]. `w` is read as HWIO [kh, kw, Cin/groups, Cout].
 * `activation` true/false mean 'relu'/'none'.
 */
export function conv2dForwardKernel(x: Tensor, w: Tensor, g: ConvGeometry, bias: Tensor | null, activation: ConvActivation | boolean, options: ConvKernelOptions = {}): Tensor {
  // f16 tensors: f16 storage, f32 accumulation.
  const dtype = x.dtype;
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`conv2d: x must be f32 or f16, got ${dtype}`);
  const half = dtype === 'f16';
  checkTensor('conv2d', 'x', x, [g.batch, g.inH, g.inW, g.inC], dtype);
  checkTensor('conv2d', 'filter', w, [g.kH, g.kW, g.cinG, g.outC], dtype);
  if (bias) checkTensor('conv2d', 'bias', bias, [g.outC], dtype);
  const choice = pickAlgorithm(x.runtime, 'fwd', g, options, half);
  const algorithm = choice.algorithm;
  const y = x.runtime.empty([g.batch, g.outH, g.outW, g.outC], dtype);
  const m = g.batch * g.outH * g.outW;
  const k = g.kH * g.kW * g.cinG;
  const act: ConvActivation = activation === true ? 'relu' : activation === false ? 'none' : activation;
  if (!(act in ACTIVATION_CODE)) throw new Error(`conv2d: unknown activation '${String(act)}'`);
  const extra: Epilogue = { hasBias: bias !== null, activation: act };
  if (algorithm === 'subgroup') {
    const variant: ConvSubgroupVariant = {
      kind: 'fwd',
      tn: choice.subgroupWidth ?? subgroupWidth(g.coutG),
      vecK: g.cinG % 4 === 0,
      vecN: g.coutG % 4 === 0,
      half,
      rows: choice.subgroupRows ?? subgroupRows(m),
    };
    launchSubgroup('fwd', variant, { x, w, bias: bias ?? w, y }, g, m, g.coutG, k, 1, k, extra);
    return y;
  }
  if (algorithm === 'direct') {
    x.runtime.launch({
      name: 'conv2d_fwd_direct',
      variant: half ? 'f16' : '',
      source: () => convDirectWgsl('fwd', half),
      bindings: { x, w, bias: bias ?? w, y },
      params: params(g, { m, n: g.coutG, k, nTiles: 1, kChunk: k }, extra),
      workgroups: gridFor(y.size, CONV_DIRECT_WG),
    });
    return y;
  }
  const vecA = g.cinG % 4 === 0;
  const vecB = g.coutG % 4 === 0;
  const variant: ConvGemmVariant = { kind: 'fwd', tile: choice.tile ?? chooseTile(g.coutG), vecA, vecB, vecC: vecB };
  launchGemm('fwd', variant, { x, w, bias: bias ?? w, y }, g, m, g.coutG, k, 1, k, extra);
  return y;
}

/**
 * dL/dx given dL/dy: a transposed convolution, dx [N, inH, inW, Cin]. Reflect padding is handled
 * by computing the gradient of the (virtual) padded input and folding it back with pad2d's adjoint.
 * With `g.stride` 2 this is also conv2dTranspose's forward.
 */
export function conv2dInputGradKernel(dy: Tensor, w: Tensor, g: ConvGeometry, options: ConvKernelOptions = {}): Tensor {
  checkTensor('conv2d backward', 'dy', dy, [g.batch, g.outH, g.outW, g.outC]);
  checkTensor('conv2d backward', 'filter', w, [g.kH, g.kW, g.cinG, g.outC]);
  const reflect = g.padMode === 'reflect';
  const [t, b, l, r] = g.pads;
  // For reflect, the gradient of the padded input: same conv, no padding, on the padded grid.
  const pg: ConvGeometry = reflect ? { ...g, inH: g.inH + t + b, inW: g.inW + l + r, pads: [0, 0, 0, 0], padMode: 'zeros' } : g;
  const choice = pickAlgorithm(dy.runtime, 'dx', g, options);
  const algorithm = choice.algorithm;
  const dx = dy.runtime.empty([pg.batch, pg.inH, pg.inW, pg.inC]);
  const m = pg.batch * pg.inH * pg.inW;
  const k = pg.kH * pg.kW * pg.coutG;
  if (algorithm === 'subgroup') {
    // Rows are the pixels of one stride phase; the phases go along z.
    const rows = pg.batch * Math.ceil(pg.inH / pg.stride) * Math.ceil(pg.inW / pg.stride);
    const variant: ConvSubgroupVariant = {
      kind: 'dx',
      tn: choice.subgroupWidth ?? subgroupWidth(pg.cinG),
      vecK: pg.coutG % 4 === 0,
      vecN: pg.cinG % 4 === 0,
      rows: choice.subgroupRows ?? subgroupRows(rows),
    };
    launchSubgroup('dx', variant, { dy, w, dx }, pg, rows, pg.cinG, k, pg.stride * pg.stride, k);
  } else if (algorithm === 'direct') {
    dy.runtime.launch({
      name: 'conv2d_dx_direct',
      source: () => convDirectWgsl('dx'),
      bindings: { dy, w, dx },
      params: params(pg, { m, n: pg.cinG, k, nTiles: 1, kChunk: k }),
      workgroups: gridFor(dx.size, CONV_DIRECT_WG),
    });
  } else {
    const vec = g.coutG % 4 === 0;
    const variant: ConvGemmVariant = { kind: 'dx', tile: choice.tile ?? chooseTile(g.cinG), vecA: vec, vecB: vec, vecC: g.cinG % 4 === 0 };
    launchGemm('dx', variant, { dy, w, dx }, pg, m, pg.cinG, k, 1, k);
  }
  if (!reflect) return dx;
  const folded = pad2dBackward(dx, [g.batch, g.inH, g.inW, g.inC], g.pads, 'reflect');
  dx.dispose();
  return folded;
}

/** Splits of a long reduction: enough workgroups to fill a GPU, chunks of at least `minChunk`. */
function splitCount(total: number, tiles: number, minChunk: number): number {
  return Math.max(1, Math.min(Math.ceil(total / minChunk), Math.ceil(256 / tiles), 64));
}

/** Sums partial results [splits, ...shape] over the splits (or views them when there is one). */
function sumSplits(partial: Tensor, splits: number, shape: readonly number[]): Tensor {
  if (splits === 1) {
    const out = partial.runtime.reshape(partial, shape);
    partial.dispose();
    return out;
  }
  const summed = reduce('sum', partial, [0]);
  partial.dispose();
  const out = summed.runtime.reshape(summed, shape);
  summed.dispose();
  return out;
}

/**
 * dL/dw given x and dL/dy: a reduction over every output pixel, split across workgroups and
 * summed. Returns a tensor of `wShape` (HWIO, or any shape of the same size such as depthwise's).
 */
export function conv2dFilterGradKernel(x: Tensor, dy: Tensor, g: ConvGeometry, wShape: readonly number[], options: ConvKernelOptions = {}): Tensor {
  checkTensor('conv2d backward', 'x', x, [g.batch, g.inH, g.inW, g.inC]);
  checkTensor('conv2d backward', 'dy', dy, [g.batch, g.outH, g.outW, g.outC]);
  const m = g.kH * g.kW * g.cinG;
  const pixels = g.batch * g.outH * g.outW;
  const wSize = m * g.outC;
  const choice = pickAlgorithm(x.runtime, 'dw', g, options);
  const algorithm = choice.algorithm;
  if (algorithm === 'subgroup') {
    const tn = choice.subgroupWidth ?? subgroupWidth(g.coutG);
    const tiles = Math.ceil(m / (SG_BLOCK_M * SG_PER_WG)) * Math.ceil(g.coutG / tn) * g.groups;
    const splits = Math.max(1, Math.min(Math.ceil(pixels / 256), Math.ceil(32 / tiles), 64));
    const chunk = Math.ceil(pixels / splits);
    const used = Math.ceil(pixels / chunk);
    const partial = x.runtime.empty([used, wSize]);
    const variant: ConvSubgroupVariant = { kind: 'dw', tn, vecK: g.cinG % 4 === 0, vecN: g.coutG % 4 === 0 };
    launchSubgroup('dw', variant, { x, dy, dw: partial }, g, m, g.coutG, pixels, used, chunk);
    return sumSplits(partial, used, wShape);
  }
  if (algorithm === 'direct') {
    const splits = splitCount(pixels, Math.ceil(wSize / CONV_DIRECT_WG), 64);
    const chunk = Math.ceil(pixels / splits);
    const partial = x.runtime.empty([splits, wSize]);
    x.runtime.launch({
      name: 'conv2d_dw_direct',
      source: () => convDirectWgsl('dw'),
      bindings: { x, dy, dw: partial },
      // n_tiles carries the split count for the direct kernel.
      params: params(g, { m, n: g.coutG, k: pixels, nTiles: splits, kChunk: chunk }),
      workgroups: gridFor(partial.size, CONV_DIRECT_WG),
    });
    return sumSplits(partial, splits, wShape);
  }
  const tile = choice.tile ?? chooseTile(g.coutG);
  const tiles = Math.ceil(m / tile.tm) * Math.ceil(g.coutG / tile.tn) * g.groups;
  const splits = splitCount(pixels, tiles, 256);
  const chunk = Math.ceil(Math.ceil(pixels / splits) / tile.tk) * tile.tk;
  const used = Math.ceil(pixels / chunk);
  const partial = x.runtime.empty([used, wSize]);
  const variant: ConvGemmVariant = { kind: 'dw', tile, vecA: g.cinG % 4 === 0, vecB: g.coutG % 4 === 0, vecC: g.coutG % 4 === 0 };
  launchGemm('dw', variant, { x, dy, dw: partial }, g, m, g.coutG, pixels, used, chunk);
  return sumSplits(partial, used, wShape);
}

/** dL/dbias = Σ over N, H, W of dL/dy, for dy [N, H, W, C]. */
export function conv2dBiasGradKernel(dy: Tensor): Tensor {
  if (dy.rank !== 4) throw new Error(`conv2d backward: dy must be NHWC with rank 4, got ${formatShape(dy.shape)}`);
  const channels = dy.shape[3]!;
  const pixels = dy.size / Math.max(channels, 1);
  const splits = Math.max(1, Math.min(Math.ceil(pixels / 64), Math.ceil(8192 / channels)));
  const chunk = Math.ceil(pixels / splits);
  const used = Math.max(1, Math.ceil(pixels / chunk));
  const partial = dy.runtime.empty([used, channels]);
  dy.runtime.launch({
    name: 'conv2d_bias_grad',
    source: biasGradWgsl,
    bindings: { dy, partial },
    params: { pixels, channels, chunk, splits: used },
    workgroups: gridFor(partial.size, BIAS_GRAD_WG),
  });
  return sumSplits(partial, used, [channels]);
}

