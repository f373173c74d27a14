/**
 * Universal style transfer on the distilled VGG-19 nets, as the Collaborative-Distillation code runs it:
 * for each level n (by default 5, 4, 3, 2, 1), encode the current image with E_n, move its features
 * to the style's statistics (WCT, or AdaIN at level 4 for `distilled-adain.ts`), decode with D_n, and
 * feed the result to the next level. The style image is encoded as is at every level.
 *
 * Any size: the content is mirror-padded to a multiple of 16 and the result cropped back. Large images
 * run in tiles (./level-tiles.ts) with the statistics summed over all tiles first
 * (./feature-stats.ts), so a tiled result equals the untiled one; GPU memory is bounded by the tile.
 * Browser-safe.
 */
import { add, mul } from '../../../autograd/ops/elementwise.ts';
import { slice } from '../../../autograd/ops/structural.ts';
import { noGrad } from '../../../autograd/tape.ts';
import { scope } from '../../../gpu/scope.ts';
import type { Tensor } from '../../../gpu/tensor.ts';
import type { RgbImage } from '../../../io/image.ts';
import { resizeToLongSide } from '../../../io/resize.ts';
import { maskValues } from '../adain/adain.ts';
import { checkedOutput } from '../../image/checked-output.ts';
import { matchColorHistogram } from '../../image/color.ts';
import { DISTILLED_CHANNELS, downsampling, type DistilledLevel, type DistilledVgg } from '../../models/distilled-vgg.ts';
import { accumulateFeatureStats, FeatureStats } from './feature-stats.ts';
import { blendTargets, featureMap, GpuAffineMap, styleTarget, type StyleTarget, type TransformKind } from './feature-transform.ts';
import { cropPixels, levelTiles, pastePixels, reflectPadPixels, SIDE_MULTIPLE, type Box, type LevelTile } from './level-tiles.ts';

export interface DistilledStylizeOptions {
  /** Style strength in 0..1: 1 is full transfer, 0 gives the content back through the nets. Default 1. */
  alpha?: number;
  /** Levels to run, coarse to fine. Default 5, 4, 3, 2, 1 (WCT) or 4 (AdaIN). */
  levels?: readonly DistilledLevel[];
  /** Blend weights of several styles (normalised); default equal. */
  weights?: readonly number[];
  /** White = first style, black = second style (with one style: black keeps the content). */
  mask?: RgbImage | null;
  /** Recolour each style to the content's colours first, so the result keeps the content's colours. */
  preserveColor?: boolean;
  /** Resize each style image so its longer side is this many pixels before encoding. */
  styleSize?: number;
  /** Largest side, in pixels, of a tile's core; images with more pixels than fit run tiled. Default from the GPU's limits. */
  tileSize?: number;
  /** Called as each level starts (index 0 … count − 1). */
  onLevel?: (level: DistilledLevel, index: number, count: number) => void;
  /** Checked between levels and tiles: an abort rejects with its reason, GPU memory freed. */
  signal?: AbortSignal;
}

/** Pixels a tile's window may hold by default: the largest activations stay well under a 128 MiB binding. */
const DEFAULT_WINDOW_PIXELS = 1024 * 1024;
const DEFAULT_CORE = 512;

export class DistilledStylizer {
  /** Encoder runs, for tests of the style cache. */
  readonly counters = { styleEncodes: 0, contentEncodes: 0 };
  private readonly styleCache = new Map<RgbImage, Map<string, StyleTarget>>();

  constructor(
    readonly nets: DistilledVgg,
    readonly kind: TransformKind,
  ) {}

  get defaultLevels(): readonly DistilledLevel[] {
    return this.kind === 'adain' ? [4] : [5, 4, 3, 2, 1];
  }

  /** Stylizes `content` (RGB 0..255); the result has its size, clamped to 0..255. */
  async stylize(content: RgbImage, styles: readonly RgbImage[], options: DistilledStylizeOptions = {}): Promise<RgbImage> {
    const raw = await this.stylizeUnclamped(content, styles, options);
    const data = checkedOutput(raw.data, raw.width, `${this.kind} (distilled nets)`);
    for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, data[i]! * 255));
    return { width: raw.width, height: raw.height, data };
  }

  /** The last decoder's output, RGB ≈ 0..1, not clamped (what the goldens hold). */
  async stylizeUnclamped(content: RgbImage, styles: readonly RgbImage[], options: DistilledStylizeOptions = {}): Promise<RgbImage> {
    const levels = this.resolveLevels(options.levels);
    const { alpha, weights } = resolveWeights(this.kind, styles.length, options);
    const mask = options.mask ?? null;
    if (mask && styles.length > 2) throw new Error(`${this.kind}: a mask takes one or two styles, got ${styles.length}`);
    const deepest = Math.max(...levels) as DistilledLevel;
    const minSide = 2 * downsampling(deepest);
    if (content.width < minSide || content.height < minSide) {
      throw new Error(`${this.kind}: the content image must be at least ${minSide}×${minSide} pixels for level ${deepest}, got ${content.width}×${content.height}`);
    }
    const width = roundUp(content.width);
    const height = roundUp(content.height);
    let pixels = reflectPadPixels(content.data.map((v) => v / 255), content.width, content.height, width - content.width, height - content.height);
    const core = this.coreSize(width, height, options.tileSize);

    for (const [index, level] of levels.entries()) {
      options.signal?.throwIfAborted();
      options.onLevel?.(level, index, levels.length);
      const targets: StyleTarget[] = [];
      for (const style of styles) targets.push(await this.styleTargetFor(style, level, content, options));
      pixels = await this.runLevel(level, pixels, width, height, core, targets, weights, alpha, mask, options.signal);
    }
    const cropped = cropPixels(pixels, width, { x: 0, y: 0, width: content.width, height: content.height });
    return { width: content.width, height: content.height, data: cropped };
  }

  clearStyleCache(): void {
    this.styleCache.clear();
  }

  private resolveLevels(levels: readonly DistilledLevel[] | undefined): DistilledLevel[] {
    const chosen = [...(levels ?? this.defaultLevels)];
    if (chosen.length === 0) throw new Error(`${this.kind}: choose at least one level (1..5)`);
    for (const l of chosen) if (![1, 2, 3, 4, 5].includes(l)) throw new Error(`${this.kind}: level ${String(l)} is not one of 1, 2, 3, 4, 5`);
    if (new Set(chosen).size !== chosen.length) throw new Error(`${this.kind}: a level is listed twice (${chosen.join(', ')})`);
    return chosen.sort((a, b) => b - a);
  }

  private coreSize(width: number, height: number, tileSize: number | undefined): number {
    if (tileSize !== undefined) {
      if (!(Number.isInteger(tileSize) && tileSize >= SIDE_MULTIPLE)) throw new Error(`${this.kind}: the tile size must be an integer ≥ ${SIDE_MULTIPLE}, got ${tileSize}`);
      return tileSize;
    }
    return width * height <= DEFAULT_WINDOW_PIXELS ? Math.max(width, height) : DEFAULT_CORE;
  }

  /** The style's colouring target at `level` (cached per image object unless recoloured to the content). */
  private async styleTargetFor(style: RgbImage, level: DistilledLevel, content: RgbImage, options: DistilledStylizeOptions): Promise<StyleTarget> {
    const key = `${level}/${options.styleSize ?? 'native'}`;
    const cached = options.preserveColor ? undefined : this.styleCache.get(style)?.get(key);
    if (cached) return cached;
    let image = options.preserveColor ? matchColorHistogram(style, content) : style;
    if (options.styleSize !== undefined) {
      if (!(Number.isInteger(options.styleSize) && options.styleSize >= 16)) throw new Error(`${this.kind}: the style size must be an integer ≥ 16, got ${options.styleSize}`);
      image = resizeToLongSide(image, options.styleSize);
    }
    const minSide = 2 * downsampling(level);
    if (image.width < minSide || image.height < minSide) {
      throw new Error(`${this.kind}: a style image must be at least ${minSide}×${minSide} pixels for level ${level}, got ${image.width}×${image.height}`);
    }
    this.counters.styleEncodes++;
    const stats = await this.imageStats(level, image);
    const target = styleTarget(this.kind, stats);
    if (!options.preserveColor) {
      if (!this.styleCache.has(style)) this.styleCache.set(style, new Map());
      this.styleCache.get(style)!.set(key, target);
    }
    return target;
  }

  /** Feature statistics of a whole style image at `level`: in one piece if it fits, else in tiles of its padded copy. */
  private async imageStats(level: DistilledLevel, image: RgbImage): Promise<FeatureStats> {
    const stats = new FeatureStats(DISTILLED_CHANNELS[level]);
    const scaled = image.data.map((v) => v / 255);
    const runtime = this.nets.runtime;
    if (image.width * image.height <= DEFAULT_WINDOW_PIXELS) {
      const input = runtime.upload(scaled, [1, image.height, image.width, 3]);
      const features = this.nets.encode(level, input);
      input.dispose();
      try {
        await accumulateFeatureStats(stats, features);
      } finally {
        features.dispose();
      }
      return stats;
    }
    const width = roundUp(image.width);
    const height = roundUp(image.height);
    const padded = reflectPadPixels(scaled, image.width, image.height, width - image.width, height - image.height);
    for (const tile of levelTiles(width, height, level, DEFAULT_CORE)) {
      const features = this.encodeCore(level, padded, width, tile);
      try {
        await accumulateFeatureStats(stats, features);
      } finally {
        features.dispose();
      }
    }
    return stats;
  }

  /** Encodes a tile's window and keeps the features of its core. */
  private encodeCore(level: DistilledLevel, pixels: Float32Array, width: number, tile: LevelTile): Tensor {
    const window = this.encodeWindow(level, pixels, width, tile.window);
    const f = downsampling(level);
    const { core } = tile;
    if (core.width === tile.window.width && core.height === tile.window.height) return window;
    const kept = noGrad(() => slice(window, [0, (core.y - tile.window.y) / f, (core.x - tile.window.x) / f, 0], [1, core.height / f, core.width / f, -1]));
    window.dispose();
    return kept;
  }

  private encodeWindow(level: DistilledLevel, pixels: Float32Array, width: number, box: Box): Tensor {
    this.counters.contentEncodes++;
    const input = this.nets.runtime.upload(cropPixels(pixels, width, box), [1, box.height, box.width, 3]);
    try {
      return this.nets.encode(level, input);
    } finally {
      input.dispose();
    }
  }

  /** One level over the whole image: statistics over every tile, then transform and decode each tile. */
  private async runLevel(
    level: DistilledLevel,
    pixels: Float32Array,
    width: number,
    height: number,
    core: number,
    targets: readonly StyleTarget[],
    weights: readonly number[],
    alpha: number,
    mask: RgbImage | null,
    signal: AbortSignal | undefined,
  ): Promise<Float32Array> {
    const tiles = levelTiles(width, height, level, core);
    const single = tiles.length === 1;
    const f = downsampling(level);
    const stats = new FeatureStats(DISTILLED_CHANNELS[level]);
    let kept: Tensor | null = null;
    for (const tile of tiles) {
      signal?.throwIfAborted();
      const features = this.encodeCore(level, pixels, width, tile);
      try {
        await accumulateFeatureStats(stats, features);
      } finally {
        if (single) kept = features;
        else features.dispose();
      }
    }
    // With a mask, each region gets its own style (one style: the content keeps the black part).
    const maps = mask
      ? targets.map((t) => featureMap(stats, t, alpha))
      : [featureMap(stats, blendTargets(targets, weights), alpha)];
    const gpuMaps = maps.map((m) => new GpuAffineMap(this.nets.runtime, m));
    const maskAtLevel = mask ? maskValues(mask, width / f, height / f) : null;
    const out = new Float32Array(pixels.length);
    try {
      for (const tile of tiles) {
        if (signal?.aborted) {
          kept?.dispose();
          signal.throwIfAborted();
        }
        const features = kept ?? this.encodeWindow(level, pixels, width, tile.window);
        kept = null;
        const decoded = noGrad(() =>
          scope(() => {
            const moved = this.moveFeatures(features, gpuMaps, maskAtLevel, width / f, tile.window, f);
            return this.nets.decode(level, moved);
          }),
        );
        features.dispose();
        const data = await decoded.data();
        decoded.dispose();
        const c = tile.core;
        const corePixels = cropPixels(data, tile.window.width, { x: c.x - tile.window.x, y: c.y - tile.window.y, width: c.width, height: c.height });
        pastePixels(out, width, c, corePixels);
      }
    } finally {
      for (const m of gpuMaps) m.dispose();
    }
    return out;
  }

  /** The transformed features of one window: one map, or the mask's blend of two (or of one and the content). */
  private moveFeatures(features: Tensor, maps: readonly GpuAffineMap[], mask: Float32Array | null, maskWidth: number, window: Box, f: number): Tensor {
    if (!mask) return maps[0]!.apply(features);
    const w = window.width / f;
    const h = window.height / f;
    const m = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = mask[(window.y / f + y) * maskWidth + window.x / f + x]!;
    const runtime = this.nets.runtime;
    const white = runtime.upload(m, [1, h, w, 1]);
    const black = runtime.upload(m.map((v) => 1 - v), [1, h, w, 1]);
    const second = maps[1] ? maps[1].apply(features) : features;
    return add(mul(maps[0]!.apply(features), white), mul(second, black));
  }
}

function roundUp(side: number): number {
  return Math.ceil(side / SIDE_MULTIPLE) * SIDE_MULTIPLE;
}

/** α in 0..1 and the style weights normalised to sum 1. */
export function resolveWeights(kind: TransformKind, styleCount: number, options: DistilledStylizeOptions): { alpha: number; weights: number[] } {
  if (styleCount === 0) throw new Error(`${kind}: give at least one style image`);
  const alpha = options.alpha ?? 1;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`${kind}: alpha must be between 0 and 1, got ${alpha}`);
  const given = options.weights ?? new Array<number>(styleCount).fill(1);
  if (given.length !== styleCount) throw new Error(`${kind}: ${styleCount} style images but ${given.length} weights`);
  if (given.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new Error(`${kind}: style weights must be finite and ≥ 0, got ${given.join(', ')}`);
  const total = given.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error(`${kind}: the style weights must not all be zero`);
  return { alpha, weights: given.map((w) => w / total) };
}
