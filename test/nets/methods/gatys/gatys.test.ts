import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scope } from '../../../../src/gpu/scope.ts';
import { readImageFile } from '../../../../src/io/image-file.ts';
import type { RgbImage } from '../../../../src/io/image.ts';
import { resizeImage, resizeToLongSide } from '../../../../src/io/resize.ts';
import { rgbToYiq } from '../../../../src/nets/image/color.ts';
import { GatysLoss, runGatys, scaleSizes, stylizeGatys, type GatysOptions, type GatysProgress, type GatysResult } from '../../../../src/nets/methods/gatys/gatys.ts';
import { OptimizationDivergedError } from '../../../../src/nets/optim/diverged.ts';
import { Vgg } from '../../../../src/nets/models/vgg.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { testStoreOptions } from '../../../helpers/shared-data.ts';
import { loadPretrainedVgg } from '../../../../src/nets/weights/node/pretrained.ts';

const runtime = useRuntime();
const IMAGES = new URL('../../../../../shared/images/', import.meta.url);

let vgg: Vgg;
let content64: RgbImage;
let style64: RgbImage;

beforeAll(async () => {
  vgg = await loadPretrainedVgg(runtime(), testStoreOptions());
  content64 = resizeToLongSide(await readImageFile(new URL('content_chelsea.png', IMAGES).pathname), 64);
  style64 = resizeToLongSide(await readImageFile(new URL('starry_night_vangogh.jpg', IMAGES).pathname), 64);
});

afterAll(() => vgg?.dispose());

/**
 * On the software rasteriser the full VGG19 (to relu5_1) costs seconds per evaluation even at 64 px,
 * so the optimisation tests use the shallow layers; the code path is the same for any layer choice.
 */
const SHALLOW: GatysOptions = { contentLayers: { relu2_1: 1 }, styleLayers: { relu1_1: 1, relu2_1: 1 } };

async function drain(run: AsyncGenerator<GatysProgress, GatysResult>) {
  const progress: GatysProgress[] = [];
  for (;;) {
    const next = await run.next();
    if (next.done) return { result: next.value, progress };
    progress.push(next.value);
  }
}

describe('the Gatys loss', () => {
  it('has the gradient of its finite differences: full loss, 16×16 image, VGG up to relu2_1', async () => {
    const rt = runtime();
    const content = resizeImage(content64, 16, 16);
    const style = resizeImage(style64, 16, 16);
    const loss = await GatysLoss.create(vgg, content, [style], { ...SHALLOW, contentWeight: 1, styleWeight: 1, tvWeight: 1e-3 });
    // A point where every term is active: the content plus a smooth disturbance.
    const point = { width: 16, height: 16, data: content.data.map((v, i) => v + 40 * Math.sin(i * 0.37)) };
    const x = rt.upload(point.data, [1, 16, 16, 3]);
    const { loss: value, grad, report } = loss.objective(x);
    const total = await value.item();
    const g = await grad.data();
    const terms = await report!.data();
    for (const t of [x, value, grad, report!]) t.dispose();
    expect(terms[1]! > 0 && terms[2]! > 0 && terms[3]! > 0).toBe(true);
    expect(terms[0]).toBe(total);
    expect(terms[1]! + terms[2]! + terms[3]!).toBeCloseTo(total, 4);
    expect((await loss.evaluateImage(point)).total).toBeCloseTo(total, 4);

    // Central differences in float32 on the GPU at the 8 largest-gradient pixels of a spread-out sample.
    const candidates = Array.from({ length: 64 }, (_, k) => (k * 97 + 13) % g.length);
    const chosen = candidates.sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 8);
    const eps = 0.25; // pixel units (0..255)
    let worst = 0;
    for (const i of chosen) {
      const at = async (delta: number) => {
        const data = point.data.slice();
        data[i]! += delta;
        return (await loss.evaluateImage({ width: 16, height: 16, data })).total;
      };
      const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      expect(Math.abs(fd - g[i]!), `pixel value ${i}: analytic ${g[i]}, finite difference ${fd}`).toBeLessThan(1e-2 * Math.abs(g[i]!) + 1e-6 * Math.abs(total));
      worst = Math.max(worst, Math.abs(fd - g[i]!) / Math.abs(g[i]!));
    }
    console.log(`full-loss gradient vs central differences at 8 pixels: worst relative error ${worst.toExponential(2)}`);
    // Called inside a scope, the objective leaves nothing behind: loss, gradient and report included.
    const y = rt.upload(point.data, [1, 16, 16, 3]);
    const live = rt.stats().liveTensors;
    scope(() => void loss.objective(y));
    expect(rt.stats().liveTensors).toBe(live);
    y.dispose();
    loss.dispose();
  });
});

describe('stylizeGatys', () => {
  it('on a 64 px pair, 30 L-BFGS iterations cut the loss ≥10× from the content and beat 30 Adam iterations', async () => {
    // Style-dominated weights put the optimum far below the content image's loss, so that the ratio
    // measures the optimiser rather than the content/style trade-off (with the defaults the optimum of
    // these shallow layers is ~8× below the start).
    const options: GatysOptions = { ...SHALLOW, styleWeight: 100, iterations: 30, init: 'content' };
    const loss = await GatysLoss.create(vgg, content64, [style64], options);
    const initial = await loss.evaluateImage(content64);
    loss.dispose();
    expect(initial.content).toBe(0);
    const lbfgs = await drain(stylizeGatys(vgg, content64, [style64], { ...options, optimizer: 'lbfgs' }));
    const adam = await drain(stylizeGatys(vgg, content64, [style64], { ...options, optimizer: 'adam' }));
    const best = lbfgs.result.losses.total;
    expect([lbfgs.result.image.width, lbfgs.result.image.height]).toEqual([content64.width, content64.height]);
    expect(lbfgs.result.iterations).toBe(30);
    expect(best).toBeLessThan(initial.total / 10);
    expect(best).toBeLessThan(adam.result.losses.total);
    // Reported terms add up, and the best of the reports is what the result holds.
    for (const p of lbfgs.progress) expect(p.losses.content + p.losses.style + p.losses.tv).toBeCloseTo(p.losses.total, 2);
    expect(Math.min(...lbfgs.progress.map((p) => p.losses.total))).toBe(best);
    expect(lbfgs.progress.every((p) => p.itersPerSecond > 0 && p.preview === undefined)).toBe(true);
    expect(lbfgs.progress[0]!.etaSeconds).toBeGreaterThan(0);
    expect(lbfgs.progress.at(-1)!.etaSeconds).toBe(0);
    // The result image has the loss reported for it.
    const check = await GatysLoss.create(vgg, content64, [style64], options);
    expect((await check.evaluateImage(lbfgs.result.image)).total / best).toBeCloseTo(1, 3);
    check.dispose();
    console.log(`64 px: content-init loss ${initial.total.toFixed(3)} → L-BFGS ${best.toFixed(3)} (${lbfgs.progress.at(-1)!.evaluations} evaluations), Adam ${adam.result.losses.total.toFixed(3)} (30 iterations each)`);
  });

  it('is deterministic: the same seed gives the same image, another seed another one', async () => {
    const rt = runtime();
    const content = resizeImage(content64, 24, 16);
    const options: GatysOptions = { ...SHALLOW, iterations: 3, init: 'noise' };
    const live = rt.stats().liveTensors;
    const readbacks = rt.stats().readbacks;
    let evaluations = 0;
    const a = await runGatys(vgg, content, [style64], { ...options, seed: 7 }, (p) => void (evaluations = p.evaluations));
    // One readback per objective evaluation (the optimiser's, which brings the loss terms along) and
    // two per scale (the targets' divisors, the result): progress reports cost none of their own.
    expect(rt.stats().readbacks - readbacks).toBeLessThanOrEqual(evaluations + 2);
    expect(rt.stats().liveTensors).toBe(live); // nothing leaks
    const b = await runGatys(vgg, content, [style64], { ...options, seed: 7 });
    const c = await runGatys(vgg, content, [style64], { ...options, seed: 8 });
    expect(a.image.data).toEqual(b.image.data);
    expect(a.losses).toEqual(b.losses);
    expect(a.image.data).not.toEqual(c.image.data);
  });

  it('runs coarse to fine with previews, stops on request keeping the best image, and preserves luminance chroma', async () => {
    const content = resizeImage(content64, 40, 32);
    expect(scaleSizes(40, 32, 2)).toEqual([
      { width: 20, height: 16 },
      { width: 40, height: 32 },
    ]);
    const progress: GatysProgress[] = [];
    const run = stylizeGatys(vgg, content, [style64, resizeImage(style64, 30, 30)], {
      ...SHALLOW,
      styleBlend: [3, 1],
      iterations: [4, 4],
      scales: 2,
      previewEvery: 2,
      preserveColor: 'luminance',
      pooling: 'avg',
      // Stop once the second scale has reported twice.
      shouldStop: () => progress.filter((p) => p.scale === 1).length >= 2,
    });
    let next = await run.next();
    for (; !next.done; next = await run.next()) {
      expect(vgg.pooling).toBe('avg');
      progress.push(next.value);
    }
    const result = next.value;
    expect(vgg.pooling).toBe('max'); // restored
    const first = progress.filter((p) => p.scale === 0);
    const second = progress.filter((p) => p.scale === 1);
    expect(first.map((p) => p.iteration)).toEqual(first.map((_, i) => i + 1));
    expect(first.every((p) => p.width === 20 && p.height === 16 && p.maxIterations === 4 && p.scales === 2)).toBe(true);
    expect(second.map((p) => [p.width, p.height, p.iteration])).toEqual([
      [40, 32, 1],
      [40, 32, 2],
    ]);
    expect(progress.map((p) => p.step)).toEqual(progress.map((_, i) => (i < first.length ? i + 1 : 4 + i - first.length + 1)));
    expect(progress.every((p) => p.totalSteps === 8)).toBe(true);
    // Previews on every 2nd iteration of each scale, at that scale's size.
    for (const p of progress) {
      expect(p.preview !== undefined, `preview at scale ${p.scale} iteration ${p.iteration}`).toBe(p.iteration % 2 === 0);
      if (p.preview) expect([p.preview.width, p.preview.height]).toEqual([p.width, p.height]);
    }
    expect(result.scales.map((s) => s.reason)[1]).toBe('stopped');
    expect(result.iterations).toBe(first.length + 2);
    expect([result.image.width, result.image.height]).toEqual([40, 32]);
    expect(result.losses.total).toBe(Math.min(...second.map((p) => p.losses.total)));
    let worst = 0;
    for (let p = 0; p < 40 * 32; p++) {
      const a = rgbToYiq(result.image.data[3 * p]!, result.image.data[3 * p + 1]!, result.image.data[3 * p + 2]!);
      const b = rgbToYiq(content.data[3 * p]!, content.data[3 * p + 1]!, content.data[3 * p + 2]!);
      worst = Math.max(worst, Math.abs(a[1] - b[1]), Math.abs(a[2] - b[2]));
    }
    expect(worst).toBeLessThan(1e-3);
  });

  it('fails on a NaN or infinite loss, naming the iteration and the fix, and keeps nothing no better than the start', async () => {
    const content = resizeImage(content64, 16, 16);
    const init = { ...content, data: content.data.slice() };
    init.data[100] = NaN;
    const failure = async (o: GatysOptions): Promise<OptimizationDivergedError<RgbImage>> => {
      const err: unknown = await runGatys(vgg, content, [style64], { ...SHALLOW, iterations: 5, ...o }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OptimizationDivergedError);
      return err as OptimizationDivergedError<RgbImage>;
    };
    for (const optimizer of ['lbfgs', 'adam'] as const) {
      const poisoned = await failure({ init, optimizer });
      expect(poisoned.message).toMatch(/loss became NaN at iteration 1: .*lower the learning rate/);
      expect(poisoned.best).toBeNull();
      // Steps far too large: the loss overflows (Adam after its first step, L-BFGS in its first line search).
      const huge = await failure({ optimizer, learningRate: 1e12 });
      expect(huge.message).toMatch(/loss became (NaN|-?Infinity) at iteration [12]: .*lower the learning rate/);
      expect(huge.iteration).toBe(optimizer === 'adam' ? 2 : 1);
      expect(Number.isFinite(huge.loss)).toBe(false);
      expect(huge.best).toBeNull();
    }
  });

  it('rejects bad options with clear messages', async () => {
    const run = (o: GatysOptions, styles = [style64]) => runGatys(vgg, content64, styles, o);
    await expect(run({ styleLayers: { relu9_9: 1 } })).rejects.toThrow(/unknown VGG layer 'relu9_9'/);
    await expect(run({ styleBlend: [1, 2] })).rejects.toThrow(/2 blend weights for 1 style/);
    await expect(run({ scales: 2, iterations: [1, 2, 3] })).rejects.toThrow(/3 iteration counts for 2 scales/);
    await expect(run({}, [])).rejects.toThrow(/at least one style/);
  });
});
