/**
 * `pastiche weights [names...]`: fetches (from a mirror folder or the network), verifies and converts
 * the pretrained models into the local cache, with a progress bar, then prints a summary. Files already
 * cached are verified again, sources against the manifest and converted files against their sha256
 * records, and damaged ones are replaced: the summary says "repaired" for those and "ok" for the rest.
 */
import type { Command } from 'commander';
import { loadTfliteGraph } from '../../nets/methods/magenta/node/store.ts';
import { createProgressBar, isInteractive } from '../progress.ts';
import { findModel, loadWeightsManifest, type ModelEntry } from '../../nets/weights/manifest.ts';
import {
  checkConvertedWeights,
  defaultCacheDir,
  ensureModelFiles,
  prepareModelWeights,
  type ConvertedCheck,
  type ConvertedOutcome,
  type FileProgress,
  type StoreOptions,
} from '../../nets/weights/node/store.ts';

interface WeightsCommandOptions {
  mirror?: string;
  cache?: string;
  convert: boolean;
}

interface ModelOutcome {
  model: ModelEntry;
  transferredBytes: number;
  /** source files that were damaged in the cache and replaced */
  repairedFiles: number;
  /** what happened to the converted file; 'reused' for TFLite graphs, which have no checksum record yet */
  converted: ConvertedOutcome | 'reused' | null;
  /** with --no-convert: the converted file's check, nothing rebuilt */
  checked: ConvertedCheck;
  error: string | null;
}

export function registerWeightsCommand(program: Command): void {
  program
    .command('weights')
    .description('fetch, verify (sha256) and convert pretrained weights into the local cache')
    .argument('[names...]', 'models to fetch (default: all known models)')
    .option('--mirror <dir>', 'copy files from this folder (mirror layout) instead of downloading; default $PASTICHE_WEIGHTS_MIRROR')
    .option('--cache <dir>', 'cache folder; default $PASTICHE_CACHE_DIR, else $XDG_CACHE_HOME/pastiche or ~/.cache/pastiche')
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
    const outcome: ModelOutcome = { model, transferredBytes: 0, repairedFiles: 0, converted: null, checked: null, error: null };
    try {
      const files = await ensureModelFiles(model.name, storeOptions);
      outcome.transferredBytes = files.transferredBytes;
      outcome.repairedFiles = files.repairedFiles.length;
      if (!options.convert) {
        outcome.checked = await checkConvertedWeights(model.name, { cacheDir, manifest });
      } else {
        // Files are verified by now; no progress events, so the bar does not count them twice, and no
        // repair notice, since the summary reports it.
        const quiet: StoreOptions = { ...storeOptions, onProgress: undefined, onRepaired: () => undefined };
        if (model.format === 'tflite') outcome.converted = (await loadTfliteGraph(model.name, quiet)).converted ? 'converted' : 'reused';
        else outcome.converted = (await prepareModelWeights(model.name, quiet)).outcome;
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
    return [o.model.name, o.model.kind, `${(size / 1e6).toFixed(1)} MB`, sourceStatus(o), convertedStatus(o)];
  });
  const header = ['model', 'kind', 'size', 'status', 'converted'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`weights cache: ${cacheDir}`, line(header), ...rows.map(line), ''].join('\n');
}

/** The source files: verified in the cache ('ok'), fetched, or repaired (damaged in the cache, fetched again). */
function sourceStatus(o: ModelOutcome): string {
  if (o.error !== null) return 'FAILED';
  const megabytes = `${(o.transferredBytes / 1e6).toFixed(1)} MB`;
  if (o.repairedFiles > 0) return `repaired ${o.repairedFiles} file${o.repairedFiles === 1 ? '' : 's'} (${megabytes})`;
  return o.transferredBytes > 0 ? `fetched ${megabytes}` : 'ok';
}

function convertedStatus(o: ModelOutcome): string {
  if (o.converted === 'reused') return 'reused (no checksum record)';
  if (o.converted !== null) return o.converted;
  switch (o.checked) {
    case null:
      return '-';
    case 'damaged':
      return 'DAMAGED (run without --no-convert to repair)';
    case 'stale':
      return 'outdated (run without --no-convert)';
    case 'unchecked':
      return 'present (no checksum record)';
    case 'ok':
      return 'ok';
  }
}
