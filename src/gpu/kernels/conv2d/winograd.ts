import { gridFor } from '../../grid.ts';
import type { Runtime } from '../../runtime.ts';
import type { Tensor } from '../../tensor.ts';
import { WINOGRAD_WG, type WinogradStage } from '../../../shaders/conv2d/winograd.wgsl.ts';
import { CONV_WINOGRAD } from './families.ts';
import { conv2dGeometry, type ConvGeometry } from './geometry.ts';
import { winogradChunkTiles, winogradFilterBytes, winogradInputGradGeometry, winogradRuns, winogradTiles, winogradXi, type WinogradTile } from './winograd-fit.ts';

/*
 * The Winograd F(m×m, 3×3) convolution, m = 2 or 4 (see shaders/conv2d/winograd.wgsl.ts): filter and
 * input transforms, the (m + 2)² products as one grouped 1×1 convolution on the tuned conv kernels,
 * and the output transform with bias and activation. It computes the forward pass and, with the
 * filter flipped, the input gradient (a stride-1 convolution of dy).
 *
 * The transformed filter U ((m + 2)²/9 times the filter's size, f32) is derived from the weight
 * tensor once and kept with it (`runtime.derived`): per tile, flip and channel split, freed with
 * the weight, and rebuilt after any kernel writes the weight (an optimiser step), so it is never
 * stale. Frozen weights (Gatys' VGG, every inference) pay for it once; training once per step.
 */

/** The (m + 2)² products: a 1×1 convolution with (m + 2)² groups of v [1, 1, tiles, (m + 2)²·Cin] and u [1, 1, Cin, (m + 2)²·Cout]. */
export type WinogradProduct = (v: Tensor, u: Tensor, g: ConvGeometry) => Tensor;

export function launchStage(runtime: Runtime, stage: WinogradStage, tile: WinogradTile, vec: boolean, half: boolean, bindings: Record<string, Tensor>, params: Record<string, number>, threads: number, flip = false): void {
  runtime.launch({ ...CONV_WINOGRAD.program({ stage, tile, vec, half, flip }), bindings, params, workgroups: gridFor(threads, WINOGRAD_WG) });
}

/**
 * y = act(conv(x, w) + bias) by F(m×m, 3×3), for geometries where `winogradRuns` holds. x, w,
 * bias and y share one dtype (f16: f16 storage, f32 transforms and accumulation).
 */
export function conv2dWinogradForward(x: Tensor, w: Tensor, g: ConvGeometry, bias: Tensor | null, act: number, product: WinogradProduct, m: WinogradTile = 2): Tensor {
  return winogradConv(x, w, g, bias, act, product, m, false);
}

/**
 * dL/dx of a 3×3 stride-1 convolution `g` (zero padding; reflect is folded by the caller) by
 * F(m×m, 3×3): dy convolved with the spatially flipped, channel-transposed filter, padded by 2 − pad.
 */
export function conv2dWinogradInputGrad(dy: Tensor, w: Tensor, g: ConvGeometry, product: WinogradProduct, m: WinogradTile = 2): Tensor {
  const gt = winogradInputGradGeometry(g);
  if (!gt) throw new Error(`conv2d backward: algorithm 'winograd' needs zero padding of at most 2 per side, got [${g.pads.join(', ')}] ${g.padMode}: use algorithm 'auto'`);
  return winogradConv(dy, w, gt, null, 0, product, m, true);
}

/** `flip`: w is the forward filter of the convolution whose input gradient `g` computes. */
function winogradConv(x: Tensor, w: Tensor, g: ConvGeometry, bias: Tensor | null, act: number, product: WinogradProduct, m: WinogradTile, flip: boolean): Tensor {
  const runtime = x.runtime;
  checkWinograd(runtime, g, m);
  const half = x.dtype === 'f16';
  const { tiles } = winogradTiles(g, m);
  const xi = winogradXi(m);
  const params = winogradParams(g, m, bias !== null, act);
  const quads = (c: number) => Math.ceil(c / 4);
  const vecIn = g.inC % 4 === 0;
  const vecOut = g.outC % 4 === 0;
  const u = runtime.derived(w, `winograd F${m}${flip ? ' flipped' : ''} ${g.inC}>${g.outC}`, () => {
    const fresh = runtime.empty([1, 1, g.inC, xi * g.outC]);
    launchStage(runtime, 'filter', m, vecOut, half, { w, u: fresh }, params, g.inC * quads(g.outC), flip);
    return fresh;
  });
  const y = runtime.empty([g.batch, g.outH, g.outW, g.outC], x.dtype);
  const chunk = winogradChunkTiles(runtime, g, m);
  for (let base = 0; base < tiles; base += chunk) {
    const count = Math.min(chunk, tiles - base);
    const chunkParams = { ...params, tile_base: base, tiles: count };
    const v = runtime.empty([1, 1, count, xi * g.inC]);
    launchStage(runtime, 'input', m, vecIn, half, { x, v }, chunkParams, count * quads(g.inC));
    const products = product(v, u, conv2dGeometry('conv2d winograd', v.shape, u.shape, { groups: xi }));
    v.dispose();
    // Without a bias the filter stands in for the unused binding (same dtype, never read).
    launchStage(runtime, 'output', m, vecOut, half, { m: products, bias: bias ?? w, y }, chunkParams, count * quads(g.outC));
    products.dispose();
  }
  return y;
}

/** Throws the error naming the fix where F(m×m, 3×3) cannot compute `g`. */
export function checkWinograd(runtime: Runtime, g: ConvGeometry, m: WinogradTile): void {
  if (m !== 2 && m !== 4) throw new Error(`conv2d: the winograd output tile must be 2 or 4, got ${String(m)}`);
  if (!winogradRuns(runtime, g, m)) {
    throw new Error(
      `conv2d: algorithm 'winograd' runs 3x3 stride-1 undilated ungrouped convolutions whose transformed filter fits one buffer binding; ` +
        `got ${g.kH}x${g.kW} stride ${g.stride} dilation ${g.dilation} groups ${g.groups} (${winogradFilterBytes(g, m)} bytes): use algorithm 'auto'`,
    );
  }
}

/** The stages' uniform values for `g` (all tiles; a chunk sets tile_base and tiles). */
export function winogradParams(g: ConvGeometry, m: WinogradTile, hasBias: boolean, act: number): Record<string, number> {
  const { tilesH, tilesW, tiles } = winogradTiles(g, m);
  return {
    in_h: g.inH,
    in_w: g.inW,
    in_c: g.inC,
    out_h: g.outH,
    out_w: g.outW,
    out_c: g.outC,
    pad_top: g.pads[0],
    pad_left: g.pads[2],
    lim_h: g.inH + g.pads[1],
    lim_w: g.inW + g.pads[3],
    reflect: g.padMode === 'reflect' ? 1 : 0,
    tiles_h: tilesH,
    tiles_w: tilesW,
    tile_base: 0,
    tiles,
    has_bias: hasBias ? 1 : 0,
    act,
  };
}
