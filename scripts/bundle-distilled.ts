/**
 * Writes the bundled copy of the ten Collaborative-Distillation nets:
 * weights/bundled/distilled-16x.safetensors (f16, pastiche's names and HWIO layout,
 * the training-only aux convs dropped), from the verified .pth files of the weights mirror or cache,
 * and prints the size and sha256 to record in weights/manifest.json (`bundled` of model distilled-16x).
 *
 *   npx tsx scripts/bundle-distilled.ts [--mirror DIR]
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { distilledVggFromCheckpoints } from '../src/nets/weights/formats/distilled-vgg-checkpoints.ts';
import { serializeSafetensors } from '../src/nets/weights/formats/safetensors.ts';
import { ensureModelFiles } from '../src/nets/weights/node/store.ts';

const mirrorAt = process.argv.indexOf('--mirror');
const mirrorDir = mirrorAt >= 0 ? process.argv[mirrorAt + 1] : process.env.PASTICHE_WEIGHTS_MIRROR;
const { paths, model } = await ensureModelFiles('distilled-16x', mirrorDir ? { mirrorDir } : {});
const checkpoints = await Promise.all(paths.map(async (path) => ({ path, bytes: new Uint8Array(await readFile(path)) })));
const tensors = await distilledVggFromCheckpoints(checkpoints);
const bytes = serializeSafetensors(tensors, {
  dtype: 'f16',
  metadata: {
    'pastiche.model': model.name,
    'pastiche.source': `${model.source.repository}@${model.source.commit}/${model.source.path}`,
    'pastiche.license': model.license,
  },
});
const out = join(import.meta.dirname, '..', 'weights', 'bundled', 'distilled-16x.safetensors');
await writeFileAtomic(out, bytes);
process.stdout.write(`${out}\n  bytes ${bytes.length}\n  sha256 ${createHash('sha256').update(bytes).digest('hex')}\n`);
