/**
 * Every kernel benchmark, in the order they run: one file per op family, each importing only the
 * engine modules it measures. To add a family, write `bench/suites/<family>.ts` exporting a
 * `BenchDef[]` and add a line to SUITES.
 *
 * Suites are loaded one by one with dynamic imports, so an engine module that is broken or not
 * there yet (the engine is being written while this runs) only drops its own lines, reported as
 * not measured, instead of stopping the whole bench.
 */
import type { BenchDef } from '../types.ts';

const SUITES: { name: string; load: () => Promise<BenchDef[]> }[] = [
  { name: 'elementwise', load: async () => (await import('./elementwise.ts')).elementwiseBenches },
  { name: 'matmul', load: async () => (await import('./matmul.ts')).matmulBenches },
  { name: 'conv2d', load: async () => (await import('./conv2d.ts')).conv2dBenches },
  { name: 'conv3x3', load: async () => (await import('./conv3x3.ts')).conv3x3Benches },
  { name: 'gram', load: async () => (await import('./gram.ts')).gramBenches },
  { name: 'norm', load: async () => (await import('./norm.ts')).normBenches },
  { name: 'pool', load: async () => (await import('./pool.ts')).poolBenches },
  { name: 'resize', load: async () => (await import('./resize.ts')).resizeBenches },
  { name: 'pad', load: async () => (await import('./pad.ts')).padBenches },
];

export interface LoadedSuites {
  benches: BenchDef[];
  /** Suites that could not be loaded, with the reason. */
  failed: { name: string; reason: string }[];
}

export async function loadKernelBenches(): Promise<LoadedSuites> {
  const benches: BenchDef[] = [];
  const failed: LoadedSuites['failed'] = [];
  for (const suite of SUITES) {
    try {
      benches.push(...(await suite.load()));
    } catch (err) {
      failed.push({ name: `${suite.name} suite`, reason: `could not be loaded: ${(err as Error).message.split('\n')[0]}` });
    }
  }
  return { benches, failed };
}
