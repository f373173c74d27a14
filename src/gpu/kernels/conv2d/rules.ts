import type { ConvGemmKind } from '../../../shaders/conv2d/common.wgsl.ts';
import { narrowSpan } from '../../../shaders/conv2d/narrow.wgsl.ts';
import { SG_SIZE } from '../../../shaders/conv2d/subgroup.wgsl.ts';
import type { ConvTile } from '../../../shaders/conv2d/tiled.wgsl.ts';
import type { Runtime } from '../../runtime.ts';
import type { ConvGeometry } from './geometry.ts';
import { winogradInputGradRuns, winogradRuns, type WinogradTile } from './winograd-fit.ts';

/*
 * Which convolution kernel runs a shape when nothing was tuned for it: the untuned rules, by
 * adapter features and shape alone.
 */

/**
 * 'subgroup': register-blocked kernels sharing filter values through subgroupBroadcast (adapters
 * whose subgroups are exactly 8 wide, such as llvmpipe); 'tiled': implicit GEMM staged in
 * workgroup memory (any adapter); 'direct': one thread per output value (depthwise, baseline);
 * 'winograd': F(2×2, 3×3) or F(4×4, 3×3) for 3×3 stride-1 convolutions, forward, input and
 * filter gradients (an input gradient with a pad over 2 takes 'auto' when it is forced);
 * 'narrow': forward convolutions with at most 4 output or at most 4 input channels (groups 1), each
 * lane several pixels with vec4 accumulators over the output channels (the gradients take 'auto').
 */
export type ConvAlgorithm = 'auto' | 'subgroup' | 'tiled' | 'direct' | 'winograd' | 'narrow';

export interface ConvKernelOptions {
  /**
   * 'auto': the variant `runtime.autotune` measured fastest for this shape on this adapter; without
   * one, 'direct' for depthwise-like convolutions, 'winograd' for wide 3×3 stride-1 convolutions
   * and their gradients where it was measured to win (see `winogradRuleTile`), else 'subgroup' where
   * supported, else 'tiled' ('direct' for GEMMs of fewer than 4 columns).
   */
  algorithm?: ConvAlgorithm;
  /** Overrides the tile of the 'tiled' kernels (benchmarks; tm, tn, tk, rm, rn multiples of 4). */
  tile?: ConvTile;
  /** Overrides the column width of the 'subgroup' kernels. */
  subgroupWidth?: 8 | 32;
  /** Overrides the rows per lane of the 'subgroup' forward and input-gradient kernels. */
  subgroupRows?: 1 | 2 | 4;
  /** The output tile of 'winograd': 2 for F(2×2, 3×3) (default), 4 for F(4×4, 3×3). */
  winogradTile?: WinogradTile;
  /** Overrides the pixels per lane of 'narrow'. */
  narrowRows?: NarrowRows;
  /** Overrides the output channels per workgroup of 'narrow' with at most 4 input channels. */
  narrowCols?: NarrowCols;
}

export type NarrowRows = 2 | 4 | 8;
export type NarrowCols = 8 | 16 | 32;

export type ConvKind = ConvGemmKind;

/** A resolved choice: the algorithm and, where the rule would pick them by shape, its tile or width. */
export interface ConvChoice {
  algorithm: Exclude<ConvAlgorithm, 'auto'>;
  tile?: ConvTile;
  subgroupWidth?: 8 | 32;
  subgroupRows?: 1 | 2 | 4;
  winogradTile?: WinogradTile;
  narrowRows?: NarrowRows;
  narrowCols?: NarrowCols;
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

/**
 * Whether the 'narrow' forward kernels run a shape: groups 1, at most 4 output or input channels,
 * and a window row its lanes cover with 3 loads each (up to 17 columns wide at stride 1, 10 at stride 2).
 */
export function narrowRuns(g: ConvGeometry): boolean {
  return g.groups === 1 && (g.coutG <= 4 || g.cinG <= 4) && narrowSpan(g.kW, g.stride, g.dilation) <= 3;
}

/** The rule used when nothing was tuned for a shape. */
export function ruleChoice(runtime: Runtime, kind: ConvKind, g: ConvGeometry, half: boolean): ConvChoice {
  if (g.groups > 1 && (g.cinG < 4 || g.coutG < 4)) return { algorithm: 'direct' };
  const winogradTile = kind === 'fwd' ? winogradRuleTile(runtime, g, half) : kind === 'dx' ? winogradInputGradRuleTile(runtime, g) : winogradFilterGradRuleTile(runtime, g);
  if (winogradTile) return { algorithm: 'winograd', winogradTile };
  if (hasEightWideSubgroups(runtime)) {
    // Few-channel forward convs with wide windows: 'narrow' loads each input column once per window
    // row. Lavapipe, 256 px, CPU time of the call / 2 cores (the machine was shared): TransformerNet's
    // 9×9 reflect-padded 32 → 3 78-83 ms against the subgroup kernel's 189, 3 → 32 72-76 ms against
    // 126; 3×3 'same' 3 → 64 43 against 49 (noise) but 64 → 3 46 against 35, so 5 columns up only.
    if (kind === 'fwd' && g.kW >= 5 && narrowRuns(g)) return { algorithm: 'narrow' };
    // Subgroup kernels win on every other dense shape measured (lavapipe: 4-8× over direct).
    return { algorithm: 'subgroup' };
  }
  if (half) return { algorithm: 'direct' }; // the tiled kernels have no f16 variant
  // A GEMM with fewer than 4 columns (Cout; Cin for the input gradient) fills at most 3/16 of a
  // tile's columns: one thread per output is 2-3× faster (lavapipe, 9×9 32 → 3 and 3×3 3 → 64 at 128 px).
  const columns = kind === 'dx' ? g.cinG : g.coutG;
  return { algorithm: columns < 4 ? 'direct' : 'tiled' };
}

/**
 * The Winograd tile that beats the subgroup kernels untuned, or null: measured on lavapipe only
 * (other adapters get Winograd through tuning), f32. On a loaded 2-core machine F(4×4) ran 1.4-2.6×
 * faster from 64×64 px at 32 channels up (TransformerNet's residual, upsampling convs, VGG conv1-conv4
 * at 64 px and more), and with the transformed filter cached with the weight 2-4× at 32×32 px from
 * 256 channels (512→512 3.2×, 256→512 1.9×, 256→256 4.1×; F(2×2) 1.5-2×); at 32×32 px with 64 or
 * 128 channels F(4×4) 0.9× (F(2×2) 1.2-1.3×, within the noise: left to tuning); F(2×2) 1.3-1.4×
 * at 16×16 px from 256 channels, where F(4×4) ran 0.7× (too few tiles per product). Fewer pixels
 * or channels: the transforms cost what the product saves (512→512 at 8×8 px: F(2×2) 0.4×).
 * f16 storage (transforms and product in f32): F(4×4) 1.2-2.4× from 64×64 px with 64 channels on
 * one side (TransformerNet's residual 128→128, 128 px 128→64, 256 px 64→32), 0.4× at 32→32 and
 * 0.7× at 32×32 px with 64; F(2×2) never beat F(4×4) there: f16 takes F(4×4) on large shapes only.
 */
function winogradRuleTile(runtime: Runtime, g: ConvGeometry, half: boolean): WinogradTile | null {
  if (!hasEightWideSubgroups(runtime)) return null;
  const pixels = g.batch * g.outH * g.outW;
  const channels = Math.min(g.inC, g.outC);
  if (half) return pixels >= 4096 && channels >= 32 && Math.max(g.inC, g.outC) >= 64 && winogradRuns(runtime, g, 4) ? 4 : null;
  const f4 = (pixels >= 4096 && channels >= 32) || (pixels >= 1024 && channels >= 256);
  const tiles: WinogradTile[] = f4 ? [4, 2] : pixels >= 256 && channels >= 256 ? [2] : [];
  return tiles.find((m) => winogradRuns(runtime, g, m)) ?? null;
}

/**
 * The same for the input gradient (F(4×4) or nothing), measured the same way: 1.6-2.0× from
 * 64×64 px at 32 → 64 channels and 32×32 px at 128 up to 256 channels. With the flipped filter
 * cached with the weight (it was rebuilt by strided scalar loads at every call) 32×32 px wins at
 * 512 channels too (VGG conv4: 512→512 2.0×, 256→512 1.7×; 128→128 1.4×, 256→256 2.6×); 16×16 px
 * does not (512→512: F(2×2) 1.1-1.5×, F(4×4) 0.75-1.0×; 128 and 256 channels 0.5-0.9×), nor
 * 32 → 32 channels at 64×64 px (0.6-0.7×). Pixels are the gradient's, the forward input's.
 */
function winogradInputGradRuleTile(runtime: Runtime, g: ConvGeometry): WinogradTile | null {
  if (!hasEightWideSubgroups(runtime)) return null;
  const pixels = g.batch * g.inH * g.inW;
  const fewer = Math.min(g.inC, g.outC);
  const more = Math.max(g.inC, g.outC);
  const wins = (pixels >= 4096 && fewer >= 32 && more >= 64) || (pixels >= 1024 && fewer >= 128);
  return wins && winogradInputGradRuns(runtime, g, 4) ? 4 : null;
}

/**
 * The same for the filter gradient (F(4×4) or nothing; lavapipe, 5 runs each): 1.6-2.6× from
 * 64×64 px at 64 channels (TransformerNet's residual 128→128 at 64×64 2.6×, 128→64 at 128×128 2.1×)
 * and 1.5× at 32×32 px from 128 channels (512→512: 1.2×); 32 channels lose (64→32 at 128×128:
 * 0.85×), as do 16×16 px (128 channels: 0.6×).
 */
function winogradFilterGradRuleTile(runtime: Runtime, g: ConvGeometry): WinogradTile | null {
  if (!hasEightWideSubgroups(runtime)) return null;
  const pixels = g.batch * g.outH * g.outW;
  const fewer = Math.min(g.inC, g.outC);
  const wins = (pixels >= 4096 && fewer >= 64) || (pixels >= 1024 && fewer >= 128);
  return wins && winogradRuns(runtime, g, 4) ? 4 : null;
}

/** Subgroup tile width for a column count (two widths keep the number of pipelines down). */
export function subgroupWidth(cols: number): number {
  return cols > 8 ? 32 : 8;
}

/**
 * Rows per lane for a GEMM of `rows` rows: 4 unless a subgroup (8 lanes) would then cover mostly
 * rows past the end (VGG's conv4/conv5 at 2×2 and 4×4 px: lavapipe, 1.5-2× faster with 1 or 2).
 */
export function subgroupRows(rows: number): 1 | 2 | 4 {
  return rows <= SG_SIZE ? 1 : rows <= 2 * SG_SIZE ? 2 : 4;
}
