import { describe, expect, it, vi } from 'vitest';
import { adapterName, assertSameAdapter, tunedShapeCount } from '../../bench/comparison.ts';
import { runBench, type MeasureOptions, type Target } from '../../bench/harness.ts';
import type { TfjsPeer } from '../../bench/peers/tfjs-webgpu.ts';
import type { BenchDef, Workload } from '../../bench/types.ts';
import { conv2d } from '../../src/autograd/ops/conv2d.ts';
import { unary } from '../../src/gpu/kernels/elementwise.ts';
import type { AdapterIdentity } from '../../src/gpu/autotune.ts';
import { convCandidateIds } from '../../src/gpu/kernels/conv2d/candidates.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { randomValues } from '../helpers/oracle.ts';

const runtime = useRuntime();

const ONE_SAMPLE: MeasureOptions = { warmup: 1, minSamples: 1, maxSamples: 1, budgetMs: 0, capMs: 60_000, minSampleMs: 0, maxReps: 1 };

/** A GPU peer that does nothing, on the given adapter (what runBench sees of tfjs). */
function fakePeer(adapter: AdapterIdentity): TfjsPeer {
  const target = (w: Workload): Target => ({ label: 'fake', timer: null, run: () => w.run(), sync: async () => {}, setTimer() {} });
  const peer: Pick<TfjsPeer, 'name' | 'adapter' | 'workload' | 'release' | 'target'> & { tf: { memory(): { numTensors: number } } } = {
    name: 'fake-peer',
    adapter,
    tf: { memory: () => ({ numTensors: 0 }) },
    workload: async () => ({ run() {}, dispose() {} }),
    release: (w) => w.dispose(),
    target,
  };
  return peer as unknown as TfjsPeer;
}

/** A relu line with a peer, and a spy on its setup. */
function reluLine(peerWork?: string) {
  const setup = vi.fn((rt: ReturnType<typeof runtime>): Workload => {
    const x = rt.upload(randomValues(64, 1), [64]);
    return { run: () => void unary('relu', x), dispose: () => x.dispose() };
  });
  const def: Pick<BenchDef, 'name' | 'group' | 'setup' | 'peer' | 'peerWork'> = { name: 'relu 64', group: 'elementwise', setup, peer: () => ({ run() {}, dispose() {} }), ...(peerWork ? { peerWork } : {}) };
  return { def, setup };
}

describe('what a comparison line reports besides times', () => {
  it('names an adapter by its description, else its device, else vendor/architecture', () => {
    expect(adapterName({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-x', description: 'llvmpipe: Mesa 25' })).toBe('llvmpipe: Mesa 25');
    expect(adapterName({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-x', description: '' })).toBe('llvmpipe-x');
    expect(adapterName({ vendor: 'nvidia', architecture: '', device: '', description: '' })).toBe('nvidia/?');
  });

  it('refuses a peer on another adapter, naming both and the way out', () => {
    const ours = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25' };
    expect(() => assertSameAdapter('matmul 256', ours, 'tfjs-webgpu', { ...ours })).not.toThrow();
    expect(() => assertSameAdapter('matmul 256', ours, 'tfjs-webgpu', { ...ours, vendor: 'nvidia', description: 'RTX' })).toThrow(
      /'matmul 256': tfjs-webgpu runs on 'nvidia \| software \| llvmpipe \| RTX' but pastiche on 'mesa \| software \| llvmpipe \| llvmpipe: Mesa 25'.*--no-peer/,
    );
  });

  it('fails a line whose peer runs on another adapter, before setting anything up', async () => {
    const rt = runtime();
    const { def, setup } = reluLine();
    const elsewhere = { ...rt.context.adapterInfo, description: `${rt.context.adapterInfo.description} (another one)` };
    await expect(runBench(def, { runtime: rt, peer: fakePeer(elsewhere), options: ONE_SAMPLE, timestamps: false })).rejects.toThrow(/fake-peer runs on .*another one.* but pastiche on/);
    expect(setup).not.toHaveBeenCalled();
  });

  it("records both sides' adapters, the peer's different work and the tuning with the result", async () => {
    const rt = runtime();
    const { def } = reluLine('pastiche fuses what the peer runs as two kernels');
    const r = await runBench(def, { runtime: rt, peer: fakePeer({ ...rt.context.adapterInfo }), options: ONE_SAMPLE, timestamps: false });
    expect(r.adapter).toBe(adapterName(rt.context.adapterInfo));
    expect(r.peerAdapter).toBe(r.adapter);
    expect(r.peerWork).toBe('pastiche fuses what the peer runs as two kernels');
    expect(r.tunedShapes).toBe(0); // the tests run without a tuning table
    const plain = await runBench(reluLine().def, { runtime: rt, peer: fakePeer({ ...rt.context.adapterInfo }), options: ONE_SAMPLE, timestamps: false });
    expect(plain.peerWork).toBeUndefined();
  });

  it('gives a line without stated FLOPs those its ops recorded per iteration, and keeps stated ones', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(2 * 8 * 8 * 4, 3), [2, 8, 8, 4]);
    const w = rt.upload(randomValues(3 * 3 * 4 * 8, 4), [3, 3, 4, 8]);
    const setup = (): Workload => ({ run: () => void conv2d(x, w, { padding: 1 }), dispose() {} });
    try {
      const counted = await runBench({ name: 'conv', group: 'conv', setup }, { runtime: rt, peer: null, options: ONE_SAMPLE, timestamps: false });
      expect(counted.flops).toBe(2 * 2 * 8 * 8 * 8 * 9 * 4);
      expect(counted.gflops).toBeCloseTo(counted.flops! / counted.ms / 1e6, 6);
      const stated = await runBench({ name: 'conv', group: 'conv', setup, flops: 1e6 }, { runtime: rt, peer: null, options: ONE_SAMPLE, timestamps: false });
      expect(stated.flops).toBe(1e6);
      const none = await runBench(reluLine().def, { runtime: rt, peer: null, options: ONE_SAMPLE, timestamps: false });
      expect(none.flops).toBeUndefined();
      expect(none.gflops).toBeUndefined();
    } finally {
      x.dispose();
      w.dispose();
    }
  });

  it('counts the kernel shapes of a line that ran a tuned choice', async () => {
    const rt = runtime();
    const x = rt.upload(randomValues(1 * 8 * 8 * 4, 3), [1, 8, 8, 4]);
    const w = rt.upload(randomValues(3 * 3 * 4 * 8, 4), [3, 3, 4, 8]);
    const workload: Workload = { run: () => void conv2d(x, w, { padding: 1 }), dispose: () => (x.dispose(), w.dispose()) };
    try {
      expect(rt.tuning.size).toBe(0);
      expect(await tunedShapeCount(rt, workload)).toBe(0);
      const shapes = await rt.tuning.captureShapes(() => conv2d(x, w, { padding: 1 }).dispose());
      expect(shapes.map((s) => s.family)).toEqual(['conv2d']);
      // A choice for another shape does not count; one for the line's shape does.
      rt.tuning.set('conv2d', 'a shape this line never launches', { choice: 'x', ms: {}, clock: 'test', date: 'now' });
      expect(await tunedShapeCount(rt, workload)).toBe(0);
      rt.tuning.set('conv2d', shapes[0]!.shape, { choice: convCandidateIds(rt)[0]!, ms: {}, clock: 'test', date: 'now' });
      expect(await tunedShapeCount(rt, workload)).toBe(1);
    } finally {
      rt.tuning.clear();
      workload.dispose();
    }
  });

});
