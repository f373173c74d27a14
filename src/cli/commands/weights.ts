/**
 * `pastiche weights [names...]`: fetches (from a mirror folder or the network), verifies and converts
 * the pretrained models into the local cache, with a progress bar, then prints a summary.
 */
import type { Command } from 'commander';
import { loadTfliteGraph } from '../../nets/magenta-store.ts';
import { createProgressBar, isInteractive } from '../progress.ts';
import { findModel, loadWeightsManifest, type ModelEntry } from '../../nets/weights/manifest.ts';
import {
  convertedWeightsPath,
  defaultCacheDir,
  ensureModelFiles,
  loadModelWeights,
  type FileProgress,
  type StoreOptions,
} from '../../nets/weights/store.ts';

interface WeightsCommandOptions {
  mirror?: string;
  cache?: string;
  convert: boolean;
}

interface ModelOutcome {
  model: ModelEntry;
  transferredBytes: number;
  convertedPath: string | null;
  error: string | null;
}

export function registerWeightsCommand(program: Command): void {
  program
    .command('weights')
    .description('fetch, verify (sha256) and convert pretrained weights into the local cache')
    .argument('[names...]', 'models to fetch (default: all known models)')
    .option('--mirror <dir>', 'copy files from this folder (mirror layout) instead of downloading; default $PASTICHE_WEIGHTS_MIRROR')
    .option('--cache <dir>', 'cache folder; default $PASTICHE_CACHE_DIR or <repo>/weights/cache')
    .option('--no-convert', 'only fetch and verify files; skip the conversion to safetensors')
    .action(async (names: string[], options: WeightsCommandOptions) => {
      await runWeightsCommand(names, options);
    });
}

async function runWeightsCommand(names: string[], options: WeightsCommandOptions): Promise<void> {
  const manifest = await loadWeightsManifest();
  const models = names.length === 0 ? manifest.models : names.map((name) => findModel(manifest, name));
  const cacheDir = options.cache ?? defaultCacheDir();
  const totalBytes = models.reduce((sum, m) => sum + m.files.reduce((s, f) => s + f.bytes, 0), 0);

  const interactive = isInteractive();
  const bar = createProgressBar('{bar} {percentage}% | {done}/{size} MB | {model}');
  const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(1);
  // Bytes already finished in earlier files plus the current file's progress.
  let finishedBytes = 0;
  let currentFile = '';
  let currentFileBytes = 0;
  const onProgress = (p: FileProgress): void => {
    if (p.file !== currentFile) {
      finishedBytes += currentFileBytes;
      currentFile = p.file;
    }
    currentFileBytes = p.bytesDone;
    const done = finishedBytes + currentFileBytes;
    bar.update(done, { done: megabytes(done), size: megabytes(totalBytes), model: p.model });
  };
  bar.start(totalBytes, 0, { done: '0.0', size: megabytes(totalBytes), model: '' });

  const storeOptions: StoreOptions = { cacheDir, manifest, onProgress };
  if (options.mirror !== undefined) storeOptions.mirrorDir = options.mirror;
  const outcomes: ModelOutcome[] = [];
  for (const model of models) {
    if (!interactive) process.stderr.write(`fetching ${model.name}...\n`);
    const outcome: ModelOutcome = { model, transferredBytes: 0, convertedPath: null, error: null };
    try {
      outcome.transferredBytes = (await ensureModelFiles(model.name, storeOptions)).transferredBytes;
      if (options.convert) {
        // Files are verified by now; no progress events, so the bar does not count them twice.
        const quiet = { ...storeOptions, onProgress: undefined };
        if (model.format === 'tflite') outcome.convertedPath = (await loadTfliteGraph(model.name, quiet)).weightsPath;
        else {
          await loadModelWeights(model.name, quiet);
          outcome.convertedPath = convertedWeightsPath(model.name, cacheDir);
        }
      }
    } catch (err) {
      outcome.error = err instanceof Error ? err.message : String(err);
    }
    outcomes.push(outcome);
  }
  bar.stop();

  process.stdout.write(formatSummary(outcomes, cacheDir));
  const failures = outcomes.filter((o) => o.error !== null);
  if (failures.length > 0) {
    throw new Error(
      `${failures.length} of ${outcomes.length} models failed:\n` + failures.map((o) => (o.error!.startsWith(`${o.model.name}:`) ? `  ${o.error}` : `  ${o.model.name}: ${o.error}`)).join('\n'),
    );
  }
}

function formatSummary(outcomes: ModelOutcome[], cacheDir: string): string {
  const rows = outcomes.map((o) => {
    const size = o.model.files.reduce((s, f) => s + f.bytes, 0);
    const status =
      o.error !== null ? 'FAILED' : o.transferredBytes > 0 ? `fetched ${(o.transferredBytes / 1e6).toFixed(1)} MB` : 'already cached';
    const converted = o.convertedPath === null ? '-' : o.model.format === 'tflite' ? 'safetensors + graph ready' : 'safetensors ready';
    return [o.model.name, o.model.kind, `${(size / 1e6).toFixed(1)} MB`, status, converted];
  });
  const header = ['model', 'kind', 'size', 'status', 'converted'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`weights cache: ${cacheDir}`, line(header), ...rows.map(line), ''].join('\n');
}
