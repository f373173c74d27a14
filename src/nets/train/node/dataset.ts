/**
 * Training data from a folder of photos: JPEG/PNG files of any size, found recursively, decoded when
 * first needed (with a bounded cache), unreadable ones reported once and skipped. A seeded split holds
 * some out for validation; training batches are random augmented crops in a seeded order per epoch,
 * and the position in that stream (epoch, index, augmentation RNG) is saved in checkpoints.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { RgbImage } from '../../../io/image.ts';
import { readImageFile } from '../../../io/image-file.ts';
import { SeededRandom } from '../../random.ts';
import { augmentImage, centerSquare, type AugmentOptions } from '../augment.ts';
import type { BatchSource, JsonValue } from '../trainable.ts';

/** File names read as images; others (.txt, .DS_Store, …) are ignored and counted. */
const IMAGE_NAME = /\.(jpe?g|png)$/i;

export interface ImageListing {
  /** Absolute or dir-relative paths as given, sorted by their path inside the folder. */
  files: string[];
  /** Files skipped because their name is not .jpg/.jpeg/.png. */
  ignored: number;
}

/** Every .jpg/.jpeg/.png under `dir` (recursively, following no symlinked folders), in a stable order. */
export async function listImageFiles(dir: string): Promise<ImageListing> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new Error(`image folder not found: ${dir}`);
  }
  if (!info.isDirectory()) throw new Error(`${dir} is not a folder; pass a folder of JPEG/PNG photos`);
  const files: string[] = [];
  let ignored = 0;
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if ((entry.isFile() || entry.isSymbolicLink()) && IMAGE_NAME.test(entry.name)) files.push(path);
      else ignored++;
    }
  };
  await walk(dir);
  // Sort by the path inside the folder so the order does not depend on the file system.
  files.sort((a, b) => {
    const ra = relative(dir, a);
    const rb = relative(dir, b);
    return ra < rb ? -1 : ra > rb ? 1 : 0;
  });
  if (files.length === 0) throw new Error(`no JPEG or PNG files in ${dir}${ignored ? ` (${ignored} other files ignored)` : ''}`);
  return { files, ignored };
}

/** A seeded Fisher–Yates permutation of 0..n-1. */
export function seededPermutation(n: number, seed: number): number[] {
  const rng = new SeededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Mixes two integers into a 32-bit seed (so (seed, epoch) pairs give unrelated streams). */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4eb2d);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * Holds `count` files out for validation, chosen by a seeded shuffle; the rest (in listing order) train.
 * Needs at least two files: one to train on and one to validate with.
 */
export function splitValidation(files: readonly string[], count: number, seed: number): { train: string[]; validation: string[] } {
  if (files.length < 2) throw new Error(`need at least 2 images to hold some out for validation, found ${files.length}; add images or pass --val-dir`);
  const n = Math.min(Math.max(1, count), files.length - 1);
  const chosen = new Set(seededPermutation(files.length, mixSeed(seed, 0x7a11)).slice(0, n));
  return {
    train: files.filter((_, i) => !chosen.has(i)),
    validation: files.filter((_, i) => chosen.has(i)),
  };
}

export interface ImageFolderOptions {
  /** Called once per file that cannot be read or decoded; the file is skipped from then on. */
  onUnreadable?: (path: string, reason: string) => void;
  /** Decoded images are kept up to this many bytes (default 512 MiB); later ones are re-read each time. */
  cacheBytes?: number;
}

/** Loads images by path: decoded once when the cache has room, unreadable files reported once. */
export class ImageFolder {
  private readonly unreadable = new Map<string, string>();
  private readonly cache = new Map<string, RgbImage>();
  private cachedBytes = 0;
  private readonly cacheLimit: number;

  constructor(private readonly options: ImageFolderOptions = {}) {
    this.cacheLimit = options.cacheBytes ?? 512 * 2 ** 20;
  }

  /** Files found unreadable so far, with the reason. */
  get skipped(): ReadonlyMap<string, string> {
    return this.unreadable;
  }

  /** The decoded image, or null if the file is unreadable (reported the first time). */
  async load(path: string): Promise<RgbImage | null> {
    if (this.unreadable.has(path)) return null;
    const cached = this.cache.get(path);
    if (cached) return cached;
    let image: RgbImage;
    try {
      image = await readImageFile(path);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.unreadable.set(path, reason);
      this.options.onUnreadable?.(path, reason);
      return null;
    }
    const bytes = image.data.byteLength;
    if (this.cachedBytes + bytes <= this.cacheLimit) {
      this.cache.set(path, image);
      this.cachedBytes += bytes;
    }
    return image;
  }
}

/** A batch of square RGB images in host memory: `data` is NHWC [count, size, size, 3], values 0..255. */
export interface ImageBatch {
  data: Float32Array;
  count: number;
  size: number;
}

function packBatch(images: readonly RgbImage[], size: number): ImageBatch {
  const per = size * size * 3;
  const data = new Float32Array(images.length * per);
  images.forEach((image, i) => data.set(image.data, i * per));
  return { data, count: images.length, size };
}

export interface AugmentedBatchesOptions {
  batchSize: number;
  /** Side of the square crops. */
  size: number;
  seed: number;
  augment?: AugmentOptions;
}

interface StreamState {
  epoch: number;
  position: number;
  rng: number;
}

/**
 * The endless stream of training batches: each epoch visits the files in a fresh seeded order (a
 * function of the seed and the epoch number only), each readable image yields one augmented crop.
 * Unreadable files are skipped without drawing random numbers, so a run that meets a bad file for the
 * first time after a resume draws exactly what the uninterrupted run drew.
 */
export class AugmentedBatches implements BatchSource<ImageBatch> {
  readonly batchSize: number;
  private epoch = 0;
  private position = 0;
  private order: number[];
  private readonly rng: SeededRandom;

  constructor(
    private readonly folder: ImageFolder,
    private readonly files: readonly string[],
    private readonly options: AugmentedBatchesOptions,
  ) {
    if (files.length === 0) throw new Error('no training images');
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`batch size must be a positive integer, got ${options.batchSize}`);
    if (!Number.isInteger(options.size) || options.size < 8) throw new Error(`crop size must be an integer ≥ 8, got ${options.size}`);
    this.batchSize = options.batchSize;
    this.rng = new SeededRandom(mixSeed(options.seed, 0xa06));
    this.order = this.permutation(0);
  }

  /** Epochs completed, with the fraction of the current one. */
  get epochsDone(): number {
    return this.epoch + this.position / this.files.length;
  }

  private permutation(epoch: number): number[] {
    return seededPermutation(this.files.length, mixSeed(this.options.seed, epoch + 1));
  }

  private async nextImage(): Promise<RgbImage> {
    let misses = 0;
    for (;;) {
      if (this.position >= this.files.length) {
        this.epoch++;
        this.position = 0;
        this.order = this.permutation(this.epoch);
      }
      const path = this.files[this.order[this.position++]!]!;
      const image = await this.folder.load(path);
      if (image) return image;
      if (++misses >= this.files.length) throw new Error(`none of the ${this.files.length} training images can be read`);
    }
  }

  async next(): Promise<ImageBatch> {
    const crops: RgbImage[] = [];
    for (let i = 0; i < this.batchSize; i++) {
      const image = await this.nextImage();
      crops.push(augmentImage(image, this.options.size, this.rng, this.options.augment));
    }
    return packBatch(crops, this.options.size);
  }

  saveState(): JsonValue {
    return { epoch: this.epoch, position: this.position, rng: this.rng.state } satisfies StreamState;
  }

  restoreState(state: JsonValue): void {
    const s = state as unknown as StreamState;
    if (!s || typeof s !== 'object' || ![s.epoch, s.position, s.rng].every((v) => Number.isInteger(v) && v >= 0)) {
      throw new Error(`training data: invalid saved stream state ${JSON.stringify(state)}`);
    }
    if (s.position > this.files.length) throw new Error(`training data: the saved position ${s.position} is past the ${this.files.length} training images (did the folder change?)`);
    this.epoch = s.epoch;
    this.position = s.position;
    this.rng.state = s.rng >>> 0;
    this.order = this.permutation(this.epoch);
  }
}

/**
 * The validation set: each readable file's centre square at `size`, in batches of `batchSize`
 * (the last one may be smaller). Unreadable files are reported by the folder and left out.
 */
export async function loadValidationBatches(folder: ImageFolder, files: readonly string[], size: number, batchSize: number): Promise<ImageBatch[]> {
  const images: RgbImage[] = [];
  for (const path of files) {
    const image = await folder.load(path);
    if (image) images.push(centerSquare(image, size));
  }
  if (images.length === 0) throw new Error(`none of the ${files.length} validation images can be read`);
  const batches: ImageBatch[] = [];
  for (let i = 0; i < images.length; i += batchSize) batches.push(packBatch(images.slice(i, i + batchSize), size));
  return batches;
}

/**
 * Several sources drawn in step as one: `{ content: photos, style: paintings }` yields
 * `{ content: ImageBatch, style: ImageBatch }` (what AdaIN decoder training needs). Its saved state
 * holds each source's state by key. `batchSize` is the first source's.
 */
export function combineSources<T extends Record<string, unknown>>(sources: { [K in keyof T]: BatchSource<T[K]> }): BatchSource<T> {
  const keys = Object.keys(sources) as (keyof T & string)[];
  if (keys.length === 0) throw new Error('combineSources: no sources');
  return {
    batchSize: sources[keys[0]!].batchSize,
    async next(): Promise<T> {
      const out = {} as T;
      for (const k of keys) out[k] = await sources[k].next();
      return out;
    },
    saveState(): JsonValue {
      return Object.fromEntries(keys.map((k) => [k, sources[k].saveState()]));
    },
    restoreState(state: JsonValue): void {
      const s = state as Record<string, JsonValue> | null;
      for (const k of keys) {
        if (!s || !(k in s)) throw new Error(`combineSources: the saved state has no '${k}' entry`);
        sources[k].restoreState(s[k]!);
      }
    },
  };
}
