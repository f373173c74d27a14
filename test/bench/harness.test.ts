import { describe, expect, it } from 'vitest';
import { compareResults, compareTable, formatPercent, parseReport, resultProblems, resultsTable, textTable, type BenchReport, type BenchResult } from '../../bench/report.ts';
import { median, quantile, ratePerSecond, repsFor, summarize, wantsAnotherSample } from '../../bench/stats.ts';

describe('bench statistics', () => {
  it('takes the median of odd and even counts, whatever the order', () => {
    expect(median([5])).toBe(5);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, -1, 7, 7, 3])).toBe(7);
  });

  it('interpolates quantiles between order statistics', () => {
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    expect(quantile(v, 0)).toBe(1);
    expect(quantile(v, 1)).toBe(11);
    expect(quantile(v, 0.1)).toBeCloseTo(2);
    expect(quantile(v, 0.9)).toBeCloseTo(10);
    expect(quantile([0, 10], 0.25)).toBeCloseTo(2.5);
  });

  it('summarizes samples with a spread that one outlier does not inflate', () => {
    const s = summarize([10, 11, 9, 10, 100]);
    expect(s.n).toBe(5);
    expect(s.median).toBe(10);
    expect(s.min).toBe(9);
    expect(s.max).toBe(100);
    expect(s.mad).toBe(1); // deviations 0,1,1,0,90 → median 1
    expect(s.p10).toBeLessThanOrEqual(s.median);
    expect(s.p90).toBeGreaterThanOrEqual(s.median);
    expect(summarize([4, 4, 4]).mad).toBe(0);
  });

  it('rejects empty or non-finite samples', () => {
    expect(() => summarize([])).toThrow();
    expect(() => median([1, Number.NaN])).toThrow(/finite/);
    expect(() => quantile([1, 2], 1.5)).toThrow();
  });

  it('turns counted work into rates', () => {
    expect(ratePerSecond(2e9, 1000)).toBeCloseTo(2); // 2 GFLOP in 1 s
    expect(ratePerSecond(12e6, 10)).toBeCloseTo(1.2); // 12 MB in 10 ms
    expect(ratePerSecond(undefined, 5)).toBeUndefined();
    expect(ratePerSecond(100, 0)).toBeUndefined();
  });

  it('groups iterations so that a sample lasts long enough', () => {
    expect(repsFor(1000, 200, 100)).toBe(1);
    expect(repsFor(10, 200, 100)).toBe(20);
    expect(repsFor(0.01, 200, 100)).toBe(100);
    expect(repsFor(0, 200, 7)).toBe(7);
  });

  it('samples at least min, at most max, and stops at the budget in between', () => {
    const o = { minSamples: 3, maxSamples: 5, budgetMs: 100, capMs: Infinity };
    expect(wantsAnotherSample(0, 0, 10, o)).toBe(true);
    expect(wantsAnotherSample(2, 1e9, 10, o)).toBe(true);
    expect(wantsAnotherSample(3, 50, 10, o)).toBe(true);
    expect(wantsAnotherSample(3, 150, 10, o)).toBe(false);
    expect(wantsAnotherSample(5, 0, 10, o)).toBe(false);
  });

  it('never starts a sample expected to end past the cap, but always takes one', () => {
    const o = { minSamples: 3, maxSamples: 5, budgetMs: 1000, capMs: 2500 };
    expect(wantsAnotherSample(0, 0, 1e6, o)).toBe(true);
    expect(wantsAnotherSample(1, 1800, 1800, o)).toBe(false);
    expect(wantsAnotherSample(1, 1000, 1000, o)).toBe(true);
    expect(wantsAnotherSample(2, 2000, 1000, o)).toBe(false);
  });
});

const line = (name: string, ms: number, extra: Partial<BenchResult> = {}): BenchResult => ({ name, ms, spreadMs: ms / 20, ...extra });

describe('bench comparison', () => {
  it('flags lines more than 10% slower as regressions, and matches by name', () => {
    const older = [line('a', 100), line('b', 100), line('c', 100), line('d', 100), line('gone', 1)];
    const newer = [line('a', 111), line('b', 109), line('c', 80), line('d', 100), line('fresh', 5)];
    const rows = compareResults(older, newer);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by.a!.status).toBe('regression');
    expect(by.a!.change).toBeCloseTo(0.11);
    expect(by.b!.status).toBe('same');
    expect(by.c!.status).toBe('improvement');
    expect(by.c!.change).toBeCloseTo(-0.2);
    expect(by.d!.status).toBe('same');
    expect(by.fresh!.status).toBe('new');
    expect(by.gone!.status).toBe('gone');
    expect(rows.map((r) => r.name)).toEqual(['a', 'b', 'c', 'd', 'fresh', 'gone']);
  });

  it('uses the given threshold, exactly 10% is not a regression', () => {
    expect(compareResults([line('x', 100)], [line('x', 110)])[0]!.status).toBe('same');
    expect(compareResults([line('x', 100)], [line('x', 103)], 0.02)[0]!.status).toBe('regression');
    expect(compareResults([line('x', 0)], [line('x', 1)])[0]!.status).toBe('regression');
  });

  it('marks differences within twice the combined spreads as possible noise', () => {
    const [noisy] = compareResults([line('x', 100, { spreadMs: 10 })], [line('x', 130, { spreadMs: 6 })]);
    expect(noisy!.status).toBe('regression');
    expect(noisy!.withinNoise).toBe(true);
    const [real] = compareResults([line('x', 100, { spreadMs: 1 })], [line('x', 130, { spreadMs: 1 })]);
    expect(real!.withinNoise).toBe(false);
    expect(compareTable([noisy!])).toMatch(/REGRESSION \(within noise\)/);
  });

  it('prints the change and a REGRESSION flag', () => {
    const table = compareTable(compareResults([line('conv', 10, { spreadMs: 0.1 })], [line('conv', 20, { spreadMs: 0.1 })]));
    expect(table).toMatch(/conv\s+10\.00\s+20\.00\s+\+100\.0%\s+REGRESSION$/m);
    expect(formatPercent(-0.0512)).toBe('-5.1%');
  });
});

describe('bench JSON', () => {
  const report: BenchReport = {
    adapter: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe', features: ['timestamp-query'] },
    date: '2025-01-01T00:00:00.000Z',
    tier: 'quick',
    results: [
      line('matmul 256', 12.5, { wallMs: 13.25, gflops: 2.7, peer: 'tfjs-webgpu', peerMs: 15, ratio: 1.2, peakBytes: 1 << 20, timing: 'gpu-timestamp', adapter: 'llvmpipe', peerAdapter: 'llvmpipe', tunedShapes: 2 }),
      line('add 1M', 5, { gbps: 2.4, adapter: 'llvmpipe', tunedShapes: 0 }),
      line('gram 8x8x64', 3, { peer: 'tfjs-webgpu', peerMs: 6, ratio: 2, adapter: 'llvmpipe', peerAdapter: 'llvmpipe', peerWork: 'half product against a full matMul', tunedShapes: 0 }),
    ],
  };

  it('round-trips a report through JSON', () => {
    const parsed = parseReport(JSON.parse(JSON.stringify(report)));
    expect(parsed.results).toEqual(report.results);
    expect(parsed.adapter?.vendor).toBe('mesa');
    expect(parsed.date).toBe(report.date);
  });

  it('accepts a bare array of results', () => {
    const parsed = parseReport([{ name: 'a', ms: 1 }, { name: 'b', ms: 2, ratio: 0.5 }]);
    expect(parsed.results.map((r) => r.name)).toEqual(['a', 'b']);
    expect(parsed.adapter).toBeUndefined();
  });

  it('rejects files that are not reports, saying what is wrong', () => {
    expect(() => parseReport({ adapter: {} })).toThrow(/results/);
    expect(() => parseReport(null)).toThrow(/results/);
    expect(() => parseReport([{ name: 'a' }])).toThrow(/results\[0\]: 'ms'/);
    expect(() => parseReport([{ name: '', ms: 1 }])).toThrow(/name/);
    expect(() => parseReport([{ name: 'a', ms: 1, gflops: 'fast' }])).toThrow(/gflops/);
    expect(() => parseReport([{ name: 'a', ms: 1, tunedShapes: 'yes' }])).toThrow(/tunedShapes/);
    expect(() => parseReport([{ name: 'a', ms: 1, peerAdapter: 3 }])).toThrow(/peerAdapter/);
  });

  it('checks every line of a written report', () => {
    for (const r of report.results) expect(resultProblems(r)).toEqual([]);
    expect(resultProblems(42)).toHaveLength(1);
  });

  it('prints a table with one row per result, then the adapters and how the peer\'s work differs', () => {
    const text = resultsTable(report.results);
    const [table, notes] = text.split('\n\n');
    const rows = table!.split('\n');
    expect(rows).toHaveLength(2 + report.results.length);
    expect(rows[0]).toMatch(/tfjs\/ours\s+peak mem\s+tuned\s+peer work$/);
    expect(rows[2]).toMatch(/^matmul 256\s+12\.50\s+±0\.625\s+gpu\s+13\.25\s+2\.70\s+15\.00\s+1\.20x\s+1\.0 MiB\s+2\s+same$/);
    expect(rows[3]).toMatch(/^add 1M\s+5\.000\s+±0\.250\s+2\.40\s+no$/); // no peer: nothing to compare
    expect(rows[4]).toMatch(/\s2\.00x\s+no\s+differs \[1\]$/);
    expect(notes!.split('\n')).toEqual(['adapters: pastiche on llvmpipe; tfjs-webgpu on llvmpipe', 'highest rate: pastiche 2.70 GFLOP/s (matmul 256)', '[1] half product against a full matMul']);
    // Results without these fields (older reports) print no notes.
    expect(resultsTable([line('x', 1)])).not.toMatch(/adapters|\[1\]/);
    expect(textTable(['a', '>b'], [['xx', '1']])).toBe('a   b\n--  -\nxx  1');
  });
});
