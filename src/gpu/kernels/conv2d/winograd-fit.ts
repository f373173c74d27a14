import type { Runtime } from '../../runtime.ts';
import type { ConvGeometry } from './geometry.ts';

/* Which convolutions the Winograd F(m×m, 3×3) kernels run, and the size of their scratch tensors. */

/** Output tile edge m: F(2×2, 3×3) or F(4×4, 3×3). */
export type WinogradTile = 2 | 4;

/** Transformed-tile elements: (m + 2)². */
export const winogradXi = (m: WinogradTile): number => (m + 2) * (m + 2);

/** Whether F(m×m, 3×3) computes this convolution: a dense 3×3 window, stride 1, no dilation. */
export function winogradApplies(g: ConvGeometry): boolean {
  return g.kH === 3 && g.kW === 3 && g.stride === 1 && g.dilation === 1 && g.groups === 1;
}

/** Output tiles (m×m outputs each) of a convolution, batch included. */
export function winogradTiles(g: ConvGeometry, m: WinogradTile): { tilesH: number; tilesW: number; tiles: number } {
  const tilesH = Math.ceil(g.outH / m);
  const tilesW = Math.ceil(g.outW / m);
  return { tilesH, tilesW, tiles: g.batch * tilesH * tilesW };
}

/**
 * Tiles per launch: V and M ((m + 2)² f32 values per tile and channel) are computed a chunk of
 * tiles at a time so that neither outgrows the convolution's own input or output (as f32) or its
 * transformed filter U (which is not chunked: (m + 2)²/9 times the filter's size), nor a buffer
 * binding. The largest buffer of a conv stays the largest of those it holds anyway, which is what
 * the image tiling plans with; whole, F(4×4)'s V would be 2.25× its input, F(2×2)'s 4×. Every
 * chunk's product reads all of U: VGG's conv4 at 32×32 px (U 38 MB, activations 2 MB) ran
 * 1.5-1.9× faster in one chunk than in the 3 that its activations alone would allow (lavapipe).
 */
export function winogradChunkTiles(runtime: Runtime, g: ConvGeometry, m: WinogradTile): number {
  const limits = runtime.context.limits;
  const activation = 4 * g.batch * Math.max(g.inH * g.inW * g.inC, g.outH * g.outW * g.outC);
  const budget = Math.min(Math.max(activation, winogradFilterBytes(g, m)), limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return Math.max(1, Math.min(winogradTiles(g, m).tiles, Math.floor(budget / (winogradXi(m) * Math.max(g.inC, g.outC) * 4))));
}

/** Bytes of the transformed filter U: (m + 2)² f32 values per input and output channel. */
export function winogradFilterBytes(g: ConvGeometry, m: WinogradTile): number {
  return winogradXi(m) * g.inC * g.outC * 4;
}

/**
 * The convolution that computes the input gradient of `g` (zero padding): dy as input, the flipped
 * filter, padding 2 − pad per side; null where a pad exceeds 2 or `g` is not a 3×3 stride-1 conv.
 */
export function winogradInputGradGeometry(g: ConvGeometry): ConvGeometry | null {
  if (!winogradApplies(g) || g.padMode !== 'zeros' || g.pads.some((p) => p > 2)) return null;
  const [t, b, l, r] = g.pads;
  return { ...g, inH: g.outH, inW: g.outW, inC: g.outC, outH: g.inH, outW: g.inW, outC: g.inC, cinG: g.outC, coutG: g.inC, pads: [2 - t, 2 - b, 2 - l, 2 - r] };
}

/**
 * Whether the input gradient of `g` runs as Winograd here (reflect padding: on the padded grid,
 * as the dx kernels compute it before folding).
 */
export function winogradInputGradRuns(runtime: Runtime, g: ConvGeometry, m: WinogradTile): boolean {
  const [t, b, l, r] = g.pads;
  const zeros: ConvGeometry = g.padMode === 'reflect' ? { ...g, inH: g.inH + t + b, inW: g.inW + l + r, pads: [0, 0, 0, 0], padMode: 'zeros' } : g;
  const gt = winogradInputGradGeometry(zeros);
  return gt !== null && winogradRuns(runtime, gt, m);
}

/** Whether the shape runs as Winograd here: it applies and its transformed filter fits one binding. */
export function winogradRuns(runtime: Runtime, g: ConvGeometry, m: WinogradTile): boolean {
  const limits = runtime.context.limits;
  return winogradApplies(g) && winogradFilterBytes(g, m) <= Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}
