import type { Tensor } from '../../tensor.ts';
import { binary } from '../elementwise.ts';
import { conv2dGeometry, type ConvGeometry } from './geometry.ts';
import { checkWinograd, launchStage, winogradParams } from './winograd.ts';
import { winogradChunkTiles, winogradTiles, winogradXi, type WinogradTile } from './winograd-fit.ts';

/*
 * dL/dw of a 3×3 stride-1 convolution by F(m×m, 3×3): the adjoint of the forward's three
 * transforms. Per tile, V = Bᵀ d B of the input patch (the forward's input stage, padding and
 * reflection included) and dM = A dY Aᵀ of dy's m×m block; dU[ξ] = Σ over tiles of V[ξ]ᵀ dM[ξ],
 * (m + 2)² products that run as one grouped filter gradient of a 1×1 convolution on the tuned
 * kernels; then dw = Gᵀ dU G. Chunks of tiles (sized as the forward's) each add their dU.
 */

/** dU for one chunk: the filter gradient of a 1×1 convolution with (m + 2)² groups, v [1, 1, tiles, (m + 2)²·Cin] in, mg [1, 1, tiles, (m + 2)²·Cout] out. */
export type WinogradFilterGradProduct = (v: Tensor, mg: Tensor, g: ConvGeometry, uShape: readonly number[]) => Tensor;

/** dL/dw [3, 3, Cin, Cout] (viewed as `wShape`) of the convolution `g` of x, given dy. f32. */
export function conv2dWinogradFilterGrad(x: Tensor, dy: Tensor, g: ConvGeometry, wShape: readonly number[], product: WinogradFilterGradProduct, m: WinogradTile = 2): Tensor {
  const runtime = x.runtime;
  checkWinograd(runtime, g, m);
  const xi = winogradXi(m);
  const { tiles } = winogradTiles(g, m);
  const params = winogradParams(g, m, false, 0);
  const quads = (c: number) => Math.ceil(c / 4);
  const uShape = [1, 1, g.inC, xi * g.outC];
  const chunk = winogradChunkTiles(runtime, g, m);
  let du: Tensor | null = null;
  for (let base = 0; base < tiles; base += chunk) {
    const count = Math.min(chunk, tiles - base);
    const chunkParams = { ...params, tile_base: base, tiles: count };
    const v = runtime.empty([1, 1, count, xi * g.inC]);
    launchStage(runtime, 'input', m, g.inC % 4 === 0, false, { x, v }, chunkParams, count * quads(g.inC));
    const mg = runtime.empty([1, 1, count, xi * g.outC]);
    launchStage(runtime, 'outputGrad', m, g.outC % 4 === 0, false, { dy, mg }, chunkParams, count * quads(g.outC));
    const part = product(v, mg, conv2dGeometry('conv2d winograd', v.shape, uShape, { groups: xi }), uShape);
    v.dispose();
    mg.dispose();
    if (du === null) du = part;
    else {
      const sum = binary('add', du, part);
      du.dispose();
      part.dispose();
      du = sum;
    }
  }
  const dw = runtime.empty([3, 3, g.inC, g.outC]);
  launchStage(runtime, 'filterGrad', m, g.outC % 4 === 0, false, { ug: du!, dw }, params, g.inC * quads(g.outC));
  du!.dispose();
  const out = runtime.reshape(dw, wShape);
  dw.dispose();
  return out;
}
