/**
 * The independent oracle: TensorFlow.js on its pure-JavaScript CPU backend, plus seeded inputs and
 * one place that states the tolerances every kernel test uses.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { expect } from 'vitest';

await tf.setBackend('cpu');
export { tf };

/** Tolerances for f32 kernels against the oracle. */
export const RTOL = 1e-4;
export const ATOL = 1e-5;

/** Mulberry32: small, seedable, good enough for test inputs. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi) from a seed. */
export function randomValues(size: number, seed: number, lo = -2, hi = 2): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

/** Elementwise |a - e| <= atol + rtol·|e|, reporting the worst element on failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = RTOL, atol = ATOL, what = 'values'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Relative L2 error ||a - e|| / ||e||, for end-to-end comparisons. */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i]! - expected[i]!;
    num += d * d;
    den += expected[i]! * expected[i]!;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

export async function tfValues(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}
