/**
 * The bench plumbing of the onnxruntime-cpu peer that needs no onnxruntime: how its iterations are
 * run and awaited, the self-check's difference measure, and how its numbers appear in the JSON and
 * the table (and that --compare still matches lines by pastiche's own time).
 */
import { describe, expect, it } from 'vitest';
import { cpuPeerTarget, outputDifference } from '../../bench/harness.ts';
import { compareResults, resultProblems, resultsTable, type BenchResult } from '../../bench/report.ts';

describe('onnxruntime-cpu peer in the bench', () => {
  it('runs iterations one after another and syncs on the last', async () => {
    const events: string[] = [];
    let active = 0;
    let started = 0;
    const target = cpuPeerTarget('onnxruntime-cpu', {
      async run() {
        const k = started++;
        active++;
        expect(active, 'iterations must not overlap').toBe(1);
        events.push(`start ${k}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
        events.push(`end ${k}`);
        active--;
      },
      dispose() {},
    });
    for (let i = 0; i < 3; i++) target.run();
    // Nothing has started yet: run() only queues (the harness times the runs and the sync together).
    expect(events).toEqual([]);
    await target.sync();
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(target.timer).toBeNull();
  });

  it('reports a failed iteration from sync', async () => {
    const target = cpuPeerTarget('onnxruntime-cpu', {
      run: () => Promise.reject(new Error('session failed')),
      dispose() {},
    });
    target.run();
    target.run();
    await expect(target.sync()).rejects.toThrow('session failed');
    // A later sample starts from a clean chain.
    await expect(target.sync()).resolves.toBeUndefined();
  });

  it('measures max |Δ| and relative L2, and a NaN never passes', () => {
    const d = outputDifference(Float32Array.from([1, 2, 3.5]), Float32Array.from([1, 2, 3]));
    expect(d.maxDiff).toBeCloseTo(0.5, 6);
    expect(d.relL2).toBeCloseTo(0.5 / Math.sqrt(14), 6);
    const nan = outputDifference(Float32Array.from([NaN, 2, 3]), Float32Array.from([1, 2, 3]));
    expect(nan.maxDiff).toBeNaN();
    expect(nan.relL2 <= 1e-3).toBe(false);
    expect(() => outputDifference(new Float32Array(2), new Float32Array(3))).toThrow(/sizes differ/);
  });

  const line: BenchResult = { name: 'e2e feed-forward image (transformer net, 64 px)', group: 'e2e', ms: 180, spreadMs: 5, timing: 'gpu-timestamp', wallMs: 200, peer: 'tfjs-webgpu', peerMs: 900, ratio: 5 };
  const withOrt: BenchResult = { ...line, cpuPeer: 'onnxruntime-cpu', cpuPeerMs: 30, cpuPeerSpreadMs: 1, cpuRatio: 0.15, cpuPeerMaxDiff: 1e-5, cpuPeerRelL2: 3e-6 };

  it('adds the ort columns only when a line has the CPU peer; its ratio is against pastiche’s wall clock', () => {
    expect(resultsTable([line])).not.toContain('ort');
    const table = resultsTable([withOrt, { name: 'matmul 256x256x256', ms: 1, spreadMs: 0 }]).split('\n');
    expect(table[0]).toMatch(/tfjs\/ours\s+peak mem\s+tuned\s+peer work\s+ort ms\s+ort\/ours\s+ort GFLOP\/s$/);
    expect(table[2]).toMatch(/30\.00\s+0\.15x$/);
    // With the line's FLOPs: both sides' rates, and the highest of each under the table.
    const rated = resultsTable([{ ...withOrt, flops: 3e9, gflops: 16.7, cpuPeerGflops: 100 }]).split('\n');
    expect(rated[2]).toMatch(/16\.7\s.*30\.00\s+0\.15x\s+100$/);
    expect(rated).toContain('highest rate: pastiche 16.7 GFLOP/s (e2e feed-forward image (transformer net, 64 px)); onnxruntime-cpu 100 GFLOP/s (e2e feed-forward image (transformer net, 64 px))');
    const failed = resultsTable([{ ...line, cpuPeer: 'onnxruntime-cpu', cpuPeerError: 'output differs' }]).split('\n');
    expect(failed[2]).toMatch(/failed$/);
  });

  it('validates the CPU peer fields and keeps --compare on pastiche’s time', () => {
    expect(resultProblems(withOrt)).toEqual([]);
    expect(resultProblems({ ...withOrt, cpuPeerMs: '30' })).toEqual(["result: 'cpuPeerMs' must be a number when present"]);
    expect(resultProblems({ ...withOrt, cpuPeer: 1 })).toEqual(["result: 'cpuPeer' must be a string when present"]);
    const [row] = compareResults([line], [{ ...withOrt, ms: 190 }]);
    expect(row!.status).toBe('same');
    expect(row!.newMs).toBe(190);
  });
});
