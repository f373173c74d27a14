import { describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../../src/autograd/grad.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import {
  checkLayerWeights,
  contentLayerLoss,
  gramMatrix,
  meanSquares,
  styleLayerLoss,
  styleTargets,
  totalVariationLoss,
} from '../../../src/nets/losses/style-losses.ts';
import { vggTapNames } from '../../../src/nets/models/vgg.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { numericGradient } from '../../helpers/gradcheck.ts';
import { expectClose, randomValues } from '../../helpers/oracle.ts';
import { testStoreOptions } from '../../helpers/shared-data.ts';
import { loadPretrainedVgg } from '../../../src/nets/weights/node/pretrained.ts';

const runtime = useRuntime();

// ---- float64 references on NHWC feature maps (batch 1) -------------------------------------------

/** mean((f − p)²) */
function contentRef(f: ArrayLike<number>, p: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < f.length; i++) s += (f[i]! - p[i]!) ** 2;
  return s / f.length;
}

/** G = FᵀF / (C·H·W) for F of h·w rows and c columns. */
function gramRef(f: ArrayLike<number>, hw: number, c: number): Float64Array {
  const g = new Float64Array(c * c);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let p = 0; p < hw; p++) s += f[p * c + i]! * f[p * c + j]!;
      g[i * c + j] = s / (c * hw);
    }
  }
  return g;
}

/** mean over C² of (G(f) − a)² */
function styleRef(f: ArrayLike<number>, a: ArrayLike<number>, hw: number, c: number): number {
  const g = gramRef(f, hw, c);
  let s = 0;
  for (let i = 0; i < g.length; i++) s += (g[i]! - a[i]!) ** 2;
  return s / g.length;
}

/** mean over all vertical and horizontal neighbour pairs of the squared difference */
function tvRef(x: ArrayLike<number>, h: number, w: number, c: number): number {
  let sum = 0;
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      for (let k = 0; k < c; k++) {
        const v = x[(y * w + xx) * c + k]!;
        if (y + 1 < h) sum += (x[((y + 1) * w + xx) * c + k]! - v) ** 2;
        if (xx + 1 < w) sum += (x[(y * w + xx + 1) * c + k]! - v) ** 2;
      }
    }
  }
  return sum / (c * ((h - 1) * w + h * (w - 1)));
}

/** The GPU value and gradient of f at x (uploaded with `shape`). */
async function gpuValueAndGrad(values: Float32Array, shape: number[], f: (x: Tensor) => Tensor): Promise<{ value: number; grad: Float32Array }> {
  const rt = runtime();
  const x = rt.upload(values, shape);
  const { value, grads } = valueAndGradOf(() => f(x), [x]);
  const out = { value: await value.item(), grad: await grads[0]!.data() };
  for (const t of [x, value, ...grads]) t.dispose();
  return out;
}

describe('style-transfer loss terms against float64 references', () => {
  const [h, w, c] = [3, 4, 5];
  const shape = [1, h, w, c];
  const f = randomValues(h * w * c, 11);
  const p = randomValues(h * w * c, 12);

  it('content: value and gradient match mean((F − P)²) and its finite differences', async () => {
    const rt = runtime();
    const target = rt.upload(p, shape);
    const { value, grad } = await gpuValueAndGrad(f, shape, (x) => contentLayerLoss(x, target));
    target.dispose();
    const ref = (x: Float64Array) => contentRef(x, p);
    expect(value).toBeCloseTo(ref(Float64Array.from(f)), 5);
    expectClose(grad, numericGradient(ref, f), 1e-3, 1e-5, 'content gradient');
  });

  it('gram: FᵀF / (C·H·W)', async () => {
    const rt = runtime();
    const x = rt.upload(f, shape);
    const g = gramMatrix(x);
    expect([...g.shape]).toEqual([1, c, c]);
    expectClose(await g.data(), gramRef(f, h * w, c), 1e-4, 1e-6, 'gram');
    x.dispose();
    g.dispose();
  });

  it('style: value and gradient match mean over C² of (G(F) − A)² and its finite differences', async () => {
    const rt = runtime();
    const a = gramRef(p, h * w, c);
    const target = rt.upload(a, [1, c, c]);
    const { value, grad } = await gpuValueAndGrad(f, shape, (x) => styleLayerLoss(x, target));
    target.dispose();
    const ref = (x: Float64Array) => styleRef(x, a, h * w, c);
    expect(Math.abs(value - ref(Float64Array.from(f))) / ref(Float64Array.from(f))).toBeLessThan(1e-5);
    expectClose(grad, numericGradient(ref, f), 1e-3, 1e-6, 'style gradient');
  });

  it('total variation: value and gradient match the mean squared neighbour differences', async () => {
    const img = randomValues(5 * 6 * 3, 13, 0, 255);
    const { value, grad } = await gpuValueAndGrad(img, [1, 5, 6, 3], (x) => totalVariationLoss(x));
    const ref = (x: Float64Array) => tvRef(x, 5, 6, 3);
    expect(Math.abs(value - ref(Float64Array.from(img))) / ref(Float64Array.from(img))).toBeLessThan(1e-5);
    expectClose(grad, numericGradient(ref, img, 1e-2), 1e-3, 1e-5, 'tv gradient');
    // A one-row image has only horizontal neighbours.
    const row = randomValues(7 * 3, 14, 0, 255);
    const r = await gpuValueAndGrad(row, [1, 1, 7, 3], (x) => totalVariationLoss(x));
    expect(r.value).toBeCloseTo(tvRef(row, 1, 7, 3), 2);
  });

  it('the terms do not depend on the resolution: an image upsampled ×2 has the same content and style loss', async () => {
    const rt = runtime();
    const up = (v: Float32Array) => {
      const out = new Float32Array(4 * v.length);
      for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) for (let k = 0; k < c; k++) out[(y * 2 * w + x) * c + k] = v[((y >> 1) * w + (x >> 1)) * c + k]!;
      return out;
    };
    const small = [rt.upload(f, shape), rt.upload(p, shape)];
    const large = [rt.upload(up(f), [1, 2 * h, 2 * w, c]), rt.upload(up(p), [1, 2 * h, 2 * w, c])];
    const values = await Promise.all(
      [small, large].map(async ([x, y]) => {
        const content = contentLayerLoss(x!, y!);
        const gy = gramMatrix(y!);
        const style = styleLayerLoss(x!, gy);
        const out = [await content.item(), await style.item()];
        for (const t of [content, gy, style]) t.dispose();
        return out;
      }),
    );
    expect(values[1]![0]).toBeCloseTo(values[0]![0]!, 4);
    expect(values[1]![1]! / values[0]![1]!).toBeCloseTo(1, 4);
    for (const t of [...small, ...large]) t.dispose();
  });

  it('meanSquares reads every divisor back at once', async () => {
    const rt = runtime();
    const a = rt.upload([1, 2, 3, 4], [4]);
    const b = rt.upload([3], [1]);
    const before = rt.stats().readbacks;
    expect(await meanSquares([a, b])).toEqual([7.5, 9]);
    expect(rt.stats().readbacks - before).toBe(1);
    a.dispose();
    b.dispose();
  });

  it('checks layer names and weights', () => {
    const taps = vggTapNames('vgg19');
    expect(checkLayerWeights('x', { relu1_1: 1, relu2_1: 0 }, taps)).toEqual([['relu1_1', 1]]);
    expect(() => checkLayerWeights('x', { relu9_1: 1 }, taps)).toThrow(/unknown VGG layer 'relu9_1'/);
    expect(() => checkLayerWeights('x', { relu1_1: -1 }, taps)).toThrow(/≥ 0/);
    expect(() => checkLayerWeights('x', {}, taps)).toThrow(/no layers/);
  });
});

describe('style targets', () => {
  it('blend the Gram matrices of several style images of different sizes with the blend weights', async () => {
    const rt = runtime();
    const vgg = await loadPretrainedVgg(rt, testStoreOptions());
    const s1 = rt.upload(randomValues(12 * 10 * 3, 21, 0, 255), [1, 12, 10, 3]);
    const s2 = rt.upload(randomValues(8 * 8 * 3, 22, 0, 255), [1, 8, 8, 3]);
    const layers = ['relu1_1', 'relu2_1'];
    const blended = styleTargets(vgg, [s1, s2], [0.7, 0.3], layers);
    const one = styleTargets(vgg, [s1], [1], layers);
    const two = styleTargets(vgg, [s2], [1], layers);
    for (const layer of layers) {
      const g1 = await one.get(layer)!.data();
      const g2 = await two.get(layer)!.data();
      const expected = g1.map((v, i) => 0.7 * v + 0.3 * g2[i]!);
      expectClose(await blended.get(layer)!.data(), expected, 1e-4, 1e-3, `${layer} blend`);
    }
    for (const m of [blended, one, two]) for (const t of m.values()) t.dispose();
    s1.dispose();
    s2.dispose();
    vgg.dispose();
  });
});
