/**
 * AdaIN inference (src/nets/adain.ts, src/nets/adain-decoder.ts, src/nets/methods/adain/definition.ts) with the real
 * VGG19 encoder: encoder taps against the reference, AdaIN statistics, α, style interpolation, spatial
 * control, colour preservation, the style cache, decoder files (safetensors round trip, PyTorch
 * decoder.pth import) and the CLI method. Images are 32–128 px: lavapipe is slow.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../../../src/autograd/grad.ts';
import { clamp, mul } from '../../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../../src/autograd/ops/reduce.ts';
import { adain } from '../../../../src/autograd/ops/norm.ts';
import { noGrad } from '../../../../src/autograd/tape.ts';
import { scope } from '../../../../src/gpu/scope.ts';
import { readImageFile } from '../../../../src/io/image-file.ts';
import type { RgbImage } from '../../../../src/io/image.ts';
import { resizeImage } from '../../../../src/io/resize.ts';
import { adainEncode, adainPadAmounts, AdainStylizer, adainTarget, ADAIN_STYLE_TAPS } from '../../../../src/nets/methods/adain/adain.ts';
import {
  AdainDecoder,
  adainDecoderFromPytorch,
  adainDecoderParamShapes,
  adainDecoderWeightsFromBytes,
  ADAIN_DECODER_LAYERS,
  serializeAdainDecoder,
} from '../../../../src/nets/models/adain-decoder.ts';
import { channelMoments } from '../../../../src/gpu/kernels/norm.ts';
import { Vgg } from '../../../../src/nets/models/vgg.ts';
import { hostTensor, type HostTensorMap } from '../../../../src/nets/weights/host-tensor.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { relativeL2 } from '../../../helpers/oracle.ts';
import { buildPth, stateDictPickle, type EntrySpec } from '../../../helpers/pth-builder.ts';
import { SHARED_IMAGES_DIR, sharedReferencePath, testStoreOptions } from '../../../helpers/shared-data.ts';
import { loadPretrainedVgg } from '../../../../src/nets/weights/node/pretrained.ts';

const runtime = useRuntime();
const IMAGES = SHARED_IMAGES_DIR;
let vgg: Vgg;
let decoder: AdainDecoder;
let content: RgbImage;
let style1: RgbImage;
let style2: RgbImage;

const image = async (name: string, width: number, height: number) => resizeImage(await readImageFile(join(IMAGES, name)), width, height);

/**
 * A seeded He-initialised decoder whose last layer is damped and centred so that its images sit
 * mostly inside 0..255: clamping would otherwise hide differences between results.
 */
async function testDecoder(): Promise<AdainDecoder> {
  const rt = runtime();
  const d = AdainDecoder.initialize(rt, 7);
  const w = d.params.get('dec1_1.weight');
  const values = (await w.data()).map((v) => v * 0.08);
  d.params.set('dec1_1.weight', rt.upload(values, w.shape));
  d.params.set('dec1_1.bias', rt.upload([120, 110, 100], [3]));
  return d;
}

beforeAll(async () => {
  vgg = await loadPretrainedVgg(runtime(), testStoreOptions());
  decoder = await testDecoder();
  content = await image('content_chelsea.png', 128, 16);
  style1 = await image('starry_night_vangogh.jpg', 48, 32);
  style2 = await image('great_wave_hokusai.jpg', 48, 32);
});

afterAll(() => {
  vgg?.dispose();
  decoder?.dispose();
});

/** Per-channel mean and biased std of NHWC host data with C channels (one sample). */
function channelStats(data: Float32Array, c: number): { mean: Float64Array; std: Float64Array } {
  const n = data.length / c;
  const mean = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let p = 0; p < n; p++) for (let k = 0; k < c; k++) mean[k] += data[p * c + k]!;
  for (let k = 0; k < c; k++) mean[k] /= n;
  for (let p = 0; p < n; p++) for (let k = 0; k < c; k++) sq[k] += (data[p * c + k]! - mean[k]!) ** 2;
  return { mean, std: sq.map((v) => Math.sqrt(v / n)) };
}

/** Bit-identical float arrays (a plain loop: toEqual is slow on millions of values). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Max |a − b| over the columns [x0, x1) of two RGB images of the same size. */
function maxDiffInColumns(a: RgbImage, b: RgbImage, x0: number, x1: number): number {
  let worst = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = x0; x < x1; x++) {
      for (let k = 0; k < 3; k++) {
        const i = (y * a.width + x) * 3 + k;
        worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
      }
    }
  }
  return worst;
}

describe('the AdaIN encoder', () => {
  it('matches the VGG19 reference taps relu1_1 … relu4_1 and stops there', async () => {
    const rt = runtime();
    const input = await readImageFile(sharedReferencePath('vgg19.input.png'));
    const reference = parseSafetensors(new Uint8Array(await readFile(sharedReferencePath('vgg19.safetensors'))), 'vgg19.safetensors').tensors;
    const x = rt.upload(input.data, [1, input.height, input.width, 3]);
    const features = noGrad(() => adainEncode(vgg, x, ADAIN_STYLE_TAPS));
    for (const tap of ADAIN_STYLE_TAPS) {
      const expected = reference.get(tap)!;
      const actual = features.get(tap)!;
      expect([...actual.shape], tap).toEqual([1, ...expected.shape]);
      expect(relativeL2(await actual.data(), expected.data), `${tap} relative L2`).toBeLessThan(1e-3);
    }
    for (const t of features.values()) t.dispose();
    expect(() => adainEncode(vgg, x, ['relu4_2'])).toThrow(/stops at relu4_1/);
    x.dispose();
  });
});

describe('AdaIN on real encoder features', () => {
  it("gives exactly the style's channel means and standard deviations, and blends several styles' statistics", async () => {
    const rt = runtime();
    const stylizer = new AdainStylizer(vgg, decoder);
    const [s1, s2] = [await stylizer.styleStats(style1), await stylizer.styleStats(style2)];
    const c = await image('content_coffee.png', 64, 48);
    const x = rt.upload(c.data, [1, 48, 64, 3]);
    const styleTensors = [s1, s2].map((s) => ({ mean: rt.upload(s.mean, [512]), std: rt.upload(s.std, [512]) }));
    const { single, blended, contentStd } = noGrad(() =>
      scope(() => {
        const f = stylizer.encode(x);
        const m = channelMoments(f, true, 0);
        return {
          single: adainTarget(f, [styleTensors[0]!], { alpha: 1, weights: [1] }),
          blended: adainTarget(f, styleTensors, { alpha: 1, weights: [0.6, 0.4] }),
          contentStd: m.std,
        };
      }),
    );
    const cStd = await contentStd.data();
    // Channels the content leaves (nearly) dead cannot take a style's spread; every other one must.
    const live = [...cStd.keys()].filter((k) => cStd[k]! > 1);
    expect(live.length).toBeGreaterThan(400);
    const check = (stats: { mean: Float64Array; std: Float64Array }, mean: (k: number) => number, std: (k: number) => number) => {
      for (let k = 0; k < 512; k++) {
        expect(Math.abs(stats.mean[k]! - mean(k)), `mean of channel ${k}`).toBeLessThan(1e-3 * Math.abs(mean(k)) + 2e-2);
      }
      for (const k of live) {
        // σ_s is √(var_s + eps) and the content is normalised by √(var_c + eps): within eps of σ_s.
        expect(Math.abs(stats.std[k]! - std(k)), `std of channel ${k}`).toBeLessThan(1e-3 * std(k) + 2e-2);
      }
    };
    check(channelStats(await single.data(), 512), (k) => s1.mean[k]!, (k) => s1.std[k]!);
    check(channelStats(await blended.data(), 512), (k) => 0.6 * s1.mean[k]! + 0.4 * s2.mean[k]!, (k) => 0.6 * s1.std[k]! + 0.4 * s2.std[k]!);
    // The cached statistics give the same target as the AdaIN op on the style's features.
    const s = rt.upload(style1.data, [1, style1.height, style1.width, 3]);
    const direct = noGrad(() => scope(() => adain(stylizer.encode(x), stylizer.encode(s))));
    expect(relativeL2(await direct.data(), await single.data())).toBeLessThan(1e-5);
    for (const t of [single, blended, contentStd, direct, x, s, ...styleTensors.flatMap((t) => [t.mean, t.std])]) t.dispose();
  });
});

describe('AdainStylizer', () => {
  it('fails, naming the decoder as damaged, when NaN weights give a NaN image (not a black one)', async () => {
    const rt = runtime();
    const damaged = await testDecoder();
    const w = damaged.params.get('dec1_1.weight');
    damaged.params.set('dec1_1.weight', rt.upload(new Float32Array(w.size).fill(NaN), w.shape));
    w.dispose();
    const stylizer = new AdainStylizer(vgg, damaged);
    const c = await image('content_astronaut.png', 16, 16);
    await expect(stylizer.stylize(c, [style1], { alpha: 1 })).rejects.toThrow(/^the AdaIN models \(decoder .*\) produced NaN at pixel \(0, 0\): .*the model file is damaged/);
    damaged.dispose();
  });

  it('α = 0 decodes the content features; any size comes back cropped to the content size', async () => {
    const rt = runtime();
    const stylizer = new AdainStylizer(vgg, decoder);
    const c = await image('content_astronaut.png', 24, 24);
    const out = await stylizer.stylize(c, [style1], { alpha: 0 });
    const x = rt.upload(c.data, [1, 24, 24, 3]);
    const expected = noGrad(() => scope(() => clamp(decoder.forward(stylizer.encode(x)), 0, 255)));
    const e = await expected.data();
    expect(out.width).toBe(24);
    expect(relativeL2(out.data, e)).toBeLessThan(1e-5);
    // α = 1 is a different image.
    const styled = await stylizer.stylize(c, [style1], { alpha: 1 });
    expect(relativeL2(styled.data, e)).toBeGreaterThan(0.05);
    // Odd sizes are padded to a multiple of 8 and cropped back.
    expect(adainPadAmounts(21)).toEqual([1, 2]);
    expect(adainPadAmounts(5)).toEqual([5, 6]);
    const odd = await stylizer.stylize(resizeImage(c, 19, 13), [style1]);
    expect([odd.width, odd.height, odd.data.length]).toEqual([19, 13, 19 * 13 * 3]);
    expect(odd.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    for (const t of [x, expected]) t.dispose();
  });

  it('refuses a content too large for one device buffer before encoding anything, naming the --size that fits', async () => {
    const stylizer = new AdainStylizer(vgg, decoder);
    const limits = runtime().context.limits;
    const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    // Its 64-channel f32 map at full size is over the limit (side² · 256 bytes alone exceeds it).
    const side = Math.ceil(Math.sqrt(limit / 256) / 8) * 8 + 8;
    const big: RgbImage = { width: side * 2, height: side, data: new Float32Array(side * 2 * side * 3) };
    const before = stylizer.counters.styleEncodes;
    const error = await stylizer.stylize(big, [style1]).then(() => null, (e: unknown) => e as Error);
    expect(error?.message).toMatch(new RegExp(`adain: a ${side * 2}×${side} content needs \\d+ MiB buffers .* use --size \\d+ or less`));
    expect(stylizer.counters.styleEncodes).toBe(before);
    // The suggested long side fits; an eighth more does not.
    const suggested = Number(/--size (\d+)/.exec(error!.message)![1]);
    expect(() => stylizer.assertContentFits(suggested, Math.round(suggested / 2))).not.toThrow();
    expect(() => stylizer.assertContentFits(suggested + 128, Math.round((suggested + 128) / 2))).toThrow(/--size/);
  });

  it('a mask blends two styles only where it says, and styles are encoded once however many contents', async () => {
    const stylizer = new AdainStylizer(vgg, decoder);
    const { width, height } = content;
    const plain = (value: number): RgbImage => ({ width: 8, height: 8, data: new Float32Array(8 * 8 * 3).fill(value) });
    // White on the left half, black on the right (at the content's size: the boundary is x = 64).
    const half: RgbImage = { width, height, data: new Float32Array(width * height * 3).map((_, i) => (Math.floor(i / 3) % width < width / 2 ? 255 : 0)) };
    const only1 = await stylizer.stylize(content, [style1]);
    const only2 = await stylizer.stylize(content, [style2]);
    const white = await stylizer.stylize(content, [style1, style2], { mask: plain(255) });
    const black = await stylizer.stylize(content, [style1, style2], { mask: plain(0) });
    const split = await stylizer.stylize(content, [style1, style2], { mask: half });
    expect(stylizer.counters.styleEncodes).toBe(2);
    expect(stylizer.counters.contentEncodes).toBe(5);
    // The two styles give clearly different images.
    expect(maxDiffInColumns(only1, only2, 0, width)).toBeGreaterThan(20);
    expect(maxDiffInColumns(white, only1, 0, width)).toBeLessThan(0.05);
    expect(maxDiffInColumns(black, only2, 0, width)).toBeLessThan(0.05);
    // Away from the boundary (x = 64) by more than the decoder's reach, each half is the single-style image.
    expect(maxDiffInColumns(split, only1, 0, 24)).toBeLessThan(0.05);
    expect(maxDiffInColumns(split, only2, width - 24, width)).toBeLessThan(0.05);
    expect(maxDiffInColumns(split, only1, width / 2, width)).toBeGreaterThan(20);
    expect(height).toBe(16);
    // Colour preservation recolours the style for each content: not cached, and a different result.
    const preserved = await stylizer.stylize(content, [style1], { preserveColor: true });
    expect(stylizer.counters.styleEncodes).toBe(3);
    expect(maxDiffInColumns(preserved, only1, 0, width)).toBeGreaterThan(5);
    await expect(stylizer.stylize(content, [style1, style2, style1], { mask: half })).rejects.toThrow(/at most two styles/);
    await expect(stylizer.stylize(content, [style1], { alpha: 1.5 })).rejects.toThrow(/alpha/);
  });
});

describe('decoder weights', () => {
  it('round-trip through safetensors exactly and decode the same image', async () => {
    const rt = runtime();
    const host = await decoder.toHost();
    const bytes = serializeAdainDecoder(host, { note: 'test' });
    const parsed = parseSafetensors(bytes, 'decoder.safetensors');
    expect(parsed.metadata.format).toBe('pastiche-adain-decoder');
    const back = await adainDecoderWeightsFromBytes(bytes, 'decoder.safetensors');
    expect([...back.keys()]).toEqual(adainDecoderParamShapes().map(([n]) => n));
    for (const [name, t] of host) expect(sameValues(back.get(name)!.data, t.data), name).toBe(true);
    const copy = AdainDecoder.fromWeights(rt, back);
    const f = rt.upload(Array.from({ length: 2 * 3 * 512 }, (_, i) => Math.abs(Math.sin(i)) * 50), [1, 2, 3, 512]);
    const [a, b] = noGrad(() => [decoder.forward(f), copy.forward(f)]);
    expect([...a!.shape]).toEqual([1, 16, 24, 3]);
    expect(sameValues(await b!.data(), await a!.data())).toBe(true);
    for (const t of [f, a!, b!]) t.dispose();
    // A batch too large for one buffer is decoded in chunks of samples: same values, same gradients.
    const batch = rt.upload(Array.from({ length: 3 * 2 * 2 * 512 }, (_, i) => Math.abs(Math.cos(i)) * 40), [3, 2, 2, 512]);
    const run = () =>
      valueAndGradOf(() => sum(mul(copy.forward(batch), copy.forward(batch))), [batch, copy.params.get('dec3_3.weight')]);
    const whole = run();
    copy.bufferLimit = 2 * 18 * 18 * 64 * 4; // two 16 px samples per chunk
    const chunked = run();
    expect(relativeL2(await chunked.value.data(), await whole.value.data())).toBeLessThan(1e-6);
    for (let i = 0; i < 2; i++) expect(relativeL2(await chunked.grads[i]!.data(), await whole.grads[i]!.data())).toBeLessThan(1e-5);
    for (const t of [batch, whole.value, chunked.value, ...whole.grads, ...chunked.grads]) t.dispose();
    copy.dispose();
    host.delete('dec2_1.bias');
    expect(() => serializeAdainDecoder(host)).toThrow(/missing 'dec2_1.bias'/);
  });

  it("import the reference PyTorch decoder.pth (nn.Sequential indices, OIHW → HWIO, 0..1 → 0..255 output)", async () => {
    const entries: Array<[string, EntrySpec]> = [];
    const storages: Record<string, Uint8Array> = {};
    const torch: HostTensorMap = new Map();
    let key = 0;
    for (const l of ADAIN_DECODER_LAYERS) {
      const wShape = [l.outChannels, l.inChannels, 3, 3];
      const n = wShape.reduce((a, b) => a * b, 1);
      const w = new Float32Array(n).map((_, i) => Math.sin(i * 0.01 + l.torchIndex) * 0.05);
      const b = new Float32Array(l.outChannels).map((_, i) => i * 0.001 - l.torchIndex * 0.01);
      for (const [suffix, data, shape] of [['weight', w, wShape], ['bias', b, [l.outChannels]]] as const) {
        const k = String(key++);
        const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, c) => a * c, 1));
        entries.push([`${l.torchIndex}.${suffix}`, { storageKey: k, storageType: 'FloatStorage', storageNumel: data.length, offset: 0, size: [...shape], stride, asParameter: true }]);
        storages[k] = new Uint8Array(data.buffer.slice(0));
        torch.set(`${l.torchIndex}.${suffix}`, hostTensor([...shape], data));
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'pastiche-adain-pth-'));
    const path = join(dir, 'decoder.pth');
    await writeFile(path, buildPth({ pickle: stateDictPickle(entries), storages, prefix: 'decoder' }));
    const weights = await adainDecoderWeightsFromBytes(new Uint8Array(await readFile(path)), path);
    for (const l of ADAIN_DECODER_LAYERS) {
      const w = weights.get(`${l.name}.weight`)!;
      const t = torch.get(`${l.torchIndex}.weight`)!;
      const k = l.relu ? 1 : 255;
      expect(w.shape).toEqual([3, 3, l.inChannels, l.outChannels]);
      // A few elements: torch[o][i][y][x] = ours[y][x][i][o] (× 255 for the image layer).
      for (const [o, i, y, x] of [[0, 0, 0, 0], [l.outChannels - 1, 1, 2, 1], [1, l.inChannels - 1, 1, 2]] as const) {
        const torchValue = t.data[((o * l.inChannels + i) * 3 + y) * 3 + x]!;
        expect(w.data[((y * 3 + x) * l.inChannels + i) * l.outChannels + o]).toBeCloseTo(torchValue * k, 4);
      }
      expect(Array.from(weights.get(`${l.name}.bias`)!.data)).toEqual(Array.from(torch.get(`${l.torchIndex}.bias`)!.data.map((v) => v * k)));
    }
    // The imported decoder runs, and a state_dict of something else is refused by name.
    AdainDecoder.fromWeights(runtime(), weights, path).dispose();
    const wrong = new Map(torch);
    wrong.delete('28.weight');
    expect(() => adainDecoderFromPytorch(wrong, 'other.pth')).toThrow(/not an AdaIN decoder state_dict/);
    const bad = new Map(torch);
    bad.set('5.weight', hostTensor([256, 128, 3, 3], new Float32Array(256 * 128 * 9)));
    expect(() => adainDecoderFromPytorch(bad, 'bad.pth')).toThrow(/'5.weight' should be \[256, 256, 3, 3\]/);
  });
});
