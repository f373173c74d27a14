import { describe, expect, it } from 'vitest';
import { spectralFunction, symmetricEigen } from '../../../../src/nets/methods/wct/eigen.ts';
import { seededRandom } from '../../../helpers/oracle.ts';

/** A random orthogonal n×n matrix (Gram–Schmidt on random columns), row-major. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const v = Float64Array.from({ length: n }, () => rand() - 0.5);
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i]! * q[i * n + k]!;
      for (let i = 0; i < n; i++) v[i] -= dot * q[i * n + k]!;
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * n + j] = v[i]! / norm;
  }
  return q;
}

/** Q diag(values) Qᵀ. */
function compose(q: Float64Array, values: number[], n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += q[i * n + k]! * values[k]! * q[j * n + k]!;
  return a;
}

describe('symmetric eigendecomposition (Jacobi, float64)', () => {
  it('recovers a known spectrum spanning 1e2 … 1e-12, with orthonormal vectors', () => {
    const n = 24;
    const spectrum = Array.from({ length: n }, (_, i) => 100 * 10 ** (-i / 2)).sort((a, b) => b - a);
    const q = randomOrthogonal(n, 7);
    const { values, vectors } = symmetricEigen(compose(q, spectrum, n), n);
    for (let k = 0; k < n; k++) {
      // Large eigenvalues to ~1e-14 relative; the tiniest to ~1e-14 of the largest (backward stable).
      expect(Math.abs(values[k]! - spectrum[k]!), `λ${k}`).toBeLessThan(1e-12 * spectrum[k]! + 1e-12);
    }
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += vectors[i * n + a]! * vectors[i * n + b]!;
        expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  it('whitening times colouring of the same matrix is the projector, and their squares give A⁻¹ and A', () => {
    const n = 16;
    const spectrum = Array.from({ length: n }, (_, i) => 3 + i);
    const a = compose(randomOrthogonal(n, 3), spectrum, n);
    const eig = symmetricEigen(a, n);
    const half = spectralFunction(eig, n, 1e-5, Math.sqrt);
    let err = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sq = 0;
        for (let k = 0; k < n; k++) sq += half[i * n + k]! * half[k * n + j]!;
        err = Math.max(err, Math.abs(sq - a[i * n + j]!));
      }
    }
    expect(err).toBeLessThan(1e-11);
    // Eigenvalues at or under the threshold are dropped: a rank-deficient matrix's inverse root stays finite.
    const singular = compose(randomOrthogonal(4, 9), [2, 1, 1e-9, 0], 4);
    const inv = spectralFunction(symmetricEigen(singular, 4), 4, 1e-5, (e) => 1 / Math.sqrt(e));
    expect(inv.every((v) => Math.abs(v) < 2)).toBe(true);
  });

  it('refuses non-finite input and a wrong size', () => {
    expect(() => symmetricEigen([1, NaN, NaN, 1], 2)).toThrow(/NaN or infinite/);
    expect(() => symmetricEigen([1, 2, 3], 2)).toThrow(/expected 2×2 = 4 values, got 3/);
  });
});
