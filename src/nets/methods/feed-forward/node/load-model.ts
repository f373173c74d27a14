/** Loading feed-forward models from the weight store or from files (Node only; the page fetches weights itself). */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Runtime } from '../../../../gpu/runtime.ts';
import { feedForwardFromWeights, type FeedForwardNet, type FeedForwardPrecision } from '../feed-forward.ts';
import { lengstromToCanonical, readMl5CheckpointDirectory } from '../../../weights/formats/ml5-checkpoint.ts';
import { findModel, loadWeightsManifest } from '../../../weights/manifest.ts';
import { feedForwardWeightsFromBytes } from '../model-file.ts';
import { loadModelWeights, type StoreOptions } from '../../../weights/node/store.ts';

/**
 * Loads a feed-forward model: a pretrained style by name (`candy`, `mosaic`, `mathura`, …) from the
 * weight store, or a file: `.safetensors` (pastiche's own, e.g. from `pastiche train transformer`) or a
 * PyTorch fast_neural_style `.pth`, or an ml5 checkpoint folder. `precision` as in feedForwardFromWeights.
 */
export async function loadFeedForwardModel(runtime: Runtime, model: string, store: StoreOptions = {}, precision: FeedForwardPrecision = 'f32'): Promise<FeedForwardNet> {
  if (/\.(safetensors|pth|pt)$/i.test(model) || existsSync(model)) {
    if (!existsSync(model)) throw new Error(`model file not found: ${model}`);
    if (statSync(model).isDirectory()) {
      if (!existsSync(join(model, 'manifest.json'))) {
        throw new Error(`${model} is a folder without manifest.json; --model takes a model name, a .safetensors/.pth file, or an ml5 checkpoint folder (manifest.json and its variable files)`);
      }
      return feedForwardFromWeights(runtime, lengstromToCanonical(await readMl5CheckpointDirectory(model), model), model, precision);
    }
    const bytes = new Uint8Array(await readFile(model));
    const weights = await feedForwardWeightsFromBytes(bytes, model);
    return feedForwardFromWeights(runtime, weights, model, precision);
  }
  const manifest = store.manifest ?? (await loadWeightsManifest());
  const entry = findModel(manifest, model);
  if (entry.kind !== 'transformer-net' && entry.kind !== 'lengstrom') {
    throw new Error(`'${model}' is a ${entry.kind} model, not a feed-forward style; choose one of ${manifest.models.filter((m) => m.kind === 'transformer-net' || m.kind === 'lengstrom').map((m) => m.name).join(', ')}`);
  }
  return feedForwardFromWeights(runtime, await loadModelWeights(model, store), `${model} weights`, precision);
}

