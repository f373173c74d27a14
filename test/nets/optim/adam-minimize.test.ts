import { describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../../src/autograd/grad.ts';
import { mul, square, sub } from '../../../src/autograd/ops/elementwise.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { Adam } from '../../../src/nets/optim/adam.ts';
import { minimize, type MinimizeResult } from '../../../src/nets/optim/minimize.ts';
import type { Objective } from '../../../src/nets/optim/objective.ts';
import { PlateauDetector } from '../../../src/nets/optim/plateau.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { expectClose, randomValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

const objectiveOf =
  (f: (x: Tensor) => Tensor): Objective =>
  (x) => {
    const { value, grads } = valueAndGradOf(() => f(x), [x]);
    return { loss: value, grad: grads[0]! };
  };

async function drain(gen: AsyncGenerator<unknown, MinimizeResult>): Promise<{ result: MinimizeResult; losses: number[] }> {
  const losses: number[] = [];
  for (;;) {
    const next = await gen.next();
    if (next.done) return { result: next.value, losses };
    losses.push((next.value as { loss: number }).loss);
  }
}

describe('Adam', () => {
  it('matches a float64 reference implementation of Adam with bias correction and weight decay', async () => {
    const rt = runtime();
    const n = 37;
    const p0 = randomValues(n, 1);
    const grads = [randomValues(n, 2), randomValues(n, 3), randomValues(n, 4)];
    const param = rt.upload(p0, [n]);
    const adam = new Adam([param], { lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.01 });
    for (const g of grads) {
      const gt = rt.upload(g, [n]);
      adam.step([gt]);
      gt.dispose();
    }
    // Reference
    const p = Float64Array.from(p0);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    grads.forEach((g, k) => {
      const t = k + 1;
      for (let i = 0; i < n; i++) {
        const gi = g[i]! + 0.01 * p[i]!;
        m[i] = 0.8 * m[i]! + 0.2 * gi;
        v[i] = 0.95 * v[i]! + 0.05 * gi * gi;
        const mh = m[i]! / (1 - 0.8 ** t);
        const vh = v[i]! / (1 - 0.95 ** t);
        p[i] = p[i]! - (0.05 * mh) / (Math.sqrt(vh) + 1e-6);
      }
    });
    expectClose(await param.data(), p, 1e-5, 1e-6);
    expect(adam.stepCount).toBe(3);
    adam.dispose();
    param.dispose();
  });
});

describe('minimize', () => {
  it('L-BFGS beats Adam on the same budget and both keep the best iterate', async () => {
    const rt = runtime();
    const n = 16;
    const w = rt.upload(Array.from({ length: n }, (_, i) => 1 + i), [n]);
    const c = rt.upload(randomValues(n, 9), [n]);
    const f = objectiveOf((x) => sum(mul(w, square(sub(x, c)))));
    const x0 = rt.upload(new Float32Array(n), [n]);
    const lbfgs = await drain(minimize(x0, f, { optimizer: 'lbfgs', maxIterations: 10 }));
    const adam = await drain(minimize(x0, f, { optimizer: 'adam', maxIterations: 10, learningRate: 0.1 }));
    expect(lbfgs.result.bestLoss).toBeLessThan(adam.result.bestLoss);
    expect(lbfgs.result.bestLoss).toBe(Math.min(...lbfgs.losses));
    expect(adam.result.bestLoss).toBe(Math.min(...adam.losses));
    lbfgs.result.best.dispose();
    adam.result.best.dispose();
  });

  it('reports a NaN loss as diverged, with its iteration, and returns the best iterate seen before it', async () => {
    const rt = runtime();
    const x0 = rt.upload([3, -2], [2]);
    let calls = 0;
    const good = objectiveOf((x) => sum(square(x)));
    const poisoned: Objective = (x) => {
      calls++;
      const out = good(x);
      if (calls < 4) return out;
      const nan = rt.upload([NaN], []);
      out.loss.dispose();
      return { loss: nan, grad: out.grad };
    };
    const { result, losses } = await drain(minimize(x0, poisoned, { optimizer: 'adam', maxIterations: 50, learningRate: 0.5 }));
    expect(result.reason).toBe('diverged');
    expect(result.divergence?.iteration).toBe(4);
    expect(Number.isNaN(result.divergence?.loss)).toBe(true);
    expect(losses.length).toBe(3);
    expect(result.startLoss).toBeCloseTo(13, 4);
    expect(result.bestLoss).toBe(Math.min(...losses));
    expect(result.bestLoss).toBeLessThan(result.startLoss);
    const best = await result.best.data();
    expect(best[0]! ** 2 + best[1]! ** 2).toBeCloseTo(result.bestLoss, 4);
    result.best.dispose();
  });

  it('L-BFGS: a line search that meets only overflowing losses is diverged, not converged', async () => {
    const rt = runtime();
    const x0 = rt.upload([1000, -1000], [2]);
    // sum(x⁸) overflows float32 once |x| passes ~6.5e4.
    const f = objectiveOf((x) => sum(square(square(square(x)))));
    const huge = await drain(minimize(x0, f, { optimizer: 'lbfgs', maxIterations: 5, firstStepSize: 1e30 }));
    expect(huge.result.reason).toBe('diverged');
    expect(huge.result.divergence).toEqual({ iteration: 1, loss: Infinity });
    expect(huge.losses).toEqual([]);
    expect(huge.result.bestLoss).toBe(Infinity); // nothing better than the start
    expect(huge.result.startLoss / 2e24).toBeCloseTo(1, 4);
    expect(Array.from(await huge.result.best.data())).toEqual([1000, -1000]);
    huge.result.best.dispose();
    // A first step that overflows but that the halving line search brings back in range is no divergence.
    const large = await drain(minimize(x0, f, { optimizer: 'lbfgs', maxIterations: 5, firstStepSize: 1e6 }));
    expect(large.result.reason).not.toBe('diverged');
    expect(large.result.divergence).toBeUndefined();
    expect(large.result.bestLoss).toBeLessThan(large.result.startLoss);
    large.result.best.dispose();
    x0.dispose();
  });

  it('stops on a plateau', async () => {
    const rt = runtime();
    const x0 = rt.upload([1], [1]);
    // A loss that cannot go below 5: the plateau detector must end the run.
    const f = objectiveOf((x) => sum(mul(square(x), rt.upload([1e-9], [1]))));
    const { result } = await drain(minimize(x0, f, { optimizer: 'adam', maxIterations: 500, patience: 5, tolerance: 1e-3, learningRate: 1e-3 }));
    expect(result.reason).toBe('plateau');
    expect(result.iterations).toBeLessThan(20);
    result.best.dispose();
  });

  it('frees its best iterate when the caller stops iterating early', async () => {
    const rt = runtime();
    const x0 = rt.upload([3, -2], [2]);
    await rt.flush();
    const live = rt.stats().liveTensors;
    for await (const step of minimize(x0, objectiveOf((x) => sum(square(x))), { optimizer: 'lbfgs', maxIterations: 50 })) {
      if (step.iteration === 2) break;
    }
    expect(rt.stats().liveTensors).toBe(live);
    x0.dispose();
  });

  it('plateau detector: patience, tolerance and best index', () => {
    const d = new PlateauDetector(2, 0.1);
    expect(d.update(10)).toBe(true);
    expect(d.update(9.5)).toBe(true); // better, but by less than 10%: counts towards patience
    expect(d.exhausted).toBe(false);
    expect(d.update(12)).toBe(false);
    expect(d.exhausted).toBe(true);
    expect(d.bestIndex).toBe(1);
    const restored = PlateauDetector.restore(d.save());
    expect(restored.best).toBe(9.5);
    expect(restored.exhausted).toBe(true);
  });
});
