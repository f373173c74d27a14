/**
 * `npm run bench -- --profile -f LINE`: where a line's GPU time goes, kernel by kernel. One iteration
 * of the line's pastiche workload runs with every launch submitted as its own compute pass between
 * begin/end timestamps; pass times are summed by kernel name, variant and grid. One pass per launch
 * adds submit overhead and removes overlap between launches, so the total is above the timed line's;
 * the split is what this is for. The batched wall time of the same iteration is printed beside it.
 */
import { PassTimestamps } from '../src/gpu/pass-timestamps.ts';
import type { KernelLaunch, Runtime } from '../src/gpu/runtime.ts';
import { scope } from '../src/gpu/scope.ts';
import type { Workload } from './types.ts';

export interface KernelProfileRow {
  /** `name [variant] grid` */
  kernel: string;
  /** Launches per iteration. */
  calls: number;
  /** GPU ms per iteration. */
  ms: number;
}

export interface KernelProfile {
  rows: KernelProfileRow[];
  /** Sum of the timed passes, ms per iteration. */
  totalMs: number;
  launches: number;
  /** The same iteration submitted as usual (batched), wall ms. */
  batchedWallMs: number;
}

/** WebGPU allows 4096 queries per set: two per pass. */
const MAX_PASSES = 2048;

/** Profiles `repeats` iterations of `workload` (after one warm-up run that compiles the pipelines). */
export async function profileWorkload(runtime: Runtime, workload: Workload, repeats = 2): Promise<KernelProfile> {
  if (!runtime.context.features.has('timestamp-query')) throw new Error("--profile needs the adapter's 'timestamp-query' feature");
  const iterate = () => scope(() => workload.run());
  iterate();
  await runtime.sync();
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) iterate();
  await runtime.sync();
  const batchedWallMs = (performance.now() - t0) / repeats;

  const labels: string[] = [];
  const launch = runtime.launch.bind(runtime);
  const timer = new PassTimestamps(runtime.device, 2 * MAX_PASSES, 'profile timestamps');
  const previousTimer = runtime.recorder.timer;
  const byKernel = new Map<string, KernelProfileRow>();
  let totalMs = 0;
  try {
    runtime.launch = (l: KernelLaunch) => {
      const before = runtime.recorder.counters.dispatches;
      launch(l);
      if (runtime.recorder.counters.dispatches === before) return; // an empty grid records nothing
      labels.push(`${l.name}${l.variant ? ` [${l.variant}]` : ''} ${l.workgroups.join('x')}`);
      void runtime.recorder.flush(); // one batch, hence one timed pass, per launch
    };
    runtime.recorder.timer = timer;
    for (let r = 0; r < repeats; r++) {
      labels.length = 0;
      timer.begin();
      iterate();
      await runtime.sync();
      if (labels.length > MAX_PASSES) throw new Error(`--profile: ${labels.length} launches in one iteration; at most ${MAX_PASSES} can be timed (choose a smaller line)`);
      const ms = await timer.collectEach();
      if (!ms || ms.length !== labels.length) throw new Error(`--profile: ${ms?.length ?? 'no'} timed passes for ${labels.length} launches`);
      labels.forEach((kernel, i) => {
        const row = byKernel.get(kernel) ?? { kernel, calls: 0, ms: 0 };
        row.calls += 1 / repeats;
        row.ms += ms[i]! / repeats;
        totalMs += ms[i]! / repeats;
        byKernel.set(kernel, row);
      });
    }
  } finally {
    runtime.launch = launch;
    runtime.recorder.timer = previousTimer;
    timer.destroy();
  }
  const rows = [...byKernel.values()].sort((a, b) => b.ms - a.ms);
  return { rows, totalMs, launches: rows.reduce((n, r) => n + r.calls, 0), batchedWallMs };
}

/** The profile as text: a header line and the `top` most expensive kernels. */
export function profileTable(name: string, p: KernelProfile, top: number): string {
  const lines = [
    `${name}: ${p.totalMs.toFixed(1)} ms GPU in ${Math.round(p.launches)} launches (one pass each); batched as usual: ${p.batchedWallMs.toFixed(1)} ms wall`,
    `${'ms'.padStart(9)} ${'%'.padStart(5)} ${'calls'.padStart(5)}  kernel [variant] workgroups`,
    ...p.rows.slice(0, top).map((r) => `${r.ms.toFixed(2).padStart(9)} ${((100 * r.ms) / p.totalMs).toFixed(1).padStart(5)} ${String(Math.round(r.calls)).padStart(5)}  ${r.kernel}`),
  ];
  if (p.rows.length > top) lines.push(`    (${p.rows.length - top} more kernels: ${p.rows.slice(top).reduce((s, r) => s + r.ms, 0).toFixed(1)} ms)`);
  return lines.join('\n');
}
