/**
 * The README's picture of the five methods: one photo (samples/chelsea.png) and one painting
 * (samples/great-wave.jpg), each method through the library API at the same size, side by side with
 * the inputs, written to docs/methods.png. Gatys takes a few minutes on a software GPU.
 *
 *   npx tsx scripts/make-methods-figure.ts [--size 192] [--iterations 80]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { encodePng, type RgbImage } from '../src/io/image.ts';
import { readImageFile } from '../src/io/image-file.ts';
import { resizeToLongSide } from '../src/io/resize.ts';
import { stylize } from '../src/index.node.ts';

const { values } = parseArgs({ options: { size: { type: 'string', default: '192' }, iterations: { type: 'string', default: '80' } } });
const size = Number(values.size);
const root = join(import.meta.dirname, '..');
const photo = join(root, 'samples', 'chelsea.png');
const painting = join(root, 'samples', 'great-wave.jpg');

const runs: { label: string; options: Record<string, unknown> }[] = [
  { label: 'feed-forward (mathura)', options: { size } },
  { label: 'magenta', options: { style: painting, size } },
  { label: 'adain', options: { method: 'adain', style: painting, size } },
  { label: 'wct', options: { method: 'wct', style: painting, size, styleSize: size, alpha: 0.6 } },
  { label: 'gatys', options: { method: 'gatys', style: painting, size, iterations: Number(values.iterations) } },
];

const tiles: RgbImage[] = [resizeToLongSide(await readImageFile(photo), size), resizeToLongSide(await readImageFile(painting), size)];
for (const run of runs) {
  const started = performance.now();
  const image = await stylize(photo, run.options);
  process.stderr.write(`${run.label}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const rgb = new Float32Array(image.width * image.height * 3);
  for (let i = 0; i < image.width * image.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = image.data[i * 4 + c]!;
  tiles.push({ width: image.width, height: image.height, data: rgb });
}

// One row, 4 px white gaps; tiles top-aligned on white.
const gap = 4;
const height = Math.max(...tiles.map((t) => t.height));
const width = tiles.reduce((w, t) => w + t.width, 0) + gap * (tiles.length - 1);
const data = new Float32Array(width * height * 3).fill(255);
let x0 = 0;
for (const tile of tiles) {
  for (let y = 0; y < tile.height; y++) data.set(tile.data.subarray(y * tile.width * 3, (y + 1) * tile.width * 3), (y * width + x0) * 3);
  x0 += tile.width + gap;
}
const out = join(root, 'docs', 'methods.png');
await writeFileAtomic(out, encodePng({ width, height, data }));
process.stderr.write(`${out}: photo, painting, then ${runs.map((r) => r.label).join(', ')}\n`);
