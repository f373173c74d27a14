import { describe, expect, it, vi } from 'vitest';
import { reduce, sumToShape } from '../../src/gpu/kernels/reduce.ts';
import { collapseReduction } from '../../src/gpu/kernels/shape-utils.ts';
import type { ReduceOp } from '../../src/shaders/reduce.wgsl.ts';
import type { KernelLaunch, Runtime } from '../../src/gpu/runtime.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../helpers/oracle.ts';

const runtime = useRuntime();
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Runs `fn`, returning what it returns and the `name:variant` of every reduce kernel it launched. */
function launched<T>(rt: Runtime, fn: () => T): [T, string[]] {
  const seen: string[] = [];
  const original = rt.launch.bind(rt);
  const spy = vi.spyOn(rt, 'launch').mockImplementation((launch: KernelLaunch) => {
    seen.push(`${launch.name}:${launch.variant ?? ''}`);
    original(launch);
  });
  try {
    return [fn(), seen];
  } finally {
    spy.mockRestore();
  }
}

/**
 * Runs `fn` as if the adapter were (or were not) a CPU implementation, whose reductions split work
 * into fewer workgroups: the kernel choices of both rules are checked on whatever adapter runs this.
 */
function asSoftware<T>(rt: Runtime, software: boolean, fn: () => T): T {
  const context = rt.context as { software: boolean };
  const actual = context.software;
  context.software = software;
  try {
    return fn();
  } finally {
    context.software = actual;
  }
}

const oracle: Record<ReduceOp, (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor> = {
  sum: (x, axes, keepDims) => tf.sum(x, axes, keepDims),
  max: (x, axes, keepDims) => tf.max(x, axes, keepDims),
  min: (x, axes, keepDims) => tf.min(x, axes, keepDims),
};

describe('collapseReduction', () => {
  it('drops size-1 axes and merges neighbours of the same kind', () => {
    expect(collapseReduction([2, 7, 5, 13], [0, 1, 2])).toEqual({ dims: [70, 13], reduced: [true, false] });
    expect(collapseReduction([1, 128, 128, 64], [0, 1, 2])).toEqual({ dims: [16384, 64], reduced: [true, false] });
    expect(collapseReduction([3, 1000, 2], [1])).toEqual({ dims: [3, 1000, 2], reduced: [false, true, false] });
    expect(collapseReduction([4, 1, 5], [0, 1, 2])).toEqual({ dims: [20], reduced: [true] });
    expect(collapseReduction([4, 1, 5], [1])).toEqual({ dims: [20], reduced: [false] });
    expect(collapseReduction([2, 1, 3, 4], [0, 2])).toEqual({ dims: [6, 4], reduced: [true, false] });
    expect(collapseReduction([2, 7, 5, 13], [0, 2])).toEqual({ dims: [2, 7, 5, 13], reduced: [true, false, true, false] });
    expect(collapseReduction([1, 1], [0])).toEqual({ dims: [], reduced: [] });
  });
});

type Case = [shape: number[], axes: number[] | undefined, kernels: RegExp];
/**
 * Shapes and axes with the kernels they must take on a GPU (all launches, in order, joined by
 * spaces). Rows of a multiple of 4 elements are read as vec4s.
 */
const cases: Case[] = [
  // Reduced axes outer to the kept ones: the column kernel.
  [[2, 7, 5, 13], [0, 1, 2], /^reduce_columns:lanes=16,op=\w+$/],
  [[1000, 3], [0], /^reduce_columns:lanes=4,op=\w+$/],
  [[3, 1000, 2], [1], /^reduce_columns:lanes=4,op=\w+$/],
  [[3, 70, 41], [1], /^reduce_columns:lanes=64,op=\w+$/],
  // ... split over many workgroups, partials merged by a second pass
  [[3000, 5], [0], /^reduce_columns:lanes=16,op=\w+ reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[4096, 20], [0], /^reduce_columns:lanes=64,op=\w+ reduce_columns:lanes=64,op=\w+$/],
  [[2, 64, 64, 24], [0, 1, 2], /^reduce_columns:lanes=64,op=\w+ reduce_columns:lanes=64,op=\w+$/],
  // ... few rows: one thread per output
  [[5, 6, 7], [0, 1], /^reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[4, 7, 33], [1], /^reduce_thread:op=\w+,ranks=\(kept=2,reduced=1\)$/],
  // Reduced axes innermost: one workgroup per output (or one thread, for short rows)
  [[300, 500], [1], /^reduce_rows_vec4:op=\w+$/],
  [[2, 3, 5, 70], [2, 3], /^reduce_workgroup:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[1000, 3], [1], /^reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[70000, 3], [1], /^reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[2, 10000], [1], /^reduce_rows_vec4:op=\w+ reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[2, 10002], [1], /^reduce_workgroup:op=\w+,ranks=\(kept=1,reduced=1\) reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  // everything
  [[2, 7, 5, 13], undefined, /^reduce_workgroup:op=\w+,ranks=\(kept=0,reduced=1\)$/],
  [[1000, 1000], undefined, /^reduce_rows_vec4:op=\w+ reduce_workgroup:op=\w+,ranks=\(kept=0,reduced=1\)$/],
  [[1001, 999], undefined, /^reduce_workgroup:op=\w+,ranks=\(kept=0,reduced=1\) reduce_workgroup:op=\w+,ranks=\(kept=0,reduced=1\)$/],
  [[1, 17], [0, 1], /^reduce_thread:op=\w+,ranks=\(kept=0,reduced=1\)$/],
  // Reduced axes in several blocks: one pass per block, innermost first.
  [[2, 7, 5, 13], [0, 2], /^reduce_thread:op=\w+,ranks=\(kept=2,reduced=1\) reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\)$/],
  [[2, 7, 5, 13], [1, 3], /^reduce_thread:op=\w+,ranks=\(kept=1,reduced=1\) reduce_thread:op=\w+,ranks=\(kept=2,reduced=1\)$/],
  [[60, 35, 130], [0, 2], /^reduce_workgroup:op=\w+,ranks=\(kept=1,reduced=1\) reduce_columns:lanes=64,op=\w+$/],
  [[2, 3, 4, 5, 6, 7], [0, 2, 4], /^(reduce_\w+:\S+ ?){3}$/],
  [[2, 1, 3, 1, 2, 2, 1, 3], [0, 2, 5, 6], /^(reduce_\w+:\S+ ?){2}$/],
  // Only size-1 axes reduced, or a single element: a copy.
  [[4, 1, 5], [1], /^reduce_thread:op=\w+,ranks=\(kept=1,reduced=0\)$/],
  [[1, 1], [0], /^reduce_thread:op=\w+,ranks=\(kept=0,reduced=0\)$/],
];

describe('reduce against tfjs-cpu', () => {
  cases.forEach(([shape, axes, kernels], k) => {
    for (const op of ['sum', 'max', 'min'] as const) {
      const keepDims = (k + op.length) % 2 === 0;
      it(`${op} ${JSON.stringify(shape)} over ${JSON.stringify(axes ?? 'all')}${keepDims ? ' (keepDims)' : ''}`, async () => {
        const rt = runtime();
        const xs = randomValues(size(shape), 300 + k);
        const x = rt.upload(xs, shape);
        const [y, seen] = asSoftware(rt, false, () => launched(rt, () => reduce(op, x, axes, { keepDims })));
        expect(seen.join(' ')).toMatch(kernels);
        const expected = oracle[op](tf.tensor(xs, shape), axes ?? shape.map((_, i) => i), keepDims);
        expect([...y.shape]).toEqual(expected.shape);
        // Sums: the rounding of a different summation order, relative to the summed magnitudes.
        const count = size(shape) / Math.max(1, y.size);
        expectClose(await y.data(), await tfValues(expected), 1e-5, op === 'sum' ? 5e-7 * count + 1e-6 : 0, `${op} ${JSON.stringify(shape)}`);
        x.dispose();
        y.dispose();
      });
    }
  });

  for (const software of [false, true]) {
    it(`sums 10⁶ elements to a scalar over ${software ? 'a few workgroups (CPU adapter)' : 'many workgroups (GPU)'}, and scales`, async () => {
      const rt = runtime();
      const xs = randomValues(1_000_000, 9, 0.5, 1.5);
      const x = rt.upload(xs, [1_000_000]);
      const [y, seen] = asSoftware(rt, software, () => launched(rt, () => reduce('sum', x, undefined, { scale: 1e-6 })));
      // 245 partial sums on a GPU; 4 on a CPU adapter (chunks of 262144), merged by one thread.
      expect(seen).toEqual(['reduce_rows_vec4:op=sum', `reduce_${software ? 'thread' : 'workgroup'}:op=sum,ranks=(kept=0,reduced=1)`]);
      let exact = 0;
      for (const v of xs) exact += v;
      expectClose(await y.data(), [exact * 1e-6], 1e-6, 0, 'mean of 10⁶');
      const [m] = asSoftware(rt, software, () => launched(rt, () => reduce('max', x)));
      expectClose(await m.data(), [xs.reduce((a, b) => Math.max(a, b), -Infinity)], 0, 0, 'max of 10⁶');
      const [n] = asSoftware(rt, software, () => launched(rt, () => reduce('min', x)));
      expectClose(await n.data(), [xs.reduce((a, b) => Math.min(a, b), Infinity)], 0, 0, 'min of 10⁶');
      for (const t of [x, y, m, n]) t.dispose();
    });
  }

  it('applies the scale once, after the last pass, on every path', async () => {
    const rt = runtime();
    for (const [shape, axes] of [
      [[4096, 20], [0]],
      [[2, 10000], [1]],
      [[6, 35, 130], [0, 2]],
      [[4, 1, 5], [1]],
    ] as [number[], number[]][]) {
      const xs = randomValues(size(shape), 77);
      const x = rt.upload(xs, shape);
      const y = reduce('sum', x, axes, { scale: 0.25 });
      const expected = tf.mul(tf.sum(tf.tensor(xs, shape), axes), 0.25);
      expectClose(await y.data(), await tfValues(expected), 1e-5, 1e-5 * size(shape), `scaled sum ${JSON.stringify(shape)}`);
      x.dispose();
      y.dispose();
    }
  });

  it('gives zeros for a sum over an empty axis and refuses max over one', async () => {
    const rt = runtime();
    const x = rt.upload([], [0, 3]);
    const y = reduce('sum', x, [0]);
    expect([...y.shape]).toEqual([3]);
    expect([...(await y.data())]).toEqual([0, 0, 0]);
    expect(() => reduce('max', x, [0])).toThrow(/reduce_max: cannot reduce an empty tensor/);
    const z = reduce('sum', x, [1], { keepDims: true });
    expect([...z.shape]).toEqual([0, 1]);
    for (const t of [x, y, z]) t.dispose();
  });

  it('leaves no intermediate tensors behind', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(6 * 35 * 130, 5), [6, 35, 130]);
    await rt.flush();
    const before = rt.stats().liveTensors;
    for (const [axes, op] of [
      [[0, 2], 'sum'],
      [[0], 'max'],
      [undefined, 'min'],
    ] as const) {
      const y = reduce(op, x, axes);
      y.dispose();
    }
    await rt.flush();
    expect(rt.stats().liveTensors).toBe(before);
    x.dispose();
  });
});

describe('sumToShape (the backward of broadcasting) against tfjs-cpu', () => {
  const targets: [number[], number[]][] = [
    [[2, 7, 5, 3], [3]],
    [[2, 7, 5, 3], [2, 1, 1, 3]],
    [[2, 7, 5, 3], [7, 1, 1]],
    [[2, 7, 5, 3], [1]],
    [[2, 7, 5, 3], [2, 7, 5, 3]],
    [[4, 64, 64, 16], [1, 1, 1, 16]],
    [[4, 13], [4, 1]],
    [[2, 3, 4, 5, 6, 7], [1, 3, 1, 5, 1, 7]],
  ];
  for (const [from, to] of targets) {
    it(`${JSON.stringify(from)} → ${JSON.stringify(to)}`, async () => {
      const rt = runtime();
      const xs = randomValues(size(from), 400 + from.length);
      const x = rt.upload(xs, from);
      const y = sumToShape(x, to);
      expect([...y.shape]).toEqual(to);
      const lead = from.length - to.length;
      const axes = from.flatMap((d, i) => (i < lead || (to[i - lead] === 1 && d !== 1) ? [i] : []));
      const expected = tf.reshape(axes.length ? tf.sum(tf.tensor(xs, from), axes) : tf.tensor(xs, from), to);
      expectClose(await y.data(), await tfValues(expected), 1e-5, 5e-7 * (size(from) / size(to)) + 1e-6, 'sumToShape');
      x.dispose();
      y.dispose();
    });
  }
});
