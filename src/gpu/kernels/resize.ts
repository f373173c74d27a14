import { gridFor } from '../grid.ts';
import { formatShape, type Shape, type Tensor } from '../tensor.ts';
import { RESIZE_WG, resizeNearestBackwardWgsl, resizeNearestWgsl, upsampleNearestWgsl } from '../../shaders/resize.wgsl.ts';
import type { VecWidth } from '../../shaders/common/nhwc.wgsl.ts';
import { assertRank, assertShape } from './shape-utils.ts';
import { everyCombination, kernelFamily, STORAGE_DTYPES } from '../kernel-family.ts';
import type { DType } from '../tensor.ts';

const RESIZE_NEAREST = kernelFamily('resize_nearest', (p: { dtype: DType; vec: VecWidth }) => resizeNearestWgsl(p.dtype, p.vec), () => everyCombination<{ dtype: DType; vec: VecWidth }>({ dtype: STORAGE_DTYPES, vec: [1, 4] }));
const RESIZE_NEAREST_BACKWARD = kernelFamily('resize_nearest_backward', (p: { dtype: DType; vec: VecWidth }) => resizeNearestBackwardWgsl(p.dtype, p.vec), () => everyCombination<{ dtype: DType; vec: VecWidth }>({ dtype: STORAGE_DTYPES, vec: [1, 4] }));
const UPSAMPLE_NEAREST = kernelFamily(
  'upsample_nearest',
  (p: { dtype: DType; vec: VecWidth; backward: boolean }) => upsampleNearestWgsl(p.dtype, p.vec, p.backward),
  () => everyCombination<{ dtype: DType; vec: VecWidth; backward: boolean }>({ dtype: STORAGE_DTYPES, vec: [1, 4], backward: [false, true] }),
);

/**
 * Along one axis, output index r reads input index min(⌊(a·r + b) / d⌋, in − 1), all in integers.
 *
 * tf.image.resizeNearestNeighbor defines the source index as ⌊s·r⌋ (or round(s·r) with
 * alignCorners, ⌊s·(r + ½)⌋ with halfPixelCenters), s = effectiveIn / effectiveOut. The maps below
 * are those formulas with s kept as an exact fraction:
 *   plain:            ⌊r·in / out⌋                         → (a, b, d) = (in, 0, out)
 *   alignCorners:     ⌊r·e_in / e_out + ½⌋ (round half up) → (2·e_in, e_out, 2·e_out)
 *                     e_in = in − 1, e_out = out − 1 (when out > 1; else in and out)
 *   halfPixelCenters: ⌊(2r + 1)·in / (2·out)⌋              → (2·in, in, 2·out)
 *   upsample by f:    ⌊r / f⌋                              → (1, 0, f)
 * TensorFlow evaluates s·r in float32 and tfjs-cpu in float64; both round, and so, at rare exact
 * ties (s·r an integer, or a half-integer with alignCorners, that the float product misses by
 * an ulp) each can be one pixel off the exact value and off each other. No integer ratio is
 * affected (×2 upsampling, halving, same size), nor any pair of sizes up to 16.
 */
export interface AxisMap {
  a: number;
  b: number;
  d: number;
}

export interface ResizeNearestOptions {
  /** Align the centres of the corner pixels (tf's align_corners). Default false. */
  alignCorners?: boolean;
  /** Sample at pixel centres (tf's half_pixel_centers). Default false; excludes alignCorners. */
  halfPixelCenters?: boolean;
}

export function nearestAxisMap(inSize: number, outSize: number, options: ResizeNearestOptions = {}): AxisMap {
  if (options.halfPixelCenters) return { a: 2 * inSize, b: inSize, d: 2 * outSize };
  if (options.alignCorners) {
    const eIn = outSize > 1 ? inSize - 1 : inSize;
    const eOut = outSize > 1 ? outSize - 1 : outSize;
    return { a: 2 * eIn, b: eOut, d: 2 * eOut };
  }
  return { a: inSize, b: 0, d: outSize };
}

/** The input index that output index r reads (the kernel's formula, for reference and tests). */
export function nearestSourceIndex(map: AxisMap, r: number, inSize: number): number {
  return Math.min(Math.floor((map.a * r + map.b) / map.d), inSize - 1);
}

const U32_LIMIT = 2 ** 32;

function checkMaps(op: string, inShape: Shape, outShape: Shape, maps: [AxisMap, AxisMap]): void {
  for (const [k, map] of maps.entries()) {
    const inSize = inShape[1 + k]!;
    const outSize = outShape[1 + k]!;
    // The kernel's largest intermediate values, in u32: a·(out − 1) + b and in·d.
    if (map.a * outSize + map.b >= U32_LIMIT || (inSize + 1) * map.d >= U32_LIMIT) {
      throw new Error(`${op}: ${formatShape(inShape)} → ${formatShape(outShape)} is too large for 32-bit index arithmetic`);
    }
  }
}

const vecFor = (channels: number): VecWidth => (channels % 4 === 0 ? 4 : 1);

function uniforms(inShape: Shape, outShape: Shape, maps: [AxisMap, AxisMap], vec: VecWidth, count: number) {
  const [mh, mw] = maps;
  return {
    n: count / vec,
    c: inShape[3]! / vec,
    in_h: inShape[1]!,
    in_w: inShape[2]!,
    out_h: outShape[1]!,
    out_w: outShape[2]!,
    ah: mh.a,
    bh: mh.b,
    dh: mh.d,
    aw: mw.a,
    bw: mw.b,
    dw: mw.d,
  };
}

function launchForward(op: string, x: Tensor, outShape: number[], maps: [AxisMap, AxisMap]): Tensor {
  checkMaps(op, x.shape, outShape, maps);
  const out = x.runtime.empty(outShape, x.dtype);
  const vec = vecFor(x.shape[3]!);
  x.runtime.launch({
    ...RESIZE_NEAREST.program({ dtype: x.dtype, vec }),
    bindings: { src: x, dst: out },
    params: uniforms(x.shape, outShape, maps, vec, out.size),
    workgroups: gridFor(out.size / vec, RESIZE_WG),
  });
  return out;
}

function launchBackward(op: string, dy: Tensor, inShape: Shape, outShape: number[], maps: [AxisMap, AxisMap]): Tensor {
  assertShape(op, 'dy', dy.shape, outShape);
  checkMaps(op, inShape, outShape, maps);
  const dx = dy.runtime.empty(inShape, dy.dtype);
  const vec = vecFor(inShape[3]!);
  dy.runtime.launch({
    ...RESIZE_NEAREST_BACKWARD.program({ dtype: dy.dtype, vec }),
    bindings: { dy, dx },
    params: uniforms(inShape, outShape, maps, vec, dx.size),
    workgroups: gridFor(dx.size / vec, RESIZE_WG),
  });
  return dx;
}

function checkResize(op: string, inShape: Shape, size: readonly number[], options: ResizeNearestOptions): number[] {
  assertRank(op, 'input', inShape, 4);
  const [n, h, w, c] = inShape as [number, number, number, number];
  if (size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
    throw new Error(`${op}: size must be two positive integers [height, width], got ${formatShape(size)}`);
  }
  if (h === 0 || w === 0) throw new Error(`${op}: cannot resize an image with no pixels, shape ${formatShape(inShape)}`);
  if (options.alignCorners && options.halfPixelCenters) throw new Error(`${op}: if halfPixelCenters is true, alignCorners must be false`);
  return [n, size[0]!, size[1]!, c];
}

function resizeMaps(inShape: Shape, outShape: Shape, options: ResizeNearestOptions): [AxisMap, AxisMap] {
  return [nearestAxisMap(inShape[1]!, outShape[1]!, options), nearestAxisMap(inShape[2]!, outShape[2]!, options)];
}

/** tf.image.resizeNearestNeighbor(x, [outH, outW], alignCorners, halfPixelCenters) on NHWC. */
export function resizeNearestKernel(x: Tensor, size: readonly [number, number], options: ResizeNearestOptions = {}): Tensor {
  const outShape = checkResize('resizeNearest', x.shape, size, options);
  return launchForward('resizeNearest', x, outShape, resizeMaps(x.shape, outShape, options));
}

/** Gradient of `resizeNearestKernel`: each input pixel sums dy over the outputs that read it. */
export function resizeNearestBackwardKernel(dy: Tensor, inShape: Shape, options: ResizeNearestOptions = {}): Tensor {
  const op = 'resizeNearest backward';
  assertRank(op, 'dy', dy.shape, 4);
  const outShape = checkResize(op, inShape, [dy.shape[1]!, dy.shape[2]!], options);
  return launchBackward(op, dy, inShape, outShape, resizeMaps(inShape, outShape, options));
}

/** Integer upsampling factors [fh, fw] from a number or a pair. */
export function upsampleFactors(op: string, factor: number | readonly [number, number]): [number, number] {
  const f: [number, number] = typeof factor === 'number' ? [factor, factor] : [factor[0], factor[1]];
  if (!f.every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${op}: factor must be a positive integer or a pair of them, got ${JSON.stringify(factor)}`);
  return f;
}

/** One invocation per element of the small tensor [N, H, W, C]: its fh×fw block in the large one. */
function launchUpsample(src: Tensor, inShape: Shape, outShape: number[], backward: boolean): Tensor {
  const [, h, w, c] = inShape as [number, number, number, number];
  const out = src.runtime.empty(backward ? inShape : outShape, src.dtype);
  const vec = vecFor(c);
  const units = c / vec;
  const pow2 = (units & (units - 1)) === 0;
  const threads = out.size / vec / (backward ? 1 : (outShape[1]! / h) * (outShape[2]! / w));
  src.runtime.launch({
    ...UPSAMPLE_NEAREST.program({ dtype: src.dtype, vec, backward }),
    bindings: backward ? { dy: src, dx: out } : { src, dst: out },
    params: { threads, c: units, c_pow2: pow2 ? 1 : 0, c_shift: pow2 ? Math.log2(units) : 0, w, fh: outShape[1]! / h, fw: outShape[2]! / w },
    workgroups: gridFor(threads, RESIZE_WG),
  });
  return out;
}

/** Nearest-neighbour upsampling by integer factors: [N, H, W, C] → [N, fh·H, fw·W, C]. */
export function upsampleNearestKernel(x: Tensor, factor: number | readonly [number, number] = 2): Tensor {
  const op = 'upsampleNearest';
  assertRank(op, 'input', x.shape, 4);
  const [fh, fw] = upsampleFactors(op, factor);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const outShape = [n, h * fh, w * fw, c];
  checkMaps(op, x.shape, outShape, [
    { a: 1, b: 0, d: fh },
    { a: 1, b: 0, d: fw },
  ]);
  return launchUpsample(x, x.shape, outShape, false);
}

/** Gradient of `upsampleNearestKernel`: the sum of dy over each fh×fw block. */
export function upsampleNearestBackwardKernel(dy: Tensor, inShape: Shape, factor: number | readonly [number, number] = 2): Tensor {
  const op = 'upsampleNearest backward';
  assertRank(op, 'input', inShape, 4);
  const [fh, fw] = upsampleFactors(op, factor);
  const [n, h, w, c] = inShape as [number, number, number, number];
  const outShape = [n, h * fh, w * fw, c];
  assertShape(op, 'dy', dy.shape, outShape);
  checkMaps(op, inShape, outShape, [
    { a: 1, b: 0, d: fh },
    { a: 1, b: 0, d: fw },
  ]);
  return launchUpsample(dy, inShape, outShape, true);
}
