// Regenerates weights/bundled/ — the default models that ship with pastiche so the first run works
// offline — from verified source files, and pins each in weights/manifest.json (`bundled`):
//   mathura.safetensors                      the lengstrom `mathura` net (ml5 checkpoint, MIT), converted, f16
//   mathura.LICENSE                          its licence, copied from the mirror
//   magenta/style_predict_int8_256.tflite    the Magenta pair (Apache-2.0) as published: int8 is already
//   magenta/style_transfer_int8_384.tflite   half the size of f16, and exact
// Usage: npx tsx scripts/bundle-weights.ts [--mirror DIR]   (default $PASTICHE_WEIGHTS_MIRROR, else ../shared/weights)
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeSafetensors } from '../src/nets/weights/formats/safetensors.ts';
import { findModel, loadWeightsManifest, type BundledFile } from '../src/nets/weights/manifest.ts';
import { ensureModelFiles, prepareModelWeights } from '../src/nets/weights/node/store.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundledDir = join(root, 'weights', 'bundled');
const manifestPath = join(root, 'weights', 'manifest.json');

const mirrorFlag = process.argv.indexOf('--mirror');
const mirrorDir = mirrorFlag >= 0 ? process.argv[mirrorFlag + 1] : (process.env.PASTICHE_WEIGHTS_MIRROR ?? join(root, '..', 'shared', 'weights'));
if (mirrorDir === undefined) throw new Error('--mirror needs a folder');

const cacheDir = mkdtempSync(join(tmpdir(), 'pastiche-bundle-'));
const pinned = new Map<string, BundledFile>();

function write(relPath: string, bytes: Uint8Array): void {
  const target = join(bundledDir, ...relPath.split('/'));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, bytes);
  pinned.set(relPath, { path: relPath, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
}

try {
  const manifest = await loadWeightsManifest(manifestPath);
  const store = { mirrorDir, cacheDir, manifest, bundledDir: '' };

  // Converted from the verified ml5 files, stored as f16 (the error against f32 is in test/nets/weights/bundled.test.ts).
  const mathura = findModel(manifest, 'mathura');
  const { tensors } = await prepareModelWeights('mathura', store);
  const metadata = {
    'pastiche.model': 'mathura',
    'pastiche.kind': mathura.kind,
    'pastiche.source-format': mathura.format,
    'pastiche.source-commit': `${mathura.source.repository}@${mathura.source.commit}`,
    'pastiche.license': mathura.license,
  };
  write('mathura.safetensors', serializeSafetensors(tensors, { dtype: 'f16', metadata }));
  writeFileSync(join(bundledDir, 'mathura.LICENSE'), readFileSync(join(mirrorDir, 'lengstrom', 'LICENSE.source-repo')));

  for (const name of ['magenta-predict', 'magenta-transfer']) {
    const files = await ensureModelFiles(name, store);
    write(findModel(manifest, name).files[0]!.path, new Uint8Array(readFileSync(files.paths[0]!)));
  }

  // Pin the files in the manifest, keeping its layout (two-space JSON).
  const raw = JSON.parse(readFileSync(manifestPath, 'utf8')) as { models: { name: string; files: { path: string }[]; bundled?: BundledFile }[] };
  const bundledPathOf: Record<string, string> = { mathura: 'mathura.safetensors' };
  for (const model of raw.models) {
    const path = bundledPathOf[model.name] ?? (model.name.startsWith('magenta-') ? model.files[0]!.path : undefined);
    if (path === undefined) continue;
    model.bundled = pinned.get(path)!;
  }
  writeFileSync(manifestPath, `${JSON.stringify(raw, null, 2)}\n`);
  let total = 0;
  for (const file of pinned.values()) {
    total += file.bytes;
    process.stdout.write(`${file.path.padEnd(42)} ${(file.bytes / 1e6).toFixed(2)} MB  ${file.sha256}\n`);
  }
  process.stdout.write(`total ${(total / 1e6).toFixed(2)} MB in ${bundledDir}\n`);
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
