/**
 * Float64 references for the normalisation tests (instance-norm, adain, batch-norm .test.ts):
 * plain loops over NHWC arrays, written independently of the kernels.
 */

export type Shape4 = [n: number, h: number, w: number, c: number];

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Per (sample, channel) — or per channel over the batch when `perSample` is false — mean and biased variance. */
export function moments64(x: ArrayLike<number>, [n, h, w, c]: Shape4, perSample = true): { mean: Float64Array; variance: Float64Array } {
  const groups = perSample ? n : 1;
  const per = (n * h * w) / groups;
  const mean = new Float64Array(groups * c);
  const variance = new Float64Array(groups * c);
  for (let g = 0; g < groups; g++) {
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let p = 0; p < per; p++) s += x[(g * per + p) * c + ch]!;
      const m = s / per;
      let v = 0;
      for (let p = 0; p < per; p++) v += (x[(g * per + p) * c + ch]! - m) ** 2;
      mean[g * c + ch] = m;
      variance[g * c + ch] = v / per;
    }
  }
  return { mean, variance };
}

/** Reads a [C] or [N, C] operand at (sample, channel). */
function operand(t: ArrayLike<number> | null, n: number, ch: number, c: number, fallback: number): number {
  if (!t) return fallback;
  return t.length === c ? t[ch]! : t[n * c + ch]!;
}

/** Instance norm with [C] or [N, C] scale and shift (conditional instance norm, AdaIN with statistics). */
export function instanceNorm64(x: ArrayLike<number>, shape: Shape4, scale: ArrayLike<number> | null, shift: ArrayLike<number> | null, eps: number): Float64Array {
  const [n, h, w, c] = shape;
  const { mean, variance } = moments64(x, shape);
  const y = new Float64Array(sizeOf(shape));
  for (let s = 0; s < n; s++) {
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < c; ch++) {
        const i = (s * h * w + p) * c + ch;
        const xh = (x[i]! - mean[s * c + ch]!) / Math.sqrt(variance[s * c + ch]! + eps);
        y[i] = xh * operand(scale, s, ch, c, 1) + operand(shift, s, ch, c, 0);
      }
    }
  }
  return y;
}

/** AdaIN: σ_s · (x − μ_c) / σ_c + μ_s, σ = √(var + eps). */
export function adain64(content: ArrayLike<number>, cShape: Shape4, style: ArrayLike<number>, sShape: Shape4, eps: number): Float64Array {
  const { mean, variance } = moments64(style, sShape);
  const std = variance.map((v) => Math.sqrt(v + eps));
  return instanceNorm64(content, cShape, std, mean, eps);
}

/** Σ y·w in float64. */
export function dot64(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}
