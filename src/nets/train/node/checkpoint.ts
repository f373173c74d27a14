/**
 * Training checkpoints: one safetensors file holding everything a run needs to continue exactly where
 * it stopped: the model's state (`model.<name>`), the best-validation weights so far (`best.<name>`),
 * Adam's moments (`adam.m.<i>`, `adam.v.<i>`, in params() order), and as JSON metadata the iteration,
 * Adam's step count, the data stream's position and RNG state, the early-stopping state, the loss
 * history and the run's configuration. Written atomically (a crash leaves the previous checkpoint).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../../io/atomic-write.ts';
import type { PlateauState } from '../../optim/plateau.ts';
import type { HostTensor, HostTensorMap } from '../../weights/host-tensor.ts';
import { parseSafetensors, serializeSafetensors } from '../../weights/formats/safetensors.ts';
import type { JsonValue } from '../trainable.ts';

export const CHECKPOINT_FORMAT = 'pastiche-training-checkpoint';
const CHECKPOINT_VERSION = 1;

/** Losses over the run: every training iteration, and every validation. */
export interface TrainingHistory {
  train: { iteration: number[]; total: number[]; terms: Record<string, number[]> };
  validation: { iteration: number[]; loss: number[] };
}

export function emptyHistory(): TrainingHistory {
  return { train: { iteration: [], total: [], terms: {} }, validation: { iteration: [], loss: [] } };
}

export interface CheckpointState {
  /** The last completed iteration. */
  iteration: number;
  adamStep: number;
  /** The data stream's position after the last completed iteration (BatchSource.saveState()). */
  data: JsonValue;
  plateau: PlateauState;
  /** The best validation so far (its weights are the checkpoint's `best.*` tensors). */
  best: { iteration: number; loss: number } | null;
  history: TrainingHistory;
  /** TrainableModel.describe() of the model that wrote it. */
  model: Record<string, string>;
  /** The caller's description of the run (e.g. the command-line options), returned unchanged. */
  config: JsonValue;
  /** Wall-clock seconds of training so far (all sessions). */
  seconds: number;
}

export interface TrainingCheckpoint {
  state: CheckpointState;
  model: HostTensorMap;
  best: HostTensorMap | null;
  adam: { m: HostTensor[]; v: HostTensor[] };
}

// JSON has no Infinity/NaN (the early-stopping state starts at best = Infinity): tag them.
const encodeNumbers = (_key: string, value: unknown): unknown =>
  typeof value === 'number' && !Number.isFinite(value) ? { nonFinite: String(value) } : value;
const decodeNumbers = (_key: string, value: unknown): unknown => {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === 'nonFinite') return Number((value as { nonFinite: string }).nonFinite);
  }
  return value;
};

export function serializeCheckpoint(checkpoint: TrainingCheckpoint): Uint8Array {
  const tensors: HostTensorMap = new Map();
  for (const [name, t] of checkpoint.model) tensors.set(`model.${name}`, t);
  if (checkpoint.best) for (const [name, t] of checkpoint.best) tensors.set(`best.${name}`, t);
  checkpoint.adam.m.forEach((t, i) => tensors.set(`adam.m.${i}`, t));
  checkpoint.adam.v.forEach((t, i) => tensors.set(`adam.v.${i}`, t));
  return serializeSafetensors(tensors, {
    metadata: {
      format: CHECKPOINT_FORMAT,
      version: String(CHECKPOINT_VERSION),
      state: JSON.stringify(checkpoint.state, encodeNumbers),
    },
  });
}

export function parseCheckpoint(bytes: Uint8Array, source: string): TrainingCheckpoint {
  const { tensors, metadata } = parseSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${source}: not a pastiche training checkpoint (metadata format '${metadata.format ?? 'none'}'); pass the .ckpt.safetensors file a training run wrote, not the model`);
  }
  if (metadata.version !== String(CHECKPOINT_VERSION)) throw new Error(`${source}: checkpoint version ${metadata.version} is not supported (expected ${CHECKPOINT_VERSION})`);
  const state = JSON.parse(metadata.state ?? 'null', decodeNumbers) as CheckpointState | null;
  if (!state || !Number.isInteger(state.iteration) || !state.history || !state.plateau) throw new Error(`${source}: the checkpoint's state metadata is missing or damaged`);
  const model: HostTensorMap = new Map();
  const best: HostTensorMap = new Map();
  const m: HostTensor[] = [];
  const v: HostTensor[] = [];
  for (const [name, t] of tensors) {
    const moment = /^adam\.([mv])\.(\d+)$/.exec(name);
    if (moment) (moment[1] === 'm' ? m : v)[Number(moment[2])] = t;
    else if (name.startsWith('model.')) model.set(name.slice(6), t);
    else if (name.startsWith('best.')) best.set(name.slice(5), t);
    else throw new Error(`${source}: unexpected tensor '${name}' in a training checkpoint`);
  }
  if (m.length !== v.length || [...m, ...v].some((t) => t === undefined)) throw new Error(`${source}: the checkpoint's Adam moments are incomplete`);
  return { state, model, best: best.size > 0 ? best : null, adam: { m, v } };
}

export async function writeCheckpoint(path: string, checkpoint: TrainingCheckpoint): Promise<void> {
  await writeFileAtomic(path, serializeCheckpoint(checkpoint));
}

export async function readCheckpoint(path: string): Promise<TrainingCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new Error(`cannot read checkpoint ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseCheckpoint(bytes, path);
}
