/**
 * `npm run soak`: the long version of test/faults/: 1,000 Gatys steps (L-BFGS, then Adam) and 1,000
 * training steps with the memory slopes, then many SIGKILL trials of training and of `pastiche
 * weights`. Prints the figures; exits 1 if memory grew or a killed run lost or damaged anything.
 *   npm run soak [-- --steps N --kills N --only gatys (or training, kill)]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime } from '../../src/gpu/runtime.ts';
import { loadPretrainedVgg } from '../../src/nets/weights/node/pretrained.ts';
import { killTrainingTrials, killWeightsTrials, type KillReport } from './kill-trials.ts';
import { formatSummary, summarize, type SoakSample } from './soak-measure.ts';
import { soakGatys, soakTraining } from './soak-workloads.ts';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '1000' }, kills: { type: 'string', default: '30' }, only: { type: 'string' } } });
const steps = Number(values.steps);
const kills = Number(values.kills);
const mirror = process.env.PASTICHE_WEIGHTS_MIRROR ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'weights');
/** RSS growth allowed per 100 steps over a long run (malloc and V8 settle within the warm-up). */
const RSS_BOUND = 4 * 2 ** 20;
const failures: string[] = [];

function judge(name: string, samples: SoakSample[]): void {
  const summary = summarize(samples, Math.min(200, Math.floor(steps / 5)));
  console.log(formatSummary(name, summary));
  if (summary.spread.liveBytes !== 0 || summary.spread.liveTensors !== 0) failures.push(`${name}: live GPU memory moved after the warm-up`);
  if (summary.slopePer100.rss > RSS_BOUND) failures.push(`${name}: RSS grew ${(summary.slopePer100.rss / 1024).toFixed(0)} KiB per 100 steps`);
}

function judgeKills(name: string, report: KillReport): void {
  console.log(`${name}: ${report.kills} kills (${report.killsDuringWrite} inside a write), ${report.resumes} restarts to finish`);
  for (const line of report.log) console.log(`  ${line}`);
  const same = JSON.stringify(report.interrupted) === JSON.stringify(report.uninterrupted);
  const digest = createHash('sha256').update(JSON.stringify(report.interrupted)).digest('hex').slice(0, 16);
  console.log(`  final files (${Object.keys(report.interrupted).length}, sha256 of their list ${digest}) ${same ? 'identical to' : 'DIFFERENT from'} the uninterrupted run's`);
  if (!same) failures.push(`${name}: the finished files differ from an uninterrupted run's`);
}

const want = (part: string) => !values.only || values.only === part;
const runtime = await initRuntime();
if (want('gatys')) {
  const vgg = await loadPretrainedVgg(runtime, { mirrorDir: mirror });
  for (const optimizer of ['lbfgs', 'adam'] as const) judge(`gatys ${optimizer}`, await soakGatys(runtime, vgg, optimizer, steps));
  vgg.dispose();
}
if (want('training')) {
  const dir = mkdtempSync(join(tmpdir(), 'pastiche-soak-'));
  judge('training', await soakTraining(runtime, steps, dir));
  rmSync(dir, { recursive: true, force: true });
}
runtime.destroy();
if (want('kill')) {
  judgeKills('training killed', await killTrainingTrials({ kills, iterations: 40, seed: Date.now() % 1e6 }));
  judgeKills('pastiche weights killed', await killWeightsTrials({ kills: Math.ceil(kills / 2), models: ['candy', 'mathura', 'vgg19'], mirror, seed: Date.now() % 1e6 }));
}
if (failures.length) {
  console.log(`soak failed:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
} else console.log('soak passed');
