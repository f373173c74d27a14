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
      // The forward at --precision f16 too (lavapipe has shader-f16).
      expect(rt.hasF16).toBe(true);
      expect(results.some((r) => r.family === 'conv2d' && r.shape.endsWith(' f16'))).toBe(true);
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

  it('--nets johnson,adain: the transposed convs of Johnson et al.\'s net and an AdaIN decoder training step at 16 px', async () => {
    const rt = runtime();
    try {
      const results = await tuneNets(rt, { size: [16], nets: ['johnson', 'adain'], samples: 1 }, null, () => undefined);
      const shapes = results.map((r) => `${r.family} ${r.shape}`);
      // Johnson: the 9×9 RGB convs, and deconv1/deconv2 (3×3, stride 2, kernels [3, 3, out, in]) forward.
      expect(shapes).toContain('conv2d fwd 9x9 s1 3>32 px2^8');
      expect(shapes).toContain('conv2d fwd 9x9 s1 32>3 px2^8');
      expect(shapes).toContain('conv2d dx 3x3 s2 32>64 px2^6');
      // AdaIN: the decoder's first conv (512 → 256 on 2×2 relu4_1 features; its input needs no
      // gradient) and a later one in all three passes, and the encoder's conv4_1 (the VGG side of the step).
      expect(shapes).toContain('conv2d fwd 3x3 s1 512>256 px2^2');
      expect(shapes).toContain('conv2d dw 3x3 s1 512>256 px2^2');
      for (const pass of ['fwd', 'dx', 'dw']) expect(shapes).toContain(`conv2d ${pass} 3x3 s1 256>128 px2^4`);
      expect(shapes).toContain('conv2d fwd 3x3 s1 256>512 px2^2');
      for (const r of results) {
        expect(r.measured).toBe(true);
        expect(r.ms[r.choice]).toBe(Math.min(...Object.values(r.ms)));
        expect(rt.tuning.lookup(r.family, r.shape)).toBe(r.choice);
      }
    } finally {
      rt.tuning.clear();
    }
  });
});
