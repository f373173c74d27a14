/**
 * `npm run fuzz`: the long fuzz budget. Runs every parser (or those named as arguments) for
 * FUZZ_SECONDS seconds each (default 60) with a random seed (FUZZ_SEED to replay one), printing
 * executions per second, the slowest input, and any finding; findings are saved under
 * test-artifacts/fuzz-findings/ to be minimised into test/fuzz/corpus/<target>/.
 * Exit code 1 if anything was found.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkInput, FuzzFinding, fuzzTarget } from './harness.ts';
import { ALL_TARGETS } from './targets.ts';
import { REPO_ROOT } from '../helpers/shared-data.ts';

const seconds = Number(process.env.FUZZ_SECONDS ?? '60');
const maxRuns = Number(process.env.FUZZ_RUNS ?? '100000000');
const wanted = process.argv.slice(2);
const findingsDir = join(REPO_ROOT, 'test-artifacts', 'fuzz-findings');
/** An input slower than this is reported as a finding (a hang candidate); not asserted in CI. */
const SLOW_INPUT_MS = 1000;

let found = 0;
console.log(`fuzzing ${seconds} s per parser (FUZZ_SECONDS), at most ${maxRuns} inputs (FUZZ_RUNS)`);
for (const target of ALL_TARGETS) {
  if (wanted.length > 0 && !wanted.includes(target.name)) continue;
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  try {
    const stats = await fuzzTarget(target, { runs: maxRuns, seconds, seed });
    const rate = stats.runs / stats.seconds;
    // On a busy machine one GC pause or scheduling gap can exceed the limit: replay the slowest
    // input three times and judge the fastest replay.
    const replayMs = stats.slowestMs > SLOW_INPUT_MS ? await fastestReplay(target, stats.slowestInput!) : 0;
    const slow = replayMs > SLOW_INPUT_MS ? `  FINDING: an input takes ${replayMs.toFixed(0)} ms` : '';
    if (slow) {
      found++;
      save(`${target.name}-${seed}-slow.bin`, stats.slowestInput!);
    }
    console.log(
      `${target.name.padEnd(12)} ${String(stats.runs).padStart(8)} inputs  ${rate.toFixed(0).padStart(6)} exec/s  ` +
        `${stats.ok} parsed, ${stats.rejected} rejected  slowest ${stats.slowestMs.toFixed(1)} ms  seed ${seed}${slow}`,
    );
  } catch (err) {
    found++;
    const finding = findFinding(err);
    console.log(`${target.name.padEnd(12)} FINDING (seed ${seed}): ${finding?.message ?? String(err)}`);
    if (finding) save(`${target.name}-${seed}.bin`, finding.input);
  }
}
console.log(found === 0 ? 'no findings' : `${found} finding(s)`);
process.exitCode = found === 0 ? 0 : 1;

async function fastestReplay(target: (typeof ALL_TARGETS)[number], input: Uint8Array): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await checkInput(target, input);
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return fastest;
}

function save(name: string, input: Uint8Array): void {
  mkdirSync(findingsDir, { recursive: true });
  const file = join(findingsDir, name);
  writeFileSync(file, input);
  console.log(`  input saved to ${file} (${input.length} bytes)`);
}

/** fast-check wraps the property's error; dig the FuzzFinding (with its input) out of the cause chain. */
function findFinding(err: unknown): FuzzFinding | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof FuzzFinding) return e;
  }
  return undefined;
}
