import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { conv2d, conv2dTranspose } from '../../src/autograd/ops/conv2d.ts';
import { gram } from '../../src/autograd/ops/gram.ts';
import { mul } from '../../src/autograd/ops/elementwise.ts';
import { sum } from '../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../src/autograd/grad.ts';
import {
  adapterKey,
  fileTuneStore,
  loadTuning,
  saveTuning,
  tuneRequests,
  tuneWorkload,
  type TuneClock,
  type TuneRequest,
  type TuneStore,
} from '../../src/gpu/autotune.ts';
import { createGpuContext } from '../../src/gpu/device.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../src/gpu/half.ts';
import { conv2dGeometry } from '../../src/gpu/kernels/conv2d/geometry.ts';
import { convCandidateIds } from '../../src/gpu/kernels/conv2d/candidates.ts';
import { conv2dInputGradKernel } from '../../src/gpu/kernels/conv2d/launch.ts';
import { hasEightWideSubgroups } from '../../src/gpu/kernels/conv2d/rules.ts';
import { gramCandidateIds } from '../../src/gpu/kernels/gram.ts';
import { launchMatmul, MATMUL_CANDIDATE_IDS } from '../../src/gpu/kernels/matmul.ts';
import { GpuRuntime } from '../../src/gpu/runtime.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { launchesOf } from '../helpers/launches.ts';
import { expectClose, randomValues, tf, tfValues } from '../helpers/oracle.ts';

const runtime = useRuntime();
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

let tempDir = '';
afterAll(async () => {
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});
async function tempPath(name: string): Promise<string> {
  tempDir ||= await mkdtemp(join(tmpdir(), 'pastiche-autotune-'));
  return join(tempDir, name);
}

/** A store in memory, to test persistence without the file system. */
function memoryStore(initial: string | null = null): TuneStore & { text: string | null } {
  const store = {
    where: 'memory',
    text: initial,
    load: () => Promise.resolve(store.text),
    save: (t: string) => {
      store.text = t;
      return Promise.resolve();
    },
  };
  return store;
}

/** A clock that reports scripted times for whichever candidate `record` ran, counting samples. */
function fakeClock(times: Record<string, number>) {
  let last = '';
  const samples: Record<string, number> = {};
  const clock: TuneClock = {
    name: 'fake',
    time(_rt, record) {
      record();
      samples[last] = (samples[last] ?? 0) + 1;
      return Promise.resolve(times[last]!);
    },
  };
  const request = (family: string, shape: string): TuneRequest => ({
    family,
    shape,
    prepare: () => ({
      candidates: Object.keys(times).map((id) => ({ id, run: () => void (last = id) })),
      dispose: () => undefined,
    }),
  });
  return { clock, samples, request };
}

/** Records every kernel launch's name and variant while `fn` runs. */
/** The launch-name/variant pattern of a candidate id, to check that a tuned choice is what runs. */
function variantPattern(id: string): RegExp {
  if (id === 'direct') return /^conv2d_direct:half=\w+,kind=(fwd|dx|dw)$/;
  if (id.startsWith('winograd/')) return new RegExp(`^conv2d_winograd:flip=\\w+,half=\\w+,stage=filter,tile=${id[9]},vec=\\w+$`);
  if (id.startsWith('narrow/')) {
    const [, rows, cols] = /^r(\d)(?:c(\d+))?$/.exec(id.split('/')[1]!)!;
    // The column tile applies to few input channels only (and is clamped to the channel count).
    return new RegExp(`^conv2d_narrow:cols=(4|8|${cols ?? 16}),half=\\w+,rows=${rows},`);
  }
  if (id.startsWith('subgroup/')) {
    const [, width, rows = '4'] = /^(\d+)(?:r(\d))?$/.exec(id.split('/')[1]!)!;
    // The filter gradient has no rows parameter (always 4).
    const rowsPart = rows === '4' ? '(rows=4,)?' : `rows=${rows},`;
    return new RegExp(`^conv2d_subgroup:(half=\\w+,)?kind=(fwd|dx|dw),${rowsPart}tn=${width},`);
  }
  const [tm, tn] = id.split('/')[1]!.split('x');
  return new RegExp(`^conv2d_tiled:kind=(fwd|dx|dw),tile=\\(rm=4,rn=4,tk=16,tm=${tm},tn=${tn}\\)`);
}

beforeEach(() => runtime().tuning.clear());

describe('autotune: choosing, persisting and reloading', () => {
  it('keys choices by the adapter identity, driver description included', () => {
    const info = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'Mesa 25.0.7' };
    expect(adapterKey(info)).not.toBe(adapterKey({ ...info, description: 'Mesa 25.1.0' }));
    expect(runtime().tuning.adapter).toBe(adapterKey(runtime().context.adapterInfo));
  });

  it('picks the fastest candidate, samples a far slower one only once, and skips shapes already tuned', async () => {
    const rt = runtime();
    const { clock, samples, request } = fakeClock({ slow: 9, fastest: 2, middle: 3, hopeless: 50 });
    const [r] = await tuneRequests(rt, [request('fam', 'shape A')], { clock, samples: 3, persist: false });
    expect(r).toMatchObject({ choice: 'fastest', measured: true, ms: { slow: 9, fastest: 2, middle: 3, hopeless: 50 } });
    expect(rt.tuning.lookup('fam', 'shape A')).toBe('fastest');
    // 'slow' came first (nothing to compare with), 'hopeless' is > 3× the best: one sample.
    expect(samples).toEqual({ slow: 3, fastest: 3, middle: 3, hopeless: 1 });
    const again = await tuneRequests(rt, [request('fam', 'shape A')], { clock });
    expect(again[0]!.measured).toBe(false);
    expect(samples.fastest).toBe(3);
  });

  it('times runs near the clock resolution several to a sample and reports the time per run', async () => {
    const rt = runtime();
    let runs = 0;
    // Every timed call costs 0.25 ms however many runs it holds: per run, more runs per sample look faster.
    const clock: TuneClock = {
      name: 'fake',
      time(_rt, record) {
        record();
        return Promise.resolve(0.25);
      },
    };
    const request: TuneRequest = { family: 'fam', shape: 'tiny', prepare: () => ({ candidates: [{ id: 'only', run: () => void runs++ }], dispose: () => undefined }) };
    const [r] = await tuneRequests(rt, [request], { clock, samples: 3, persist: false });
    // warm-up 1, first sample 1, then 3 samples of 8 runs (2 ms / 0.25 ms).
    expect(runs).toBe(1 + 1 + 3 * 8);
    expect(r!.ms.only).toBeCloseTo(0.25 / 8);
  });

  it('persists to a JSON file atomically, keeps other adapters, and reloads', async () => {
    const rt = runtime();
    const path = await tempPath('cache.json');
    const other = { format: 'pastiche-autotune', version: 1, adapters: { 'some | other | gpu | driver 1': { 'fam|x': { choice: 'b', ms: { b: 1 }, clock: 'gpu', date: '2020-01-01' } } } };
    await writeFile(path, JSON.stringify(other));
    const { clock, request } = fakeClock({ a: 5, b: 4 });
    await tuneRequests(rt, [request('fam', 'shape B')], { clock, persist: false });
    const store = fileTuneStore(path);
    await saveTuning(rt, { store });
    const written = JSON.parse(await readFile(path, 'utf8'));
    expect(written.adapters['some | other | gpu | driver 1']).toEqual(other.adapters['some | other | gpu | driver 1']);
    expect(written.adapters[rt.tuning.adapter]['fam|shape B']).toMatchObject({ choice: 'b', clock: 'fake' });

    rt.tuning.clear();
    expect(rt.tuning.lookup('fam', 'shape B')).toBeUndefined();
    expect(await loadTuning(rt, { store })).toBe(1);
    expect(rt.tuning.lookup('fam', 'shape B')).toBe('b');
    expect(rt.tuning.lookup('fam', 'x')).toBeUndefined(); // another adapter's choice
  });

  it('ignores a corrupt or foreign cache with a clear warning instead of failing, and rewrites it', async () => {
    const rt = runtime();
    const cases: [string, RegExp][] = [
      ['{"format": "pastiche-autotune", "vers', /not valid JSON/],
      ['{"hello": 1}', /not a pastiche-autotune file/],
      ['{"format": "pastiche-autotune", "version": 99, "adapters": {}}', /version 99/],
      [`{"format": "pastiche-autotune", "version": 1, "adapters": {"${rt.tuning.adapter}": {"fam|s": {"choice": 3}}}}`, /entry 'fam\|s' .* malformed/],
    ];
    for (const [text, reason] of cases) {
      const path = await tempPath('corrupt.json');
      await writeFile(path, text);
      const warnings: string[] = [];
      const store = fileTuneStore(path);
      expect(await loadTuning(rt, { store, warn: (m) => warnings.push(m) })).toBe(0);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(path);
      expect(warnings[0]).toMatch(reason);
      expect(warnings[0]).toMatch(/ignoring .* built-in rules/);
      rt.tuning.set('fam', 'kept', { choice: 'a', ms: { a: 1 }, clock: 'fake', date: 'now' });
      await saveTuning(rt, { store, warn: () => undefined });
      rt.tuning.clear();
      expect(await loadTuning(rt, { store, warn: (m) => warnings.push(m) })).toBe(1);
      expect(warnings).toHaveLength(1);
    }
  });

  it('a missing cache is empty without a warning; PASTICHE_TUNE_CACHE=off persists nothing', async () => {
    const rt = runtime();
    const warn = vi.fn();
    expect(await loadTuning(rt, { store: fileTuneStore(await tempPath('absent.json')), warn })).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    expect(await loadTuning(rt, { store: memoryStore(), warn })).toBe(0);
    const previous = process.env.PASTICHE_TUNE_CACHE;
    process.env.PASTICHE_TUNE_CACHE = 'off';
    try {
      expect(await saveTuning(rt)).toBeNull();
    } finally {
      process.env.PASTICHE_TUNE_CACHE = previous;
    }
  });
});

describe('autotune: kernels report their shapes and consult the table', () => {
  it('captures each conv pass and matmul shape once, only while capturing', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 6 * 5 * 8, 1), [2, 6, 5, 8]);
    const w = rt.upload(randomValues(9 * 8 * 12, 2), [3, 3, 8, 12]);
    // Outside a capture, launching records nothing.
    conv2d(x, w, { padding: 'same' }).dispose();
    expect(await rt.tuning.captureShapes(() => undefined)).toEqual([]);
    const captured = await rt.tuning.captureShapes(async () => {
      const { value, grads } = valueAndGrad((x: Tensor, w: Tensor) => sum(conv2d(x, w, { padding: 'same' })))(x, w);
      for (const t of [value, ...grads]) t.dispose();
      await rt.sync();
    });
    expect(captured.map((r) => `${r.family} ${r.shape}`)).toEqual([
      'conv2d fwd 3x3 s1 8>12 px2^6',
      'conv2d dx 3x3 s1 8>12 px2^6',
      'conv2d dw 3x3 s1 8>12 px2^6',
    ]);
    // Forced variants are not tuning candidates.
    const forced = await rt.tuning.captureShapes(() => conv2d(x, w, { kernel: { algorithm: 'direct' } }).dispose());
    expect(forced).toEqual([]);
    expect(rt.tuning.capturing).toBe(false);
    x.dispose();
    w.dispose();
  });

  it('tuneWorkload measures every captured shape and conv2d then launches the chosen variant', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(1 * 8 * 8 * 8, 3), [1, 8, 8, 8]);
    const w = rt.upload(randomValues(9 * 8 * 8, 4), [3, 3, 8, 8]);
    // A clock under which the 128×16 tiled kernel wins (it does not on lavapipe).
    let current = '';
    const clock: TuneClock = {
      name: 'fake',
      time(_rt, record) {
        current = launchesOf(rt, record).join(',');
        return Promise.resolve(current.includes('tm=128,tn=16') ? 1 : 2);
      },
    };
    const results = await tuneWorkload(rt, () => conv2d(x, w, { padding: 'same' }).dispose(), { clock, persist: false });
    expect(results.map((r) => [r.shape, r.choice])).toEqual([['fwd 3x3 s1 8>8 px2^6', 'tiled/128x16']]);
    expect(Object.keys(results[0]!.ms).sort()).toEqual(convCandidateIds(rt, false, { kind: 'fwd', g: conv2dGeometry('conv2d', [1, 8, 8, 8], [3, 3, 8, 8], { padding: 'same' }) }).sort());
    const launched = launchesOf(rt, () => conv2d(x, w, { padding: 'same' }).dispose());
    expect(launched).toEqual([expect.stringMatching(/^conv2d_tiled:kind=fwd,tile=\(rm=4,rn=4,tk=16,tm=128,tn=16\)/)]);
    // Another size class is not covered by the choice: the rule applies.
    const big = rt.upload(randomValues(1 * 32 * 32 * 8, 5), [1, 32, 32, 8]);
    const rule = launchesOf(rt, () => conv2d(big, w, { padding: 'same' }).dispose());
    expect(rule[0]).not.toMatch(/tm=128,tn=16/);
    // An explicit algorithm always wins over the table.
    expect(launchesOf(rt, () => conv2d(x, w, { padding: 'same', kernel: { algorithm: 'direct' } }).dispose())).toEqual(['conv2d_direct:half=false,kind=fwd']);
    // An unknown id (another version's cache) falls back to the rule.
    rt.tuning.set('conv2d', 'fwd 3x3 s1 8>8 px2^6', { choice: 'warp-speed', ms: {}, clock: 'fake', date: 'now' });
    expect(launchesOf(rt, () => conv2d(x, w, { padding: 'same' }).dispose())[0]).not.toMatch(/tm=128,tn=16/);
    for (const t of [x, w, big]) t.dispose();
  });
});

describe('autotune: async work', () => {
  it('may set tensors up, await, then launch (as npm run bench -- --tune does); nothing it holds is freed under it', async () => {
    const rt = runtime();
    const w = rt.upload(randomValues(9 * 8 * 4, 71), [3, 3, 8, 4]);
    const clock: TuneClock = {
      name: 'fake',
      time(_rt, record) {
        record();
        return Promise.resolve(1);
      },
    };
    const liveBefore = rt.stats().liveTensors;
    const results = await tuneWorkload(rt, 
      async () => {
        const x = rt.upload(randomValues(6 * 6 * 8, 72), [1, 6, 6, 8]);
        await rt.sync();
        conv2d(x, w, { padding: 'same' }).dispose();
        x.dispose();
      },
      { clock, persist: false },
    );
    expect(results.map((r) => r.shape)).toEqual(['fwd 3x3 s1 8>4 px2^5']);
    await rt.sync();
    expect(rt.stats().liveTensors).toBe(liveBefore);
    w.dispose();
  });
});

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  stride?: 1 | 2;
  padding: 'same' | 'valid' | number;
  padMode?: 'zeros' | 'reflect';
  activation?: 'relu' | 'relu6';
}

/** The tfjs-cpu oracle: reflect padding by mirrorPad (forward only), activation by tf.relu / tf.relu6. */
function tfConv(c: ConvCase, x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  let input = x;
  let padding: 'same' | 'valid' = c.padding === 'same' ? 'same' : 'valid';
  if (typeof c.padding === 'number') {
    const p = c.padding;
    input = c.padMode === 'reflect' ? tf.mirrorPad(x, [[0, 0], [p, p], [p, p], [0, 0]], 'reflect') : tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]);
    padding = 'valid';
  }
  const y = tf.conv2d(input as tf.Tensor4D, w as tf.Tensor4D, c.stride ?? 1, padding);
  return c.activation === 'relu' ? tf.relu(y) : c.activation === 'relu6' ? tf.relu6(y) : y;
}

describe('autotune: every variant a choice can name gives the same results (tfjs-cpu oracle)', () => {
  const cases: ConvCase[] = [
    { name: 'RGB in: 9×9 reflect, 3 → 8, relu', x: [1, 9, 11, 3], w: [9, 9, 3, 8], padding: 4, padMode: 'reflect', activation: 'relu' },
    { name: 'RGB out: 9×9, 8 → 3', x: [1, 9, 11, 8], w: [9, 9, 8, 3], padding: 4 },
    { name: 'stride 2, 13 → 20, relu6', x: [2, 9, 7, 13], w: [3, 3, 13, 20], stride: 2, padding: 'same', activation: 'relu6' },
    { name: 'many tiles, 16 → 40', x: [1, 20, 18, 16], w: [3, 3, 16, 40], padding: 'same' },
  ];
  for (const c of cases) {
    it(`conv2d ${c.name}: forward, dx and dw under each tuned choice`, async () => {
      const rt = runtime();
      const xs = randomValues(size(c.x), 11);
      const ws = randomValues(size(c.w), 12, -1, 1);
      const tx = tf.tensor(xs, c.x);
      const tw = tf.tensor(ws, c.w);
      const expected = tfConv(c, tx, tw);
      const gs = randomValues(size(expected.shape), 13);
      const tg = tf.tensor(gs, expected.shape);
      const [gx, gw] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tfConv({ ...c, padMode: 'zeros' }, x, w), tg)))([tx, tw]);
      const want = { y: await tfValues(expected), dx: await tfValues(gx!), dw: await tfValues(gw!) };
      const x = rt.upload(xs, c.x);
      const w = rt.upload(ws, c.w);
      const g = rt.upload(gs, expected.shape);
      const opts = { stride: c.stride, padding: c.padding, padMode: c.padMode, ...(c.activation ? { activation: c.activation } : {}) };
      const captured = await rt.tuning.captureShapes(() => {
        valueAndGrad((x: Tensor, w: Tensor) => sum(mul(conv2d(x, w, opts), g)))(x, w);
      });
      expect(captured.map((r) => r.shape.split(' ')[0])).toEqual(['fwd', 'dx', 'dw']);
      // Every id that runs the forward shape (winograd only where it applies; the gradients then take their rule).
      for (const id of convCandidateIds(rt, false, { kind: 'fwd', g: conv2dGeometry('conv2d', c.x, c.w, opts) })) {
        for (const r of captured) rt.tuning.set('conv2d', r.shape, { choice: id, ms: {}, clock: 'test', date: 'now' });
        let y: Tensor | null = null;
        const launched = launchesOf(rt, () => (y = conv2d(x, w, opts)));
        expect(launched[0], id).toMatch(variantPattern(id));
        y = y!;
        // F(4×4)'s transforms round more (coefficients up to 8 and 1/24): its stated tolerance.
        if (id === 'winograd/4x4') expectClose(await y.data(), want.y, 1e-3, 1e-4, `${id} forward`);
        else expectClose(await y.data(), want.y, 1e-4, 1e-5, `${id} forward`);
        y.dispose();
        // tf.mirrorPad's gradient is not a true adjoint, so gradients are checked on zero padding only.
        if (c.padMode !== 'reflect') {
          const { value, grads } = valueAndGrad((x: Tensor, w: Tensor) => sum(mul(conv2d(x, w, opts), g)))(x, w);
          expectClose(await grads[0]!.data(), want.dx, id === 'winograd/4x4' ? 1e-3 : 1e-4, 1e-4, `${id} dx`);
          expectClose(await grads[1]!.data(), want.dw, 1e-4, 1e-4, `${id} dw`);
          for (const t of [value, ...grads]) t.dispose();
        }
      }
      for (const t of [x, w, g]) t.dispose();
    });
  }

  it('conv2dTranspose (the dx kernels) under each tuned choice', async () => {
    const rt = runtime();
    const xShape: [number, number, number, number] = [1, 5, 4, 8];
    const wShape: [number, number, number, number] = [3, 3, 6, 8];
    const xs = randomValues(size(xShape), 21);
    const ws = randomValues(size(wShape), 22, -1, 1);
    const want = await tfValues(tf.conv2dTranspose(tf.tensor(xs, xShape) as tf.Tensor4D, tf.tensor(ws, wShape) as tf.Tensor4D, [1, 10, 8, 6], 2, 'same'));
    const x = rt.upload(xs, xShape);
    const w = rt.upload(ws, wShape);
    const captured = await rt.tuning.captureShapes(() => conv2dTranspose(x, w, { stride: 2, padding: 'same' }).dispose());
    expect(captured.map((r) => r.shape)).toEqual(['dx 3x3 s2 6>8 px2^4']);
    for (const id of convCandidateIds(rt, false, { kind: 'dx', g: conv2dGeometry('conv2d', [1, 10, 8, 6], wShape, { stride: 2, padding: 'same' }) })) {
      rt.tuning.set('conv2d', captured[0]!.shape, { choice: id, ms: {}, clock: 'test', date: 'now' });
      let y: Tensor | null = null;
      expect(launchesOf(rt, () => (y = conv2dTranspose(x, w, { stride: 2, padding: 'same' })))[0], id).toMatch(variantPattern(id));
      y = y!;
      expectClose(await y.data(), want, 1e-4, 1e-5, `${id} transposed`);
      y.dispose();
    }
    x.dispose();
    w.dispose();
  });

  const matmulCases: [string, number, number, number, boolean, boolean, number, boolean][] = [
    // name, M, N, K, transA, transB, batch, symmetric (Gram-like AᵀA)
    ['70×65 · K 300', 70, 65, 300, false, false, 1, false],
    ['batch 2, 36×132 · K 40, Bᵀ', 36, 132, 40, false, true, 2, false],
    ['Gram-like AᵀA, 68 channels over 150 pixels, batch 2', 68, 68, 150, true, false, 2, true],
  ];
  for (const [name, m, n, k, tA, tB, batch, symmetric] of matmulCases) {
    it(`matmul ${name} under each tuned choice`, async () => {
      const rt = runtime();
      const aShape = tA ? [batch, k, m] : [batch, m, k];
      const bShape = tB ? [batch, n, k] : [batch, k, n];
      const as = randomValues(size(aShape), 31);
      const bs = symmetric ? as : randomValues(size(bShape), 32);
      const want = await tfValues(tf.matMul(tf.tensor(as, aShape), tf.tensor(bs, bShape), tA, tB));
      const a = rt.upload(as, aShape);
      const b = symmetric ? a : rt.upload(bs, bShape);
      const launch = () =>
        launchMatmul({
          op: 'test',
          a: { tensor: a, outer: m * k, inner: 0 },
          b: { tensor: b, outer: k * n, inner: 0 },
          transA: tA,
          transB: tB,
          m,
          n,
          k,
          outer: batch,
          inner: 1,
          scale: 1,
          symmetric,
          outShape: [batch, m, n],
        });
      const captured = await rt.tuning.captureShapes(() => launch().dispose());
      expect(captured).toHaveLength(1);
      for (const id of MATMUL_CANDIDATE_IDS) {
        rt.tuning.set('matmul', captured[0]!.shape, { choice: id, ms: {}, clock: 'test', date: 'now' });
        let c: Tensor | null = null;
        const launched = launchesOf(rt, () => (c = launch()));
        // The tile is in the variant key; '/nosplit' means no split-K sum after the product.
        expect(launched[0], id).toContain(`,tile=${id.split('/')[0]!.slice(1)},`);
        if (id.endsWith('/nosplit')) expect(launched, id).toHaveLength(1);
        c = c!;
        expectClose(await c.data(), want, 1e-4, 2e-6 * Math.max(8, k), `${id}`);
        c.dispose();
      }
      a.dispose();
      if (b !== a) b.dispose();
    });
  }
});

describe('autotune: the Gram matrix paths, forward and backward', () => {
  /** The oracle: FᵀF / (C·H·W) with tf.matMul on the reshaped features. */
  const tfGram = (f: tf.Tensor) => {
    const [n, h, w, c] = f.shape as [number, number, number, number];
    const flat = tf.reshape(f, [n, h * w, c]);
    return tf.div(tf.matMul(flat, flat, true, false), c * h * w);
  };
  /** The path a launch list shows: the subgroup kernels or the tiled matmul. */
  const pathOf = (launched: string[]) => (launched.some((l) => l.startsWith('gram_')) ? 'subgroup' : launched.some((l) => l.startsWith('matmul:')) ? 'matmul' : 'none');

  const cases: [string, [number, number, number, number]][] = [
    ['batch 2, 7×5 pixels, 36 channels', [2, 7, 5, 36]],
    ['17×15 pixels (split over pixel chunks), 16 channels', [1, 17, 15, 16]],
  ];
  for (const [name, shape] of cases) {
    it(`${name}: each candidate, forward and gradient, matches tfjs-cpu and is what runs`, async () => {
      const rt = runtime();
      const [n, h, w, c] = shape;
      const fs = randomValues(size(shape), 81);
      const ws = randomValues(n * c * c, 82);
      const want = await tfValues(tfGram(tf.tensor(fs, shape)));
      const wantGrad = await tfValues(tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tfGram(f), tf.tensor(ws, [n, c, c]))))(tf.tensor(fs, shape)));
      const f = rt.upload(fs, shape);
      const wt = rt.upload(ws, [n, c, c]);
      const step = () => valueAndGrad((f: Tensor) => sum(mul(gram(f), wt)))(f);
      const captured = await rt.tuning.captureShapes(async () => {
        const { value, grads } = step();
        for (const t of [value, ...grads]) t.dispose();
        await rt.sync();
      });
      const ids = gramCandidateIds(rt, c);
      const gramShapes = captured.filter((r) => r.family === 'gram').map((r) => r.shape);
      const px = Math.round(Math.log2(h * w));
      // Offered only where both paths run (8-wide subgroups, channels a multiple of 4).
      expect(gramShapes).toEqual(ids.length > 1 ? [`fwd c${c} px2^${px} n${n}`, `bwd c${c} px2^${px} n${n}`] : []);
      expect(ids).toContain('matmul');
      for (const fwdId of ids) {
        for (const bwdId of ids) {
          for (const [i, id] of [fwdId, bwdId].entries()) {
            if (gramShapes[i]) rt.tuning.set('gram', gramShapes[i], { choice: id, ms: {}, clock: 'test', date: 'now' });
          }
          let forward: Tensor | null = null;
          expect(pathOf(launchesOf(rt, () => (forward = gram(f)))), `forward ${fwdId}`).toBe(fwdId);
          forward = forward!;
          expectClose(await forward.data(), want, 1e-4, 4e-6 * Math.max(8, h * w) / (c * h * w), `${fwdId} forward`);
          forward.dispose();
          // The backward pass alone: the launches after the forward's.
          let result: ReturnType<typeof step> | null = null;
          const launched = launchesOf(rt, () => (result = step()));
          const backward = launched.slice(launched.findIndex((l) => l.startsWith('symmetrize')));
          expect(pathOf(backward), `backward ${bwdId}`).toBe(bwdId);
          const { value, grads } = result!;
          expectClose(await grads[0]!.data(), wantGrad, 1e-4, 4e-6 * Math.max(8, c) / (c * h * w), `${fwdId}/${bwdId} gradient`);
          for (const t of [value, ...grads]) t.dispose();
        }
      }
      f.dispose();
      wt.dispose();
    });
  }

  it("'auto' uses a tuned choice, ignores unknown ids, and explicit algorithms win over the table", async () => {
    const rt = runtime();
    const f = rt.upload(randomValues(1 * 6 * 6 * 8, 91), [1, 6, 6, 8]);
    const captured = await rt.tuning.captureShapes(() => gram(f).dispose());
    if (gramCandidateIds(rt, 8).length === 1) {
      // Without 8-wide subgroups only the matmul path runs: nothing to tune.
      expect(captured.filter((r) => r.family === 'gram')).toEqual([]);
      f.dispose();
      return;
    }
    expect(captured.map((r) => `${r.family} ${r.shape}`)).toEqual(['gram fwd c8 px2^5 n1']);
    expect(pathOf(launchesOf(rt, () => gram(f).dispose()))).toBe('subgroup'); // the rule
    rt.tuning.set('gram', 'fwd c8 px2^5 n1', { choice: 'matmul', ms: {}, clock: 'test', date: 'now' });
    expect(pathOf(launchesOf(rt, () => gram(f).dispose()))).toBe('matmul');
    expect(pathOf(launchesOf(rt, () => gram(f, { algorithm: 'subgroup' }).dispose()))).toBe('subgroup');
    // Another pixel class is not covered by the choice.
    const big = rt.upload(randomValues(1 * 12 * 12 * 8, 92), [1, 12, 12, 8]);
    expect(pathOf(launchesOf(rt, () => gram(big).dispose()))).toBe('subgroup');
    rt.tuning.set('gram', 'fwd c8 px2^5 n1', { choice: 'warp-speed', ms: {}, clock: 'test', date: 'now' });
    expect(pathOf(launchesOf(rt, () => gram(f).dispose()))).toBe('subgroup');
    // tuneWorkload times both paths and keeps the faster under its clock.
    rt.tuning.clear();
    const clock: TuneClock = {
      name: 'fake',
      time(_rt, record) {
        return Promise.resolve(pathOf(launchesOf(rt, record)) === 'matmul' ? 1 : 2);
      },
    };
    const results = await tuneWorkload(rt, () => gram(f).dispose(), { clock, persist: false });
    // The matmul path's own product is a shape the subgroup path never launched: tuned in a second round.
    expect(results.map((r) => [r.family, r.shape, r.choice, Object.keys(r.ms).sort()])).toEqual([
      ['gram', 'fwd c8 px2^5 n1', 'matmul', ['matmul', 'subgroup']],
      ['matmul', 'TN sym m2^3 n2^3 k2^5 b2^0', 't128', ['t128', 't128/nosplit', 't32', 't32/nosplit', 't64', 't64/nosplit']],
    ]);
    // Everything the tuned choices launch now has a choice: a second call measures nothing.
    const again = await tuneWorkload(rt, () => gram(f).dispose(), { clock, persist: false });
    expect(again.map((r) => [r.shape, r.measured])).toEqual(results.map((r) => [r.shape, false]));
    expect(pathOf(launchesOf(rt, () => gram(f).dispose()))).toBe('matmul');
    f.dispose();
    big.dispose();
  });

  it('without subgroups only the matmul path runs: no Gram shape is offered', async () => {
    const rt = new GpuRuntime(await createGpuContext({ features: [] }));
    try {
      expect(gramCandidateIds(rt, 8)).toEqual(['matmul']);
      const f = rt.upload(randomValues(1 * 6 * 6 * 8, 93), [1, 6, 6, 8]);
      const captured = await rt.tuning.captureShapes(() => gram(f).dispose());
      expect(captured.map((r) => r.family)).toEqual(['matmul']);
      f.dispose();
      await rt.sync();
    } finally {
      rt.destroy();
    }
  });
});

describe('conv2d auto rule without a tuned choice', () => {
  it('on this adapter: subgroup kernels where 8-wide subgroups exist, RGB layers included', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(1 * 8 * 8 * 3, 41), [1, 8, 8, 3]);
    const w = rt.upload(randomValues(9 * 3 * 16, 42), [3, 3, 3, 16]);
    const launched = launchesOf(rt, () => conv2d(x, w, { padding: 'same' }).dispose());
    expect(launched[0]).toMatch(hasEightWideSubgroups(rt) ? /^conv2d_subgroup:half=false,kind=fwd,/ : /^conv2d_tiled:kind=fwd,/);
    x.dispose();
    w.dispose();
  });

  it('without subgroups: direct for GEMMs of fewer than 4 columns, tiled otherwise', async () => {
    const ctx = await createGpuContext({ features: [] });
    const rt = new GpuRuntime(ctx);
    try {
      expect(hasEightWideSubgroups(rt)).toBe(false);
      const cases: [number[], number[], string, string][] = [
        // x, w, expected forward launch, expected input-gradient launch
        [[1, 8, 8, 32], [9, 9, 32, 3], 'conv2d_direct:half=false,kind=fwd', 'conv2d_tiled:kind=dx,'],
        [[1, 8, 8, 3], [3, 3, 3, 32], 'conv2d_tiled:kind=fwd,', 'conv2d_direct:half=false,kind=dx'],
        [[1, 8, 8, 16], [3, 3, 16, 16], 'conv2d_tiled:kind=fwd,', 'conv2d_tiled:kind=dx,'],
      ];
      for (const [xs, ws, fwd, dx] of cases) {
        const x = rt.upload(randomValues(size(xs), 43), xs);
        const w = rt.upload(randomValues(size(ws), 44), ws);
        const launched = launchesOf(rt, () => {
          const { value, grads } = valueAndGrad((x: Tensor) => sum(conv2d(x, w, { padding: 'same' })))(x);
          for (const t of [value, ...grads]) t.dispose();
        });
        expect(launched.some((l) => l.startsWith(fwd)), `${fwd} in ${launched.join(' ')}`).toBe(true);
        expect(launched.some((l) => l.startsWith(dx)), `${dx} in ${launched.join(' ')}`).toBe(true);
        x.dispose();
        w.dispose();
      }
      await rt.sync();
    } finally {
      rt.destroy();
    }
  });
});

describe('conv2d forward on f16 tensors: f16 storage, f32 accumulation, a tunable choice of its own', () => {
  /** Rounds to the nearest f16, so the oracle sees exactly the inputs the kernels read. */
  const toHalf = (values: Float32Array) => float16ToFloat32(float32ToFloat16(values));
  const cases: (ConvCase & { bias?: boolean })[] = [
    { name: 'RGB in: 9×9 reflect, 3 → 8, relu', x: [1, 9, 11, 3], w: [9, 9, 3, 8], padding: 4, padMode: 'reflect', activation: 'relu' },
    { name: 'stride 2, 13 → 20, bias + relu6', x: [2, 9, 7, 13], w: [3, 3, 13, 20], stride: 2, padding: 'same', activation: 'relu6', bias: true },
    { name: 'vec4 path, 16 → 40, bias', x: [1, 10, 9, 16], w: [3, 3, 16, 40], padding: 'same', bias: true },
  ];
  for (const c of cases) {
    it(`${c.name}: every f16 candidate matches tfjs-cpu within f16 rounding`, async () => {
      const rt = runtime();
      expect(rt.hasF16, 'lavapipe and the GPUs pastiche targets have shader-f16').toBe(true);
      const cout = c.w[3]!;
      const xs = toHalf(randomValues(size(c.x), 51));
      const ws = toHalf(randomValues(size(c.w), 52, -1, 1));
      const bs = toHalf(randomValues(cout, 53));
      let expected = tfConv({ ...c, activation: undefined }, tf.tensor(xs, c.x), tf.tensor(ws, c.w));
      if (c.bias) expected = tf.add(expected, tf.tensor(bs, [cout]));
      if (c.activation) expected = c.activation === 'relu' ? tf.relu(expected) : tf.relu6(expected);
      const want = await tfValues(expected);
      const x = rt.upload(xs, c.x, 'f16');
      const w = rt.upload(ws, c.w, 'f16');
      const b = rt.upload(bs, [cout], 'f16');
      const opts = { stride: c.stride, padding: c.padding, padMode: c.padMode, ...(c.bias ? { bias: b } : {}), ...(c.activation ? { activation: c.activation } : {}) };
      const captured = await rt.tuning.captureShapes(() => conv2d(x, w, opts).dispose());
      expect(captured.map((r) => r.shape)).toEqual([expect.stringMatching(/^fwd .* f16$/)]);
      const ids = convCandidateIds(rt, true, { kind: 'fwd', g: conv2dGeometry('conv2d', c.x, c.w, opts) });
      expect(ids).not.toContain('tiled/64x64');
      for (const id of ids) {
        rt.tuning.set('conv2d', captured[0]!.shape, { choice: id, ms: {}, clock: 'test', date: 'now' });
        let y: Tensor | null = null;
        const launched = launchesOf(rt, () => (y = conv2d(x, w, opts)));
        expect(launched[0], id).toMatch(variantPattern(id));
        expect(launched[0], id).toMatch(/half=true/);
        y = y!;
        expect(y.dtype).toBe('f16');
        expectClose(await y.data(), want, 1e-3, 1e-3, `${id} f16 forward`);
        y.dispose();
      }
      for (const t of [x, w, b]) t.dispose();
    });
  }

  it('rejects mixed dtypes, the f32-only tiled kernels and f16 gradients with clear errors', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(1 * 5 * 5 * 8, 61), [1, 5, 5, 8], 'f16');
    const w32 = rt.upload(randomValues(9 * 8 * 8, 62), [3, 3, 8, 8]);
    const w16 = rt.upload(randomValues(9 * 8 * 8, 62), [3, 3, 8, 8], 'f16');
    expect(() => conv2d(x, w32)).toThrow(/filter must be f16 like x, got f32/);
    expect(() => conv2d(x, w16, { kernel: { algorithm: 'tiled' } })).toThrow(/'tiled' kernels are f32 only/);
    const dy = rt.upload(randomValues(3 * 3 * 8, 63), [1, 3, 3, 8], 'f16');
    expect(() => conv2dInputGradKernel(dy, w16, conv2dGeometry('conv2d', x.shape, w16.shape))).toThrow(/dy must be f32 \(f16 is supported by the forward pass only\), got f16/);
    dy.dispose();
    for (const t of [x, w32, w16]) t.dispose();
  });
});
