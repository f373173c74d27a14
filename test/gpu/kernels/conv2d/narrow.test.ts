import { describe, expect, it } from 'vitest';
import { conv2d, type Conv2dOptions } from '../../../../src/autograd/ops/conv2d.ts';
import { mul } from '../../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../../src/autograd/grad.ts';
import { convCandidateIds, convShapeKey } from '../../../../src/gpu/kernels/conv2d/candidates.ts';
import { conv2dGeometry } from '../../../../src/gpu/kernels/conv2d/geometry.ts';
import { hasEightWideSubgroups, narrowRuns, ruleChoice, type NarrowCols, type NarrowRows } from '../../../../src/gpu/kernels/conv2d/rules.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../../src/gpu/half.ts';
import type { Tensor } from '../../../../src/gpu/tensor.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { launchesOf } from '../../../helpers/launches.ts';
import { tfConvReference, type Pads4 } from '../../../helpers/conv-oracle.ts';
import { expectClose, randomValues, tf, tfValues } from '../../../helpers/oracle.ts';

/*
 * The narrow forward kernels (at most 4 output or input channels) against tfjs-cpu: they sum the
 * same products in another order, so they are held to the f32 tolerance of every other conv
 * variant (rtol 1e-4, atol 1e-5, met by the conv tests' sums of up to ~1000 products) with atol
 * growing with the number of products summed per output (2e-8 per product: 5e-5 for 9×9 × 32
 * channels, where the two orders were seen 1.6e-5 apart). Each case runs with the default and
 * two other rows/cols settings the tuner may pick.
 */

const runtime = useRuntime();

interface Case {
  name: string;
  x: [number, number, number, number];
  k: number;
  cout: number;
  stride?: 1 | 2;
  padding: 'valid' | number | Pads4;
  reflect?: boolean;
  bias?: boolean;
  activation?: 'relu' | 'relu6';
  dilation?: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function options(c: Case, b: Tensor | null, narrowRows?: NarrowRows, narrowCols?: NarrowCols): Conv2dOptions {
  return {
    stride: c.stride,
    dilation: c.dilation,
    padding: c.padding,
    padMode: c.reflect ? 'reflect' : 'zeros',
    ...(b ? { bias: b } : {}),
    ...(c.activation ? { activation: c.activation } : {}),
    kernel: { algorithm: 'narrow', narrowRows, narrowCols },
  };
}

const cases: Case[] = [
  // few outputs: TransformerNet's last layer and its relatives
  { name: '9×9 reflect 4, odd 13×11, 32 → 3 (vec4 in), bias', x: [2, 13, 11, 32], k: 9, cout: 3, padding: 4, reflect: true, bias: true },
  { name: '9×9 zeros 4, odd 11×9, 8 → 4, relu', x: [1, 11, 9, 8], k: 9, cout: 4, padding: 4, activation: 'relu' },
  { name: '9×9 reflect 4 stride 2, odd 19×17, 12 → 2, bias', x: [2, 19, 17, 12], k: 9, cout: 2, stride: 2, padding: 4, reflect: true, bias: true },
  { name: '3×3 zeros 1, odd 9×21 (several chunks per row), 13 → 1 (scalar in), bias + relu6', x: [2, 9, 21, 13], k: 3, cout: 1, padding: 1, bias: true, activation: 'relu6' },
  { name: '3×3 valid stride 2, 7×5, 5 → 3 (one channel quad plus one)', x: [2, 7, 5, 5], k: 3, cout: 3, stride: 2, padding: 'valid' },
  { name: '3×3 reflect [2, 1, 0, 2], 3×3 px, 4 → 2', x: [2, 3, 3, 4], k: 3, cout: 2, padding: [2, 1, 0, 2], reflect: true },
  { name: '3×3 dilation 2, reflect 2, 9×7, 6 → 3', x: [1, 9, 7, 6], k: 3, cout: 3, padding: 2, reflect: true, dilation: 2 },
  // few inputs: TransformerNet's first layer and its relatives
  { name: '9×9 reflect 4, odd 13×11, 3 → 32, bias + relu', x: [2, 13, 11, 3], k: 9, cout: 32, padding: 4, reflect: true, bias: true, activation: 'relu' },
  { name: '9×9 zeros 4 stride 2, odd 17×19, 1 → 8, bias', x: [2, 17, 19, 1], k: 9, cout: 8, stride: 2, padding: 4, bias: true },
  { name: '3×3 reflect 1, odd 9×21, 2 → 20 (column tiles past Cout)', x: [2, 9, 21, 2], k: 3, cout: 20, padding: 1, reflect: true, bias: true },
  { name: '3×3 zeros 1 stride 2, 7×5, 4 → 6 (scalar out), relu', x: [2, 7, 5, 4], k: 3, cout: 6, stride: 2, padding: 1, activation: 'relu' },
  { name: '9×9 valid (window = image height), 9×12, 3 → 5 (scalar out), bias', x: [1, 9, 12, 3], k: 9, cout: 5, padding: 'valid', bias: true },
  { name: '3×3 both narrow, 7×5, 3 → 3, bias', x: [2, 7, 5, 3], k: 3, cout: 3, padding: 1, reflect: true, bias: true },
];

const settings: [NarrowRows | undefined, NarrowCols | undefined][] = [
  [undefined, undefined],
  [2, 8],
  [8, 32],
];

async function check(c: Case, seed: number): Promise<void> {
  const rt = runtime();
  const wShape = [c.k, c.k, c.x[3], c.cout];
  const xs = randomValues(size(c.x), seed);
  const ws = randomValues(size(wShape), seed + 1, -1, 1);
  const bs = randomValues(c.cout, seed + 2);
  const tx = tf.tensor(xs, c.x);
  const tw = tf.tensor(ws, wShape);
  const tb = c.bias ? tf.tensor(bs, [c.cout]) : null;
  const expected = tfConvReference(c, tx, tw, tb);
  const want = await tfValues(expected);
  const x = rt.upload(xs, c.x);
  const w = rt.upload(ws, wShape);
  const b = c.bias ? rt.upload(bs, [c.cout]) : null;
  for (const [rows, cols] of settings) {
    let y: Tensor | null = null;
    const launched = launchesOf(rt, () => (y = conv2d(x, w, options(c, b, rows, cols))));
    expect(launched, `${c.name}: one narrow launch`).toEqual([expect.stringMatching(/^conv2d_narrow:/)]);
    y = y!;
    expect([...y.shape]).toEqual(expected.shape);
    expectClose(await y.data(), want, 1e-4, Math.max(1e-5, 2e-8 * c.k * c.k * c.x[3]), `${c.name} rows ${rows ?? 'default'} cols ${cols ?? 'default'}`);
    y.dispose();
  }
  // Forced on the op, the gradients run the other kernels and still match.
  const gs = randomValues(size(expected.shape), seed + 3);
  const g = rt.upload(gs, expected.shape);
  const tg = tf.tensor(gs, expected.shape);
  const params = b ? [x, w, b] : [x, w];
  const { value, grads } = valueAndGrad((...a: Tensor[]) => sum(mul(conv2d(a[0]!, a[1]!, options(c, a[2] ?? null)), g)))(...params);
  const tfGrads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(tfConvReference(c, a[0]!, a[1]!, a[2] ?? null), tg)))(tb ? [tx, tw, tb] : [tx, tw]);
  for (let i = 0; i < params.length; i++) expectClose(await grads[i]!.data(), await tfValues(tfGrads[i]!), 1e-4, 1e-4, `${c.name} grad ${i}`);
  for (const t of [g, value, ...grads, x, w, ...(b ? [b] : [])]) t.dispose();
}

describe('conv2d narrow: forward against tfjs-cpu', () => {
  it('runs on this adapter (8-wide subgroups)', () => {
    expect(hasEightWideSubgroups(runtime()), 'lavapipe has 8-wide subgroups').toBe(true);
  });
  cases.forEach((c, i) => it(c.name, () => check(c, 900 + 10 * i)));
});

describe('conv2d narrow: f16 storage', () => {
  const toHalf = (values: Float32Array) => float16ToFloat32(float32ToFloat16(values));
  for (const c of [cases[0]!, cases[7]!, cases[3]!, cases[10]!]) {
    it(`${c.name}: matches tfjs-cpu on f16-rounded inputs within f16 output rounding`, async () => {
      const rt = runtime();
      expect(rt.hasF16, 'lavapipe has shader-f16').toBe(true);
      const wShape = [c.k, c.k, c.x[3], c.cout];
      // Small filter values keep the outputs near 1, where f16 rounds to about 1e-3.
      const xs = toHalf(randomValues(size(c.x), 71, -1, 1));
      const ws = toHalf(randomValues(size(wShape), 72, -0.1, 0.1));
      const bs = toHalf(randomValues(c.cout, 73));
      const want = await tfValues(tfConvReference(c, tf.tensor(xs, c.x), tf.tensor(ws, wShape), c.bias ? tf.tensor(bs, [c.cout]) : null));
      const x = rt.upload(xs, c.x, 'f16');
      const w = rt.upload(ws, wShape, 'f16');
      const b = c.bias ? rt.upload(bs, [c.cout], 'f16') : null;
      let y: Tensor | null = null;
      const launched = launchesOf(rt, () => (y = conv2d(x, w, options(c, b))));
      expect(launched).toEqual([expect.stringMatching(/^conv2d_narrow:.*half=true/)]);
      y = y!;
      expect(y.dtype).toBe('f16');
      expectClose(await y.data(), want, 2e-3, 2e-3, `${c.name} f16 forward`);
      for (const t of [x, w, y, ...(b ? [b] : [])]) t.dispose();
    });
  }
});

describe('conv2d narrow: where it runs', () => {
  const geom = (x: number[], w: number[], opts: { stride?: number; dilation?: number; groups?: number } = {}) => conv2dGeometry('conv2d', x, w, { padding: 'same', ...opts });

  it('runs groups-1 shapes with at most 4 channels on one side and a window its lanes cover', () => {
    expect(narrowRuns(geom([1, 8, 8, 32], [9, 9, 32, 3]))).toBe(true);
    expect(narrowRuns(geom([1, 8, 8, 3], [9, 9, 3, 32]))).toBe(true);
    expect(narrowRuns(geom([1, 8, 8, 3], [9, 9, 3, 32], { stride: 2 }))).toBe(true);
    expect(narrowRuns(geom([1, 8, 8, 8], [3, 3, 8, 8]))).toBe(false);
    expect(narrowRuns(geom([1, 8, 8, 8], [3, 3, 4, 4], { groups: 2 }))).toBe(false);
    // 7 · 2 + 11 columns need 4 loads per lane: left to the other kernels.
    expect(narrowRuns(geom([1, 32, 32, 3], [11, 11, 3, 8], { stride: 2 }))).toBe(false);
    const rt = runtime();
    const x = rt.upload(new Float32Array(8 * 8 * 8), [1, 8, 8, 8]);
    const w = rt.upload(new Float32Array(9 * 8 * 8), [3, 3, 8, 8]);
    expect(() => conv2d(x, w, { kernel: { algorithm: 'narrow' } })).toThrow(/at most 4 output or input channels/);
    for (const t of [x, w]) t.dispose();
  });

  it('is a tuner candidate for forward shapes it runs, once per distinct kernel', () => {
    const rt = runtime();
    const narrow = (kind: 'fwd' | 'dx' | 'dw', g: ReturnType<typeof geom>) => convCandidateIds(rt, false, { kind, g }).filter((id) => id.startsWith('narrow'));
    expect(narrow('fwd', geom([1, 8, 8, 3], [9, 9, 3, 32])).length).toBeGreaterThan(2);
    // With few outputs the column tile does not apply: one candidate per rows setting.
    const fewOut = narrow('fwd', geom([1, 8, 8, 32], [9, 9, 32, 3]));
    expect(fewOut.length).toBeGreaterThan(1);
    expect(fewOut.length).toBeLessThan(narrow('fwd', geom([1, 8, 8, 3], [9, 9, 3, 32])).length);
    expect(narrow('dx', geom([1, 8, 8, 3], [9, 9, 3, 32]))).toEqual([]);
    expect(narrow('dw', geom([1, 8, 8, 3], [9, 9, 3, 32]))).toEqual([]);
    expect(narrow('fwd', geom([1, 8, 8, 8], [3, 3, 8, 8]))).toEqual([]);
  });

  it('runs a tuned narrow candidate in place of the rule', async () => {
    const rt = runtime();
    rt.tuning.clear();
    const x = rt.upload(randomValues(12 * 10 * 3, 95), [1, 12, 10, 3]);
    const w = rt.upload(randomValues(9 * 9 * 3 * 8, 96, -1, 1), [9, 9, 3, 8]);
    const opts: Conv2dOptions = { padding: 4, padMode: 'reflect' };
    const run = (): [Tensor, string[]] => {
      let y: Tensor | null = null;
      const launched = launchesOf(rt, () => (y = conv2d(x, w, opts)));
      return [y!, launched];
    };
    const [ruled, byRule] = run();
    expect(byRule).toEqual([expect.stringMatching(/^conv2d_narrow:cols=8,half=false,rows=4,side=in,/)]);
    const g = conv2dGeometry('conv2d', x.shape, w.shape, opts);
    rt.tuning.set('conv2d', convShapeKey('fwd', g), { choice: 'narrow/r2', ms: {}, clock: 'test', date: 'now' });
    const [tuned, byTuning] = run();
    rt.tuning.clear();
    expect(byTuning).toEqual([expect.stringMatching(/^conv2d_narrow:cols=8,half=false,rows=2,side=in,/)]);
    expectClose(await tuned.data(), await ruled.data(), 1e-5, 1e-6, 'tuned against ruled');
    for (const t of [x, w, ruled, tuned]) t.dispose();
  });

  it("is the untuned rule's choice for TransformerNet's 9×9 RGB convolutions", () => {
    const rt = runtime();
    const pad4 = (x: number[], w: number[]) => conv2dGeometry('conv2d', x, w, { padding: 4, padMode: 'reflect' });
    expect(ruleChoice(rt, 'fwd', pad4([1, 64, 64, 32], [9, 9, 32, 3]), false).algorithm).toBe('narrow');
    expect(ruleChoice(rt, 'fwd', pad4([1, 64, 64, 3], [9, 9, 3, 32]), false).algorithm).toBe('narrow');
    expect(ruleChoice(rt, 'fwd', pad4([1, 64, 64, 3], [9, 9, 3, 32]), true).algorithm).toBe('narrow');
    expect(ruleChoice(rt, 'dx', pad4([1, 64, 64, 32], [9, 9, 32, 3]), false).algorithm).not.toBe('narrow');
  });
});
