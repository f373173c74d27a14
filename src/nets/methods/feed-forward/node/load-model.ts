/** Loading feed-forward models from the weight store or from files (Node only; the page fetches weights itself). */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Runtime } from '../../../../gpu/runtime.ts';
import { feedForwardFromWeights, type FeedForwardNet } from '../feed-forward.ts';
import type { HostTensorMap } from '../../../weights/host-tensor.ts';
import { findModel, loadWeightsManifest } from '../../../weights/manifest.ts';
import { lengstromToCanonical, readMl5CheckpointDirectory } from '../../../weights/formats/ml5-checkpoint.ts';
import { convOihwToHwio, readPth } from '../../../weights/formats/pth.ts';
import { parseSafetensors } from '../../../weights/formats/safetensors.ts';
import { loadModelWeights, type StoreOptions } from '../../../weights/node/store.ts';

/** A PyTorch fast_neural_style state_dict: OIHW convs → HWIO; instance-norm running stats (old exports) dropped. */
function fromPytorchTransformerNet(sd: HostTensorMap): HostTensorMap {
  const out: HostTensorMap = new Map();
  for (const [name, t] of sd) {
    if (/\.in\d\.running_(mean|var)$|num_batches_tracked$/.test(name)) continue;
    out.set(name, name.endsWith('conv2d.weight') ? convOihwToHwio(t) : t);
  }
  return out;
}

/**
 * Loads a feed-forward model: a pretrained style by name (`candy`, `mosaic`, `mathura`, …) from the
 * weight store, or a file: `.safetensors` (pastiche's own, e.g. from `pastiche train transformer`) or a
 * PyTorch fast_neural_style `.pth`, or an ml5 style-transfer checkpoint folder (manifest.json and one file per variable).
 */
export async function loadFeedForwardModel(runtime: Runtime, model: string, store: StoreOptions = {}): Promise<FeedForwardNet> {
  if (/\.(safetensors|pth|pt)$/i.test(model) || existsSync(model)) {
    if (!existsSync(model)) throw new Error(`model file not found: ${model}`);
    if (statSync(model).isDirectory()) {
      if (!existsSync(join(model, 'manifest.json'))) {
        throw new Error(`${model} is a folder without manifest.json; --model takes a model name, a .safetensors/.pth file, or an ml5 checkpoint folder (manifest.json and its variable files)`);
      }
      return feedForwardFromWeights(runtime, lengstromToCanonical(await readMl5CheckpointDirectory(model), model), model);
    }
    const bytes = new Uint8Array(await readFile(model));
    const weights = /\.(pth|pt)$/i.test(model) ? fromPytorchTransformerNet(await readPth(bytes, model)) : parseSafetensors(bytes, model).tensors;
    return feedForwardFromWeights(runtime, weights, model);
  }
  const manifest = store.manifest ?? (await loadWeightsManifest());
  const entry = findModel(manifest, model);
  if (entry.kind !== 'transformer-net' && entry.kind !== 'lengstrom') {
    throw new Error(`'${model}' is a ${entry.kind} model, not a feed-forward style; choose one of ${manifest.models.filter((m) => m.kind === 'transformer-net' || m.kind === 'lengstrom').map((m) => m.name).join(', ')}`);
  }
  return feedForwardFromWeights(runtime, await loadModelWeights(model, store), `${model} weights`);
}

