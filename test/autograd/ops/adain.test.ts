import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { adain } from '../../../src/autograd/ops/norm.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { numericGradient } from '../../helpers/gradcheck.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues } from '../../helpers/oracle.ts';
import { adain64, dot64, moments64, sizeOf, type Shape4 } from './norm-helpers.ts';

const runtime = useRuntime();

const loss = (y: Tensor, w: Tensor): Tensor => sum(mul(y, w));

/** Content and style with different spatial sizes (and statistics) per case. */
const cases: [content: Shape4, style: Shape4, eps: number][] = [
  [[2, 7, 5, 3], [2, 4, 6, 3], 1e-5],
  [[1, 8, 8, 13], [1, 5, 7, 13], 1e-3],
  [[2, 5, 7, 8], [2, 9, 3, 8], 1e-5],
];

describe('adain: float64 reference, output statistics, finite-difference gradients', () => {
  for (const [cShape, sShape, eps] of cases) {
    const name = `content ${JSON.stringify(cShape)} style ${JSON.stringify(sShape)} eps ${eps}`;
    const cs = randomValues(sizeOf(cShape), 501, -1, 3);
    // The style has another mean and spread than the content.
    const ss = randomValues(sizeOf(sShape), 502, -5, 1);
    const ws = randomValues(sizeOf(cShape), 503);

    it(`forward ${name}`, async () => {
      const rt = runtime();
      const content = rt.upload(cs, cShape);
      const style = rt.upload(ss, sShape);
      const y = adain(content, style, eps);
      expect([...y.shape]).toEqual(cShape);
      const ys = await y.data();
      expectClose(ys, adain64(cs, cShape, ss, sShape, eps), 1e-4, 1e-5, 'forward');
      // The output carries the style's per-channel mean and std (eps only shifts them by O(eps)).
      const target = moments64(ss, sShape);
      const got = moments64(ys, cShape);
      expectClose(got.mean, target.mean, 1e-4, 1e-4, 'output mean vs style mean');
      const std = (v: Float64Array) => v.map(Math.sqrt);
      expectClose(std(got.variance), std(target.variance), eps < 1e-4 ? 1e-4 : 2e-3, 1e-4, 'output std vs style std');
      for (const t of [content, style, y]) t.dispose();
    });

    it(`gradients for content and style ${name}`, async () => {
      const rt = runtime();
      const content = rt.upload(cs, cShape);
      const style = rt.upload(ss, sShape);
      const w = rt.upload(ws, cShape);
      const { value, grads } = valueAndGrad((c: Tensor, s: Tensor) => loss(adain(c, s, eps), w))(content, style);
      const f = (cv: ArrayLike<number>, sv: ArrayLike<number>) => dot64(adain64(cv, cShape, sv, sShape, eps), ws);
      expectClose([await value.item()], [f(cs, ss)], 1e-4, 1e-4, 'value');
      expect([...grads[1]!.shape]).toEqual(sShape);
      expectClose(await grads[0]!.data(), numericGradient((v) => f(v, ss), cs), 1e-4, 1e-5, 'dcontent');
      expectClose(await grads[1]!.data(), numericGradient((v) => f(cs, v), ss), 1e-4, 1e-5, 'dstyle');
      for (const t of [content, style, w, value, ...grads]) t.dispose();
    });
  }

  it('gradient for the content only (decoder training) and for the style only', async () => {
    const rt = runtime();
    const [cShape, sShape, eps] = cases[0]!;
    const cs = randomValues(sizeOf(cShape), 511);
    const ss = randomValues(sizeOf(sShape), 512, 0, 3);
    const ws = randomValues(sizeOf(cShape), 513);
    const content = rt.upload(cs, cShape);
    const style = rt.upload(ss, sShape);
    const w = rt.upload(ws, cShape);
    const f = (cv: ArrayLike<number>, sv: ArrayLike<number>) => dot64(adain64(cv, cShape, sv, sShape, eps), ws);
    const onlyContent = valueAndGrad((c: Tensor) => loss(adain(c, style, eps), w))(content);
    expectClose(await onlyContent.grads[0]!.data(), numericGradient((v) => f(v, ss), cs), 1e-4, 1e-5, 'dcontent');
    const onlyStyle = valueAndGrad((s: Tensor) => loss(adain(content, s, eps), w))(style);
    expectClose(await onlyStyle.grads[0]!.data(), numericGradient((v) => f(cs, v), ss), 1e-4, 1e-5, 'dstyle');
    for (const t of [content, style, w, onlyContent.value, onlyStyle.value, ...onlyContent.grads, ...onlyStyle.grads]) t.dispose();
  });

  it('throws before any dispatch when batch or channels differ', () => {
    const rt = runtime();
    const content = rt.upload(randomValues(210, 521), [2, 7, 5, 3]);
    const fewer = rt.upload(randomValues(72, 522), [1, 4, 6, 3]);
    const wider = rt.upload(randomValues(192, 523), [2, 4, 6, 4]);
    const before = rt.stats().dispatches;
    expect(() => adain(content, fewer)).toThrow(/adain: style \[1, 4, 6, 3\] must have the content's batch and channels \(content \[2, 7, 5, 3\]\)/);
    expect(() => adain(content, wider)).toThrow(/adain: style \[2, 4, 6, 4\]/);
    const flat = rt.reshape(content, [70, 3]);
    expect(() => adain(flat, content)).toThrow(/adain: content must be an NHWC tensor/);
    expect(rt.stats().dispatches).toBe(before);
    for (const t of [content, fewer, wider, flat]) t.dispose();
  });

  it('frees every intermediate and saved tensor', async () => {
    const rt = runtime();
    const content = rt.upload(randomValues(210, 531), [2, 7, 5, 3]);
    const style = rt.upload(randomValues(144, 532), [2, 4, 6, 3]);
    const w = rt.upload(randomValues(210, 533), [2, 7, 5, 3]);
    const before = rt.stats();
    for (let i = 0; i < 3; i++) {
      for (const run of [
        () => valueAndGrad((c: Tensor, s: Tensor) => loss(adain(c, s), w))(content, style),
        () => valueAndGrad((c: Tensor) => loss(adain(c, style), w))(content),
        () => valueAndGrad((s: Tensor) => loss(adain(content, s), w))(style),
      ]) {
        const { value, grads } = run();
        await value.item();
        value.dispose();
        grads.forEach((g) => g.dispose());
      }
      adain(content, style).dispose();
    }
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const t of [content, style, w]) t.dispose();
  });
});
