import { describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../../src/autograd/grad.ts';
import { conv2d, conv2dTranspose } from '../../../src/autograd/ops/conv2d.ts';
import { gram } from '../../../src/autograd/ops/gram.ts';
import { matmul } from '../../../src/autograd/ops/matmul.ts';
import { sum } from '../../../src/autograd/ops/reduce.ts';
import { scope } from '../../../src/gpu/scope.ts';
import type { Runtime } from '../../../src/gpu/tensor.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { randomValues } from '../../helpers/oracle.ts';

const runtime = useRuntime();

/** FLOPs the ops record while `body` runs. */
function flopsOf(rt: Runtime, body: () => void): number {
  const before = rt.stats().flops;
  scope(body);
  return rt.stats().flops - before;
}

const noise = (rt: Runtime, shape: number[], seed: number) => rt.upload(randomValues(shape.reduce((a, b) => a * b, 1), seed), shape);

describe('nominal FLOPs recorded by the ops (the bench divides them by time)', () => {
  it('a 3×3 conv counts 2·N·H·W·Cout·9·Cin whichever algorithm runs it, and its backward adds one such product per gradient', () => {
    const rt = runtime();
    const x = noise(rt, [2, 9, 7, 5], 1);
    const w = noise(rt, [3, 3, 5, 6], 2);
    const direct = 2 * 2 * 9 * 7 * 6 * 9 * 5;
    for (const algorithm of ['direct', 'winograd'] as const) {
      expect(flopsOf(rt, () => void conv2d(x, w, { padding: 1, kernel: { algorithm } }))).toBe(direct);
    }
    // Stride 2, valid: 4×3 output pixels.
    expect(flopsOf(rt, () => void conv2d(x, w, { stride: 2 }))).toBe(2 * 2 * 4 * 3 * 6 * 9 * 5);
    x.requiresGrad = true;
    w.requiresGrad = true;
    expect(flopsOf(rt, () => void valueAndGradOf(() => sum(conv2d(x, w, { padding: 1 })), [x, w]))).toBe(3 * direct);
    w.requiresGrad = false; // a frozen filter (VGG in Gatys): no filter gradient is computed
    expect(flopsOf(rt, () => void valueAndGradOf(() => sum(conv2d(x, w, { padding: 1 })), [x]))).toBe(2 * direct);
    // The transposed conv is the input gradient of the conv whose output is x's shape.
    const t = noise(rt, [2, 9, 7, 6], 3);
    expect(flopsOf(rt, () => void conv2dTranspose(t, w, { padding: 'same' }))).toBe(direct);
    for (const u of [x, w, t]) u.dispose();
  });

  it('a product counts 2·batch·m·n·k, transposed or not, and a Gram matrix its full product FᵀF', () => {
    const rt = runtime();
    const a = noise(rt, [3, 4, 5], 4); // batch 3 of 4×5
    const b = noise(rt, [5, 6], 5);
    expect(flopsOf(rt, () => void matmul(a, b))).toBe(2 * 3 * 4 * 6 * 5);
    const bt = noise(rt, [6, 5], 6);
    expect(flopsOf(rt, () => void matmul(a, bt, { transposeB: true }))).toBe(2 * 3 * 4 * 6 * 5);
    const at = noise(rt, [5, 4], 7);
    expect(flopsOf(rt, () => void matmul(at, b, { transposeA: true }))).toBe(2 * 4 * 6 * 5);
    const f = noise(rt, [2, 3, 5, 8], 8);
    expect(flopsOf(rt, () => void gram(f))).toBe(2 * 2 * 8 * 8 * 15);
    f.requiresGrad = true;
    expect(flopsOf(rt, () => void valueAndGradOf(() => sum(gram(f)), [f]))).toBe(2 * (2 * 2 * 8 * 8 * 15));
    for (const u of [a, b, bt, at, f]) u.dispose();
  });
});
