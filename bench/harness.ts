/**
 * Timing: warm-up, then interleaved samples of pastiche and its peer, each sample being N
 * iterations followed by one full sync. Every sample is timed two ways at once:
 *  - wall clock around the N iterations and the sync (always);
 *  - GPU time from timestamp queries written at the start and end of every compute pass
 *    (when the adapter has 'timestamp-query'), resolved and read back once per sample.
 * A line reports GPU time when every target on it (pastiche and the peer) got complete GPU
 * timings, otherwise wall time for all of them, so `ratio` always compares like with like.
 */
import { scope } from '../src/gpu/scope.ts';
import { PassTimestamps } from '../src/gpu/pass-timestamps.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import type { BenchResult, TimingBasis } from './report.ts';
import { median, ratePerSecond, repsFor, summarize, wantsAnotherSample, type SamplingRule, type Summary } from './stats.ts';
import type { BenchDef, CpuWorkload, Tier, Workload } from './types.ts';
import type { TfjsPeer } from './peers/tfjs-webgpu.ts';
import type { OnnxPeer } from './peers/onnx-runtime.ts';
import { adapterName, assertSameAdapter, tunedShapeCount } from './comparison.ts';

const now = () => performance.now();

/** Something the harness can time: record one iteration, wait for everything, optional GPU timer. */
export interface Target {
  label: string;
  run(): void;
  sync(): Promise<void>;
  /** Installs (or removes, with null) the pass timer for the measured samples. */
  setTimer(timer: PassTimestamps | null): void;
  timer: PassTimestamps | null;
}

export interface MeasureOptions extends SamplingRule {
  /** Untimed runs first (the first one compiles pipelines); more than one only for short runs. */
  warmup: number;
  /** Time N iterations together so that a sample lasts at least this long. */
  minSampleMs: number;
  maxReps: number;
  /**
   * Count a warm-up run longer than capMs as the only sample (default true). Off for end-to-end
   * lines, whose first run compiles dozens of pipelines: they always get a sample after warm-up.
   */
  adoptLongWarmup?: boolean;
}

/** Sampling per tier; budgets and caps are per target (pastiche and the peer each) and line. */
export const MEASURE_PRESETS: Record<Tier, MeasureOptions> = {
  quick: { warmup: 1, minSamples: 3, maxSamples: 5, budgetMs: 1000, capMs: 2500, minSampleMs: 30, maxReps: 10 },
  default: { warmup: 2, minSamples: 3, maxSamples: 9, budgetMs: 4000, capMs: 12000, minSampleMs: 200, maxReps: 100 },
  full: { warmup: 3, minSamples: 5, maxSamples: 21, budgetMs: 10000, capMs: 60000, minSampleMs: 250, maxReps: 1000 },
};

export interface Measurement {
  wall: Summary;
  /** Null when GPU time was not available for every sample. */
  gpu: Summary | null;
  reps: number;
}

interface TargetState {
  target: Target;
  reps: number;
  /** Expected duration of one sample (warm-up estimate, then the median sample). */
  sampleMs: number;
  wall: number[];
  gpu: number[] | null;
  spentMs: number;
  error: Error | null;
}

/** Times `reps` iterations and one sync: wall ms, and GPU ms (null when not complete). */
async function timeRuns(target: Target, reps: number): Promise<{ wall: number; gpu: number | null }> {
  target.timer?.begin();
  const t0 = now();
  for (let i = 0; i < reps; i++) target.run();
  await target.sync();
  const wall = now() - t0;
  const gpu = target.timer ? await target.timer.collect() : null;
  return { wall, gpu };
}

function addSample(s: TargetState, t: { wall: number; gpu: number | null }, reps: number): void {
  s.spentMs += t.wall;
  s.wall.push(t.wall / reps);
  s.sampleMs = median(s.wall) * reps;
  if (s.gpu && t.gpu !== null) s.gpu.push(t.gpu / reps);
  else s.gpu = null;
}

/**
 * Warms every target up, then takes samples round-robin (one from each target per round) so
 * that load from other processes hits all targets alike. A target that throws is dropped and
 * its error returned; the others carry on. A warm-up run longer than `capMs` counts as the only
 * sample (it includes compiling the pipelines, negligible next to such a run): on a slow adapter
 * a second run of a minute-long line would add little but time.
 */
export async function measureTargets(targets: readonly Target[], o: MeasureOptions): Promise<(Measurement | Error)[]> {
  const states: TargetState[] = targets.map((target) => ({ target, reps: 1, sampleMs: 0, wall: [], gpu: target.timer ? [] : null, spentMs: 0, error: null }));
  try {
    for (const s of states) {
      try {
        s.target.setTimer(s.target.timer);
        let last = { wall: 0, gpu: null as number | null };
        // Long runs need no second warm-up: one is enough to compile and settle the pool.
        for (let i = 0; i < Math.max(1, o.warmup) && (i === 0 || last.wall < o.budgetMs / 4); i++) last = await timeRuns(s.target, 1);
        if (last.wall > o.capMs && o.adoptLongWarmup !== false) {
          addSample(s, last, 1);
          continue;
        }
        // The first run includes compiling pipelines: re-estimate short work (cheap by definition).
        if (last.wall < o.minSampleMs) last = await timeRuns(s.target, 1);
        s.reps = repsFor(last.wall, o.minSampleMs, o.maxReps);
        s.sampleMs = last.wall * s.reps;
      } catch (err) {
        s.error = err as Error;
      }
    }
    for (;;) {
      const active = states.filter((s) => !s.error && wantsAnotherSample(s.wall.length, s.spentMs, s.sampleMs, o));
      if (active.length === 0) break;
      for (const s of active) {
        try {
          addSample(s, await timeRuns(s.target, s.reps), s.reps);
        } catch (err) {
          s.error = err as Error;
        }
      }
    }
  } finally {
    for (const s of states) s.target.setTimer(null);
  }
  return states.map((s) =>
    s.error ?? {
      wall: summarize(s.wall),
      gpu: s.gpu && s.gpu.length === s.wall.length ? summarize(s.gpu) : null,
      reps: s.reps,
    },
  );
}

/** Pastiche as a target: each iteration runs in scope() and is submitted at once. */
export function pasticheTarget(runtime: Runtime, workload: Workload, useTimestamps: boolean): Target & { flopsPerRun: number } {
  let flushes: Promise<void>[] = [];
  const timer = useTimestamps ? timerFor(runtime.device) : null;
  const counters = runtime.recorder.counters;
  return {
    label: 'pastiche',
    timer,
    flopsPerRun: 0,
    run() {
      const flopsBefore = counters.flops;
      scope(() => {
        workload.run();
      });
      this.flopsPerRun = counters.flops - flopsBefore;
      // Submitting per iteration keeps the pool from growing with N (released buffers are
      // reused only after a submit); the recorder still batches an iteration's dispatches.
      const flushed = runtime.flush();
      // Awaited in sync(); the no-op handler keeps an early failure from being "unhandled" meanwhile.
      flushed.catch(() => undefined);
      flushes.push(flushed);
    },
    async sync() {
      const pending = flushes;
      flushes = [];
      await Promise.all(pending);
      await runtime.sync();
    },
    setTimer(t) {
      runtime.recorder.timer = t;
    },
  };
}

/**
 * A CPU peer (onnxruntime-node) as a target: each iteration starts when the previous one has
 * finished (chained promises), the sync waits for the last; wall clock only.
 */
export function cpuPeerTarget(label: string, workload: CpuWorkload): Target {
  let last: Promise<unknown> = Promise.resolve();
  return {
    label,
    timer: null,
    run() {
      last = last.then(() => workload.run());
    },
    async sync() {
      const pending = last;
      last = Promise.resolve();
      await pending;
    },
    setTimer() {},
  };
}

/** The CPU peer's output may differ from pastiche's by this relative L2 error at most. */
export const CPU_PEER_TOLERANCE = 1e-3;

/** Max |a − e| and ‖a − e‖ / ‖e‖. */
export function outputDifference(actual: Float32Array, expected: Float32Array): { maxDiff: number; relL2: number } {
  if (actual.length !== expected.length) throw new Error(`output sizes differ: ${actual.length} vs ${expected.length}`);
  let maxDiff = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i]! - expected[i]!;
    // A NaN sticks (`>` alone would skip it), so a broken output never passes.
    if (Math.abs(d) > maxDiff || Number.isNaN(d)) maxDiff = Math.abs(d);
    num += d * d;
    den += expected[i]! ** 2;
  }
  return { maxDiff, relL2: Math.sqrt(num / den) };
}

const timers = new WeakMap<GPUDevice, PassTimestamps>();

/** One timer per device, created on first use (query sets belong to a device). */
export function timerFor(device: GPUDevice): PassTimestamps | null {
  if (!device.features.has('timestamp-query')) return null;
  let timer = timers.get(device);
  if (!timer) timers.set(device, (timer = new PassTimestamps(device, 4096, 'bench')));
  return timer;
}

export interface RunContext {
  runtime: Runtime;
  peer: TfjsPeer | null;
  /** The CPU peer for lines that define `onnx` (null or absent: not installed, or --no-peer). */
  onnx?: OnnxPeer | null;
  options: MeasureOptions;
  /** Use timestamp queries where available (false: wall time only). */
  timestamps: boolean;
}

function basisOf(m: Measurement, peer: Measurement | null): TimingBasis {
  return m.gpu && (!peer || peer.gpu) ? 'gpu-timestamp' : 'wall';
}

/**
 * Builds the CPU peer's workload and checks its output against pastiche's (once, before timing;
 * printed to stderr). Returns the workload, or null with the reason in `error` when it failed or
 * disagreed.
 */
async function cpuPeerWorkload(def: Pick<BenchDef, 'name' | 'onnx'>, onnx: OnnxPeer, ours: Workload): Promise<{ workload: CpuWorkload | null; maxDiff?: number; relL2?: number; error?: string }> {
  let workload: CpuWorkload | null = null;
  try {
    workload = await def.onnx!(onnx.ort);
    if (!workload.output || !ours.output) return { workload };
    const [theirs, mine] = [await workload.output(), await ours.output()];
    const { maxDiff, relL2 } = outputDifference(theirs, mine);
    const peak = mine.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    process.stderr.write(`check: '${def.name}': ${onnx.name} vs pastiche: max |Δ| ${maxDiff.toExponential(2)} (outputs up to ${peak.toFixed(1)}), rel L2 ${relL2.toExponential(2)}\n`);
    if (!(relL2 <= CPU_PEER_TOLERANCE)) {
      workload.dispose();
      return { workload: null, maxDiff, relL2, error: `output differs from pastiche's: rel L2 ${relL2.toExponential(2)} > ${CPU_PEER_TOLERANCE}` };
    }
    return { workload, maxDiff, relL2 };
  } catch (err) {
    workload?.dispose();
    return { workload: null, error: (err as Error).message };
  }
}

/** Sets a line up, measures pastiche (and its peers), frees everything, and returns the result. */
export async function runBench(def: Pick<BenchDef, 'name' | 'group' | 'flops' | 'bytes' | 'setup' | 'peer' | 'peerWork' | 'onnx'>, ctx: RunContext): Promise<BenchResult> {
  const { runtime } = ctx;
  const adapter = runtime.context.adapterInfo;
  // Before any work: a ratio between two devices is not a comparison of the libraries.
  if (def.peer && ctx.peer) assertSameAdapter(def.name, adapter, ctx.peer.name, ctx.peer.adapter);
  const liveBefore = runtime.stats().liveTensors;
  const tfBefore = ctx.peer?.tf.memory().numTensors ?? 0;
  const workload = await def.setup(runtime);
  let peerWorkload: Workload | null = null;
  let peerError: string | undefined;
  if (def.peer && ctx.peer) {
    try {
      peerWorkload = await ctx.peer.workload(def.peer);
    } catch (err) {
      peerError = (err as Error).message;
    }
  }
  const cpu = def.onnx && ctx.onnx ? await cpuPeerWorkload(def, ctx.onnx, workload) : null;
  try {
    const tunedShapes = await tunedShapeCount(runtime, workload);
    await runtime.sync();
    runtime.pool.resetPeak();
    const pastiche = pasticheTarget(runtime, workload, ctx.timestamps);
    const targets: Target[] = [pastiche];
    const peerIndex = peerWorkload && ctx.peer ? targets.push(ctx.peer.target(peerWorkload, ctx.timestamps)) - 1 : -1;
    const cpuIndex = cpu?.workload && ctx.onnx ? targets.push(cpuPeerTarget(ctx.onnx.name, cpu.workload)) - 1 : -1;
    const measured = await measureTargets(targets, ctx.options);
    const ours = measured[0]!;
    const theirs = peerIndex >= 0 ? measured[peerIndex] : undefined;
    const cpuTimes = cpuIndex >= 0 ? measured[cpuIndex] : undefined;
    const peakBytes = runtime.stats().peakBytes;
    if (ours instanceof Error) throw ours;
    let peer: Measurement | null = null;
    if (theirs instanceof Error) peerError = theirs.message;
    else if (theirs) peer = theirs;
    const timing = basisOf(ours, peer);
    const pick = (m: Measurement) => (timing === 'gpu-timestamp' ? m.gpu! : m.wall);
    const mine = pick(ours);
    const result: BenchResult = {
      name: def.name,
      group: def.group,
      ms: mine.median,
      spreadMs: mine.mad,
      p10Ms: mine.p10,
      p90Ms: mine.p90,
      samples: mine.n,
      reps: ours.reps,
      timing,
      wallMs: ours.wall.median,
      adapter: adapterName(adapter),
      tunedShapes,
    };
    // Lines that do not state their FLOPs (end-to-end ones) get those their ops recorded (src/autograd/ops/work.ts).
    const flops = def.flops ?? (pastiche.flopsPerRun > 0 ? pastiche.flopsPerRun : undefined);
    if (flops !== undefined) result.flops = flops;
    const gflops = ratePerSecond(flops, mine.median);
    const gbps = ratePerSecond(def.bytes, mine.median);
    if (gflops !== undefined) result.gflops = gflops;
    if (gbps !== undefined) result.gbps = gbps;
    if (peer && ctx.peer) {
      const theirsSummary = pick(peer);
      result.peer = ctx.peer.name;
      result.peerMs = theirsSummary.median;
      result.peerSpreadMs = theirsSummary.mad;
      result.peerWallMs = peer.wall.median;
      result.ratio = theirsSummary.median / mine.median;
      result.peerAdapter = adapterName(ctx.peer.adapter);
      if (def.peerWork !== undefined) result.peerWork = def.peerWork;
    }
    if (peerError !== undefined) result.peerError = peerError;
    if (cpu && ctx.onnx) {
      result.cpuPeer = ctx.onnx.name;
      if (cpuTimes && !(cpuTimes instanceof Error)) {
        result.cpuPeerMs = cpuTimes.wall.median;
        result.cpuPeerSpreadMs = cpuTimes.wall.mad;
        result.cpuRatio = cpuTimes.wall.median / ours.wall.median;
        const cpuGflops = ratePerSecond(flops, cpuTimes.wall.median);
        if (cpuGflops !== undefined) result.cpuPeerGflops = cpuGflops;
      }
      if (cpu.maxDiff !== undefined) result.cpuPeerMaxDiff = cpu.maxDiff;
      if (cpu.relL2 !== undefined) result.cpuPeerRelL2 = cpu.relL2;
      const cpuError = cpuTimes instanceof Error ? cpuTimes.message : cpu.error;
      if (cpuError !== undefined) result.cpuPeerError = cpuError;
    }
    result.peakBytes = peakBytes;
    return result;
  } finally {
    workload.dispose();
    cpu?.workload?.dispose();
    if (peerWorkload && ctx.peer) ctx.peer.release(peerWorkload);
    await runtime.sync().catch(() => undefined);
    const leaked = runtime.stats().liveTensors - liveBefore;
    if (leaked > 0) process.stderr.write(`note: '${def.name}' left ${leaked} pastiche tensor(s) alive (a leak in the line or the op)\n`);
    const tfLeaked = (ctx.peer?.tf.memory().numTensors ?? 0) - tfBefore;
    if (tfLeaked > 0) process.stderr.write(`note: '${def.name}' left ${tfLeaked} tfjs tensor(s) alive\n`);
  }
}
