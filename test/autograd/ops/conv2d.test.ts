import { describe, expect, it } from 'vitest';
import { conv2d, conv2dTranspose, depthwiseConv2d, type Conv2dOptions } from '../../../src/autograd/ops/conv2d.ts';
import { mul } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../src/autograd/grad.ts';
import type { ConvAlgorithm } from '../../../src/gpu/kernels/conv2d/rules.ts';
import type { ConvTile } from '../../../src/shaders/conv2d/tiled.wgsl.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

type Pads4 = [number, number, number, number];

interface ConvCase {
  name: string;
  x: number[];
  /** HWIO, or [kh, kw, C, multiplier] when depthwise */
  w: number[];
  stride?: 1 | 2;
  padding?: 'valid' | 'same' | number | Pads4;
  padMode?: 'zeros' | 'reflect';
  groups?: number;
  dilation?: number;
  bias?: boolean;
  relu?: boolean;
  relu6?: boolean;
  depthwise?: boolean;
  algorithm?: ConvAlgorithm;
  tile?: ConvTile;
  /** Rows per lane of the subgroup forward and input-gradient kernels (where the adapter runs them). */
  rows?: 1 | 2 | 4;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** TensorFlow SAME padding, written out independently for the reflect oracle. */
function samePads(h: number, w: number, kh: number, kw: number, stride: number, dilation: number): Pads4 {
  const one = (n: number, k: number) => {
    const eff = (k - 1) * dilation + 1;
    const total = Math.max((Math.ceil(n / stride) - 1) * stride + eff - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [t, b] = one(h, kh);
  const [l, r] = one(w, kw);
  return [t!, b!, l!, r!];
}

/**
 * Mirror padding as two gathers. tf.mirrorPad's registered gradient only slices (it drops the
 * mirrored contributions), while gather's gradient is a correct scatter-add, so this is the oracle.
 */
function mirrorPadByGather(x: tf.Tensor, [t, b, l, r]: Pads4): tf.Tensor {
  const idx = (n: number, lo: number, hi: number) =>
    Array.from({ length: n + lo + hi }, (_, p) => {
      const i = Math.abs(p - lo);
      return i >= n ? 2 * (n - 1) - i : i;
    });
  const rows = tf.gather(x, tf.tensor1d(idx(x.shape[1]!, t, b), 'int32'), 1);
  return tf.gather(rows, tf.tensor1d(idx(x.shape[2]!, l, r), 'int32'), 2);
}

/** Inserts dilation-1 zeros between filter taps (differentiable), so tf.grads works for dilated convs. */
function dilateFilter(w: tf.Tensor, d: number): tf.Tensor {
  if (d === 1) return w;
  const [kh, kw, ci, co] = w.shape as number[];
  const expanded = tf.reshape(w, [kh!, 1, kw!, 1, ci!, co!]);
  const padded = tf.pad(expanded, [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0], [0, 0]]);
  const flat = tf.reshape(padded, [kh! * d, kw! * d, ci!, co!]);
  return tf.slice(flat, [0, 0, 0, 0], [(kh! - 1) * d + 1, (kw! - 1) * d + 1, ci!, co!]);
}

function tfConv(c: ConvCase, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  const stride = c.stride ?? 1;
  const dilation = c.dilation ?? 1;
  let padding: 'valid' | 'same' = 'valid';
  let input = x;
  const p = c.padding ?? 'valid';
  if (c.padMode === 'reflect') {
    const pads = p === 'same' ? samePads(x.shape[1]!, x.shape[2]!, c.w[0]!, c.w[1]!, stride, dilation) : p === 'valid' ? ([0, 0, 0, 0] as Pads4) : typeof p === 'number' ? ([p, p, p, p] as Pads4) : p;
    input = mirrorPadByGather(x, pads);
  } else if (typeof p === 'number' || Array.isArray(p)) {
    const [t, bo, l, r] = typeof p === 'number' ? [p, p, p, p] : p;
    input = tf.pad(x, [[0, 0], [t, bo], [l, r], [0, 0]]);
  } else {
    padding = p;
  }
  const filter = dilateFilter(w, dilation);
  let y: tf.Tensor;
  if (c.depthwise) y = tf.depthwiseConv2d(input as tf.Tensor4D, filter as tf.Tensor4D, stride, padding);
  else if ((c.groups ?? 1) > 1) {
    const xs = tf.split(input, c.groups!, 3);
    const ws = tf.split(filter, c.groups!, 3);
    y = tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, stride, padding)), 3);
  } else y = tf.conv2d(input as tf.Tensor4D, filter as tf.Tensor4D, stride, padding);
  if (b) y = tf.add(y, b);
  if (c.relu) y = tf.relu(y);
  if (c.relu6) y = tf.relu6(y);
  return y;
}

function ourConv(c: ConvCase, x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const opts: Conv2dOptions = {
    stride: c.stride,
    padding: c.padding,
    padMode: c.padMode,
    dilation: c.dilation,
    ...(b ? { bias: b } : {}),
    ...(c.relu ? { activation: 'relu' as const } : c.relu6 ? { activation: 'relu6' as const } : {}),
    kernel: { algorithm: c.algorithm, tile: c.tile, subgroupRows: c.rows },
  };
  return c.depthwise ? depthwiseConv2d(x, w, opts) : conv2d(x, w, { ...opts, groups: c.groups });
}

async function checkConv(c: ConvCase, seed: number): Promise<void> {
  const rt = runtime();
  const outC = c.depthwise ? c.w[2]! * c.w[3]! : c.w[3]!;
  const xs = randomValues(size(c.x), seed);
  const ws = randomValues(size(c.w), seed + 1, -1, 1);
  const bs = randomValues(outC, seed + 2);
  const tx = tf.tensor(xs, c.x);
  const tw = tf.tensor(ws, c.w);
  const tb = c.bias ? tf.tensor(bs, [outC]) : null;
  const expected = tfConv(c, tx, tw, tb);
  const gs = randomValues(size(expected.shape), seed + 3);
  const tg = tf.tensor(gs, expected.shape);

  const x = rt.upload(xs, c.x);
  const w = rt.upload(ws, c.w);
  const b = c.bias ? rt.upload(bs, [outC]) : null;
  const g = rt.upload(gs, expected.shape);
  const y = ourConv(c, x, w, b);
  expect([...y.shape], `${c.name} output shape`).toEqual(expected.shape);
  expectClose(await y.data(), await tfValues(expected), 1e-4, 1e-5, `${c.name} forward`);

  const params = b ? [x, w, b] : [x, w];
  const { value, grads } = valueAndGrad((...args: Tensor[]) => sum(mul(ourConv(c, args[0]!, args[1]!, args[2] ?? null), g)))(...params);
  const tfParams = tb ? [tx, tw, tb] : [tx, tw];
  const tfGrads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(tfConv(c, args[0]!, args[1]!, args[2] ?? null), tg)))(tfParams);
  const names = ['dx', 'dw', 'dbias'];
  for (let i = 0; i < params.length; i++) {
    expect([...grads[i]!.shape]).toEqual([...params[i]!.shape]);
    expectClose(await grads[i]!.data(), await tfValues(tfGrads[i]!), 1e-4, 1e-4, `${c.name} ${names[i]}`);
  }
  for (const t of [x, w, g, y, value, ...grads, ...(b ? [b] : [])]) t.dispose();
}

const cases: ConvCase[] = [
  // kernel sizes, strides, padding kinds, scalar (Cin 3, 13) and vec4 (Cin 8) paths
  { name: 'k3 s1 same, Cin 3 → 8, bias', x: [2, 7, 5, 3], w: [3, 3, 3, 8], padding: 'same', bias: true },
  { name: 'k3 s1 same, Cin 8 → 8 (vec4), bias + relu', x: [2, 9, 11, 8], w: [3, 3, 8, 8], padding: 'same', bias: true, relu: true },
  { name: 'k1 valid, Cin 13 → 5', x: [2, 7, 5, 13], w: [1, 1, 13, 5] },
  { name: 'k5 s2 same, 8 → 12', x: [2, 9, 11, 8], w: [5, 5, 8, 12], stride: 2, padding: 'same' },
  { name: 'k9 s1 same, 3 → 4, bias', x: [2, 9, 11, 3], w: [9, 9, 3, 4], padding: 'same', bias: true },
  { name: 'k9 valid (window = image height), 13 → 8', x: [2, 9, 11, 13], w: [9, 9, 13, 8] },
  { name: 'k3 s2 valid, 13 → 8, bias', x: [2, 9, 11, 13], w: [3, 3, 13, 8], stride: 2, bias: true },
  { name: 'k4 s1 same (odd total: extra pad bottom/right), 8 → 4', x: [2, 7, 5, 8], w: [4, 4, 8, 4], padding: 'same' },
  { name: 'k2 s2 same on odd sizes, 3 → 6', x: [2, 7, 5, 3], w: [2, 2, 3, 6], stride: 2, padding: 'same' },
  { name: 'explicit [1, 2, 0, 3], k3 s1, 8 → 8, relu', x: [2, 7, 5, 8], w: [3, 3, 8, 8], padding: [1, 2, 0, 3], relu: true },
  { name: 'explicit 2, k5 s2, 3 → 6', x: [2, 9, 11, 3], w: [5, 5, 3, 6], stride: 2, padding: 2, bias: true },
  // reflect padding, folded into the conv's index math
  { name: 'reflect same k3 s1, 8 → 8, bias + relu', x: [2, 7, 5, 8], w: [3, 3, 8, 8], padding: 'same', padMode: 'reflect', bias: true, relu: true },
  { name: 'reflect explicit [2, 1, 4, 3] (pad = W - 1) k5 s2, 3 → 4', x: [2, 7, 5, 3], w: [5, 5, 3, 4], stride: 2, padding: [2, 1, 4, 3], padMode: 'reflect' },
  { name: 'reflect same k9 s1, 13 → 4', x: [1, 9, 11, 13], w: [9, 9, 13, 4], padding: 'same', padMode: 'reflect' },
  { name: 'reflect same k3 s2, 13 → 20', x: [2, 9, 11, 13], w: [3, 3, 13, 20], stride: 2, padding: 'same', padMode: 'reflect', bias: true },
  // groups and depthwise
  { name: 'groups 2, 8 → 12 (4 per group, vec4), bias', x: [2, 7, 5, 8], w: [3, 3, 4, 12], groups: 2, padding: 'same', bias: true },
  { name: 'groups 2, 26 → 6 (13 / 3 per group), s2', x: [2, 9, 11, 26], w: [3, 3, 13, 6], groups: 2, stride: 2, padding: 'same' },
  { name: 'groups 2 reflect, 8 → 8, relu', x: [2, 7, 5, 8], w: [3, 3, 4, 8], groups: 2, padding: 'same', padMode: 'reflect', relu: true },
  { name: 'depthwise k3 s1 same, C 3 × 2, bias', x: [2, 9, 11, 3], w: [3, 3, 3, 2], depthwise: true, padding: 'same', bias: true },
  { name: 'depthwise k5 s2 reflect, C 8 × 1', x: [2, 9, 11, 8], w: [5, 5, 8, 1], depthwise: true, stride: 2, padding: 'same', padMode: 'reflect' },
  { name: 'depthwise k3 valid s2, C 13 × 1, relu', x: [2, 7, 5, 13], w: [3, 3, 13, 1], depthwise: true, stride: 2, relu: true, bias: true },
  // dilation
  { name: 'dilation 2 k3 same, 8 → 8', x: [2, 9, 11, 8], w: [3, 3, 8, 8], dilation: 2, padding: 'same', bias: true },
  { name: 'dilation 2 k3 s2 valid, 3 → 4', x: [1, 9, 11, 3], w: [3, 3, 3, 4], dilation: 2, stride: 2 },
  { name: 'dilation 2 reflect same, 13 → 5', x: [2, 9, 11, 13], w: [3, 3, 13, 5], dilation: 2, padding: 'same', padMode: 'reflect' },
  // sizes that exercise the tiling: several row/column tiles, split reductions, few rows and many channels
  { name: 'many tiles: 32×24, 16 → 80, bias + relu', x: [2, 32, 24, 16], w: [3, 3, 16, 80], padding: 'same', bias: true, relu: true },
  { name: 'small image, many channels: 4×3, 40 → 72', x: [2, 4, 3, 40], w: [3, 3, 40, 72], padding: 'same', bias: true },
  { name: 'odd channel counts over several column tiles: 37 → 37, s2', x: [1, 7, 5, 37], w: [3, 3, 37, 37], stride: 2, padding: 'same' },
  // few pixels: subgroup kernels with 1 or 2 rows per lane (VGG's conv4/conv5 on coarse scales), forced and by rule
  { name: 'subgroup rows 1: 2×2 px, 64 → 40, bias + relu', x: [1, 2, 2, 64], w: [3, 3, 64, 40], padding: 'same', bias: true, relu: true, rows: 1 },
  { name: 'subgroup rows 1, several row blocks: s2 reflect, 8 → 12', x: [2, 5, 7, 8], w: [3, 3, 8, 12], stride: 2, padding: 'same', padMode: 'reflect', bias: true, rows: 1 },
  { name: 'subgroup rows 2: 4×4 px, 36 → 72 (two column tiles), bias', x: [1, 4, 4, 36], w: [3, 3, 36, 72], padding: 'same', bias: true, rows: 2 },
  { name: 'subgroup rows 2: groups 2, dilation 2, 13 → 3 per group (scalar)', x: [2, 5, 3, 26], w: [3, 3, 13, 6], groups: 2, dilation: 2, padding: 'same', rows: 2 },
  { name: 'few pixels by rule (1 row per lane): 3×2 px, 16 → 24, relu', x: [1, 3, 2, 16], w: [3, 3, 16, 24], padding: 'same', relu: true },
  { name: 'few pixels by rule (2 rows per lane): batch 2 of 3×2 px, 24 → 16, bias', x: [2, 3, 2, 24], w: [3, 3, 24, 16], padding: 'same', bias: true },
  // the tiled workgroup-memory kernels (the path for adapters without 8-wide subgroups), every tile shape
  { name: 'tiled: k3 s1 same reflect, 8 → 8 (vec4), bias + relu', x: [2, 9, 11, 8], w: [3, 3, 8, 8], padding: 'same', padMode: 'reflect', bias: true, relu: true, algorithm: 'tiled' },
  { name: 'tiled: k5 s2 explicit, 3 → 13 (scalar), bias', x: [2, 9, 11, 3], w: [5, 5, 3, 13], stride: 2, padding: [2, 1, 0, 3], bias: true, algorithm: 'tiled' },
  { name: 'tiled: groups 2 dilation 2, 26 → 40', x: [2, 9, 11, 26], w: [3, 3, 13, 40], groups: 2, dilation: 2, padding: 'same', algorithm: 'tiled' },
  { name: 'tiled: many tiles 32×24, 16 → 80 (tile 64×64)', x: [2, 32, 24, 16], w: [3, 3, 16, 80], padding: 'same', bias: true, algorithm: 'tiled' },
  { name: 'tiled: 8×8 register blocks, 8 → 16, s2 reflect', x: [2, 9, 11, 8], w: [3, 3, 8, 16], stride: 2, padding: 'same', padMode: 'reflect', algorithm: 'tiled', tile: { tm: 64, tn: 32, tk: 8, rm: 8, rn: 8 } },
  { name: 'tiled: depthwise k3 same s2, C 3 × 2', x: [2, 7, 5, 3], w: [3, 3, 3, 2], depthwise: true, stride: 2, padding: 'same', algorithm: 'tiled' },
  // the direct (one thread per output) kernels with every option
  { name: 'direct: k3 s2 same reflect, 3 → 5, bias + relu', x: [2, 7, 5, 3], w: [3, 3, 3, 5], stride: 2, padding: 'same', padMode: 'reflect', bias: true, relu: true, algorithm: 'direct' },
  { name: 'direct: k5 dilation 2, explicit, 8 → 4', x: [2, 9, 11, 8], w: [5, 5, 8, 4], dilation: 2, padding: [4, 3, 2, 1], algorithm: 'direct' },
  { name: 'direct: groups 2 s2 valid, 8 → 6', x: [2, 9, 11, 8], w: [3, 3, 4, 6], groups: 2, stride: 2, bias: true, algorithm: 'direct' },
  // fused ReLU6 (Magenta's style predictor) on every algorithm: outputs above 6 are clipped, their gradient is zero
  { name: 'relu6: k3 same, 16 → 12, bias', x: [2, 7, 5, 16], w: [3, 3, 16, 12], padding: 'same', bias: true, relu6: true },
  { name: 'relu6 tiled: k3 s2 same, 13 → 8', x: [2, 9, 11, 13], w: [3, 3, 13, 8], stride: 2, padding: 'same', relu6: true, algorithm: 'tiled' },
  { name: 'relu6 direct: depthwise k3 same, C 8 × 1, bias', x: [2, 7, 5, 8], w: [3, 3, 8, 1], depthwise: true, padding: 'same', bias: true, relu6: true },
  { name: 'relu6 direct: k3 valid, 8 → 5', x: [1, 7, 5, 8], w: [3, 3, 8, 5], relu6: true, algorithm: 'direct' },
];

describe('conv2d: forward and gradients (x, w, bias) against tfjs-cpu', () => {
  cases.forEach((c, i) => it(c.name, () => checkConv(c, 100 + 10 * i)));
});

interface TransposeCase {
  name: string;
  /** [N, H, W, Cin] */
  x: number[];
  /** [kh, kw, Cout, Cin] */
  w: number[];
  stride: 1 | 2;
  padding: 'same' | 'valid';
  outputShape?: number[];
  algorithm?: ConvAlgorithm;
}

async function checkTranspose(c: TransposeCase, seed: number): Promise<void> {
  const rt = runtime();
  const [n, h, wd] = c.x as [number, number, number, number];
  const [kh, kw, cout] = c.w as [number, number, number, number];
  const outShape = (c.outputShape ??
    (c.padding === 'same' ? [n, h * c.stride, wd * c.stride, cout] : [n, (h - 1) * c.stride + kh, (wd - 1) * c.stride + kw, cout])) as [number, number, number, number];
  const xs = randomValues(size(c.x), seed);
  const ws = randomValues(size(c.w), seed + 1, -1, 1);
  const gs = randomValues(size(outShape), seed + 2);
  const theirs = (x: tf.Tensor, w: tf.Tensor) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, outShape, c.stride, c.padding);
  const tx = tf.tensor(xs, c.x);
  const tw = tf.tensor(ws, c.w);
  const tg = tf.tensor(gs, outShape);
  const x = rt.upload(xs, c.x);
  const w = rt.upload(ws, c.w);
  const g = rt.upload(gs, outShape);
  const opts = { stride: c.stride, padding: c.padding, outputShape: c.outputShape, kernel: { algorithm: c.algorithm } };
  const y = conv2dTranspose(x, w, opts);
  expect([...y.shape]).toEqual(outShape);
  expectClose(await y.data(), await tfValues(theirs(tx, tw)), 1e-4, 1e-5, `${c.name} forward`);
  const { grads } = valueAndGrad((x: Tensor, w: Tensor) => sum(mul(conv2dTranspose(x, w, opts), g)))(x, w);
  const [gx, gw] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(theirs(x, w), tg)))([tx, tw]);
  expectClose(await grads[0]!.data(), await tfValues(gx!), 1e-4, 1e-4, `${c.name} dx`);
  expectClose(await grads[1]!.data(), await tfValues(gw!), 1e-4, 1e-4, `${c.name} dw`);
}

const transposeCases: TransposeCase[] = [
  { name: 'k3 s2 same, 8 → 6 (output 2× input)', x: [2, 5, 4, 8], w: [3, 3, 6, 8], stride: 2, padding: 'same' },
  { name: 'k4 s2 same, 3 → 13', x: [2, 7, 5, 3], w: [4, 4, 13, 3], stride: 2, padding: 'same' },
  { name: 'k3 s2 same with odd outputShape 13×9, 13 → 8', x: [2, 7, 5, 13], w: [3, 3, 8, 13], stride: 2, padding: 'same', outputShape: [2, 13, 9, 8] },
  { name: 'k5 s1 same, 13 → 4', x: [2, 7, 5, 13], w: [5, 5, 4, 13], stride: 1, padding: 'same' },
  { name: 'k3 s2 valid, 8 → 8', x: [1, 4, 3, 8], w: [3, 3, 8, 8], stride: 2, padding: 'valid' },
  { name: 'tiled: k3 s2 same, 8 → 6', x: [2, 5, 4, 8], w: [3, 3, 6, 8], stride: 2, padding: 'same', algorithm: 'tiled' },
];

describe('conv2dTranspose: forward and gradients against tf.conv2dTranspose', () => {
  transposeCases.forEach((c, i) => it(c.name, () => checkTranspose(c, 500 + 10 * i)));
});

describe('conv2d: shape errors throw before any dispatch, naming the op and the shapes', () => {
  it('rejects bad shapes and options', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 5 * 5 * 3, 1), [2, 5, 5, 3]);
    const w = rt.upload(randomValues(3 * 3 * 4 * 8, 2), [3, 3, 4, 8]);
    const w3 = rt.upload(randomValues(3 * 3 * 3 * 8, 3), [3, 3, 3, 8]);
    const wRank3 = rt.upload(randomValues(3 * 3 * 3, 4), [3, 3, 3]);
    const b7 = rt.upload(randomValues(7, 5), [7]);
    const wT = rt.upload(randomValues(3 * 3 * 4 * 3, 6), [3, 3, 4, 3]);
    const before = rt.stats().dispatches;
    expect(() => conv2d(x, w)).toThrow(/conv2d: filter expects 4 input channels per group but x has 3 channels .*x \[2, 5, 5, 3\], filter \[3, 3, 4, 8\]/);
    expect(() => conv2d(x, wRank3)).toThrow(/conv2d: filter must have rank 4 .*filter \[3, 3, 3\]/);
    expect(() => conv2d(wRank3, w3)).toThrow(/conv2d: x must be NHWC with rank 4 .*x \[3, 3, 3\]/);
    expect(() => conv2d(x, w3, { padding: 5, padMode: 'reflect' })).toThrow(/conv2d: reflect padding \[5, 5, 5, 5\] must be smaller than the input's height 5 and width 5 .*x \[2, 5, 5, 3\]/);
    expect(() => conv2d(x, w3, { padding: [0, 0, 5, 0], padMode: 'reflect' })).toThrow(/reflect padding \[0, 0, 5, 0\]/);
    expect(() => conv2d(x, w3, { bias: b7 })).toThrow(/conv2d: bias has shape \[7\], expected \[8\]/);
    expect(() => conv2d(x, w3, { groups: 2 })).toThrow(/conv2d: 2 groups must divide both 3 input and 8 output channels/);
    expect(() => conv2d(x, w3, { stride: 3 as 2 })).toThrow(/conv2d: stride must be 1 or 2, got 3/);
    expect(() => conv2d(x, w3, { padding: [1, 1, 1] as unknown as number })).toThrow(/conv2d: padding must be/);
    expect(() => conv2d(x, w3, { dilation: 3 })).toThrow(/conv2d: the 7x7 window does not fit the padded input .*x \[2, 5, 5, 3\]/);
    expect(() => conv2d(x, w3, { activation: 'gelu' as 'relu' })).toThrow(/conv2d: unknown activation 'gelu'/);
    expect(() => depthwiseConv2d(x, w)).toThrow(/depthwiseConv2d: x \[2, 5, 5, 3\] must be NHWC with 4 channels to match filter \[3, 3, 4, 8\]/);
    expect(() => depthwiseConv2d(x, wRank3)).toThrow(/depthwiseConv2d: filter must have rank 4/);
    expect(() => conv2dTranspose(x, w, { stride: 2 })).toThrow(/conv2dTranspose: x \[2, 5, 5, 3\] has 3 channels but filter \[3, 3, 4, 8\] expects 8/);
    expect(() => conv2dTranspose(x, wT, { stride: 2, padding: 'same', outputShape: [2, 7, 10, 4] })).toThrow(/conv2dTranspose: outputShape \[2, 7, 10, 4\] convolved with filter \[3, 3, 4, 3\] gives 4x5, not x's 5x5/);
    expect(() => conv2dTranspose(x, wT, { stride: 2, outputShape: [2, 10, 10, 5] })).toThrow(/conv2dTranspose: outputShape \[2, 10, 10, 5\] must be \[2, H, W, 4\]/);
    expect(rt.stats().dispatches).toBe(before);
  });
});

describe('conv2d: memory', () => {
  it('frees every intermediate of forward and backward (bias, relu, reflect, stride 2)', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 9 * 11 * 8, 7), [2, 9, 11, 8]);
    const w = rt.upload(randomValues(3 * 3 * 8 * 12, 8), [3, 3, 8, 12]);
    const b = rt.upload(randomValues(12, 9), [12]);
    const f = (x: Tensor, w: Tensor, b: Tensor) => sum(conv2d(x, w, { stride: 2, padding: 'same', padMode: 'reflect', bias: b, activation: 'relu' }));
    const once = async () => {
      const { value, grads } = valueAndGrad(f)(x, w, b);
      await value.item();
      value.dispose();
      grads.forEach((t) => t.dispose());
    };
    await once();
    await rt.flush();
    const before = rt.stats();
    for (let i = 0; i < 3; i++) await once();
    await rt.flush();
    const after = rt.stats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });
});
