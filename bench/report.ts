/**
 * Result records, the JSON report, comparison against an older report and text tables.
 * Pure logic: no GPU, no file I/O (unit-tested in test/bench/harness.test.ts).
 */

/** How a line's times were taken (the same for `ms` and `peerMs`, so `ratio` compares like with like). */
export type TimingBasis = 'gpu-timestamp' | 'wall';

/** One line of the bench. Times are per iteration, in milliseconds. */
export interface BenchResult {
  name: string;
  /** Family of the line ('matmul', 'conv2d', 'e2e', ...). */
  group?: string;
  /** Median time per iteration. */
  ms: number;
  /** Median absolute deviation of the samples (per iteration). */
  spreadMs: number;
  p10Ms?: number;
  p90Ms?: number;
  /** Number of timed samples, and iterations per sample. */
  samples?: number;
  reps?: number;
  timing?: TimingBasis;
  /** Wall-clock median (iterations ending in a full sync), also recorded when `ms` is GPU time. */
  wallMs?: number;
  /**
   * Floating-point operations per iteration: the line's own count, or (end-to-end lines) the nominal
   * FLOPs its convolutions, products and Gram matrices recorded (convolutions counted as direct).
   */
  flops?: number;
  gflops?: number;
  gbps?: number;
  /** The peer library the line was compared with, its median time (same basis as `ms`) and spread. */
  peer?: string;
  peerMs?: number;
  peerSpreadMs?: number;
  peerWallMs?: number;
  /** peerMs / ms: above 1 means pastiche is faster. */
  ratio?: number;
  /** Highest pool liveBytes during the timed runs (inputs included). */
  peakBytes?: number;
  /** Why the peer has no number although the line defines one. */
  peerError?: string;
  /** The adapter pastiche ran on, and the GPU peer's (a line whose two differ fails instead). */
  adapter?: string;
  peerAdapter?: string;
  /** How the GPU peer's work differs from pastiche's (absent: the same operations). */
  peerWork?: string;
  /** How many of the line's kernel shapes ran a choice from the tuning table (0: built-in rules only). */
  tunedShapes?: number;
  /**
   * A CPU peer ('onnxruntime-cpu', feed-forward lines, when installed): its wall-clock median and
   * spread per iteration, and cpuRatio = cpuPeerMs / wallMs (pastiche's wall clock, whatever `ms`
   * is): above 1 means pastiche is faster.
   */
  cpuPeer?: string;
  cpuPeerMs?: number;
  cpuPeerSpreadMs?: number;
  cpuRatio?: number;
  /** The line's FLOPs over the CPU peer's wall-clock median. */
  cpuPeerGflops?: number;
  /** The self-check before timing: max |Δ| and relative L2 of the CPU peer's output vs pastiche's. */
  cpuPeerMaxDiff?: number;
  cpuPeerRelL2?: number;
  /** Why the CPU peer has no number although it ran (a failed self-check or run). */
  cpuPeerError?: string;
}

export interface AdapterRecord {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
}

export interface BenchReport {
  adapter: AdapterRecord;
  /** ISO 8601. */
  date: string;
  /** 'quick' | 'default' | 'full' */
  tier?: string;
  /** The comparison library, when one ran. */
  peer?: { name: string; version: string } | null;
  /** The CPU peer (onnxruntime-node), when installed and run; `threads` says how it was threaded. */
  cpuPeer?: { name: string; version: string; threads: string } | null;
  /** 1-minute load average at the start and the end: above the core count, numbers are noisy. */
  loadAverage?: number[];
  results: BenchResult[];
  /** Lines that did not produce a number: not implemented yet, or failed. */
  skipped?: { name: string; reason: string }[];
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks one result object; returns the problems found (empty when valid). */
export function resultProblems(r: unknown, where = 'result'): string[] {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return [`${where} is not an object`];
  const o = r as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof o.name !== 'string' || o.name === '') problems.push(`${where}: 'name' must be a non-empty string`);
  if (!isNum(o.ms) || o.ms < 0) problems.push(`${where}: 'ms' must be a non-negative number`);
  for (const key of ['spreadMs', 'p10Ms', 'p90Ms', 'wallMs', 'flops', 'gflops', 'gbps', 'peerMs', 'peerSpreadMs', 'peerWallMs', 'ratio', 'peakBytes', 'samples', 'reps', 'cpuPeerMs', 'cpuPeerSpreadMs', 'cpuRatio', 'cpuPeerGflops', 'cpuPeerMaxDiff', 'cpuPeerRelL2', 'tunedShapes']) {
    if (o[key] !== undefined && !isNum(o[key])) problems.push(`${where}: '${key}' must be a number when present`);
  }
  for (const key of ['group', 'peer', 'timing', 'peerError', 'cpuPeer', 'cpuPeerError', 'adapter', 'peerAdapter', 'peerWork']) {
    if (o[key] !== undefined && typeof o[key] !== 'string') problems.push(`${where}: '${key}' must be a string when present`);
  }
  return problems;
}

/**
 * Reads a report written by `--json`, or a bare array of results (older or hand-made files).
 * Throws with every problem found.
 */
export function parseReport(json: unknown): { adapter?: AdapterRecord; date?: string; results: BenchResult[] } {
  const results = Array.isArray(json) ? json : json !== null && typeof json === 'object' ? (json as { results?: unknown }).results : undefined;
  if (!Array.isArray(results)) throw new Error("not a bench report: expected { results: [...] } or an array of results");
  const problems = results.flatMap((r, i) => resultProblems(r, `results[${i}]`));
  if (problems.length) throw new Error(`not a valid bench report:\n  ${problems.join('\n  ')}`);
  if (Array.isArray(json)) return { results: results as BenchResult[] };
  const o = json as Partial<BenchReport>;
  return { adapter: o.adapter, date: o.date, results: results as BenchResult[] };
}

export interface CompareRow {
  name: string;
  oldMs?: number;
  newMs?: number;
  /** (new - old) / old: positive is slower. */
  change?: number;
  status: 'regression' | 'improvement' | 'same' | 'new' | 'gone';
  /** The difference is no larger than twice the two runs' spreads together: possibly noise. */
  withinNoise?: boolean;
}

/**
 * Matches lines by name. A line is a regression when it got slower by more than `threshold`
 * (0.10 = 10%), an improvement when it got faster by more than `threshold`.
 */
export function compareResults(older: readonly BenchResult[], newer: readonly BenchResult[], threshold = 0.1): CompareRow[] {
  const oldByName = new Map(older.map((r) => [r.name, r]));
  const rows: CompareRow[] = [];
  for (const r of newer) {
    const o = oldByName.get(r.name);
    if (!o) {
      rows.push({ name: r.name, newMs: r.ms, status: 'new' });
      continue;
    }
    oldByName.delete(r.name);
    const change = o.ms > 0 ? (r.ms - o.ms) / o.ms : r.ms > 0 ? Infinity : 0;
    const status = change > threshold ? 'regression' : change < -threshold ? 'improvement' : 'same';
    const noise = 2 * ((o.spreadMs ?? 0) + (r.spreadMs ?? 0));
    rows.push({ name: r.name, oldMs: o.ms, newMs: r.ms, change, status, withinNoise: Math.abs(r.ms - o.ms) <= noise });
  }
  for (const o of oldByName.values()) rows.push({ name: o.name, oldMs: o.ms, status: 'gone' });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Text formatting

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms >= 1000) return ms.toFixed(0);
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 10) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function formatRate(v: number | undefined): string {
  if (v === undefined) return '';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} B`;
}

export function formatPercent(change: number | undefined): string {
  if (change === undefined) return '';
  if (!Number.isFinite(change)) return '+inf%';
  const pct = change * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

/** A plain-text table; columns whose header starts with '>' are right-aligned. */
export function textTable(headers: string[], rows: string[][]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const heads = headers.map((h) => h.replace(/^>/, ''));
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(heads), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(r.map((c) => c ?? '')))].join('\n');
}

/**
 * The results as a table. The CPU peer's columns (`ort ms`, wall clock, and `ort/ours`, against
 * pastiche's wall clock) appear only when some line has a CPU peer. `tuned` counts the kernel shapes
 * that ran a tuning-table choice; `peer work` points to a numbered note below the table when the
 * peer computes the result with different work. The notes also name both sides' adapters.
 */
export function resultsTable(results: readonly BenchResult[]): string {
  const withCpuPeer = results.some((r) => r.cpuPeer !== undefined);
  const workNotes = [...new Set(results.flatMap((r) => (r.peer !== undefined && r.peerWork !== undefined ? [r.peerWork] : [])))];
  const rows = results.map((r) => [
    r.name,
    formatMs(r.ms),
    r.spreadMs !== undefined ? `±${formatMs(r.spreadMs)}` : '',
    r.timing === 'gpu-timestamp' ? 'gpu' : r.timing === 'wall' ? 'wall' : '',
    r.timing === 'gpu-timestamp' ? formatMs(r.wallMs) : '',
    formatRate(r.gflops),
    formatRate(r.gbps),
    r.peerMs !== undefined ? formatMs(r.peerMs) : r.peerError ? 'failed' : '',
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '',
    formatBytes(r.peakBytes),
    r.tunedShapes === undefined ? '' : r.tunedShapes > 0 ? String(r.tunedShapes) : 'no',
    r.peer === undefined ? '' : r.peerWork !== undefined ? `differs [${workNotes.indexOf(r.peerWork) + 1}]` : 'same',
    ...(withCpuPeer ? [r.cpuPeerMs !== undefined ? formatMs(r.cpuPeerMs) : r.cpuPeerError ? 'failed' : '', r.cpuRatio !== undefined ? `${r.cpuRatio.toFixed(2)}x` : '', formatRate(r.cpuPeerGflops)] : []),
  ]);
  const headers = ['benchmark', '>ms', '>spread', 'clock', '>wall ms', '>GFLOP/s', '>GB/s', '>tfjs ms', '>tfjs/ours', '>peak mem', '>tuned', 'peer work'];
  const table = textTable(withCpuPeer ? [...headers, '>ort ms', '>ort/ours', '>ort GFLOP/s'] : headers, rows);
  const notes = [...adapterNotes(results), ...rateNotes(results), ...workNotes.map((note, i) => `[${i + 1}] ${note}`)];
  return notes.length ? `${table}\n\n${notes.join('\n')}` : table;
}

/**
 * The highest arithmetic rate each side reached in this run, with its line: the nearest thing to the
 * machine's limit that the run itself measured, so every other line's GFLOP/s reads as a distance to it.
 */
function rateNotes(results: readonly BenchResult[]): string[] {
  const best = (rate: (r: BenchResult) => number | undefined) => {
    let top: BenchResult | undefined;
    for (const r of results) if ((rate(r) ?? 0) > (top ? rate(top)! : 0)) top = r;
    return top && `${formatRate(rate(top))} GFLOP/s (${top.name})`;
  };
  const ours = best((r) => r.gflops);
  const cpu = best((r) => r.cpuPeerGflops);
  if (!ours) return [];
  return [`highest rate: pastiche ${ours}${cpu ? `; onnxruntime-cpu ${cpu}` : ''}`];
}

/** Which adapters pastiche and the GPU peer ran on (one line; a line whose two differ has failed). */
function adapterNotes(results: readonly BenchResult[]): string[] {
  const ours = [...new Set(results.flatMap((r) => (r.adapter !== undefined ? [r.adapter] : [])))];
  const peers = [...new Set(results.flatMap((r) => (r.peer !== undefined && r.peerAdapter !== undefined ? [`${r.peer} on ${r.peerAdapter}`] : [])))];
  if (ours.length === 0) return [];
  return [`adapters: pastiche on ${ours.join(', ')}${peers.length ? `; ${peers.join(', ')}` : ''}`];
}

export function compareTable(rows: readonly CompareRow[]): string {
  const noisy = (r: CompareRow) => (r.withinNoise ? ' (within noise)' : '');
  const flag = (r: CompareRow) =>
    r.status === 'regression' ? `REGRESSION${noisy(r)}` : r.status === 'improvement' ? `faster${noisy(r)}` : r.status === 'same' ? '' : r.status;
  return textTable(
    ['benchmark', '>old ms', '>new ms', '>change', ''],
    rows.map((r) => [r.name, formatMs(r.oldMs), formatMs(r.newMs), formatPercent(r.change), flag(r)]),
  );
}
