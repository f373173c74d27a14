import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tuneNets, type TuneOptions } from '../../src/cli/commands/tune.ts';
import { fileTuneStore } from '../../src/gpu/autotune.ts';
import { useRuntime } from '../helpers/gpu.ts';

const runtime = useRuntime();

describe('pastiche tune', () => {
  it('times the TransformerNet shapes at 16 px, keeps the fastest variant of each, saves them per adapter and reuses them', async () => {
    const rt = runtime();
    const dir = await mkdtemp(join(tmpdir(), 'pastiche-tune-'));
    try {
      const store = fileTuneStore(join(dir, 'autotune.json'));
      const options: TuneOptions = { size: [16], nets: ['transformer'], samples: 1 };
      const results = await tuneNets(rt, options, store, () => undefined);
      // Forward, input- and filter-gradient convs of the net (plus any matmuls): several shape classes.
      expect(results.length).toBeGreaterThanOrEqual(6);
      for (const r of results) {
        expect(r.measured).toBe(true);
        expect(r.ms[r.choice]).toBe(Math.min(...Object.values(r.ms)));
        expect(rt.tuning.lookup(r.family, r.shape)).toBe(r.choice);
      }
      const saved = JSON.parse(await readFile(store.where, 'utf8')) as { adapters: Record<string, Record<string, { choice: string }>> };
      expect(Object.keys(saved.adapters)).toEqual([rt.tuning.adapter]);
      const entries = saved.adapters[rt.tuning.adapter]!;
      expect(Object.keys(entries).length).toBe(results.length);
      for (const r of results) expect(entries[`${r.family}|${r.shape}`]?.choice).toBe(r.choice);
      // Tuned shapes are not measured again unless forced.
      const again = await tuneNets(rt, options, store, () => undefined);
      expect(again.map((r) => [r.shape, r.measured, r.choice])).toEqual(results.map((r) => [r.shape, false, r.choice]));
    } finally {
      rt.tuning.clear(); // later tests in this process use the rules again
      await rm(dir, { recursive: true, force: true });
    }
  });
});
