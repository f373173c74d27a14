import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/io/image.ts';
import {
  cholesky3,
  colorStatistics,
  combineLuminance,
  luminance,
  luminanceImage,
  matchColorHistogram,
  rgbToYiq,
  symmetricEigen3,
  yiqToRgb,
} from '../../../src/nets/image/color.ts';
import { seededRandom } from '../../helpers/oracle.ts';

/** A synthetic image with correlated channels: smooth gradients plus seeded noise. */
function syntheticImage(width: number, height: number, seed: number, mix: number[][], offset: number[]): RgbImage {
  const random = seededRandom(seed);
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = [x / width, y / height, random()];
      for (let k = 0; k < 3; k++) data[(y * width + x) * 3 + k] = offset[k]! + mix[k]![0]! * base[0]! + mix[k]![1]! * base[1]! + mix[k]![2]! * base[2]!;
    }
  }
  return { width, height, data };
}

const content = syntheticImage(24, 18, 1, [[120, 30, 20], [40, 90, 10], [10, 20, 60]], [40, 60, 80]);
const style = syntheticImage(20, 30, 2, [[20, 150, 40], [-30, 60, 80], [90, -20, 30]], [120, 50, 100]);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('YIQ', () => {
  it('round-trips RGB → YIQ → RGB and has the standard luminance weights', () => {
    const [y, i, q] = rgbToYiq(200, 100, 50);
    expect(y).toBeCloseTo(0.299 * 200 + 0.587 * 100 + 0.114 * 50, 10);
    const back = yiqToRgb(y, i, q);
    expect(maxAbsDiff(back, [200, 100, 50])).toBeLessThan(1e-9);
    // Grey has no chroma.
    const grey = rgbToYiq(90, 90, 90);
    expect(Math.abs(grey[1])).toBeLessThan(1e-4);
    expect(Math.abs(grey[2])).toBeLessThan(1e-4);
  });
});

describe('luminance-only transfer', () => {
  it('combineLuminance keeps the content chroma (I, Q) exactly and takes the luminance from the styled image', () => {
    const styled = syntheticImage(24, 18, 3, [[10, 200, 5], [60, 10, 90], [5, 5, 5]], [10, 20, 30]);
    const out = combineLuminance(styled, content);
    const yOut = luminance(out);
    const yStyled = luminance(styled);
    let worstChroma = 0;
    for (let p = 0; p < 24 * 18; p++) {
      const a = rgbToYiq(out.data[3 * p]!, out.data[3 * p + 1]!, out.data[3 * p + 2]!);
      const b = rgbToYiq(content.data[3 * p]!, content.data[3 * p + 1]!, content.data[3 * p + 2]!);
      worstChroma = Math.max(worstChroma, Math.abs(a[1] - b[1]), Math.abs(a[2] - b[2]));
    }
    // Exact up to the float32 storage of the output (values ~100 → ulp ~1e-5).
    expect(worstChroma).toBeLessThan(1e-4);
    expect(maxAbsDiff(yOut, yStyled)).toBeLessThan(1e-4);
  });

  it('a luminance image is grey, and matching gives the target luminance mean and standard deviation', () => {
    const grey = luminanceImage(style, content);
    for (let p = 0; p < 20 * 30; p++) {
      expect(grey.data[3 * p]).toBe(grey.data[3 * p + 1]);
      expect(grey.data[3 * p]).toBe(grey.data[3 * p + 2]);
    }
    const stats = (v: Float64Array) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return [m, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)];
    };
    const [mg, sg] = stats(luminance(grey));
    const [mc, sc] = stats(luminance(content));
    expect(mg).toBeCloseTo(mc!, 3);
    expect(sg).toBeCloseTo(sc!, 3);
    // Without a target the luminance is unchanged.
    expect(maxAbsDiff(luminance(luminanceImage(style)), luminance(style))).toBeLessThan(1e-4);
  });

  it('rejects images of different sizes', () => {
    expect(() => combineLuminance(style, content)).toThrow(/20×30 but the content is 24×18/);
  });
});

describe('colour histogram matching', () => {
  for (const method of ['eigen', 'cholesky'] as const) {
    it(`${method}: the recoloured style has exactly the content's mean colour and colour covariance`, () => {
      const out = matchColorHistogram(style, content, { method });
      expect([out.width, out.height]).toEqual([style.width, style.height]);
      const got = colorStatistics(out);
      const want = colorStatistics(content);
      for (let k = 0; k < 3; k++) expect(got.mean[k]).toBeCloseTo(want.mean[k], 3);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(Math.abs(got.covariance[i][j] - want.covariance[i][j])).toBeLessThan(1e-3 * want.covariance[i][i]);
      // The source statistics differ a lot, so this is not trivially satisfied.
      const before = colorStatistics(style);
      expect(Math.abs(before.mean[0] - want.mean[0])).toBeGreaterThan(20);
    });
  }

  it('eigen: matching an image to itself changes nothing', () => {
    const out = matchColorHistogram(content, content);
    expect(maxAbsDiff(out.data, content.data)).toBeLessThan(1e-3);
  });

  it('handles a grey (rank-one covariance) source without NaN', () => {
    const grey = luminanceImage(style);
    const out = matchColorHistogram(grey, content);
    expect(out.data.every(Number.isFinite)).toBe(true);
    const got = colorStatistics(out);
    const want = colorStatistics(content);
    for (let k = 0; k < 3; k++) expect(got.mean[k]).toBeCloseTo(want.mean[k], 2);
  });
});

describe('3×3 linear algebra', () => {
  const m: [[number, number, number], [number, number, number], [number, number, number]] = [
    [4, 1, 0.5],
    [1, 3, 0.2],
    [0.5, 0.2, 2],
  ];

  it('symmetric eigen-decomposition: V·diag(λ)·Vᵀ = M with orthonormal V', () => {
    const { values, vectors: v } = symmetricEigen3(m);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let r = 0;
        let o = 0;
        for (let k = 0; k < 3; k++) {
          r += v[i]![k]! * values[k]! * v[j]![k]!;
          o += v[k]![i]! * v[k]![j]!;
        }
        expect(r).toBeCloseTo(m[i]![j]!, 10);
        expect(o).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
  });

  it('cholesky: L·Lᵀ = M, L lower-triangular', () => {
    const l = cholesky3(m);
    expect(l[0][1]).toBe(0);
    expect(l[0][2]).toBe(0);
    expect(l[1][2]).toBe(0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(l[i]![0]! * l[j]![0]! + l[i]![1]! * l[j]![1]! + l[i]![2]! * l[j]![2]!).toBeCloseTo(m[i]![j]!, 10);
    expect(() => cholesky3([[1, 2, 0], [2, 1, 0], [0, 0, 1]])).toThrow(/positive definite/);
  });
});
