import { afterEach, describe, expect, it, vi } from 'vitest';
import { canonicalParams } from '../../src/gpu/kernel-family.ts';
import { binary } from '../../src/gpu/kernels/elementwise.ts';
import { collapseBroadcast } from '../../src/gpu/kernels/shape-utils.ts';
import type { BinaryOp } from '../../src/shaders/elementwise.wgsl.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { KernelLaunch } from '../../src/gpu/runtime.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { hasShaderF16 } from '../helpers/adapter-features.ts';
import { expectClose, randomValues, tf, tfValues } from '../helpers/oracle.ts';

const runtime = useRuntime();
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

describe('collapseBroadcast', () => {
  it('drops size-1 axes and merges axes both operands run through contiguously', () => {
    expect(collapseBroadcast([2, 7, 5, 3], [[2, 7, 5, 3], [3]])).toEqual({ dims: [70, 3], strides: [[3, 1], [0, 1]] });
    expect(collapseBroadcast([2, 7, 5, 3], [[2, 7, 5, 3], [2, 1, 1, 3]])).toEqual({ dims: [2, 35, 3], strides: [[105, 3, 1], [3, 0, 1]] });
    expect(collapseBroadcast([4, 5], [[1], [4, 5]])).toEqual({ dims: [20], strides: [[0], [1]] });
    expect(collapseBroadcast([4, 5], [[4, 1], [1, 5]])).toEqual({ dims: [4, 5], strides: [[1, 0], [0, 1]] });
    expect(collapseBroadcast([1, 6], [[1, 6], [6]])).toEqual({ dims: [6], strides: [[1], [1]] });
    expect(collapseBroadcast([1, 1], [[1, 1], [1]])).toEqual({ dims: [], strides: [[], []] });
    // Broadcast along two adjacent axes merges too: [2, 7, 5, 3] − [7, 1, 1] is [2, 7, 15] − [1, 7, 1].
    expect(collapseBroadcast([2, 7, 5, 3], [[2, 7, 5, 3], [7, 1, 1]])).toEqual({ dims: [2, 7, 15], strides: [[105, 15, 1], [0, 1, 0]] });
    // Alternating patterns do not collapse.
    expect(collapseBroadcast([2, 3, 4, 5, 6, 7], [[2, 3, 4, 5, 6, 7], [1, 3, 1, 5, 1, 7]]).dims).toEqual([2, 3, 4, 5, 6, 7]);
  });
});

type Case = [a: number[], b: number[], variant: string];
/** Each shape pair with the kernel variant it must take (f32). */
const cases: Case[] = [
  [[2, 7, 5, 3], [2, 7, 5, 3], 'f32'],
  // same shape, a multiple of 4 elements: four per invocation
  [[2, 7, 4, 3], [2, 7, 4, 3], 'f32_vec4'],
  [[1, 8], [8], 'f32_vec4'],
  [[1, 6], [6], 'f32'],
  [[1, 1], [1], 'f32'],
  // scalar operand
  [[1], [4, 5], 'f32_r1_0_1'],
  [[4, 5], [1, 1], 'f32_r1_1_0'],
  [[257, 3], [1], 'f32_r1_1_0'],
  // trailing vector: ib = i % C
  [[2, 7, 5, 3], [3], 'f32_r2_11_01'],
  [[3, 1001], [1001], 'f32_r2_11_01'],
  [[13], [4, 1, 13], 'f32_r2_01_11'],
  // leading repeat: ib = i / K
  [[6, 5], [6, 1], 'f32_r2_11_10'],
  [[257, 3], [257, 1], 'f32_r2_11_10'],
  // outer product
  [[4, 1], [1, 5], 'f32_r2_10_01'],
  [[13], [4, 1], 'f32_r2_01_10'],
  // rank 3 and 4 after collapsing
  [[2, 7, 5, 3], [2, 1, 1, 3], 'f32_r3_111_101'],
  [[2, 7, 5, 3], [7, 1, 1], 'f32_r3_111_010'],
  [[2, 1, 5, 3], [7, 1, 1], 'f32_r3_101_010'],
  [[2, 3, 4, 5], [1, 3, 1, 5], 'f32_r4_1111_0101'],
  [[3, 1, 5, 1], [1, 4, 1, 6], 'f32_r4_1010_0101_p000010'],
  [[1, 9, 1, 7], [2, 9, 3, 1], 'f32_r4_0101_1110'],
  // divisions and modulos by powers of two: shifts and masks
  [[1, 64, 64, 128], [1, 1, 1, 128], 'f32_r2_11_01_p1'],
  [[4, 1], [1, 8], 'f32_r2_10_01_p11'],
  [[3, 16, 4], [3, 1, 4], 'f32_r3_111_101_p11'],
  [[3, 16, 5], [3, 1, 5], 'f32_r3_111_101'],
  [[2, 3, 8], [1, 3, 1], 'f32_r3_111_010_p10'],
  // rank > 4 after collapsing: the general kernel
  [[2, 3, 4, 5, 6], [1, 3, 1, 5, 1], 'f32_bcast'],
  [[2, 3, 4, 5, 6, 7], [1, 3, 1, 5, 1, 7], 'f32_bcast'],
  [[3, 1, 2, 1, 3, 1, 2, 1], [1, 2, 1, 3, 1, 2, 1, 3], 'f32_bcast'],
];

const tfOps: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
  maximum: tf.maximum,
  minimum: tf.minimum,
};

/**
 * The launch a case expects, from the tables' compact notation: the dtype, then '_vec4' (flat, four
 * per invocation), '_bcast' (the general broadcast kernel), or the collapsed kernel's rank, each
 * operand's pattern ('1' along axes where it is not broadcast) and, after '_p', whether each
 * division and modulo the kernel computes is by a power of two (all false when absent).
 */
function expectedLaunch(notation: string): string {
  const [dtype, ...rest] = notation.split('_');
  if (rest.length === 0) return `binary:${canonicalParams({ broadcast: false, dtype })}`;
  if (rest[0] === 'vec4') return `binary_vec4:${canonicalParams({ dtype })}`;
  if (rest[0] === 'bcast') return `binary:${canonicalParams({ broadcast: true, dtype })}`;
  const rank = Number(rest[0]!.slice(1));
  const flags = (rest[3] ?? 'p').slice(1).split('');
  const runs = (pattern: string) =>
    [...pattern.matchAll(/1+/g)].map((m) => {
      const lo = m.index;
      const hi = lo + m[0].length - 1;
      const pow2Div = hi < rank - 1 && flags.shift() === '1';
      const pow2Mod = lo > 0 && flags.shift() === '1';
      return { lo, hi, pow2Div, pow2Mod };
    });
  const a = runs(rest[1]!);
  const b = runs(rest[2]!);
  return `binary_collapsed:${canonicalParams({ a, b, dtype, rank })}`;
}

/** Runs `fn`, returning what it returns and the binary kernels it launched (name and variant, less the op). */
function launchedVariants<T>(rt: ReturnType<typeof runtime>, fn: () => T): [T, string[]] {
  const seen: string[] = [];
  const original = rt.launch.bind(rt);
  const spy = vi.spyOn(rt, 'launch').mockImplementation((launch: KernelLaunch) => {
    if (launch.name.startsWith('binary')) seen.push(`${launch.name}:${(launch.variant ?? '').replace(/,?op=\w+/, '')}`);
    original(launch);
  });
  try {
    return [fn(), seen];
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('broadcasting binary ops against tfjs-cpu', () => {
  cases.forEach(([sa, sb, variant], k) => {
    const op = (['sub', 'add', 'mul', 'div', 'maximum', 'minimum'] as const)[k % 6];
    it(`${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)} → ${variant}`, async () => {
      const rt = runtime();
      const as = randomValues(size(sa), 100 + k);
      const bs = randomValues(size(sb), 200 + k).map((v) => (op === 'div' ? Math.sign(v || 1) * (0.5 + Math.abs(v)) : v));
      const a = rt.upload(as, sa);
      const b = rt.upload(bs, sb);
      const [y, seen] = launchedVariants(rt, () => binary(op, a, b));
      expect(seen).toEqual([expectedLaunch(variant)]);
      const expected = tfOps[op]!(tf.tensor(as, sa), tf.tensor(bs, sb));
      expect([...y.shape]).toEqual(expected.shape);
      expectClose(await y.data(), await tfValues(expected), 1e-5, 1e-6, `${op} ${variant}`);
      // Swapping the operands takes the mirrored variant and gives the mirrored result.
      const [z] = launchedVariants(rt, () => binary(op, b, a));
      expectClose(await z.data(), await tfValues(tfOps[op]!(tf.tensor(bs, sb), tf.tensor(as, sa))), 1e-5, 1e-6, `${op} swapped`);
      for (const t of [a, b, y, z]) t.dispose();
    });
  });

  it('passes the scalar parameters through the specialised kernels (powGrad, clampGrad)', async () => {
    const rt = runtime();
    const sa = [5, 4, 3];
    const xs = randomValues(60, 7, 0.5, 2);
    const gs = randomValues(3, 8);
    const x = rt.upload(xs, sa);
    const g = rt.upload(gs, [3]);
    const [pow, seen] = launchedVariants(rt, () => binary('powGrad', x, g, 2.5));
    expect(seen).toEqual([expectedLaunch('f32_r2_11_01')]);
    expectClose(await pow.data(), Array.from(xs, (v, i) => gs[i % 3]! * 2.5 * Math.pow(v, 1.5)), 1e-5, 1e-6, 'powGrad');
    const clamp = binary('clampGrad', x, g, 0.8, 1.6);
    expectClose(await clamp.data(), Array.from(xs, (v, i) => (v >= Math.fround(0.8) && v <= Math.fround(1.6) ? gs[i % 3]! : 0)), 0, 0, 'clampGrad');
    for (const t of [x, g, pow, clamp]) t.dispose();
  });

  it('handles empty outputs', async () => {
    const rt = runtime();
    const a = rt.upload([], [0, 3]);
    const b = rt.upload([1, 2, 3], [3]);
    const y = binary('add', a, b);
    expect([...y.shape]).toEqual([0, 3]);
    expect((await y.data()).length).toBe(0);
    for (const t of [a, b, y]) t.dispose();
  });
});

describe('broadcasting binary ops in f16', () => {
  const f16Cases: [BinaryOp, number[], number[], string][] = [
    ['sub', [2, 7, 5, 3], [3], 'f16_r2_11_01'],
    ['mul', [2, 7, 5, 3], [2, 1, 1, 3], 'f16_r3_111_101'],
    ['add', [1], [4, 5], 'f16_r1_0_1'],
    ['sub', [4, 1], [1, 5], 'f16_r2_10_01'],
    ['mul', [6, 5], [6, 1], 'f16_r2_11_10'],
    ['add', [2, 3, 4, 5, 6, 7], [1, 3, 1, 5, 1, 7], 'f16_bcast'],
    ['add', [3, 5], [3, 5], 'f16'],
    ['mul', [4, 6], [4, 6], 'f16_vec4'],
    ['mul', [2, 32, 16], [2, 1, 16], 'f16_r3_111_101_p11'],
  ];
  for (const [op, sa, sb, variant] of f16Cases) {
    it.skipIf(!hasShaderF16)(`${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)} → ${variant} (needs shader-f16)`, async () => {
      const rt = runtime();
      const a = rt.upload(randomValues(size(sa), 31), sa, 'f16');
      const b = rt.upload(randomValues(size(sb), 32), sb, 'f16');
      // The oracle works on the values as rounded to f16 on upload.
      const [av, bv] = [await a.data(), await b.data()];
      const [y, seen] = launchedVariants(rt, () => binary(op, a, b));
      expect(seen).toEqual([expectedLaunch(variant)]);
      expect(y.dtype).toBe('f16');
      const expected = await tfValues(tfOps[op]!(tf.tensor(av, sa), tf.tensor(bv, sb)));
      // One f16 rounding of the result.
      expectClose(await y.data(), expected, 1e-3, 1e-3, `${op} f16`);
      for (const t of [a, b, y]) t.dispose();
    });
  }
});

describe('binary ops reuse one pipeline per broadcast pattern', () => {
  it('different sizes with the same pattern share a variant', () => {
    const rt = runtime();
    const made: Tensor[] = [];
    const [, seen] = launchedVariants(rt, () => {
      for (const [n, c] of [
        [10, 3],
        [64, 127],
        [7, 1001],
      ] as const) {
        const a = rt.upload(randomValues(n * c, n), [1, n, c]);
        const b = rt.upload(randomValues(c, c), [c]);
        made.push(a, b, binary('mul', a, b));
      }
    });
    expect(new Set(seen)).toEqual(new Set([expectedLaunch('f32_r2_11_01')]));
    made.forEach((t) => t.dispose());
  });

  it('rejects mixed dtypes and mismatched shapes as before', () => {
    const rt = runtime();
    const a = rt.upload([1, 2, 3], [3]);
    const b = rt.upload([1, 2], [2]);
    expect(() => binary('add', a, b)).toThrow(/add: shapes \[3\] and \[2\] cannot be broadcast/);
    if (rt.hasF16) {
      const h = rt.upload([1, 2, 3], [3], 'f16');
      expect(() => binary('add', a, h)).toThrow(/dtypes differ/);
      h.dispose();
    }
    a.dispose();
    b.dispose();
  });
});
