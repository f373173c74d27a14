import type { Runtime } from '../src/gpu/runtime.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import type { Tensor as TfTensor } from '@tensorflow/tfjs-core';
import type { Tfjs } from './types.ts';

/** Reproducible values in [-1, 1) (a small LCG: the bench needs data, not statistical quality). */
export function randomValues(count: number, seed = 1): Float32Array {
  const out = new Float32Array(count);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

export const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A pastiche tensor of the given shape filled with reproducible values. */
export function randomTensor(runtime: Runtime, shape: readonly number[], seed = 1, scale = 1): Tensor {
  const values = randomValues(count(shape), seed);
  if (scale !== 1) for (let i = 0; i < values.length; i++) values[i]! *= scale;
  return runtime.upload(values, shape);
}

/** The same values as a tfjs tensor (so both sides compute on identical inputs). */
export function randomTf<T extends TfTensor = TfTensor>(tf: Tfjs, shape: readonly number[], seed = 1, scale = 1): T {
  const values = randomValues(count(shape), seed);
  if (scale !== 1) for (let i = 0; i < values.length; i++) values[i]! *= scale;
  return tf.tensor(values, [...shape]) as T;
}

/** Disposes everything given (tensors of either library). */
export function disposeAll(...items: { dispose(): void }[]): void {
  for (const t of items) t.dispose();
}

/** He-style scale for conv weights, so activations stay in a sane range. */
export const heScale = (fanIn: number): number => Math.sqrt(2 / fanIn);
