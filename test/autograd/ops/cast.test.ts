import { describe, expect, it } from 'vitest';
import { cast } from '../../../src/gpu/kernels/cast.ts';
import { float16ToFloat32, float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/gpu/half.ts';
import type { DType } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { hasShaderF16 } from '../../helpers/adapter-features.ts';
import { expectClose, randomValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

/** Values that stress f16: ties, the largest finite value, the smallest normal, signs, zeros. */
const SPECIALS = [0, -0, 1, -1, 0.1, 1 / 3, 2048, 2049, 2051, 4097, 65504, -65504, 65519, 6.103515625e-5, -6.103515625e-5, 0.5 + 2 ** -12, 3.14159265];

function inputs(size: number, seed: number): Float32Array {
  const values = randomValues(size, seed, -300, 300);
  values.set(SPECIALS.slice(0, Math.min(size, SPECIALS.length)));
  return values;
}

/** Distance between the two f16 values around v (v within the normal f16 range). */
function halfSpacing(v: number): number {
  const a = Math.abs(v);
  return a < 6.103515625e-5 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
}

describe('cast', () => {
  it('f32 → f16 rounds each value to one of its two f16 neighbours (odd sizes)', async () => {
    const rt = runtime();
    if (!rt.hasF16) {
      expect(() => cast(rt.upload([1], [1]), 'f16')).toThrow(/cast: f32 → f16 of \[1\] needs the adapter feature 'shader-f16'/);
      return;
    }
    for (const [shape, seed] of [
      [[7], 1],
      [[2, 7, 5, 3], 2],
      [[1001], 3],
    ] as const) {
      const size = shape.reduce((a: number, b: number) => a * b, 1);
      const xs = inputs(size, seed);
      const y = cast(rt.upload(xs, shape), 'f16');
      expect(y.dtype).toBe('f16');
      expect([...y.shape]).toEqual(shape);
      const ours = await y.data();
      const nearest = Array.from(xs, (v) => float16BitsToFloat32(float32ToFloat16Bits(v)));
      let roundedToNearest = 0;
      xs.forEach((v, i) => {
        const o = ours[i]!;
        // Exactly representable values stay; the others land on a neighbour.
        if (nearest[i] === v) expect(o, `element ${i} (${v})`).toBe(v);
        else expect(Math.abs(o - v), `element ${i} (${v}) became ${o}`).toBeLessThan(halfSpacing(v));
        if (o === nearest[i]) roundedToNearest++;
      });
      // lavapipe rounds to nearest even, as the CPU conversion does; other devices may not.
      if (rt.context.adapterInfo.description.includes('llvmpipe')) expect(roundedToNearest).toBe(size);
    }
  });

  it.skipIf(!hasShaderF16)('f16 → f32 is exact and f16 → f32 → f16 round-trips bit for bit (needs shader-f16)', async () => {
    const rt = runtime();
    const xs = inputs(10_001, 4);
    const h = rt.upload(xs, [10_001], 'f16');
    const halfValues = await h.data();
    const f = cast(h, 'f32');
    expect(f.dtype).toBe('f32');
    const widened = await f.data();
    expectClose(widened, float16ToFloat32(Array.from(xs, float32ToFloat16Bits)), 0, 0, 'f16 → f32');
    const back = cast(f, 'f16');
    expectClose(await back.data(), halfValues, 0, 0, 'f16 → f32 → f16');
    // Signs of zeros survive too.
    expect(Object.is(widened[1], -0)).toBe(true);
  });

  it('f32 → f32 and f16 → f16 make a copy', async () => {
    const rt = runtime();
    const dtypes: DType[] = rt.hasF16 ? ['f32', 'f16'] : ['f32'];
    for (const dtype of dtypes) {
      const xs = inputs(35, 5);
      const x = rt.upload(xs, [7, 5], dtype);
      const y = cast(x, dtype);
      expect(y.buffer).not.toBe(x.buffer);
      expectClose(await y.data(), await x.data(), 0, 0, `${dtype} copy`);
    }
  });

  it('rejects an unknown dtype before dispatching', () => {
    const rt = runtime();
    const x = rt.upload([1, 2, 3], [3]);
    const before = rt.stats().dispatches;
    expect(() => cast(x, 'f64' as DType)).toThrow(/cast: unknown dtype "f64" for \[3\]/);
    expect(rt.stats().dispatches).toBe(before);
  });
});
