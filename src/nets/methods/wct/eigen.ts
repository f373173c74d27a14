/**
 * The symmetric eigendecomposition WCT needs, in float64 on the host: cyclic Jacobi rotations.
 * Jacobi keeps small eigenvalues accurate relative to their size, which matters here: whitening
 * divides by √e, so an eigenvalue wrong by its own magnitude would blow its direction up.
 * C ≤ 128 for the distilled nets, 512 for full VGG (timings: `npm run bench`, line `wct eigen`).
 */

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** n×n row-major; column j is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

const MAX_SWEEPS = 100;

/** Eigenvalues and eigenvectors of the symmetric n×n row-major matrix `matrix` (not modified). */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: expected ${n}×${n} = ${n * n} values, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const x = a[i * n + j]!;
      const y = a[j * n + i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error('symmetricEigen: the matrix holds NaN or infinite values');
      // Symmetrise exactly: a float32 product can differ in the last bit across the diagonal.
      a[i * n + j] = a[j * n + i] = (x + y) / 2;
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;

  let frobenius = 0;
  for (let i = 0; i < n * n; i++) frobenius += a[i]! * a[i]!;
  const tolerance = frobenius * 1e-32;

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off <= tolerance || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        a[p * n + p] = app - t * apq;
        a[q * n + q] = aqq + t * apq;
        a[p * n + q] = a[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          if (r !== p && r !== q) {
            const arp = a[r * n + p]!;
            const arq = a[r * n + q]!;
            const np = c * arp - s * arq;
            const nq = s * arp + c * arq;
            a[r * n + p] = a[p * n + r] = np;
            a[r * n + q] = a[q * n + r] = nq;
          }
          const vrp = v[r * n + p]!;
          const vrq = v[r * n + q]!;
          v[r * n + p] = c * vrp - s * vrq;
          v[r * n + q] = s * vrp + c * vrq;
        }
      }
    }
  }

  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    values[to] = a[from * n + from]!;
    for (let r = 0; r < n; r++) vectors[r * n + to] = v[r * n + from]!;
  });
  return { values, vectors };
}

/**
 * V diag(f(e)) Vᵀ over the eigenpairs with e > threshold (the rest are dropped, as WCT does):
 * f = e^−½ whitens, f = e^½ colours.
 */
export function spectralFunction(eigen: SymmetricEigen, n: number, threshold: number, f: (e: number) => number): Float64Array {
  const out = new Float64Array(n * n);
  const { values, vectors } = eigen;
  for (let k = 0; k < n; k++) {
    const e = values[k]!;
    if (!(e > threshold)) continue;
    const w = f(e);
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * w;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k]!;
    }
  }
  return out;
}
