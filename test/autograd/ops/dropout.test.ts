import { describe, expect, it } from 'vitest';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { dropout } from '../../../src/autograd/ops/dropout.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { dropoutKeeps } from '../../../src/gpu/kernels/dropout.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/gpu/half.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { hasShaderF16 } from '../../helpers/adapter-features.ts';
import { expectClose, randomValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();
const N = 100_000;
const SHAPE = [4, 25, 25, 40];

/** Nonzero inputs, so a zero in the output can only mean "dropped". */
const positive = (size: number, seed: number) => randomValues(size, seed, 0.5, 2);

function keptFraction(values: Float32Array): number {
  let kept = 0;
  for (const v of values) if (v !== 0) kept++;
  return kept / values.length;
}

describe('dropout (training)', () => {
  it('keeps ≈ 1 − p of 10⁵ elements, scales them by 1/(1 − p), and zeroes the rest', async () => {
    const rt = runtime();
    const xs = positive(N, 1);
    const x = rt.upload(xs, SHAPE);
    for (const p of [0.1, 0.3, 0.5, 0.9]) {
      const y = await dropout(x, p, { seed: 1234, training: true }).data();
      // 4.5 standard deviations of a binomial proportion.
      expect(Math.abs(keptFraction(y) - (1 - p))).toBeLessThan(4.5 * Math.sqrt((p * (1 - p)) / N));
      const keptY: number[] = [];
      const keptX: number[] = [];
      y.forEach((v, i) => {
        if (v !== 0) {
          keptY.push(v);
          keptX.push(xs[i]! / (1 - p));
        }
      });
      expectClose(keptY, keptX, 1e-6, 0, `p=${p} kept values`);
    }
  });

  it('draws the mask the CPU reference draws from the same seed (device independence)', async () => {
    const rt = runtime();
    const xs = positive(N, 2);
    const x = rt.upload(xs, SHAPE);
    for (const [p, seed] of [
      [0.3, 7],
      [0.5, -42],
      [0.25, 2 ** 40 + 3],
    ] as const) {
      const y = await dropout(x, p, { seed, training: true }).data();
      let mismatches = 0;
      for (let i = 0; i < N; i++) if ((y[i] !== 0) !== dropoutKeeps(seed, p, i)) mismatches++;
      expect(mismatches, `p=${p} seed=${seed}`).toBe(0);
    }
  });

  it('gives the same mask for the same seed and independent masks for other seeds', async () => {
    const rt = runtime();
    const x = rt.upload(positive(N, 3), SHAPE);
    const p = 0.3;
    const a = await dropout(x, p, { seed: 99, training: true }).data();
    const again = await dropout(x, p, { seed: 99, training: true }).data();
    let differ = 0;
    for (let i = 0; i < N; i++) if (again[i] !== a[i]) differ++;
    expect(differ).toBe(0);
    // Seeds that differ in one low bit, and seeds that differ only above bit 32.
    for (const other of [98, 99 + 2 ** 32]) {
      const b = await dropout(x, p, { seed: other, training: true }).data();
      let agree = 0;
      for (let i = 0; i < N; i++) if ((a[i] !== 0) === (b[i] !== 0)) agree++;
      // Independent masks agree with probability p² + (1 − p)² = 0.58.
      expect(Math.abs(agree / N - 0.58)).toBeLessThan(0.01);
    }
  });

  it('has no visible structure: neighbours are independent and every block keeps ≈ 1 − p', async () => {
    const rt = runtime();
    const x = rt.upload(positive(N, 4), SHAPE);
    const p = 0.5;
    const y = await dropout(x, p, { seed: 5, training: true }).data();
    let bothKept = 0;
    for (let i = 0; i + 1 < N; i++) if (y[i] !== 0 && y[i + 1] !== 0) bothKept++;
    expect(Math.abs(bothKept / (N - 1) - 0.25)).toBeLessThan(0.01);
    for (let b = 0; b < 10; b++) expect(Math.abs(keptFraction(y.subarray(b * 10_000, (b + 1) * 10_000)) - 0.5)).toBeLessThan(0.025);
  });

  it('backward recomputes the mask: dx = dy · mask / (1 − p), odd shapes', async () => {
    const rt = runtime();
    for (const [shape, p] of [
      [[2, 7, 5, 3], 0.4],
      [[1, 9, 11, 13], 0.2],
    ] as const) {
      const size = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const x = rt.upload(positive(size, 6), shape);
      const ws = randomValues(size, 7);
      const w = rt.upload(ws, shape);
      const y = await dropout(x, p, { seed: 31, training: true }).data();
      const { value, grads } = valueAndGrad((x: Tensor) => sum(mul(dropout(x, p, { seed: 31, training: true }), w)))(x);
      // The mask comes from the forward output here, not from the hash.
      const expected = Array.from(ws, (wv, i) => (y[i] !== 0 ? wv / (1 - p) : 0));
      expectClose(await grads[0]!.data(), expected, 1e-6, 0, 'dropout gradient');
      let forward = 0;
      y.forEach((v, i) => (forward += v * ws[i]!));
      expectClose([await value.item()], [forward], 1e-5, 1e-5, 'dropout value');
    }
  });

  it.skipIf(!hasShaderF16)('works on f16 tensors with the same mask (needs shader-f16)', async () => {
    const rt = runtime();
    const xs = float16ToFloat32(float32ToFloat16(positive(1001, 8)));
    const y = await dropout(rt.upload(xs, [7, 11, 13], 'f16'), 0.5, { seed: 3, training: true }).data();
    const expected = Array.from(xs, (v, i) => (dropoutKeeps(3, 0.5, i) ? v * 2 : 0));
    expectClose(y, expected, 0, 0, 'f16 dropout');
  });

  it('drops everything at p = 1', async () => {
    const rt = runtime();
    const y = await dropout(rt.upload(positive(35, 9), [7, 5]), 1, { seed: 1, training: true }).data();
    expect([...y]).toEqual(new Array(35).fill(0));
  });
});

describe('dropout (identity cases, errors, memory)', () => {
  it('is the identity, value and gradient, in eval mode and at p = 0', async () => {
    const rt = runtime();
    const xs = randomValues(2 * 7 * 5 * 3, 10);
    const ws = randomValues(2 * 7 * 5 * 3, 11);
    const x = rt.upload(xs, [2, 7, 5, 3]);
    const w = rt.upload(ws, [2, 7, 5, 3]);
    for (const [p, training] of [
      [0.5, false],
      [0, true],
    ] as const) {
      const y = dropout(x, p, { seed: 1, training });
      expect(y.buffer).toBe(x.buffer); // a view, no copy
      expect(await y.data()).toEqual(xs);
      y.dispose();
      expect(x.disposed).toBe(false);
      const { grads } = valueAndGrad((x: Tensor) => sum(mul(dropout(x, p, { seed: 1, training }), w)))(x);
      expect(await grads[0]!.data()).toEqual(ws);
    }
  });

  it('rejects a bad p or seed before dispatching', () => {
    const rt = runtime();
    const x = rt.upload([1, 2, 3], [3]);
    const before = rt.stats().dispatches;
    for (const p of [-0.1, 1.5, NaN]) expect(() => dropout(x, p, { seed: 1, training: true })).toThrow(/dropout: p must be in \[0, 1\]/);
    expect(() => dropout(x, 0.5, { seed: 1.5, training: true })).toThrow(/dropout: seed must be a safe integer, got 1.5/);
    expect(() => dropout(x, 0.5, { seed: 2 ** 60, training: false })).toThrow(/dropout: seed must be a safe integer/);
    expect(rt.stats().dispatches).toBe(before);
  });

  it('frees every intermediate of forward and backward', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 12), [2, 7, 5, 3]);
    const run = (training: boolean) => {
      const { value, grads } = valueAndGrad((x: Tensor) => sum(dropout(dropout(x, 0.3, { seed: 1, training }), 0.2, { seed: 2, training })))(x);
      value.dispose();
      grads.forEach((g) => g.dispose());
    };
    run(true);
    run(false);
    await rt.flush();
    const before = rt.stats();
    run(true);
    run(false);
    await rt.flush();
    expect(rt.stats().liveTensors).toBe(before.liveTensors);
    expect(rt.stats().liveBytes).toBe(before.liveBytes);
  });
});
