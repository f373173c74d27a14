import { describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../src/autograd/grad.ts';
import { conv2d } from '../../src/autograd/ops/conv2d.ts';
import { mul, relu } from '../../src/autograd/ops/elementwise.ts';
import { instanceNorm } from '../../src/autograd/ops/norm.ts';
import { maxPool2d } from '../../src/autograd/ops/pool.ts';
import { mean } from '../../src/autograd/ops/reduce.ts';
import { upsampleNearest } from '../../src/autograd/ops/resize.ts';
import { Adam } from '../../src/nets/optim/adam.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { randomValues } from '../helpers/oracle.ts';

const runtime = useRuntime();

describe('memory over many training steps', () => {
  it('100 forward/backward steps of a small conv net leave live bytes flat and allocate no buffers per step', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 16 * 16 * 3, 1, 0, 1), [2, 16, 16, 3]);
    const target = rt.upload(randomValues(2 * 16 * 16 * 4, 2), [2, 16, 16, 4]);
    const w1 = rt.upload(randomValues(3 * 3 * 3 * 8, 3, -0.3, 0.3), [3, 3, 3, 8]);
    const b1 = rt.upload(new Float32Array(8), [8]);
    const w2 = rt.upload(randomValues(3 * 3 * 8 * 4, 4, -0.3, 0.3), [3, 3, 8, 4]);
    const params = [w1, b1, w2];
    const adam = new Adam(params, { lr: 1e-2 });
    const step = () => {
      const { value, grads } = valueAndGradOf(() => {
        const h = relu(instanceNorm(conv2d(x, w1, { bias: b1, padding: 'same', padMode: 'reflect' })));
        const y = conv2d(upsampleNearest(maxPool2d(h), 2), w2, { padding: 1 });
        return mean(mul(y, target));
      }, params);
      adam.step(grads);
      grads.forEach((g) => g.dispose());
      return value;
    };
    let stats = rt.stats();
    const losses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const value = step();
      if (i % 10 === 9) losses.push(await value.item()); // one readback every 10 steps
      value.dispose();
      if (i === 9) {
        await rt.flush();
        stats = rt.stats();
      }
    }
    await rt.flush();
    const end = rt.stats();
    expect(end.liveBytes).toBe(stats.liveBytes);
    expect(end.liveTensors).toBe(stats.liveTensors);
    // Buffers come back to the pool asynchronously (after their submit), so the exact moment of reuse
    // varies by a buffer or two; a per-step allocation would add ~90.
    expect(end.created - stats.created).toBeLessThanOrEqual(3);
    // And it trains: minimising mean(y·target) drives the loss down.
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    adam.dispose();
    for (const t of [x, target, ...params]) t.dispose();
  });
});
