/**
 * Colour preservation for style transfer (Gatys, Bethge, Hertzmann & Shechtman, "Preserving Color in
 * Neural Artistic Style Transfer", 2016), on the CPU over RgbImages (RGB, HWC, 0..255):
 *
 * - luminance-only transfer: the transfer runs on luminance images (Y of YIQ, replicated into R, G and
 *   B), the style's luminance first matched to the content's mean and standard deviation; the result's
 *   Y is then combined with the content's I and Q (`combineLuminance`), so the content's chroma is kept
 *   exactly.
 * - colour histogram matching: the style image's colours are transformed linearly so that their mean
 *   and covariance equal the content's (`matchColorHistogram`), before the transfer.
 */
import { assertRgbImage, type RgbImage } from '../../io/image.ts';

export type ColorPreservation = 'none' | 'luminance' | 'histogram';

// NTSC YIQ (FCC 1953 coefficients). The inverse is computed from the forward matrix, so that a
// round trip is exact up to rounding.
const RGB_TO_YIQ: Mat3 = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];
const YIQ_TO_RGB: Mat3 = invert3(RGB_TO_YIQ);

type Vec3 = [number, number, number];
type Mat3 = [Vec3, Vec3, Vec3];

function mulVec(m: Mat3, v: Vec3): Vec3 {
  return [
    m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
    m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
    m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
  ];
}

function mulMat(a: Mat3, b: Mat3): Mat3 {
  const out: Mat3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
  return out;
}

function transpose3(m: Mat3): Mat3 {
  return [
    [m[0][0], m[1][0], m[2][0]],
    [m[0][1], m[1][1], m[2][1]],
    [m[0][2], m[1][2], m[2][2]],
  ];
}

function invert3(m: Mat3): Mat3 {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 1e-300)) throw new Error('colour transform: singular 3×3 matrix');
  const inv = 1 / det;
  return [
    [A * inv, -(b * i - c * h) * inv, (b * f - c * e) * inv],
    [B * inv, (a * i - c * g) * inv, -(a * f - c * d) * inv],
    [C * inv, -(a * h - b * g) * inv, (a * e - b * d) * inv],
  ];
}

/** RGB → YIQ of one pixel (any scale; Y has the scale of the input). */
export function rgbToYiq(r: number, g: number, b: number): Vec3 {
  return mulVec(RGB_TO_YIQ, [r, g, b]);
}

/** YIQ → RGB of one pixel. */
export function yiqToRgb(y: number, i: number, q: number): Vec3 {
  return mulVec(YIQ_TO_RGB, [y, i, q]);
}

/** The luminance Y of every pixel. */
export function luminance(image: RgbImage): Float64Array {
  assertRgbImage(image, 'luminance');
  const n = image.width * image.height;
  const y = new Float64Array(n);
  const d = image.data;
  const [wr, wg, wb] = RGB_TO_YIQ[0];
  for (let p = 0; p < n; p++) y[p] = wr * d[3 * p]! + wg * d[3 * p + 1]! + wb * d[3 * p + 2]!;
  return y;
}

/**
 * A grey image with the luminance of `image` in R, G and B. With `matchTo`, the luminance is first
 * shifted and scaled to the mean and standard deviation of `matchTo`'s luminance (the paper's
 * luminance matching of the style to the content).
 */
export function luminanceImage(image: RgbImage, matchTo?: RgbImage): RgbImage {
  const y = luminance(image);
  let scale = 1;
  let shift = 0;
  if (matchTo) {
    const target = luminance(matchTo);
    const s = meanStd(y);
    const t = meanStd(target);
    scale = s.std > 1e-8 ? t.std / s.std : 1;
    shift = t.mean - scale * s.mean;
  }
  const data = new Float32Array(y.length * 3);
  for (let p = 0; p < y.length; p++) {
    const v = scale * y[p]! + shift;
    data[3 * p] = v;
    data[3 * p + 1] = v;
    data[3 * p + 2] = v;
  }
  return { width: image.width, height: image.height, data };
}

function meanStd(values: Float64Array): { mean: number; std: number } {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= Math.max(values.length, 1);
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  variance /= Math.max(values.length, 1);
  return { mean, std: Math.sqrt(variance) };
}

/**
 * The luminance Y of `styled` with the chroma (I, Q) of `content`, converted back to RGB. Both
 * images must have the same size. The result's I and Q are the content's (up to float32 rounding).
 */
export function combineLuminance(styled: RgbImage, content: RgbImage): RgbImage {
  assertRgbImage(styled, 'combineLuminance');
  assertRgbImage(content, 'combineLuminance');
  if (styled.width !== content.width || styled.height !== content.height) {
    throw new Error(`combineLuminance: the styled image is ${styled.width}×${styled.height} but the content is ${content.width}×${content.height}`);
  }
  const n = styled.width * styled.height;
  const out = new Float32Array(n * 3);
  const s = styled.data;
  const c = content.data;
  for (let p = 0; p < n; p++) {
    const [y] = rgbToYiq(s[3 * p]!, s[3 * p + 1]!, s[3 * p + 2]!);
    const [, i, q] = rgbToYiq(c[3 * p]!, c[3 * p + 1]!, c[3 * p + 2]!);
    const rgb = yiqToRgb(y, i, q);
    out[3 * p] = rgb[0];
    out[3 * p + 1] = rgb[1];
    out[3 * p + 2] = rgb[2];
  }
  return { width: styled.width, height: styled.height, data: out };
}

/** Mean colour and 3×3 colour covariance (population, float64) of an image. */
export function colorStatistics(image: RgbImage): { mean: Vec3; covariance: Mat3 } {
  assertRgbImage(image, 'colorStatistics');
  const n = image.width * image.height;
  const d = image.data;
  const mean: Vec3 = [0, 0, 0];
  for (let p = 0; p < n; p++) for (let k = 0; k < 3; k++) mean[k] += d[3 * p + k]!;
  for (let k = 0; k < 3; k++) mean[k] /= n;
  const cov: Mat3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let p = 0; p < n; p++) {
    const v: Vec3 = [d[3 * p]! - mean[0], d[3 * p + 1]! - mean[1], d[3 * p + 2]! - mean[2]];
    for (let i = 0; i < 3; i++) for (let j = i; j < 3; j++) cov[i][j] += v[i] * v[j];
  }
  for (let i = 0; i < 3; i++) {
    for (let j = i; j < 3; j++) {
      cov[i][j] /= n;
      cov[j][i] = cov[i][j];
    }
  }
  return { mean, covariance: cov };
}

/** Lower-triangular L with L·Lᵀ = m (m symmetric positive definite). */
export function cholesky3(m: Mat3): Mat3 {
  const l: Mat3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(s > 0)) throw new Error('cholesky: the covariance is not positive definite');
        l[i][i] = Math.sqrt(s);
      } else {
        l[i][j] = s / l[j][j];
      }
    }
  }
  return l;
}

/** Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations: m = V·diag(values)·Vᵀ. */
export function symmetricEigen3(m: Mat3): { values: Vec3; vectors: Mat3 } {
  const a: Mat3 = [
    [m[0][0], m[0][1], m[0][2]],
    [m[1][0], m[1][1], m[1][2]],
    [m[2][0], m[2][1], m[2][2]],
  ];
  const v: Mat3 = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    const scale = a[0][0] ** 2 + a[1][1] ** 2 + a[2][2] ** 2;
    if (off <= 1e-30 * Math.max(scale, 1e-300)) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      if (a[p][q] === 0) continue;
      // The rotation that zeroes a[p][q] (Golub & Van Loan, symmetric Schur decomposition).
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k][p];
        const akq = a[k][q];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p][k];
        const aqk = a[q][k];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k][p];
        const vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: [a[0][0], a[1][1], a[2][2]], vectors: v };
}

/** m^power for a symmetric positive (semi-)definite 3×3 matrix, eigenvalues floored at `floor`. */
function symmetricPower(m: Mat3, power: number, floor: number): Mat3 {
  const { values, vectors } = symmetricEigen3(m);
  const d = values.map((x) => Math.max(x, floor) ** power);
  const vd: Mat3 = [
    [vectors[0][0] * d[0]!, vectors[0][1] * d[1]!, vectors[0][2] * d[2]!],
    [vectors[1][0] * d[0]!, vectors[1][1] * d[1]!, vectors[1][2] * d[2]!],
    [vectors[2][0] * d[0]!, vectors[2][1] * d[1]!, vectors[2][2] * d[2]!],
  ];
  return mulMat(vd, transpose3(vectors));
}

export interface HistogramMatchOptions {
  /**
   * How the covariance is factored: 'eigen' (default) uses the symmetric square roots
   * A = Σt^½·Σs^−½, the transform that moves the colours least; 'cholesky' uses A = Lt·Ls⁻¹.
   * Both give exactly the target mean and covariance.
   */
  method?: 'eigen' | 'cholesky';
}

/**
 * Transforms the colours of `source` (x ↦ A·(x − μs) + μt) so that their mean and covariance are those
 * of `target`: the style image is recoloured with the content's palette before the transfer. Values are
 * not clamped (clamping would change the statistics); encoders clamp at the end.
 */
export function matchColorHistogram(source: RgbImage, target: RgbImage, options: HistogramMatchOptions = {}): RgbImage {
  const s = colorStatistics(source);
  const t = colorStatistics(target);
  // A tiny ridge keeps a flat (e.g. grey) source invertible; it changes nothing measurable otherwise.
  const ridge = (cov: Mat3) => 1e-9 * (cov[0][0] + cov[1][1] + cov[2][2]) + 1e-12;
  const reg = (cov: Mat3): Mat3 => {
    const r = ridge(cov);
    return [
      [cov[0][0] + r, cov[0][1], cov[0][2]],
      [cov[1][0], cov[1][1] + r, cov[1][2]],
      [cov[2][0], cov[2][1], cov[2][2] + r],
    ];
  };
  let a: Mat3;
  if ((options.method ?? 'eigen') === 'cholesky') {
    a = mulMat(cholesky3(reg(t.covariance)), invert3(cholesky3(reg(s.covariance))));
  } else {
    a = mulMat(symmetricPower(t.covariance, 0.5, 0), symmetricPower(s.covariance, -0.5, ridge(s.covariance)));
  }
  const n = source.width * source.height;
  const out = new Float32Array(n * 3);
  const d = source.data;
  for (let p = 0; p < n; p++) {
    const v: Vec3 = [d[3 * p]! - s.mean[0], d[3 * p + 1]! - s.mean[1], d[3 * p + 2]! - s.mean[2]];
    const w = mulVec(a, v);
    for (let k = 0; k < 3; k++) out[3 * p + k] = w[k] + t.mean[k];
  }
  return { width: source.width, height: source.height, data: out };
}
