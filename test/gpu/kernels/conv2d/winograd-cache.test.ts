import { describe, expect, it, vi } from 'vitest';
import { conv2d } from '../../../../src/autograd/ops/conv2d.ts';
import { mul } from '../../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../../src/autograd/ops/reduce.ts';
import { valueAndGrad } from '../../../../src/autograd/grad.ts';
import { winogradXi, type WinogradTile } from '../../../../src/gpu/kernels/conv2d/winograd-fit.ts';
import type { KernelLaunch, Runtime } from '../../../../src/gpu/runtime.ts';
import type { Tensor } from '../../../../src/gpu/tensor.ts';
import { Adam } from '../../../../src/nets/optim/adam.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { expectClose, randomValues, tf, tfValues } from '../../../helpers/oracle.ts';

/*
 * The transformed filters Winograd keeps with a weight tensor (runtime.derived): built once per
 * (tile, flip), reused while the weight is unchanged, rebuilt after an in-place update (Adam's
 * fused step writes parameters in place), freed with the weight. Every result is checked against
 * tfjs-cpu on the weight's values at that moment, so a stale transform fails.
 */

const runtime = useRuntime();
const TOLERANCE: Record<WinogradTile, { rtol: number; atol: number }> = { 2: { rtol: 1e-4, atol: 1e-4 }, 4: { rtol: 1e-3, atol: 1e-4 } };

/** Filter-stage launches during `fn`: forward ('fwd') and flipped ('flip'). */
function filterStages(rt: Runtime, fn: () => void): { fwd: number; flip: number } {
  const counts = { fwd: 0, flip: 0 };
  const original = rt.launch.bind(rt);
  const spy = vi.spyOn(rt, 'launch').mockImplementation((l: KernelLaunch) => {
    if (l.name === 'conv2d_winograd' && l.variant?.includes('stage=filter,')) counts[l.variant.includes('flip=true') ? 'flip' : 'fwd']++;
    original(l);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return counts;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe('conv2d winograd: transformed filters cached with the weight', () => {
  for (const tile of [2, 4] as const) {
    for (const pad of [0, 1, 2]) {
      it(`F(${tile}) pad ${pad}: reused while unchanged, rebuilt after an in-place Adam step, freed with the weight`, async () => {
        const rt = runtime();
        const xShape = [2, 9, 7, 6]; // odd sizes, batch 2, channels not a multiple of 4
        const wShape = [3, 3, 6, 10];
        const xs = randomValues(size(xShape), 300 + pad);
        const x = rt.upload(xs, xShape);
        const w = rt.upload(randomValues(size(wShape), 310 + pad, -1, 1), wShape);
        const options = { padding: pad, kernel: { algorithm: 'winograd' as const, winogradTile: tile } };
        const yShape = [2, 7 + 2 * pad, 5 + 2 * pad, 10];
        const gs = randomValues(size(yShape), 320 + pad);
        const g = rt.upload(gs, yShape);
        const f = (x: Tensor, w: Tensor) => sum(mul(conv2d(x, w, options), g));

        /** Value, dx and dw against tfjs-cpu on w's current values. */
        const checkAgainstOracle = async (got: Tensor[], label: string) => {
          const tw = tf.tensor(await w.data(), wShape);
          const tfF = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(tf.pad(a, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid'), tf.tensor(gs, yShape)));
          const want = [tfF(tf.tensor(xs, xShape), tw), ...tf.grads(tfF)([tf.tensor(xs, xShape), tw])];
          for (let i = 0; i < 3; i++) expectClose(await got[i]!.data(), await tfValues(want[i]!), TOLERANCE[tile].rtol, TOLERANCE[tile].atol, `${label} ${['value', 'dx', 'dw'][i]}`);
        };
        let out: Tensor[] = [];
        const step = () => {
          const { value, grads } = valueAndGrad(f)(x, w);
          out = [value, ...grads];
        };

        const liveBefore = rt.stats().liveTensors;
        expect(filterStages(rt, step)).toEqual({ fwd: 1, flip: 1 });
        await checkAgainstOracle(out, 'first');
        out.forEach((t) => t.dispose());
        expect(filterStages(rt, step)).toEqual({ fwd: 0, flip: 0 });
        await checkAgainstOracle(out, 'cached');
        const dw = out[2]!;
        out[0]!.dispose();
        out[1]!.dispose();
        // Derived tensors belong to the weight: they are not live tensors of their own.
        expect(rt.stats().liveTensors).toBe(liveBefore + 1);

        const adam = new Adam([w], { lr: 0.05 });
        adam.step([dw]);
        dw.dispose();
        expect(filterStages(rt, step)).toEqual({ fwd: 1, flip: 1 });
        await checkAgainstOracle(out, 'after the in-place step');
        out.forEach((t) => t.dispose());
        adam.dispose();

        // A view of the weight shares its storage and so its transforms.
        const view = rt.reshape(w, wShape);
        expect(filterStages(rt, () => conv2d(x, view, options).dispose())).toEqual({ fwd: 0, flip: 0 });
        view.dispose();

        await rt.flush();
        const held = rt.stats().liveBytes;
        w.dispose();
        await rt.flush();
        const transforms = 2 * winogradXi(tile) * 6 * 10 * 4;
        expect(held - rt.stats().liveBytes).toBeGreaterThanOrEqual(w.byteLength + transforms);
        for (const t of [x, g]) t.dispose();
      });
    }
  }

  it('keeps one transform per tile and per channel split of the same storage', () => {
    const rt = runtime();
    const x = rt.upload(randomValues(1 * 6 * 6 * 8, 330), [1, 6, 6, 8]);
    const w = rt.upload(randomValues(9 * 8 * 8, 331, -1, 1), [3, 3, 8, 8]);
    const run = (m: WinogradTile, input: Tensor, filter: Tensor) => filterStages(rt, () => conv2d(input, filter, { padding: 1, kernel: { algorithm: 'winograd', winogradTile: m } }).dispose()).fwd;
    expect([run(2, x, w), run(4, x, w), run(2, x, w), run(4, x, w)]).toEqual([1, 1, 0, 0]);
    // The same values read as 4 → 16 channels: another transform, not the 8 → 8 one.
    const x4 = rt.upload(randomValues(1 * 6 * 6 * 4, 332), [1, 6, 6, 4]);
    const w4 = rt.reshape(w, [3, 3, 4, 16]);
    expect([run(2, x4, w4), run(2, x4, w4)]).toEqual([1, 0]);
    for (const t of [x, w, x4, w4]) t.dispose();
  });
});
