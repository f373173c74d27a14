import { describe, expect, it } from 'vitest';
import { binary, unary } from '../../src/gpu/kernels/elementwise.ts';
import { profileTable, profileWorkload } from '../../bench/profile.ts';
import { useRuntime } from '../helpers/gpu.ts';

const runtime = useRuntime();

describe('bench --profile', () => {
  it('times every launch of an iteration and sums the passes per kernel', async () => {
    const rt = runtime();
    const x = rt.upload(new Float32Array(4096).fill(1), [4096]);
    // Per iteration: relu twice on the same grid, one add: two kernel rows.
    const workload = {
      run: () => void binary('add', unary('relu', unary('relu', x)), x),
      dispose: () => x.dispose(),
    };
    if (!rt.context.features.has('timestamp-query')) {
      await expect(profileWorkload(rt, workload)).rejects.toThrow(/timestamp-query/);
      return;
    }
    const live = rt.stats().liveTensors;
    const p = await profileWorkload(rt, workload, 2);
    expect(rt.stats().liveTensors).toBe(live); // each iteration ran in a scope
    expect(p.launches).toBe(3);
    expect(p.rows.map((r) => [r.kernel, r.calls]).sort()).toEqual([
      ['binary_vec4 [dtype=f32,op=add] 4x1x1', 1],
      ['unary [dtype=f32,op=relu,vec4=true] 4x1x1', 2],
    ]);
    expect(p.rows.every((r) => r.ms > 0)).toBe(true);
    expect(p.totalMs).toBeCloseTo(p.rows.reduce((s, r) => s + r.ms, 0), 9);
    // Launches are batched again afterwards: the runtime's own launch and timer are back.
    expect(rt.recorder.timer).toBeNull();
    const text = profileTable('tiny', p, 1).split('\n');
    expect(text[0]).toMatch(/^tiny: [\d.]+ ms GPU in 3 launches/);
    expect(text).toHaveLength(4); // header, column names, one row, and the line for the rest
    expect(text[3]).toMatch(/1 more kernels/);
    workload.dispose();
  });
});
