import { describe, expect, it } from 'vitest';
import { conv2d, type Conv2dOptions } from '../../../../src/autograd/ops/conv2d.ts';
import { mul } from '../../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../../src/autograd/grad.ts';
import { convCandidateIds } from '../../../../src/gpu/kernels/conv2d/candidates.ts';
import { conv2dGeometry } from '../../../../src/gpu/kernels/conv2d/geometry.ts';
import { hasEightWideSubgroups, ruleChoice } from '../../../../src/gpu/kernels/conv2d/rules.ts';
import { winogradChunkTiles, winogradRuns, winogradTiles, type WinogradTile } from '../../../../src/gpu/kernels/conv2d/winograd-fit.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../../../src/gpu/half.ts';
import type { Tensor } from '../../../../src/gpu/tensor.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { launchesOf } from '../../../helpers/launches.ts';
import { pads4, tfConvReference, type Pads4 } from '../../../helpers/conv-oracle.ts';
import { largestBufferDuring } from '../../../helpers/tiling-probes.ts';
import { expectClose, randomValues, tf, tfValues } from '../../../helpers/oracle.ts';

/*
 * Winograd F(2×2, 3×3) and F(4×4, 3×3) forward against tfjs-cpu. F(2×2)'s transforms add a few
 * roundings per output (coefficients 0, ½ and 1), so it is held to the f32 tolerance of every
 * other conv variant. F(4×4)'s coefficients reach 8 and 1/24, and its error grows accordingly:
 * TOLERANCE states what each is held to.
 */

const TOLERANCE: Record<WinogradTile, { rtol: number; atol: number }> = {
  2: { rtol: 1e-4, atol: 1e-5 },
  4: { rtol: 1e-3, atol: 1e-4 },
};

/** dw sums over every pixel of a batch (values up to ~100 here): its absolute error is larger. */
const DW_ATOL: Record<WinogradTile, number> = { 2: 1e-4, 4: 1e-3 };

const runtime = useRuntime();

interface Case {
  name: string;
  x: [number, number, number, number];
  cout: number;
  padding: 'same' | 'valid' | number | Pads4;
  reflect?: boolean;
  bias?: boolean;
  activation?: 'relu' | 'relu6';
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function options(c: Case, b: Tensor | null, algorithm: 'winograd' | 'auto', winogradTile: WinogradTile = 2): Conv2dOptions {
  return {
    padding: c.padding,
    padMode: c.reflect ? 'reflect' : 'zeros',
    ...(b ? { bias: b } : {}),
    ...(c.activation ? { activation: c.activation } : {}),
    kernel: { algorithm, winogradTile },
  };
}

const cases: Case[] = [
  { name: 'odd 7×5, 3 → 8 (scalar in), bias', x: [2, 7, 5, 3], cout: 8, padding: 'same', bias: true },
  { name: 'odd 9×11, 8 → 8 (vec4), bias + relu', x: [2, 9, 11, 8], cout: 8, padding: 'same', bias: true, activation: 'relu' },
  { name: 'odd 7×5, 13 → 5 (scalar in and out)', x: [2, 7, 5, 13], cout: 5, padding: 'same' },
  { name: 'valid (odd output 5×3), 8 → 12, relu6', x: [2, 7, 5, 8], cout: 12, padding: 'valid', bias: true, activation: 'relu6' },
  { name: 'explicit [1, 2, 0, 3], 6 → 10', x: [1, 7, 5, 6], cout: 10, padding: [1, 2, 0, 3] },
  { name: 'reflect same on odd 9×7, 16 → 16, bias + relu', x: [2, 9, 7, 16], cout: 16, padding: 'same', reflect: true, bias: true, activation: 'relu' },
  { name: 'reflect [2, 1, 0, 2] (pad = H - 1 at 3×3 px), 12 → 4', x: [2, 3, 3, 12], cout: 4, padding: [2, 1, 0, 2], reflect: true },
  { name: 'many tiles 32×26, 20 → 36, bias', x: [1, 32, 26, 20], cout: 36, padding: 'same', bias: true },
];

async function check(c: Case, seed: number, tile: WinogradTile): Promise<void> {
  const rt = runtime();
  const wShape = [3, 3, c.x[3], c.cout];
  const xs = randomValues(size(c.x), seed);
  const ws = randomValues(size(wShape), seed + 1, -1, 1);
  const bs = randomValues(c.cout, seed + 2);
  const tx = tf.tensor(xs, c.x);
  const tw = tf.tensor(ws, wShape);
  const tb = c.bias ? tf.tensor(bs, [c.cout]) : null;
  const expected = tfConvReference(c, tx, tw, tb);
  const x = rt.upload(xs, c.x);
  const w = rt.upload(ws, wShape);
  const b = c.bias ? rt.upload(bs, [c.cout]) : null;
  let y: Tensor | null = null;
  const launched = launchesOf(rt, () => (y = conv2d(x, w, options(c, b, 'winograd', tile))));
  expect(launched[0]).toMatch(new RegExp(`^conv2d_winograd:flip=false,half=false,stage=filter,tile=${tile},`));
  // One filter transform, then the input and output transforms chunk by chunk (the scratch is
  // held to the size of x, y or the transformed filter: every F(2×2) case here runs several chunks).
  const stage = (name: string) => launched.filter((l) => l.startsWith('conv2d_winograd:') && l.includes(`stage=${name},`)).length;
  const geometry = conv2dGeometry('conv2d', c.x, wShape, { padding: c.padding, padMode: c.reflect ? 'reflect' : 'zeros' });
  expect(stage('filter')).toBe(1);
  expect(stage('input')).toBe(Math.ceil(winogradTiles(geometry, tile).tiles / winogradChunkTiles(rt, geometry, tile)));
  if (tile === 2) expect(stage('input')).toBeGreaterThan(1);
  expect(stage('output')).toBe(stage('input'));
  y = y!;
  expect([...y.shape]).toEqual(expected.shape);
  expectClose(await y.data(), await tfValues(expected), TOLERANCE[tile].rtol, TOLERANCE[tile].atol, `${c.name} F(${tile}) forward`);

  // Forced on the op, the filter gradient runs Winograd too (the transforms' adjoints), and the
  // input gradient (flipped filter) where every pad is at most 2.
  const gs = randomValues(size(expected.shape), seed + 3);
  const g = rt.upload(gs, expected.shape);
  const tg = tf.tensor(gs, expected.shape);
  const params = b ? [x, w, b] : [x, w];
  let grads: Tensor[] = [];
  let value: Tensor | null = null;
  const backward = launchesOf(rt, () => {
    ({ value, grads } = valueAndGrad((...a: Tensor[]) => sum(mul(conv2d(a[0]!, a[1]!, options(c, a[2] ?? null, 'winograd', tile)), g)))(...params));
  });
  const flipped = backward.filter((l) => l.startsWith('conv2d_winograd:') && l.includes('flip=true'));
  expect(flipped, `${c.name}: dx by winograd`).toHaveLength(pads4(c.padding).every((p) => p <= 2) || c.reflect ? 1 : 0);
  expect(backward.filter((l) => l.startsWith('conv2d_winograd:') && l.includes('stage=filterGrad,')), `${c.name}: dw by winograd`).toHaveLength(1);
  const tfGrads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(tfConvReference(c, a[0]!, a[1]!, a[2] ?? null), tg)))(tb ? [tx, tw, tb] : [tx, tw]);
  expectClose(await grads[0]!.data(), await tfValues(tfGrads[0]!), TOLERANCE[tile].rtol, 1e-4, `${c.name} F(${tile}) dx`);
  expectClose(await grads[1]!.data(), await tfValues(tfGrads[1]!), TOLERANCE[tile].rtol, DW_ATOL[tile], `${c.name} F(${tile}) dw`);
  if (b) expectClose(await grads[2]!.data(), await tfValues(tfGrads[2]!), 1e-4, 1e-4, `${c.name} bias grad`);
  for (const t of [g, value!, ...grads]) t.dispose();
  for (const t of [x, w, y, ...(b ? [b] : [])]) t.dispose();
}

describe('conv2d winograd F(2×2, 3×3): forward and input gradient against tfjs-cpu', () => {
  cases.forEach((c, i) => it(c.name, () => check(c, 700 + 10 * i, 2)));
});

describe('conv2d winograd F(4×4, 3×3): forward and input gradient against tfjs-cpu', () => {
  cases.forEach((c, i) => it(c.name, () => check(c, 700 + 10 * i, 4)));
});

describe('conv2d winograd: f16 storage', () => {
  const toHalf = (values: Float32Array) => float16ToFloat32(float32ToFloat16(values));
  for (const [name, xShape, cout, tile] of [
    ['F(2×2) vec4, 16 → 24, bias + relu', [2, 9, 7, 16], 24, 2],
    ['F(2×2) scalar, 5 → 7, bias + relu', [1, 7, 5, 5], 7, 2],
    ['F(4×4) vec4, 16 → 24, bias + relu', [2, 9, 7, 16], 24, 4],
  ] as const) {
    it(`${name}: matches tfjs-cpu on f16-rounded inputs within f16 output rounding`, async () => {
      const rt = runtime();
      expect(rt.hasF16, 'lavapipe and the GPUs pastiche targets have shader-f16').toBe(true);
      const c: Case = { name, x: [...xShape], cout, padding: 'same', bias: true, activation: 'relu' };
      const wShape = [3, 3, xShape[3], cout];
      const xs = toHalf(randomValues(size(xShape), 81));
      const ws = toHalf(randomValues(size(wShape), 82, -1, 1));
      const bs = toHalf(randomValues(cout, 83));
      const want = await tfValues(tfConvReference(c, tf.tensor(xs, [...xShape]), tf.tensor(ws, wShape), tf.tensor(bs, [cout])));
      const x = rt.upload(xs, [...xShape], 'f16');
      const w = rt.upload(ws, wShape, 'f16');
      const b = rt.upload(bs, [cout], 'f16');
      let y: Tensor | null = null;
      const launched = launchesOf(rt, () => (y = conv2d(x, w, options(c, b, 'winograd', tile))));
      expect(launched[0]).toMatch(new RegExp(`^conv2d_winograd:flip=false,half=true,stage=filter,tile=${tile},`));
      y = y!;
      expect(y.dtype).toBe('f16');
      expectClose(await y.data(), want, 1e-3, 1e-3, `${name} f16 forward`);
      for (const t of [x, w, b, y]) t.dispose();
    });
  }
});

describe('conv2d winograd: where it runs, tuning and memory', () => {
  it('is a tuner candidate for 3×3 stride-1 forward and input-gradient shapes, and a tuned choice runs it', async () => {
    const rt = runtime();
    const geom = (x: number[], w: number[], stride = 1, dilation = 1) => conv2dGeometry('conv2d', x, w, { stride, dilation, padding: 'same' });
    expect(convCandidateIds(rt, false, { kind: 'fwd', g: geom([1, 8, 8, 8], [3, 3, 8, 8]) })).toEqual(expect.arrayContaining(['winograd/2x2', 'winograd/4x4']));
    expect(convCandidateIds(rt, true, { kind: 'fwd', g: geom([1, 8, 8, 8], [3, 3, 8, 8]) })).toEqual(expect.arrayContaining(['winograd/2x2', 'winograd/4x4']));
    expect(convCandidateIds(rt, false, { kind: 'dx', g: geom([1, 8, 8, 8], [3, 3, 8, 8]) })).toEqual(expect.arrayContaining(['winograd/2x2', 'winograd/4x4']));
    const pad3 = conv2dGeometry('conv2d', [1, 8, 8, 8], [3, 3, 8, 8], { padding: 3 });
    expect(convCandidateIds(rt, false, { kind: 'fwd', g: pad3 })).toEqual(expect.arrayContaining(['winograd/2x2', 'winograd/4x4']));
    expect(convCandidateIds(rt, false, { kind: 'dx', g: pad3 }).filter((id) => id.startsWith('winograd'))).toEqual([]);
    expect(convCandidateIds(rt, false, { kind: 'dw', g: geom([1, 8, 8, 8], [3, 3, 8, 8]) })).toEqual(expect.arrayContaining(['winograd/2x2', 'winograd/4x4']));
    expect(convCandidateIds(rt, false, { kind: 'dw', g: pad3 })).toEqual(expect.arrayContaining(['winograd/2x2', 'winograd/4x4']));
    expect(convCandidateIds(rt, false, { kind: 'fwd', g: geom([1, 8, 8, 8], [3, 3, 8, 8], 2) }).filter((id) => id.startsWith('winograd'))).toEqual([]);
    expect(convCandidateIds(rt, false, { kind: 'fwd', g: geom([1, 8, 8, 8], [3, 3, 8, 8], 1, 2) }).filter((id) => id.startsWith('winograd'))).toEqual([]);
    expect(convCandidateIds(rt, false, { kind: 'fwd', g: geom([1, 8, 8, 8], [5, 5, 8, 8]) }).filter((id) => id.startsWith('winograd'))).toEqual([]);
    // A transformed filter past one buffer binding ((m + 2)² floats per channel pair) is left to the other kernels.
    const limit = rt.context.limits.maxStorageBufferBindingSize;
    const channels = 4 * Math.ceil(Math.sqrt(limit / (16 * 4)) / 4) + 4;
    expect(winogradRuns(rt, geom([1, 4, 4, channels], [3, 3, channels, channels]), 2)).toBe(false);
    // About 0.7× as many channels: half the bytes for F(2×2), 1.1× the limit for F(4×4) (36 floats per pair).
    const fewer = 4 * Math.round((0.7 * channels) / 4);
    expect(winogradRuns(rt, geom([1, 4, 4, fewer], [3, 3, fewer, fewer]), 2)).toBe(true);
    expect(winogradRuns(rt, geom([1, 4, 4, fewer], [3, 3, fewer, fewer]), 4)).toBe(false);

    rt.tuning.clear();
    const x = rt.upload(randomValues(1 * 10 * 9 * 8, 91), [1, 10, 9, 8]);
    const w = rt.upload(randomValues(9 * 8 * 12, 92, -1, 1), [3, 3, 8, 12]);
    const g = rt.upload(randomValues(10 * 9 * 12, 93), [1, 10, 9, 12]);
    const f = (x: Tensor, w: Tensor) => sum(mul(conv2d(x, w, { padding: 'same' }), g));
    const captured = await rt.tuning.captureShapes(() => {
      const { value, grads } = valueAndGrad(f)(x, w);
      for (const t of [value, ...grads]) t.dispose();
    });
    const want = await (async () => {
      const { value, grads } = valueAndGrad(f)(x, w);
      const out = [await value.data(), ...(await Promise.all(grads.map((t) => t.data())))];
      for (const t of [value, ...grads]) t.dispose();
      return out;
    })();
    for (const r of captured) rt.tuning.set('conv2d', r.shape, { choice: 'winograd/4x4', ms: {}, clock: 'test', date: 'now' });
    let result: Tensor[] = [];
    const launched = launchesOf(rt, () => {
      const { value, grads } = valueAndGrad(f)(x, w);
      result = [value, ...grads];
    });
    const got = await Promise.all(result.map((t) => t.data()));
    result.forEach((t) => t.dispose());
    expect(launched[0]).toMatch(/^conv2d_winograd:flip=false,half=false,stage=filter,tile=4,/);
    // The input gradient runs it with the flipped filter, the filter gradient with the adjoint
    // transforms around a grouped 1×1 filter gradient (the only dw kernel launched).
    expect(launched.some((l) => /^conv2d_winograd:flip=true,half=false,stage=filter,tile=4,/.test(l))).toBe(true);
    expect(launched.some((l) => /^conv2d_(subgroup|tiled|direct):.*kind=dx/.test(l))).toBe(false);
    expect(launched.filter((l) => /^conv2d_winograd:.*stage=filterGrad,tile=4,/.test(l))).toHaveLength(1);
    for (let i = 0; i < 3; i++) expectClose(got[i]!, want[i]!, TOLERANCE[4].rtol, i === 2 ? DW_ATOL[4] : TOLERANCE[4].atol, `tuned winograd result ${i}`);
    rt.tuning.clear();
    for (const t of [x, w, g]) t.dispose();
  });

  it('the untuned rule picks it where it was measured to win: 8-wide subgroups, f32, enough pixels and channels', () => {
    const rt = runtime();
    rt.tuning.clear();
    const first = (xShape: number[], cin: number, cout: number, dtype: 'f32' | 'f16' = 'f32') => {
      const x = rt.upload(randomValues(size(xShape), 99), xShape, dtype);
      const w = rt.upload(randomValues(9 * cin * cout, 100, -1, 1), [3, 3, cin, cout], dtype);
      const launched = launchesOf(rt, () => conv2d(x, w, { padding: 'same' }).dispose());
      x.dispose();
      w.dispose();
      return launched[0];
    };
    const lavapipeLike = hasEightWideSubgroups(rt);
    const expectTile = (launch: string | undefined, tile: WinogradTile | null) =>
      tile && lavapipeLike ? expect(launch).toMatch(new RegExp(`^conv2d_winograd:flip=false,half=false,stage=filter,tile=${tile},`)) : expect(launch).not.toMatch(/^conv2d_winograd:/);
    expectTile(first([1, 64, 64, 32], 32, 32), 4);
    expectTile(first([1, 32, 32, 64], 64, 48), null);
    expectTile(first([1, 32, 32, 64], 64, 64), null); // 2.5-3× slower than the subgroup kernel there
    expectTile(first([1, 16, 16, 256], 256, 256), 2);
    expectTile(first([1, 16, 16, 128], 128, 128), null);
    expectTile(first([1, 8, 8, 256], 256, 256), null);
    expectTile(first([1, 32, 32, 64], 64, 64, 'f16'), null);
    // The input gradient: F(4×4) from 64×64 px at 32 → 64 channels, not at 32 → 32 nor from 512 channels.
    const dxLaunch = (xShape: number[], cin: number, cout: number) => {
      const x = rt.upload(randomValues(size(xShape), 103), xShape);
      const w = rt.upload(randomValues(9 * cin * cout, 104, -1, 1), [3, 3, cin, cout]);
      const launched = launchesOf(rt, () => {
        const { value, grads } = valueAndGrad((x: Tensor) => sum(conv2d(x, w, { padding: 'same' })))(x);
        for (const t of [value, ...grads]) t.dispose();
      });
      x.dispose();
      w.dispose();
      return launched.find((l) => l.includes('flip=true') || l.includes('kind=dx'));
    };
    const flippedTile = (launch: string | undefined, tile: 4 | null) =>
      tile && lavapipeLike ? expect(launch).toMatch(/^conv2d_winograd:flip=true,half=false,stage=filter,tile=4,/) : expect(launch).not.toMatch(/^conv2d_winograd:/);
    flippedTile(dxLaunch([1, 64, 64, 32], 32, 64), 4);
    flippedTile(dxLaunch([1, 64, 64, 32], 32, 32), null);
    flippedTile(dxLaunch([1, 8, 8, 512], 512, 512), null);
    // VGG's conv4 and conv5 (no need to run them: the rule's answer by geometry).
    const ruled = (kind: 'fwd' | 'dx' | 'dw', px: number, cin: number, cout: number) => {
      const choice = ruleChoice(rt, kind, conv2dGeometry('conv2d', [1, px, px, cin], [3, 3, cin, cout], { padding: 1 }), false);
      return choice.algorithm === 'winograd' ? choice.winogradTile : null;
    };
    const onLavapipe = (tile: number | null) => (lavapipeLike ? tile : null);
    expect([ruled('fwd', 32, 512, 512), ruled('fwd', 32, 256, 512), ruled('fwd', 16, 512, 512), ruled('fwd', 32, 128, 128)]).toEqual([4, 4, 2, null].map(onLavapipe));
    expect([ruled('dx', 32, 512, 512), ruled('dx', 32, 256, 512), ruled('dx', 16, 512, 512), ruled('dx', 64, 32, 32)]).toEqual([4, 4, null, null].map(onLavapipe));
    // f16 storage: F(4×4) on the large shapes only.
    const ruledHalf = (px: number, cin: number, cout: number) => {
      const choice = ruleChoice(rt, 'fwd', conv2dGeometry('conv2d', [1, px, px, cin], [3, 3, cin, cout], { padding: 1 }), true);
      return choice.algorithm === 'winograd' ? choice.winogradTile : null;
    };
    expect([ruledHalf(64, 128, 128), ruledHalf(256, 64, 32), ruledHalf(64, 32, 32), ruledHalf(32, 512, 512)]).toEqual([4, 4, null, null].map(onLavapipe));
    // The filter gradient: TransformerNet's residual at 64×64 px, not 32 channels nor 16×16 px.
    expect([ruled('dw', 64, 128, 128), ruled('dw', 32, 256, 256), ruled('dw', 128, 64, 32), ruled('dw', 16, 128, 128)]).toEqual([4, 4, null, null].map(onLavapipe));
  });

  it('rejects a forced winograd on a shape it does not compute, naming the fix', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(1 * 8 * 8 * 8, 94), [1, 8, 8, 8]);
    const w = rt.upload(randomValues(9 * 8 * 8, 95), [3, 3, 8, 8]);
    expect(() => conv2d(x, w, { stride: 2, padding: 'same', kernel: { algorithm: 'winograd' } })).toThrow(/algorithm 'winograd' runs 3x3 stride-1 .*got 3x3 stride 2.*use algorithm 'auto'/);
    x.dispose();
    w.dispose();
  });

  it('allocates nothing larger than its input or output (the transformed filter aside)', async () => {
    const rt = runtime();
    for (const tile of [2, 4] as const) {
      const x = rt.upload(randomValues(2 * 20 * 18 * 24, 101), [2, 20, 18, 24]);
      const w = rt.upload(randomValues(9 * 24 * 16, 102), [3, 3, 24, 16]);
      const { largest } = await largestBufferDuring(rt, async () => {
        conv2d(x, w, { padding: 'same', kernel: { algorithm: 'winograd', winogradTile: tile } }).dispose();
        await rt.sync();
      });
      expect(largest, `F(${tile})`).toBeLessThanOrEqual(Math.max(x.byteLength, (tile + 2) ** 2 * 24 * 16 * 4));
      expect(largest, `F(${tile})`).toBeGreaterThan(0);
      x.dispose();
      w.dispose();
    }
  });

  it('runs one chunk where the transformed filter outweighs the activations (every chunk reads all of it)', () => {
    const rt = runtime();
    const g = conv2dGeometry('conv2d', [1, 32, 32, 512], [3, 3, 512, 512], { padding: 1 });
    expect(winogradChunkTiles(rt, g, 4)).toBe(winogradTiles(g, 4).tiles);
    const small = conv2dGeometry('conv2d', [1, 256, 256, 32], [3, 3, 32, 32], { padding: 1 });
    expect(winogradChunkTiles(rt, small, 4)).toBe(Math.floor((256 * 256 * 32 * 4) / (36 * 32 * 4)));
  });

  it('frees its transformed operands', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 9 * 7 * 8, 96), [2, 9, 7, 8]);
    const w = rt.upload(randomValues(9 * 8 * 12, 97), [3, 3, 8, 12]);
    const b = rt.upload(randomValues(12, 98), [12]);
    const once = () => conv2d(x, w, { padding: 'same', bias: b, kernel: { algorithm: 'winograd', winogradTile: 4 } }).dispose();
    once();
    await rt.flush();
    const before = rt.stats();
    for (let i = 0; i < 3; i++) once();
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const t of [x, w, b]) t.dispose();
  });
});
