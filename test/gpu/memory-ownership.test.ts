/**
 * The memory-ownership rules of README.md ("How memory is owned"), one test per rule. Rules already
 * proven elsewhere are not repeated here:
 * - a scope frees what it created except what it returns, keep() lets a tensor out:
 *   test/gpu/runtime.test.ts "frees everything a scope created except what it returns";
 * - views share storage, freed with the last one: test/gpu/runtime.test.ts "reshape shares storage";
 * - an op on a disposed tensor throws: test/autograd/ops/elementwise.test.ts "throws a clear error on a disposed tensor";
 * - a released buffer is reused only after the recorded work is submitted (buffer counts):
 *   test/gpu/runtime.test.ts "reuses a released buffer only after the work that used it is submitted";
 * - a pending readback keeps its buffer: test/gpu/runtime.test.ts "a tensor freed while its readback waits";
 * - training steps leave live memory flat: test/autograd/leak.test.ts;
 * - a derived tensor (Winograd's cached filter transform) is rebuilt after an in-place write and freed
 *   with its source: test/gpu/kernels/conv2d/winograd-cache.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/grad.ts';
import { variance } from '../../src/autograd/ops/moments.ts';
import { Tape, withTape } from '../../src/autograd/tape.ts';
import { unary } from '../../src/gpu/kernels/elementwise.ts';
import { scope } from '../../src/gpu/scope.ts';
import { useRuntime } from '../helpers/gpu.ts';

const runtime = useRuntime();

describe('scopes', () => {
  it('a block that throws frees everything it created', () => {
    const rt = runtime();
    const live = rt.stats().liveTensors;
    expect(() =>
      scope(() => {
        const a = rt.upload([1, 2, 3], [3]);
        unary('square', a);
        throw new Error('failed inside the block');
      }),
    ).toThrow(/failed inside the block/);
    expect(rt.stats().liveTensors).toBe(live);
  });

  it('a tensor returned by an inner scope belongs to the outer one and is freed with it', () => {
    const rt = runtime();
    const live = rt.stats().liveTensors;
    let inner = null as ReturnType<typeof rt.empty> | null;
    scope(() => {
      inner = scope(() => unary('neg', rt.upload([1, 2], [2])));
      expect(inner.disposed).toBe(false); // survives the inner scope...
      return null;
    });
    expect(inner!.disposed).toBe(true); // ...not the outer one, which did not return it
    expect(rt.stats().liveTensors).toBe(live);
  });
});

describe('dispose', () => {
  it('a disposed tensor refuses to be read or bound, and a second dispose() does nothing', async () => {
    const rt = runtime();
    const live = rt.stats().liveTensors;
    const t = rt.upload([1, 2, 3, 4], [4]);
    t.dispose();
    t.dispose();
    expect(rt.stats().liveTensors).toBe(live);
    expect(() => t.buffer).toThrow(/used after dispose\(\)/);
    await expect(t.data()).rejects.toThrow(/used after dispose\(\)/);
    expect(() => rt.reshape(t, [2, 2])).toThrow(/used after dispose\(\)/);
  });
});

describe('the tape', () => {
  it('keeps the tensors an op saved for backward alive after the forward scope, and frees them on dispose', async () => {
    const rt = runtime();
    const live = rt.stats().liveTensors;
    const x = rt.upload([1, 2, 3, 4], [4]);
    x.requiresGrad = true;
    const tape = new Tape();
    // variance() saves the mean for its backward rule; the scope frees everything but the output.
    const v = scope(() => withTape(tape, () => variance(x)));
    const saved = tape.nodes.flatMap((node) => node.saved);
    expect(saved.length).toBeGreaterThan(0);
    expect(saved.every((t) => !t.disposed)).toBe(true);

    const [dx] = backward(tape, v, [x]);
    // d var / dx = 2 (x − μ) / n with μ = 2.5, n = 4: the saved mean was intact.
    expect([...(await dx!.data())]).toEqual([-0.75, -0.25, 0.25, 0.75]);
    expect(saved.every((t) => !t.disposed)).toBe(true); // still the tape's until it is disposed

    tape.dispose();
    expect(saved.every((t) => t.disposed)).toBe(true);
    for (const t of [x, v, dx!]) t.dispose();
    expect(rt.stats().liveTensors).toBe(live);
  });
});

describe('buffer reuse', () => {
  it('an upload after a dispose does not overwrite the disposed input of recorded, unsubmitted work', async () => {
    const rt = runtime();
    await rt.flush();
    const a = rt.upload([1, 2, 3, 4], [4]);
    const b = unary('neg', a); // recorded, not submitted: it reads a's buffer later
    a.dispose();
    // Same size class: had a's buffer been reused at once, this writeBuffer would land before b's kernel.
    const c = rt.upload([9, 9, 9, 9], [4]);
    expect([...(await b.data())]).toEqual([-1, -2, -3, -4]);
    b.dispose();
    c.dispose();
  });
});
