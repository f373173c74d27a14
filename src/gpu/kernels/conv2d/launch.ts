import { gridFor } from '../../grid.ts';
import { formatShape, sizeOf, type Tensor } from '../../tensor.ts';
import { BIAS_GRAD_WG, CONV_DIRECT_WG } from '../../../shaders/conv2d/direct.wgsl.ts';
import { SG_BLOCK_M, SG_PER_WG, SG_SIZE, sgRows, type ConvSubgroupVariant } from '../../../shaders/conv2d/subgroup.wgsl.ts';
import type { ConvGemmVariant } from '../../../shaders/conv2d/tiled.wgsl.ts';
import { narrowChunksPerWorkgroup, narrowSpan, type ConvNarrowVariant } from '../../../shaders/conv2d/narrow.wgsl.ts';
import { reduce } from '../reduce.ts';
import { pad2dBackward } from '../pad.ts';
import { pickAlgorithm, type ConvKernels } from './candidates.ts';
import { CONV_BIAS_GRAD, CONV_DIRECT, CONV_NARROW, CONV_SUBGROUP, CONV_TILED } from './families.ts';
import type { ConvGeometry } from './geometry.ts';
import { conv2dWinogradForward, conv2dWinogradInputGrad, type WinogradProduct } from './winograd.ts';
import { conv2dWinogradFilterGrad, type WinogradFilterGradProduct } from './winograd-filter-grad.ts';
import { chooseTile, subgroupRows, subgroupWidth, type ConvKernelOptions } from './rules.ts';

/** Activation fused into the forward kernel's epilogue. */
export type ConvActivation = 'none' | 'relu' | 'relu6';
const ACTIVATION_CODE: Record<ConvActivation, number> = { none: 0, relu: 1, relu6: 2 };

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

function launchSubgroup(variant: ConvSubgroupVariant, bindings: Record<string, Tensor>, g: ConvGeometry, m: number, n: number, k: number, zSlices: number, kChunk: number, extra: Epilogue = {}): void {
  // Row blocks per workgroup: all 8 subgroups on rows unless there are too few rows to fill them.
  const block = SG_SIZE * sgRows(variant);
  let sgM = SG_PER_WG;
  while (sgM > 1 && (sgM / 2) * block >= m) sgM /= 2;
  const nTiles = Math.ceil(n / (variant.tn * (SG_PER_WG / sgM)));
  const mTiles = Math.ceil(m / (block * sgM));
  const x = Math.min(mTiles, 65535);
  const runtime = Object.values(bindings)[0]!.runtime;
  runtime.launch({
    ...CONV_SUBGROUP.program(variant),
    bindings,
    params: params(g, { m, n, k, nTiles, kChunk, sgM }, extra),
    workgroups: [x, Math.ceil(mTiles / x), nTiles * g.groups * zSlices],
  });
}

function launchGemm(variant: ConvGemmVariant, bindings: Record<string, Tensor>, g: ConvGeometry, m: number, n: number, k: number, splits: number, kChunk: number, extra: Epilogue = {}): void {
  const t = variant.tile;
  const nTiles = Math.ceil(n / t.tn);
  const mTiles = Math.ceil(m / t.tm);
  const x = Math.min(mTiles, 65535);
  const runtime = Object.values(bindings)[0]!.runtime;
  runtime.launch({
    ...CONV_TILED.program(variant),
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
  const act: ConvActivation = activation === true ? 'relu' : activation === false ? 'none' : activation;
  if (!(act in ACTIVATION_CODE)) throw new Error(`conv2d: unknown activation '${String(act)}'`);
  const choice = pickAlgorithm(x.runtime, 'fwd', g, options, KERNELS, half);
  const algorithm = choice.algorithm;
  if (algorithm === 'winograd') return conv2dWinogradForward(x, w, g, bias, ACTIVATION_CODE[act], winogradProduct, choice.winogradTile);
  const y = x.runtime.empty([g.batch, g.outH, g.outW, g.outC], dtype);
  const m = g.batch * g.outH * g.outW;
  const k = g.kH * g.kW * g.cinG;
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
    launchSubgroup(variant, { x, w, bias: bias ?? w, y }, g, m, g.coutG, k, 1, k, extra);
    return y;
  }
  if (algorithm === 'narrow') {
    const out = g.coutG <= 4;
    const variant: ConvNarrowVariant = {
      side: out ? 'out' : 'in',
      // Measured best on lavapipe (TransformerNet's 9×9 convs at 256 px): 8 rows for few outputs, 4 × 16 columns for few inputs.
      rows: choice.narrowRows ?? (out ? 8 : 4),
      cols: out ? 4 : Math.min(choice.narrowCols ?? 16, g.coutG <= 8 ? 8 : g.coutG <= 16 ? 16 : 32),
      span: narrowSpan(g.kW, g.stride, g.dilation),
      vec: out ? g.cinG % 4 === 0 : g.coutG % 4 === 0,
      half,
    };
    const chunksPerRow = Math.ceil(g.outW / 8);
    const blocks = Math.ceil((g.batch * g.outH * chunksPerRow) / narrowChunksPerWorkgroup(variant));
    const wx = Math.min(blocks, 65535);
    x.runtime.launch({
      ...CONV_NARROW.program(variant),
      bindings: { x, w, bias: bias ?? w, y },
      params: params(g, { m, n: g.coutG, k, nTiles: chunksPerRow, kChunk: k }, extra),
      workgroups: [wx, Math.ceil(blocks / wx), Math.ceil(g.coutG / variant.cols)],
    });
    return y;
  }
  if (algorithm === 'direct') {
    x.runtime.launch({
      ...CONV_DIRECT.program({ kind: 'fwd', half }),
      bindings: { x, w, bias: bias ?? w, y },
      params: params(g, { m, n: g.coutG, k, nTiles: 1, kChunk: k }, extra),
      workgroups: gridFor(y.size, CONV_DIRECT_WG),
    });
    return y;
  }
  const vecA = g.cinG % 4 === 0;
  const vecB = g.coutG % 4 === 0;
  const variant: ConvGemmVariant = { kind: 'fwd', tile: choice.tile ?? chooseTile(g.coutG), vecA, vecB, vecC: vecB };
  launchGemm(variant, { x, w, bias: bias ?? w, y }, g, m, g.coutG, k, 1, k, extra);
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
  const choice = pickAlgorithm(dy.runtime, 'dx', g, options, KERNELS);
  const algorithm = choice.algorithm;
  if (algorithm === 'winograd') {
    const dx = conv2dWinogradInputGrad(dy, w, pg, winogradProduct, choice.winogradTile);
    if (!reflect) return dx;
    const folded = pad2dBackward(dx, [g.batch, g.inH, g.inW, g.inC], g.pads, 'reflect');
    dx.dispose();
    return folded;
  }
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
    launchSubgroup(variant, { dy, w, dx }, pg, rows, pg.cinG, k, pg.stride * pg.stride, k);
  } else if (algorithm === 'direct') {
    dy.runtime.launch({
      ...CONV_DIRECT.program({ kind: 'dx', half: false }),
      bindings: { dy, w, dx },
      params: params(pg, { m, n: pg.cinG, k, nTiles: 1, kChunk: k }),
      workgroups: gridFor(dx.size, CONV_DIRECT_WG),
    });
  } else {
    const vec = g.coutG % 4 === 0;
    const variant: ConvGemmVariant = { kind: 'dx', tile: choice.tile ?? chooseTile(g.cinG), vecA: vec, vecB: vec, vecC: g.cinG % 4 === 0 };
    launchGemm(variant, { dy, w, dx }, pg, m, pg.cinG, k, 1, k);
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
  const choice = pickAlgorithm(x.runtime, 'dw', g, options, KERNELS);
  const algorithm = choice.algorithm;
  if (algorithm === 'winograd') return conv2dWinogradFilterGrad(x, dy, g, wShape, winogradFilterGradProduct, choice.winogradTile);
  if (algorithm === 'subgroup') {
    const tn = choice.subgroupWidth ?? subgroupWidth(g.coutG);
    const tiles = Math.ceil(m / (SG_BLOCK_M * SG_PER_WG)) * Math.ceil(g.coutG / tn) * g.groups;
    const splits = Math.max(1, Math.min(Math.ceil(pixels / 256), Math.ceil(32 / tiles), 64));
    const chunk = Math.ceil(pixels / splits);
    const used = Math.ceil(pixels / chunk);
    const partial = x.runtime.empty([used, wSize]);
    const variant: ConvSubgroupVariant = { kind: 'dw', tn, vecK: g.cinG % 4 === 0, vecN: g.coutG % 4 === 0 };
    launchSubgroup(variant, { x, dy, dw: partial }, g, m, g.coutG, pixels, used, chunk);
    return sumSplits(partial, used, wShape);
  }
  if (algorithm === 'direct') {
    const splits = splitCount(pixels, Math.ceil(wSize / CONV_DIRECT_WG), 64);
    const chunk = Math.ceil(pixels / splits);
    const partial = x.runtime.empty([splits, wSize]);
    x.runtime.launch({
      ...CONV_DIRECT.program({ kind: 'dw', half: false }),
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
  launchGemm(variant, { x, dy, dw: partial }, g, m, g.coutG, pixels, used, chunk);
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
    ...CONV_BIAS_GRAD.program({}),
    bindings: { dy, partial },
    params: { pixels, channels, chunk, splits: used },
    workgroups: gridFor(partial.size, BIAS_GRAD_WG),
  });
  return sumSplits(partial, used, [channels]);
}

/** Winograd's 16 products: the grouped 1×1 convolution, on whichever kernel is tuned or ruled for it. */
const winogradProduct: WinogradProduct = (v, u, g) => conv2dForwardKernel(v, u, g, null, 'none');

/** Winograd's filter-gradient products: the grouped 1×1 filter gradient, on whichever kernel is tuned or ruled for it. */
const winogradFilterGradProduct: WinogradFilterGradProduct = (v, mg, g, uShape) => conv2dFilterGradKernel(v, mg, g, uShape);

/** The kernels the tuner times (see candidates.ts). */
const KERNELS: ConvKernels = { forward: conv2dForwardKernel, inputGrad: conv2dInputGradKernel, filterGrad: conv2dFilterGradKernel };
