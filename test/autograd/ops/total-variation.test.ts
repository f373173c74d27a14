import { describe, expect, it } from 'vitest';
import { scale } from '../../../src/autograd/ops/elementwise.ts';
import { totalVariation, type TotalVariationKind } from '../../../src/autograd/ops/total-variation.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { numericGradient } from '../../helpers/gradcheck.ts';
import { expectClose, randomValues, seededRandom } from '../../helpers/oracle.ts';

const runtime = useRuntime();
type Shape4 = [number, number, number, number];
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The definition, written out in float64: sums over existing down and right neighbours. */
function tvReference(x: ArrayLike<number>, [n, h, w, c]: Shape4, kind: TotalVariationKind): number {
  const phi = kind === 'squared' ? (d: number) => d * d : Math.abs;
  const at = (b: number, i: number, j: number, ch: number) => x[((b * h + i) * w + j) * c + ch]!;
  let total = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let ch = 0; ch < c; ch++) {
          if (i + 1 < h) total += phi(at(b, i + 1, j, ch) - at(b, i, j, ch));
          if (j + 1 < w) total += phi(at(b, i, j + 1, ch) - at(b, i, j, ch));
        }
      }
    }
  }
  return total;
}

/** The smallest |difference| between neighbours: finite differences of |·| need it above eps. */
function smallestGap(x: ArrayLike<number>, [n, h, w, c]: Shape4): number {
  let gap = Infinity;
  for (let i = 0; i < n * h * w * c; i++) {
    const col = Math.floor(i / c) % w;
    const row = Math.floor(i / (c * w)) % h;
    if (col + 1 < w) gap = Math.min(gap, Math.abs(x[i + c]! - x[i]!));
    if (row + 1 < h) gap = Math.min(gap, Math.abs(x[i + w * c]! - x[i]!));
  }
  return gap;
}

const UPSTREAM = 0.37;

async function check(shape: Shape4, kind: TotalVariationKind, seed: number, sampled?: number): Promise<void> {
  const rt = runtime();
  const xs = randomValues(count(shape), seed);
  const x = rt.upload(xs, shape);
  // A non-unit upstream gradient: loss = 0.37 · TV(x).
  const { value, grads } = valueAndGrad((x: Tensor) => scale(totalVariation(x, { kind }), UPSTREAM))(x);
  expect(value.shape).toEqual([]);
  const f = (v: ArrayLike<number>) => UPSTREAM * tvReference(v, shape, kind);
  expectClose([await value.item()], [f(xs)], 1e-5, 1e-5, `${kind} value`);
  const eps = kind === 'abs' ? 1e-6 : 1e-4;
  if (kind === 'abs') expect(smallestGap(xs, shape)).toBeGreaterThan(10 * eps);
  const ours = await grads[0]!.data();
  if (sampled === undefined) {
    expectClose(ours, numericGradient(f, xs, eps), 1e-4, 1e-5, `${kind} gradient`);
  } else {
    // Finite differences at a sample of coordinates (every one would take too long here).
    const rand = seededRandom(seed + 1);
    const point = Float64Array.from(xs);
    const picked: number[] = [];
    const expected: number[] = [];
    for (let k = 0; k < sampled; k++) {
      const i = Math.floor(rand() * xs.length);
      const saved = point[i]!;
      point[i] = saved + eps;
      const up = f(point);
      point[i] = saved - eps;
      const down = f(point);
      point[i] = saved;
      picked.push(ours[i]!);
      expected.push((up - down) / (2 * eps));
    }
    expectClose(picked, expected, 1e-4, 1e-5, `${kind} sampled gradient`);
  }
  for (const t of [x, value, ...grads]) t.dispose();
}

describe('totalVariation: value against a float64 reference, gradient against finite differences', () => {
  const shapes: Shape4[] = [
    [2, 7, 5, 3],
    [1, 9, 11, 13],
    [2, 1, 6, 2], // one row: only horizontal pairs
    [1, 5, 1, 3], // one column: only vertical pairs
    [2, 4, 4, 8],
  ];
  for (const kind of ['squared', 'abs'] as const) {
    for (const [i, shape] of shapes.entries()) {
      it(`${kind} ${JSON.stringify(shape)}`, () => check(shape, kind, 100 + i));
    }
    // Many workgroups, chunks that end mid-row, and a partial last chunk.
    it(`${kind} [1, 37, 41, 13] (multi-workgroup reduction)`, () => check([1, 37, 41, 13], kind, 200, 60));
  }

  it('is zero, with a zero gradient, for a single pixel and for a constant image', async () => {
    const rt = runtime();
    for (const [shape, values] of [
      [[1, 1, 1, 3], [1, 2, 3]],
      [[2, 3, 5, 2], new Array(60).fill(0.75)],
    ] as [Shape4, number[]][]) {
      const x = rt.upload(values, shape);
      const { value, grads } = valueAndGrad((x: Tensor) => totalVariation(x, { kind: 'abs' }))(x);
      expectClose([await value.item()], [0], 0, 0, 'value');
      expectClose(await grads[0]!.data(), new Array(values.length).fill(0), 0, 0, 'gradient');
    }
  });

  it('defaults to the squared kind', async () => {
    const rt = runtime();
    const xs = randomValues(2 * 7 * 5 * 3, 5);
    const v = await totalVariation(rt.upload(xs, [2, 7, 5, 3])).item();
    expectClose([v], [tvReference(xs, [2, 7, 5, 3], 'squared')], 1e-5, 1e-5);
  });

  it('throws on a bad input before dispatching, naming the op and the shape', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(35, 1), [7, 5]);
    const y = rt.upload(randomValues(12, 1), [1, 2, 2, 3]);
    const before = rt.stats().dispatches;
    expect(() => totalVariation(x)).toThrow(/totalVariation: input must have rank 4, got shape \[7, 5\]/);
    expect(() => totalVariation(y, { kind: 'l1' as TotalVariationKind })).toThrow(/totalVariation: kind must be 'squared' or 'abs', got "l1"/);
    expect(rt.stats().dispatches).toBe(before);
  });

  it('frees every intermediate of forward and backward', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 7 * 5 * 3, 9), [2, 7, 5, 3]);
    const run = () => {
      const { value, grads } = valueAndGrad((x: Tensor) => totalVariation(x, { kind: 'abs' }))(x);
      value.dispose();
      grads.forEach((g) => g.dispose());
    };
    run();
    await rt.flush();
    const before = rt.stats();
    run();
    run();
    await rt.flush();
    expect(rt.stats().liveTensors).toBe(before.liveTensors);
    expect(rt.stats().liveBytes).toBe(before.liveBytes);
  });
});
