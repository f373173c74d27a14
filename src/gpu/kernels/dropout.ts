import { gridFor } from '../grid.ts';
import type { DType, Tensor } from '../tensor.ts';
import { DROPOUT_WG, dropoutWgsl } from '../../shaders/dropout.wgsl.ts';
import { everyCombination, kernelFamily, STORAGE_DTYPES } from '../kernel-family.ts';

const DROPOUT = kernelFamily('dropout', (p: { dtype: DType }) => dropoutWgsl(p.dtype), () => everyCombination({ dtype: STORAGE_DTYPES }));

/** The shader's pcg_hash in TypeScript (wrapping u32 arithmetic), for keys and CPU references. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Two 32-bit keys from a seed (any safe integer, negative ones included). */
export function dropoutKeys(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) throw new Error(`dropout: seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const key0 = pcgHash(lo ^ 0x9e3779b9);
  const key1 = pcgHash((hi + key0) >>> 0);
  return [key0, key1];
}

/** Elements are dropped when their 24 hash bits fall below round(p·2²⁴). */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  return Math.round(p * 2 ** 24);
}

/** Whether element i survives dropout(p, seed): the kernel's mask, computed on the CPU. */
export function dropoutKeeps(seed: number, p: number, i: number): boolean {
  const [key0, key1] = dropoutKeys(seed);
  return pcgHash(pcgHash((i + key0) >>> 0) ^ key1) >>> 8 >= dropoutThreshold(p);
}

/**
 * Inverted dropout: each element is kept with probability 1 − p and then scaled by 1/(1 − p), or
 * set to 0. The mask depends only on (seed, flat element index), never on the device or the
 * launch shape, so running this on dy with the same seed and p is the backward pass.
 */
export function dropoutKernel(x: Tensor, p: number, seed: number): Tensor {
  const threshold = dropoutThreshold(p);
  const [key0, key1] = dropoutKeys(seed);
  const out = x.runtime.empty(x.shape, x.dtype);
  x.runtime.launch({
    ...DROPOUT.program({ dtype: x.dtype }),
    bindings: { src: x, dst: out },
    params: { n: x.size, key0, key1, threshold, scale: p === 1 ? 0 : 1 / (1 - p) },
    workgroups: gridFor(x.size, DROPOUT_WG),
  });
  return out;
}
