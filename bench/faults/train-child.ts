/**
 * A training run for kill trials, as its own process: trains the tiny net into DIR/model.safetensors
 * with a checkpoint after every iteration (DIR/model.ckpt.safetensors), resuming from that checkpoint
 * when it exists, exactly as `pastiche train … --resume` does. Prints `ready` once training starts.
 * A `ballast` parameter makes each checkpoint ~16 MB so that kills often land inside a write.
 *   tsx bench/faults/train-child.ts DIR ITERATIONS
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '../../src/gpu/runtime.ts';
import { writeFileAtomic } from '../../src/io/atomic-write.ts';
import { readCheckpoint } from '../../src/nets/train/node/checkpoint.ts';
import { trainWritingResults } from '../../src/nets/train/node/run-files.ts';
import { lossValidator } from '../../src/nets/train/loop.ts';
import { SeededRandom } from '../../src/nets/random.ts';
import { serializeSafetensors } from '../../src/nets/weights/formats/safetensors.ts';
import { TinyConvModel, TinyImages, tinyBatch } from './tiny-training.ts';

export const BALLAST = 1 << 20;

const [dir, iterationsText] = process.argv.slice(2);
if (!dir || !iterationsText) throw new Error('usage: train-child.ts DIR ITERATIONS');
const output = join(dir, 'model.safetensors');
const checkpointPath = join(dir, 'model.ckpt.safetensors');
const resume = existsSync(checkpointPath) ? await readCheckpoint(checkpointPath) : undefined;
const runtime = await initRuntime();
const model = new TinyConvModel(runtime, 5, BALLAST);
const validation = [tinyBatch(new SeededRandom(11), 2)];
process.stdout.write(`ready ${resume?.state.iteration ?? 0}\n`);
await trainWritingResults(
  {
    model,
    data: new TinyImages(2, 3),
    iterations: Number(iterationsText),
    adam: { lr: 1e-2 },
    seed: 4,
    validate: lossValidator(validation, (b) => b.count),
    valEvery: 3,
    patience: 0,
    checkpointPath,
    checkpointEvery: 1,
    ...(resume ? { resume } : {}),
  },
  { writeModel: (weights) => writeFileAtomic(output, serializeSafetensors(weights)), lossCurvePath: null },
);
model.dispose();
runtime.destroy();
process.stdout.write('done\n');
