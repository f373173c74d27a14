/**
 * Kill trials: a process is started, killed with SIGKILL at a random moment, and what it leaves on
 * disk is checked; then it is started again (resuming), until it finishes. The result must be
 * bit-identical (sha256) to an uninterrupted run's. For training (bench/faults/train-child.ts) and
 * for `pastiche weights` copying from a mirror into a fresh cache.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { readCheckpoint } from '../../src/nets/train/node/checkpoint.ts';
import { parseSafetensors } from '../../src/nets/weights/formats/safetensors.ts';
import { loadWeightsManifest } from '../../src/nets/weights/manifest.ts';
import { SeededRandom } from '../../src/nets/random.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** The training child runs in this very process (tsx's loader imported), so SIGKILL reaches the writer itself. */
const TS_NODE = [process.execPath, '--import', 'tsx'] as const;

export interface KillReport {
  /** Processes killed. */
  kills: number;
  /** Kills that left a temporary file behind: they landed inside a write. */
  killsDuringWrite: number;
  /** Starts needed to finish after the first (each resumed from what the last kill left). */
  resumes: number;
  /** Final files, path → sha256, of the interrupted and of the uninterrupted run. */
  interrupted: Record<string, string>;
  uninterrupted: Record<string, string>;
  /** One line per kill: when, and what was on disk afterwards. */
  log: string[];
}

interface Child {
  /** Resolves with the exit code (null when killed). */
  exit: Promise<number | null>;
  /** Resolves when the child printed `ready` (training started), or at exit. */
  ready: Promise<void>;
  kill(): void;
  output(): string;
}

function start(command: string, args: string[]): Child {
  // Its own process group: the kill takes every process it started with it (none must write on).
  const child = spawn(command, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  let out = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exit.then(onReady);
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  return { exit, ready, kill, output: () => out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Every regular file under `dir`, relative path → sha256; temporaries (dot files) listed apart. */
function listFiles(dir: string): { files: Record<string, string>; temps: string[] } {
  const files: Record<string, string> = {};
  const temps: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.startsWith('.')) temps.push(relative(dir, path));
      else files[relative(dir, path)] = sha256(path);
    }
  };
  if (existsSync(dir)) walk(dir);
  return { files, temps };
}

/**
 * Resolves as soon as a write under `dir` is seen to start (or the child exits): a new temporary file,
 * or a file whose size, time or inode changed (a writer that wrote in place would show that way).
 */
async function writeStarted(dir: string, child: Child): Promise<void> {
  let exited = false;
  void child.exit.then(() => (exited = true));
  const before = snapshot(dir);
  while (!exited && snapshot(dir) === before) await sleep(2);
}

/** Every entry under `dir` with its size, modification time and inode, as one string. */
function snapshot(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const info = statSync(path, { throwIfNoEntry: false });
        parts.push(`${path}:${info?.size}:${info?.mtimeMs}:${info?.ino}`);
      }
    }
  };
  try {
    walk(dir);
  } catch {
    return `changing ${Math.random()}`; // an entry vanished while listed: something is being written
  }
  return parts.sort().join('\n');
}

/** Runs to the end; returns the seconds from `ready` (or the start) to the exit. */
async function runToEnd(command: string, args: string[]): Promise<number> {
  const child = start(command, args);
  await child.ready;
  const started = performance.now();
  const code = await child.exit;
  if (code !== 0) throw new Error(`${[command, ...args].join(' ')} exited with ${code}:\n${child.output()}`);
  return (performance.now() - started) / 1000;
}

/**
 * Kills a training run `kills` times at random moments (some before training starts, most during it,
 * where a checkpoint is written after every iteration), checking after each kill that the checkpoint
 * and model file on disk are whole and that the checkpoint never goes back; then lets it finish.
 */
export async function killTrainingTrials(options: { kills: number; iterations: number; seed: number }): Promise<KillReport> {
  const rng = new SeededRandom(options.seed);
  const straight = mkdtempSync(join(tmpdir(), 'pastiche-kill-straight-'));
  const killed = mkdtempSync(join(tmpdir(), 'pastiche-kill-train-'));
  const child = join(ROOT, 'bench', 'faults', 'train-child.ts');
  const seconds = await runToEnd(TS_NODE[0], [...TS_NODE.slice(1), child, straight, String(options.iterations)]);

  const log: string[] = [];
  let kills = 0;
  let killsDuringWrite = 0;
  let lastIteration = 0;
  let seenTemps = 0;
  let resumes = 0;
  while (kills < options.kills) {
    const run = start(TS_NODE[0], [...TS_NODE.slice(1), child, killed, String(options.iterations)]);
    // One kill in five during start-up (loading the checkpoint). The rest let a random number of file
    // changes pass (so kills spread over the whole run), then kill at the start of the next write
    // (half of them) or at a random moment up to one iteration later.
    const early = rng.next() < 0.2;
    const inWrite = !early && rng.next() < 0.5;
    if (early) await sleep(rng.uniform(0, 1500));
    else {
      await run.ready;
      for (let skip = rng.int(2 * (options.iterations - lastIteration) + 1); skip > 0; skip--) await writeStarted(killed, run);
      if (inWrite) await writeStarted(killed, run);
      else await sleep(rng.uniform(0, (1000 * seconds) / options.iterations));
    }
    run.kill();
    const code = await run.exit;
    if (code === 0) {
      // It finished before the kill: start over so every kill interrupts something.
      log.push(`finished before the kill; starting over`);
      lastIteration = 0;
      rmSync(killed, { recursive: true, force: true });
      mkdirSync(killed);
      seenTemps = 0;
      continue;
    }
    kills++;
    if (kills > 1) resumes++;
    const { temps } = listFiles(killed);
    const duringWrite = temps.length > seenTemps;
    seenTemps = temps.length;
    if (duringWrite) killsDuringWrite++;
    // Whatever is on disk must be whole: the checkpoint parses and never goes back, the model parses.
    let iteration = 0;
    const ckpt = join(killed, 'model.ckpt.safetensors');
    if (existsSync(ckpt)) iteration = (await readCheckpoint(ckpt)).state.iteration;
    if (iteration < lastIteration) throw new Error(`after kill ${kills} the checkpoint went back from iteration ${lastIteration} to ${iteration}`);
    lastIteration = iteration;
    const modelPath = join(killed, 'model.safetensors');
    if (existsSync(modelPath)) parseSafetensors(new Uint8Array(readFileSync(modelPath)), modelPath);
    log.push(`kill ${kills}${early ? ' (start-up)' : inWrite ? ' (at a write)' : ''}: checkpoint at iteration ${iteration}${duringWrite ? ', inside a write (temporary file left)' : ''}`);
  }
  await runToEnd(TS_NODE[0], [...TS_NODE.slice(1), child, killed, String(options.iterations)]);
  resumes++;
  const pick = (dir: string) => ({ 'model.safetensors': sha256(join(dir, 'model.safetensors')), checkpoint: checkpointFingerprint(join(dir, 'model.ckpt.safetensors')) });
  return { kills, killsDuringWrite, resumes, interrupted: pick(killed), uninterrupted: pick(straight), log };
}

/** sha256 of a checkpoint's tensors and state, without its wall-clock seconds (which differ between runs). */
function checkpointFingerprint(path: string): string {
  const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(path)), path);
  const hash = createHash('sha256');
  for (const [name, t] of [...tensors].sort(([a], [b]) => a.localeCompare(b))) hash.update(name).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const state = JSON.parse(metadata.state ?? '{}') as Record<string, unknown>;
  delete state.seconds;
  return hash.update(JSON.stringify(state)).digest('hex');
}

/**
 * Kills `pastiche weights MODELS --mirror MIRROR --cache DIR` at random moments; after each kill every
 * source file in the cache must match the manifest's sha256 (a partial copy only ever exists as a
 * temporary), then a last run finishes and the cache must equal an uninterrupted run's.
 */
export async function killWeightsTrials(options: { kills: number; models: string[]; mirror: string; seed: number }): Promise<KillReport> {
  const rng = new SeededRandom(options.seed);
  const manifest = await loadWeightsManifest();
  const expected = new Map(manifest.models.flatMap((m) => m.files.map((f) => [f.path, f.sha256] as const)));
  const cli = join(ROOT, 'bin', 'pastiche.mjs');
  const args = (cache: string) => [cli, 'weights', ...options.models, '--mirror', options.mirror, '--cache', cache];
  const straight = mkdtempSync(join(tmpdir(), 'pastiche-kill-cache-straight-'));
  await runToEnd(process.execPath, args(straight));

  const cache = mkdtempSync(join(tmpdir(), 'pastiche-kill-cache-'));
  const log: string[] = [];
  let kills = 0;
  let killsDuringWrite = 0;
  let seenTemps = 0;
  let resumes = 0;
  while (kills < options.kills) {
    const run = start(process.execPath, args(cache));
    // A random number of file changes pass (the kills spread over the whole run), then the kill comes
    // at the start of the next write (half of them) or at a random moment of up to a second.
    const inWrite = rng.next() < 0.5;
    for (let skip = rng.int(12); skip > 0; skip--) await writeStarted(cache, run);
    if (inWrite) await writeStarted(cache, run);
    else await sleep(rng.uniform(0, 1000));
    run.kill();
    if ((await run.exit) === 0) {
      log.push('finished before the kill; starting over');
      rmSync(cache, { recursive: true, force: true });
      mkdirSync(cache);
      seenTemps = 0;
      continue;
    }
    kills++;
    if (kills > 1) resumes++;
    const { files, temps } = listFiles(cache);
    const duringWrite = temps.length > seenTemps;
    seenTemps = temps.length;
    if (duringWrite) killsDuringWrite++;
    for (const [path, hash] of Object.entries(files)) {
      const want = expected.get(path);
      if (want && want !== hash) throw new Error(`after kill ${kills}, ${path} in the cache is damaged (sha256 ${hash}, manifest ${want})`);
      if (path.endsWith('.safetensors')) parseSafetensors(new Uint8Array(readFileSync(join(cache, path))), path);
    }
    log.push(`kill ${kills}${inWrite ? ' (at a write)' : ''}: ${Object.keys(files).length} files whole${duringWrite ? ', inside a write (temporary file left)' : ''}`);
  }
  await runToEnd(process.execPath, args(cache));
  resumes++;
  return { kills, killsDuringWrite, resumes, interrupted: listFiles(cache).files, uninterrupted: listFiles(straight).files, log };
}
