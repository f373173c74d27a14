import { describe, expect, it } from 'vitest';
import { matmul } from '../../../src/autograd/ops/matmul.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { launchMatmul, MATMUL_CONFIGS, type MatmulConfig } from '../../../src/gpu/kernels/matmul.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/**
 * Both sides accumulate K products in float32 in different orders, so the absolute tolerance grows
 * with the contraction length (values are O(1), sums of K terms are O(√K)).
 */
const atolFor = (k: number) => 2e-6 * Math.max(8, k);

interface Case {
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
}

async function checkAgainstTf({ a: sa, b: sb, transposeA = false, transposeB = false }: Case, seed: number): Promise<void> {
  const rt = runtime();
  const as = randomValues(size(sa), seed);
  const bs = randomValues(size(sb), seed + 1);
  const ta = tf.tensor(as, sa);
  const tb = tf.tensor(bs, sb);
  const expected = tf.matMul(ta, tb, transposeA, transposeB);
  const ws = randomValues(size(expected.shape), seed + 2);
  const tw = tf.tensor(ws, expected.shape);
  const k = transposeA ? sa[sa.length - 2]! : sa[sa.length - 1]!;
  const atol = atolFor(k);

  const a = rt.upload(as, sa);
  const b = rt.upload(bs, sb);
  const w = rt.upload(ws, expected.shape);
  const y = matmul(a, b, { transposeA, transposeB });
  expect([...y.shape]).toEqual(expected.shape);
  expectClose(await y.data(), await tfValues(expected), 1e-4, atol, 'forward');

  const { value, grads } = valueAndGrad((a: Tensor, b: Tensor) => sum(mul(matmul(a, b, { transposeA, transposeB }), w)))(a, b);
  // tfjs's BatchMatMul gradient does not reduce over a broadcast batch: broadcast explicitly.
  const batch = expected.shape.length === 3 ? expected.shape[0]! : 1;
  const full = (x: tf.Tensor) => (expected.shape.length === 3 && (x.rank === 2 || x.shape[0] !== batch) ? tf.broadcastTo(tf.reshape(x, [1, ...x.shape.slice(-2)]), [batch, ...x.shape.slice(-2)]) : x);
  const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(full(a), full(b), transposeA, transposeB), tw)))([ta, tb]);
  expect([...grads[0]!.shape]).toEqual(sa);
  expect([...grads[1]!.shape]).toEqual(sb);
  const gk = Math.max(...expected.shape); // the gradients contract over M, N or the batch·M / batch·N
  expectClose(await grads[0]!.data(), await tfValues(ga!), 1e-4, atolFor(gk * size(expected.shape.slice(0, -2))), 'dA');
  expectClose(await grads[1]!.data(), await tfValues(gb!), 1e-4, atolFor(gk * size(expected.shape.slice(0, -2))), 'dB');
  for (const t of [a, b, w, y, value, ...grads]) t.dispose();
}

describe('matmul: forward and both gradients against tfjs-cpu', () => {
  const transposes: [boolean, boolean][] = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ];
  // Odd sizes: the scalar (bounds-checked) kernel, every transpose combination.
  for (const [tA, tB] of transposes) {
    it(`7×13 · 13×5, transposeA=${tA} transposeB=${tB}`, async () => {
      const a = tA ? [13, 7] : [7, 13];
      const b = tB ? [5, 13] : [13, 5];
      await checkAgainstTf({ a, b, transposeA: tA, transposeB: tB }, 100);
    });
  }
  // Multiples of 4: the vec4 kernel, every transpose combination, batched.
  for (const [tA, tB] of transposes) {
    it(`batch 2 of 12×20 · 20×8 (vec4), transposeA=${tA} transposeB=${tB}`, async () => {
      const a = tA ? [2, 20, 12] : [2, 12, 20];
      const b = tB ? [2, 8, 20] : [2, 20, 8];
      await checkAgainstTf({ a, b, transposeA: tA, transposeB: tB }, 200);
    });
  }
  it('batch broadcast: [2,7,13] · [1,13,5]', () => checkAgainstTf({ a: [2, 7, 13], b: [1, 13, 5] }, 300));
  it('batch broadcast: [1,7,13] · [2,13,5] with transposeB', () => checkAgainstTf({ a: [1, 7, 13], b: [2, 5, 13], transposeB: true }, 310));
  it('rank 2 with rank 3: [13,7]ᵀ · [2,13,5]', () => checkAgainstTf({ a: [13, 7], b: [2, 13, 5], transposeA: true }, 320));
  it('rank 3 with rank 2: [2,12,20] · [20,8] (vec4)', () => checkAgainstTf({ a: [2, 12, 20], b: [20, 8] }, 330));
  it('65×130 · 130×67 crosses tile edges', () => checkAgainstTf({ a: [65, 130], b: [130, 67] }, 400));
  it('300×300 · 300×300 (many tiles, split-K)', () => checkAgainstTf({ a: [300, 300], b: [300, 300] }, 500));
});

/** float64 reference of Σ_inner op(A)·op(B), for the launch-level tests. */
function reference(as: Float32Array, bs: Float32Array, m: number, n: number, k: number, tA: boolean, tB: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += as[tA ? q * m + i : i * k + q]! * bs[tB ? j * k + q : q * n + j]!;
      out[i * n + j] = s;
    }
  }
  return out;
}

describe('matmul launch configurations (forced) against a float64 reference', () => {
  const cases: [string, MatmulConfig, number, number, number, boolean, boolean, number][] = [
    // name, config, M, N, K, transA, transB, splits
    ['128² tiles, 8×8 per thread, scalar, split-K 3', MATMUL_CONFIGS[0], 130, 133, 70, false, false, 3],
    ['128² tiles, vec4, transposed A', MATMUL_CONFIGS[0], 132, 136, 40, true, false, 1],
    ['64² tiles, 8×8 per thread, transposed B, split-K 2', MATMUL_CONFIGS[1], 70, 65, 33, false, true, 2],
    ['32² tiles, 4×4 per thread, vec4, split-K 4', MATMUL_CONFIGS[2], 36, 40, 100, false, false, 4],
  ];
  for (const [name, config, m, n, k, tA, tB, splits] of cases) {
    it(name, async () => {
      const rt = runtime();
      const as = randomValues(m * k, 600 + m);
      const bs = randomValues(k * n, 700 + n);
      const a = rt.upload(as, tA ? [k, m] : [m, k]);
      const b = rt.upload(bs, tB ? [n, k] : [k, n]);
      const c = launchMatmul({
        op: 'test',
        a: { tensor: a, outer: 0, inner: 0 },
        b: { tensor: b, outer: 0, inner: 0 },
        transA: tA,
        transB: tB,
        m,
        n,
        k,
        outer: 1,
        inner: 1,
        scale: 0.5,
        symmetric: false,
        outShape: [m, n],
        config,
        splits,
      });
      const expected = reference(as, bs, m, n, k, tA, tB).map((v) => v * 0.5);
      expectClose(await c.data(), expected, 1e-4, atolFor(k), name);
      for (const t of [a, b, c]) t.dispose();
    });
  }
});

describe('matmul errors and memory', () => {
  it('throws before any dispatch on mismatched or unsupported shapes, naming them', () => {
    const rt = runtime();
    const a = rt.upload(randomValues(6, 1), [2, 3]);
    const b = rt.upload(randomValues(8, 2), [4, 2]);
    const c = rt.upload(randomValues(24, 3), [2, 3, 4]);
    const d = rt.upload(randomValues(36, 4), [3, 4, 3]);
    const before = rt.stats().dispatches;
    expect(() => matmul(a, b)).toThrow(/matmul: inner dimensions differ: A \[2, 3\] has 3 columns, B \[4, 2\] has 4 rows/);
    expect(() => matmul(c, d)).toThrow(/matmul: batch sizes of \[2, 3, 4\] and \[3, 4, 3\] cannot be broadcast/);
    expect(() => matmul(rt.reshape(a, [6]), b)).toThrow(/matmul: operands must have rank 2 or 3/);
    expect(rt.stats().dispatches).toBe(before);
    for (const t of [a, b, c, d]) t.dispose();
  });

  it('an empty contraction (K = 0) gives zeros', async () => {
    const rt = runtime();
    const a = rt.empty([2, 0]);
    const b = rt.empty([0, 3]);
    const c = matmul(a, b);
    expect([...c.shape]).toEqual([2, 3]);
    expect([...(await c.data())]).toEqual([0, 0, 0, 0, 0, 0]);
    for (const t of [a, b, c]) t.dispose();
  });

  it('frees every temporary, including split-K partials and broadcast-batch gradients', async () => {
    const rt = runtime();
    const a = rt.upload(randomValues(2 * 7 * 13, 8), [2, 7, 13]);
    const b = rt.upload(randomValues(13 * 5, 9), [13, 5]);
    const before = rt.stats();
    for (let i = 0; i < 3; i++) {
      const { value, grads } = valueAndGrad((a: Tensor, b: Tensor) => sum(matmul(a, b)))(a, b);
      value.dispose();
      grads.forEach((g) => g.dispose());
    }
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    a.dispose();
    b.dispose();
  });
});
