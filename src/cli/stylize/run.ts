/**
 * Runs a checked stylize plan through the method's definition, the same way for every method: load
 * once, stylize each content image in turn (a failure fails that image only), write each result
 * atomically, and print what happened.
 */
import { basename, dirname, extname, join } from 'node:path';
import type { Runtime } from '../../gpu/runtime.ts';
import { readImageFile, writeImageFile } from '../../io/image-file.ts';
import type { RgbImage } from '../../io/image.ts';
import type { StyleInput, Stylizer } from '../../nets/methods/contract.ts';
import { OptimizationDivergedError } from '../../nets/optim/diverged.ts';
import { nodeWeightSource } from '../../nets/weights/node/weight-source.ts';
import type { StoreOptions } from '../../nets/weights/node/store.ts';
import type { StylizeBatch } from './batch.ts';
import type { StylizePlan } from './plan.ts';
import { ProgressView } from './progress-view.ts';

/** out.png → out.0050.png */
export function snapshotPath(output: string, step: number): string {
  const ext = extname(output) || '.png';
  return join(dirname(output), `${basename(output, ext)}.${String(step).padStart(4, '0')}${ext}`);
}

/** The run's failure when the loss diverged: the best image before it is written to `out` when one improved on the start. */
export async function divergedFailure(err: OptimizationDivergedError<RgbImage>, out: string, learningRate: number | undefined): Promise<Error> {
  const kept = err.best ? `; the best image before it is written to ${out}` : '; no image improved on the start, nothing is written';
  if (err.best) await writeImageFile(out, err.best);
  const now = learningRate !== undefined ? ` (now ${learningRate >= 1e6 ? learningRate.toExponential() : learningRate})` : '';
  return new Error(`${err.message.replace(/^gatys: /, '').replace('lower the learning rate', `lower --learning-rate${now}`)}${kept}`);
}

const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(2)} s`;

export interface StylizeRun {
  runtime: Runtime;
  plan: StylizePlan;
  batch: StylizeBatch;
  store: StoreOptions;
  /** Set while an image runs: Ctrl-C aborts it (iterative methods then return their best image so far). */
  onCurrent?: (controller: AbortController | null) => void;
}

export async function runStylizePlan({ runtime, plan, batch, store, onCurrent }: StylizeRun): Promise<void> {
  const { method } = plan;
  const started = performance.now();
  const values = { ...plan.values };
  for (const option of plan.imageOptions) values[option.id] = await readImageFile(option.path);
  const styles: StyleInput[] = [];
  for (const [i, path] of plan.styles.entries()) styles.push({ image: await readImageFile(path), name: path, weight: plan.blend[i]! });

  const loading = new ProgressView(method.id);
  let stylizer: Stylizer;
  try {
    stylizer = await method.load({ runtime, weights: nodeWeightSource(store) }, values, { onProgress: loading.report });
  } finally {
    loading.stop();
  }
  try {
    await batch.forEach(async (contentPath, out) => {
      const content = await readImageFile(contentPath);
      const snapshots: Promise<void>[] = [];
      const view = new ProgressView(method.id, (step, image) => snapshots.push(writeImageFile(snapshotPath(out, step), image)));
      const controller = new AbortController();
      onCurrent?.(controller);
      const t0 = performance.now();
      process.stderr.write(`${contentPath} → ${out}: ${method.id}${method.iterative ? '' : ` (${content.width}×${content.height} in)`}\n`);
      let result;
      try {
        result = await stylizer.stylize(content, styles, values, { onProgress: view.report, signal: controller.signal });
      } catch (err) {
        if (err instanceof OptimizationDivergedError) throw await divergedFailure(err as OptimizationDivergedError<RgbImage>, out, values.learningRate as number | undefined);
        throw err;
      } finally {
        view.stop();
        onCurrent?.(null);
        await Promise.all(snapshots);
      }
      await writeImageFile(out, result.image);
      const size = `${result.image.width}×${result.image.height}`;
      process.stderr.write(`${out}: ${size} in ${seconds(t0)}${result.stopped ? ', stopped early (best image so far)' : ''}${result.summary ? `; ${result.summary}` : ''}\n`);
    });
  } finally {
    stylizer.dispose();
  }
  process.stderr.write(`done: ${batch.outcome().written} image(s) with ${method.id}${styles.length ? ` and ${styles.length} style(s)` : ''} in ${seconds(started)}\n`);
}
