import type { Runtime } from '../../runtime.ts';
import type { ConvGeometry } from './geometry.ts';

/* Which convolutions the Winograd F(2×2, 3×3) kernels run, and the size of their scratch tensors. */

/** Transformed-tile elements: 4×4. */
export const WINOGRAD_XI = 16;

/** Whether F(2×2, 3×3) computes this convolution: a dense 3×3 window, stride 1, no dilation. */
export function winogradApplies(g: ConvGeometry): boolean {
  return g.kH === 3 && g.kW === 3 && g.stride === 1 && g.dilation === 1 && g.groups === 1;
}

/** Output tiles (2×2 outputs each) of a convolution, batch included. */
export function winogradTiles(g: ConvGeometry): { tilesH: number; tilesW: number; tiles: number } {
  const tilesH = Math.ceil(g.outH / 2);
  const tilesW = Math.ceil(g.outW / 2);
  return { tilesH, tilesW, tiles: g.batch * tilesH * tilesW };
}

/** Bytes of the largest transformed operand (V or M: 16 f32 values per tile and channel). */
export function winogradScratchBytes(g: ConvGeometry): number {
  return winogradTiles(g).tiles * WINOGRAD_XI * Math.max(g.inC, g.outC) * 4;
}

/** Whether the shape runs as Winograd here: it applies and its transformed operands fit one binding. */
export function winogradRuns(runtime: Runtime, g: ConvGeometry): boolean {
  const limits = runtime.context.limits;
  return winogradApplies(g) && winogradScratchBytes(g) <= Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}
