import { describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from '../../src/gpu/buffer-pool.ts';
import { ShaderCompileError } from '../../src/gpu/errors.ts';
import { float16BitsToFloat32 as fromHalfBits, float32ToFloat16Bits as toHalfBits } from '../../src/gpu/half.ts';
import { gridFor } from '../../src/gpu/grid.ts';
import { unary } from '../../src/gpu/kernels/elementwise.ts';
import { scope, keep } from '../../src/gpu/scope.ts';
import { useRuntime } from '../helpers/gpu.ts';

const runtime = useRuntime();

describe('buffer pool', () => {
  it('rounds sizes to classes with at most 25% slack', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(1024)).toBe(1024);
    expect(sizeClass(1025)).toBe(1280);
    for (const n of [300, 5000, 123457, 9_999_999]) {
      expect(sizeClass(n)).toBeGreaterThanOrEqual(n);
      expect(sizeClass(n)).toBeLessThanOrEqual(n * 1.25 + 256);
    }
  });

  it('reuses a released buffer only after the work that used it is submitted', async () => {
    const rt = runtime();
    const a = rt.upload(new Float32Array(1000).fill(1), [1000]);
    const b = unary('affine', a, 2, 0);
    const createdBefore = rt.stats().created;
    b.dispose();
    // b's buffer is still pending release: a new tensor of the same size needs a new buffer.
    const c = rt.empty([1000]);
    expect(rt.stats().created).toBe(createdBefore + 1);
    await rt.flush();
    const d = rt.empty([1000]);
    expect(rt.stats().created).toBe(createdBefore + 1);
    for (const t of [a, c, d]) t.dispose();
  });

  it('counts live, pooled and peak bytes', async () => {
    const rt = runtime();
    await rt.flush();
    const before = rt.stats();
    const t = rt.empty([1 << 16]);
    const during = rt.stats();
    expect(during.liveBytes - before.liveBytes).toBe(1 << 18);
    expect(during.peakBytes).toBeGreaterThanOrEqual(during.liveBytes);
    t.dispose();
    await rt.flush();
    const after = rt.stats();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.pooledBytes).toBeGreaterThanOrEqual(1 << 18);
  });

  it('keeps free buffers within twice the largest live set, so ever-changing sizes cannot pile up', () => {
    const rt = runtime();
    // A pool of its own with a 64 KiB floor: one live buffer at a time, each of a new size class.
    const pool = new BufferPool(rt.device, 1 << 30, 1 << 16);
    let largest = 0;
    for (let i = 0; i < 40; i++) {
      const bytes = 4096 + i * 1024;
      const buffer = pool.acquire(bytes, 'size-class test');
      largest = Math.max(largest, pool.getStats().liveBytes);
      pool.release(buffer);
      pool.recycle(pool.takePendingReleases());
      expect(pool.getStats().pooledBytes).toBeLessThanOrEqual(Math.max(1 << 16, 2 * largest));
    }
    // Without the cap the 40 distinct sizes (about 1 MiB together) would all stay pooled.
    expect(pool.getStats().pooledBytes).toBeGreaterThan(0);
    pool.trim();
  });
});

describe('command recorder', () => {
  it('batches many dispatches into few submits and reads back once', async () => {
    const rt = runtime();
    const start = rt.stats();
    let x = rt.upload([1, 2, 3, 4], [4]);
    for (let i = 0; i < 100; i++) {
      const y = unary('affine', x, 1, 1);
      x.dispose();
      x = y;
    }
    expect([...(await x.data())]).toEqual([101, 102, 103, 104]);
    const end = rt.stats();
    expect(end.dispatches - start.dispatches).toBe(100);
    expect(end.submits - start.submits).toBeLessThanOrEqual(2);
    expect(end.readbacks - start.readbacks).toBe(1);
    x.dispose();
  });

  it('keeps one pipeline per kernel variant, whatever the shape', async () => {
    const rt = runtime();
    const a = unary('square', rt.upload([1, 2], [2]));
    const pipelines = rt.stats().pipelines;
    const b = unary('square', rt.upload([1, 2, 3, 4, 5, 6], [2, 3]));
    expect(rt.stats().pipelines).toBe(pipelines);
    expect([...(await b.data())]).toEqual([1, 4, 9, 16, 25, 36]);
    a.dispose();
    b.dispose();
  });

  it('spreads more than 65535 workgroups over a 2-D grid', async () => {
    const rt = runtime();
    expect(gridFor(65535 * 256 + 1, 256)).toEqual([65535, 2, 1]);
    const n = 65536 * 256 + 7;
    const x = rt.upload(new Float32Array(n).fill(3), [n]);
    const y = unary('affine', x, 2, 1);
    const values = await y.data();
    expect(values[0]).toBe(7);
    expect(values[n - 1]).toBe(7);
    x.dispose();
    y.dispose();
  });

  it('shows WGSL compile errors with the offending line', async () => {
    const rt = runtime();
    const x = rt.upload([1], [1]);
    const out = rt.empty([1]);
    rt.launch({
      name: 'broken_kernel',
      source: () => `@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(1)
fn main() {
  dst[0] = undefined_name + 1.0;
}`,
      bindings: { dst: out },
      workgroups: [1],
    });
    const error = await rt.flush().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ShaderCompileError);
    expect(String((error as Error).message)).toMatch(/broken_kernel[\s\S]*line 4[\s\S]*undefined_name/);
    // The runtime keeps working after a failed batch.
    const y = unary('neg', x);
    expect([...(await y.data())]).toEqual([-1]);
    for (const t of [x, out, y]) t.dispose();
  });

  it('rejects unknown bindings, missing uniforms and aliasing before dispatching', () => {
    const rt = runtime();
    const x = rt.upload([1, 2], [2]);
    const launch = (bindings: Record<string, typeof x>, params: Record<string, number>) =>
      rt.launch({
        name: 'checked_kernel',
        source: () => `struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(1) fn main() { dst[0] = src[0] + f32(p.n); }`,
        bindings,
        params,
        workgroups: [1],
      });
    expect(() => launch({ src: x }, { n: 1 })).toThrow(/no tensor given for binding 'dst'/);
    expect(() => launch({ src: x, dst: x }, { n: 1 })).toThrow(/bound both as input and output/);
    const y = rt.empty([2]);
    expect(() => launch({ src: x, dst: y }, {})).toThrow(/uniform 'n' was not given/);
    expect(() => launch({ src: x, dst: y, extra: x }, { n: 1 })).toThrow(/unknown binding 'extra'/);
    x.dispose();
    y.dispose();
  });
});

describe('tensors and scopes', () => {
  it('frees everything a scope created except what it returns', async () => {
    const rt = runtime();
    const live = rt.stats().liveTensors;
    let kept = null as ReturnType<typeof rt.empty> | null;
    const result = scope(() => {
      const a = rt.upload([1, 2, 3], [3]);
      const b = unary('square', a);
      kept = keep(unary('neg', a));
      return { b, list: [unary('exp', a)] };
    });
    expect(rt.stats().liveTensors).toBe(live + 3);
    expect([...(await result.b.data())]).toEqual([1, 4, 9]);
    result.b.dispose();
    result.list[0]!.dispose();
    kept!.dispose();
    expect(rt.stats().liveTensors).toBe(live);
  });

  it('reshape shares storage; the buffer is freed with the last view', async () => {
    const rt = runtime();
    const before = rt.stats().liveBytes;
    const a = rt.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = rt.reshape(a, [3, 2]);
    a.dispose();
    expect([...(await b.data())]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => rt.reshape(b, [4])).toThrow(/cannot view \[3, 2\]/);
    b.dispose();
    expect(rt.stats().liveBytes).toBe(before);
  });

  it('stores f16 tensors when the adapter has shader-f16', async () => {
    const rt = runtime();
    if (!rt.hasF16) {
      expect(() => rt.empty([2], 'f16')).toThrow(/shader-f16/);
      return;
    }
    const x = rt.upload([0.5, -2, 1000, 3.14159], [4], 'f16');
    const y = unary('square', x);
    expect(y.dtype).toBe('f16');
    const values = await y.data();
    expect(values[0]).toBe(0.25);
    expect(values[1]).toBe(4);
    expect(values[2]).toBe(Infinity); // 1000² overflows f16
    expect(values[3]).toBeCloseTo(9.8696, 1);
    x.dispose();
    y.dispose();
  });

  it('converts half floats with round-to-nearest-even', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(fromHalfBits(toHalfBits(5.960464477539063e-8))).toBe(5.960464477539063e-8);
    expect(fromHalfBits(toHalfBits(1 + 2 ** -11))).toBe(1); // tie rounds to even
    expect(fromHalfBits(toHalfBits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });
});

describe('buffer reuse around readbacks', () => {
  it('a tensor freed while its readback waits is not overwritten by the next upload', async () => {
    const rt = runtime();
    await rt.flush();
    const t = rt.upload([1, 2, 3, 4], [4]);
    const pending = t.data();
    t.dispose();
    const u = rt.upload([9, 9, 9, 9], [4]);
    expect([...(await pending)]).toEqual([1, 2, 3, 4]);
    u.dispose();
  });

  it('reuses a buffer at once when nothing recorded can still read it', async () => {
    const rt = runtime();
    const x = rt.upload(new Float32Array(4096).fill(1), [4096]);
    const y = unary('square', x);
    await y.data();
    y.dispose();
    const created = rt.stats().created;
    const z = rt.empty([4096]);
    expect(rt.stats().created).toBe(created);
    x.dispose();
    z.dispose();
  });
});
