/**
 * `npm run bench [-- options]`: runs the kernel and end-to-end benchmarks and prints a table.
 * See bench/README.md.
 */
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { tuneWorkload } from '../src/gpu/autotune.ts';
import { initRuntime, type Runtime } from '../src/gpu/runtime.ts';
import { scope } from '../src/gpu/scope.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { adapterName } from './comparison.ts';
import { e2eBenches } from './e2e.ts';
import { MEASURE_PRESETS, runBench, type MeasureOptions, type RunContext } from './harness.ts';
import { createTfjsPeer, type TfjsPeer } from './peers/tfjs-webgpu.ts';
import { profileTable, profileWorkload } from './profile.ts';
import { loadOnnxPeer, type OnnxPeer } from './peers/onnx-runtime.ts';
import { compareResults, compareTable, formatMs, parseReport, resultsTable, type BenchReport, type BenchResult } from './report.ts';
import { loadKernelBenches } from './suites/index.ts';
import type { BenchDef, Tier } from './types.ts';

interface Options {
  filter: string[];
  quick?: boolean;
  full?: boolean;
  json?: string;
  compare?: string;
  threshold: number;
  peer: boolean;
  timestamps: boolean;
  list?: boolean;
  samples?: number;
  failOnRegression?: boolean;
  tune?: boolean;
  profile?: boolean;
  top: number;
}

interface Line {
  def: Pick<BenchDef, 'name' | 'group' | 'flops' | 'bytes' | 'setup' | 'peer' | 'onnx' | 'tiers'>;
  pending?: string;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function selectLines(kernelBenches: readonly BenchDef[], tier: Tier, filters: readonly string[]): Line[] {
  const lines: Line[] = [
    ...kernelBenches.map((def) => ({ def })),
    ...e2eBenches.map((e) => ({ def: { ...e, group: 'e2e' }, pending: e.pending })),
  ];
  const names = new Set<string>();
  for (const { def } of lines) {
    if (names.has(def.name)) throw new Error(`two benchmarks are named '${def.name}'`);
    names.add(def.name);
  }
  const wanted = filters.map((f) => f.toLowerCase());
  return lines.filter(
    ({ def }) => def.tiers.includes(tier) && (wanted.length === 0 || wanted.some((f) => def.name.toLowerCase().includes(f) || def.group.toLowerCase() === f)),
  );
}

/** Prints the comparison; returns the number of regressions larger than the noise. */
async function comparison(path: string, results: readonly BenchResult[], threshold: number, adapter: BenchReport['adapter'], partial: boolean): Promise<number> {
  const older = parseReport(JSON.parse(await readFile(path, 'utf8')));
  if (older.adapter && older.adapter.description !== adapter.description) {
    log(`note: ${path} was measured on '${older.adapter.description}', this run on '${adapter.description}'`);
  }
  const all = compareResults(older.results, results, threshold);
  // With --filter or another tier, lines the old report has but this run skipped are not news.
  const rows = partial ? all.filter((r) => r.status !== 'gone') : all;
  console.log(`\nCompared with ${path}${older.date ? ` (${older.date})` : ''}; regression = slower by more than ${(threshold * 100).toFixed(0)}%:\n`);
  console.log(compareTable(rows));
  if (rows.length < all.length) console.log(`(${all.length - rows.length} line(s) of ${path} were not run this time)`);
  const regressions = rows.filter((r) => r.status === 'regression');
  const real = regressions.filter((r) => !r.withinNoise);
  console.log(`\n${regressions.length} regression(s)${regressions.length ? ': ' + regressions.map((r) => r.name + (r.withinNoise ? ' (within noise)' : '')).join(', ') : ''}`);
  return real.length;
}

async function main(): Promise<void> {
  const program = new Command('bench')
    .description('pastiche kernel and end-to-end benchmarks (tfjs-webgpu on the same adapter as the peer)')
    .option('-f, --filter <substring>', 'only lines whose name contains this (or whose group is this); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(new Option('--quick', 'smallest sizes, fewer repetitions (about a minute on a CPU-only machine)').conflicts('full'))
    .option('--full', 'large sizes for a real GPU (hours on software Vulkan)')
    .option('--json <file>', 'write the results as JSON (atomically)')
    .option('--compare <file>', 'compare with an earlier --json file (or a bare array of results)')
    .option('--threshold <percent>', 'slowdown flagged as a regression by --compare', (v) => Number(v) / 100, 0.1)
    .option('--fail-on-regression', 'exit with status 1 when --compare finds a regression larger than the noise')
    .option('--no-peer', 'do not run the peer comparisons (TensorFlow.js; onnxruntime-node where installed)')
    .option('--no-timestamps', 'wall time only, even where timestamp queries are available')
    .option('--samples <n>', 'timed samples per line (overrides the preset)', (v) => Number.parseInt(v, 10))
    .option('--list', 'list the selected lines and exit')
    .option('--tune', "first time every kernel variant for the selected lines' shapes and keep the fastest (written to the tuning cache)")
    .option('--profile', "instead of timing, print where each selected line's GPU time goes, kernel by kernel (timestamp queries)")
    .option('--top <n>', 'kernels listed per line by --profile', (v) => Number.parseInt(v, 10), 15)
    .parse(process.argv);
  const opts = program.opts<Options>();
  const tier: Tier = opts.quick ? 'quick' : opts.full ? 'full' : 'default';
  const suites = await loadKernelBenches();
  for (const f of suites.failed) log(`note: ${f.name} ${f.reason}`);
  const lines = selectLines(suites.benches, tier, opts.filter);
  if (opts.list) {
    for (const l of lines) console.log(`${l.def.name}${l.pending ? '  (pending)' : ''}`);
    return;
  }
  if (lines.length === 0) throw new Error(`no benchmark matches ${opts.filter.map((f) => `'${f}'`).join(', ')} in the ${tier} tier (try --list)`);

  if (!(opts.threshold >= 0)) throw new Error('--threshold must be a percentage ≥ 0');
  const options: MeasureOptions = { ...MEASURE_PRESETS[tier] };
  if (opts.samples !== undefined) {
    if (!(opts.samples >= 1)) throw new Error('--samples must be a positive integer');
    options.minSamples = options.maxSamples = opts.samples;
    options.capMs = Infinity;
  }

  const runtime: Runtime = await initRuntime();
  const info = runtime.context.adapterInfo;
  const adapter: BenchReport['adapter'] = { ...info, features: [...runtime.context.features].sort() };
  const timestamps = opts.timestamps && runtime.context.features.has('timestamp-query');
  log(`adapter: ${info.description || info.device} (${info.vendor}/${info.architecture}); tier: ${tier}; clock: ${timestamps ? 'GPU timestamps' : 'wall time'}`);
  const load = loadavg()[0]!;
  const cores = availableParallelism();
  if (load > cores * 0.5) log(`note: load average ${load.toFixed(1)} on ${cores} cores: other processes share the CPU that runs the software GPU; numbers will be noisy`);

  if (opts.tune) {
    // One run of each line while the kernels report their shapes; then every variant of each is timed.
    const tuned = await tuneWorkload(
      runtime,
      async () => {
        for (const line of lines.filter((l) => !l.pending)) {
          const workload = await line.def.setup(runtime);
          scope(() => workload.run());
          workload.dispose();
        }
      },
      { onProgress: (line) => log(`tune: ${line}`) },
    );
    log(`tuned ${tuned.length} kernel shape(s)`);
  }

  if (opts.profile) {
    for (const line of lines.filter((l) => !l.pending)) {
      const workload = await line.def.setup(runtime);
      try {
        console.log(`\n${profileTable(line.def.name, await profileWorkload(runtime, workload), opts.top)}`);
      } finally {
        workload.dispose();
      }
    }
    return;
  }

  let peer: TfjsPeer | null = null;
  if (opts.peer && lines.some((l) => l.def.peer && !l.pending)) {
    try {
      peer = await createTfjsPeer(runtime);
      log(`peer: tfjs-webgpu ${peer.version} on ${adapterName(peer.adapter)}`);
    } catch (err) {
      log(`note: no tfjs-webgpu peer: ${(err as Error).message}`);
    }
  }
  let onnx: OnnxPeer | null = null;
  if (opts.peer && lines.some((l) => l.def.onnx && !l.pending)) {
    try {
      onnx = await loadOnnxPeer();
      log(`peer: onnxruntime-node ${onnx.version}, CPU execution provider, ${onnx.threads} (wall clock; the ort columns)`);
    } catch (err) {
      log(`note: no onnxruntime-cpu peer: ${(err as Error).message}`);
    }
  }
  const ctx: RunContext = { runtime, peer, onnx, options, timestamps };

  const results: BenchResult[] = [];
  const skipped: { name: string; reason: string }[] = [...suites.failed];
  const started = performance.now();
  for (const [i, line] of lines.entries()) {
    const tag = `[${i + 1}/${lines.length}] ${line.def.name}`;
    if (line.pending) {
      skipped.push({ name: line.def.name, reason: line.pending });
      log(`${tag}: skipped (${line.pending})`);
      continue;
    }
    const t0 = performance.now();
    try {
      const lineCtx = line.def.group === 'e2e' ? { ...ctx, options: { ...options, adoptLongWarmup: false } } : ctx;
      const r = await runBench(line.def, lineCtx);
      results.push(r);
      const peerNote = r.ratio !== undefined ? `, tfjs ${formatMs(r.peerMs)} ms (${r.ratio.toFixed(2)}x)` : r.peerError ? `, tfjs failed: ${r.peerError}` : '';
      const cpuNote = r.cpuRatio !== undefined ? `, ort ${formatMs(r.cpuPeerMs)} ms (${r.cpuRatio.toFixed(2)}x of wall ${formatMs(r.wallMs)} ms)` : r.cpuPeerError ? `, ort failed: ${r.cpuPeerError}` : '';
      log(`${tag}: ${formatMs(r.ms)} ms${peerNote}${cpuNote}  [${((performance.now() - t0) / 1000).toFixed(1)} s]`);
    } catch (err) {
      const message = (err as Error).message.split('\n')[0]!;
      skipped.push({ name: line.def.name, reason: `failed: ${message}` });
      log(`${tag}: FAILED: ${message}`);
    }
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);

  console.log(`\npastiche bench (${tier}) on ${info.description || info.device}; clock: ${timestamps ? 'GPU timestamps where both sides have them, else wall' : 'wall'}; ms per iteration, median ± MAD\n`);
  console.log(resultsTable(results));
  if (skipped.length) {
    console.log('\nnot measured:');
    for (const s of skipped) console.log(`  ${s.name}: ${s.reason}`);
  }

  if (opts.json) {
    const report: BenchReport = {
      adapter,
      date: new Date().toISOString(),
      tier,
      peer: peer ? { name: peer.name, version: peer.version } : null,
      cpuPeer: onnx ? { name: onnx.name, version: onnx.version, threads: onnx.threads } : null,
      loadAverage: [load, loadavg()[0]!],
      results,
      skipped,
    };
    await writeFileAtomic(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${opts.json}`);
  }
  if (opts.compare) {
    const regressions = await comparison(opts.compare, results, opts.threshold, adapter, opts.filter.length > 0);
    if (regressions > 0 && opts.failOnRegression) process.exitCode = 1;
  }
}

main().then(
  // dawn.node can keep the event loop alive after the work is done.
  () => process.exit(process.exitCode ?? 0),
  (err: Error) => {
    log(`bench: ${err.message}`);
    process.exit(2);
  },
);
