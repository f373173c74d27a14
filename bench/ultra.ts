/**
 * Ultra-resolution WCT and the float64 eigendecomposition, timed apart from `npm run bench` because
 * a run is one long asynchronous pipeline with readbacks (statistics per tile), not a recorded workload.
 *
 *   npx tsx bench/ultra.ts 1024 2048 4096     # WCT levels 5→1 on an N×N photo: wall time, peak GPU memory, tiles
 *   npx tsx bench/ultra.ts --adain 2048       # the same for AdaIN on the distilled level-4 pair
 *   npx tsx bench/ultra.ts --eigen            # Jacobi eigendecomposition of C×C covariances, C = 24 … 512
 *   npx tsx bench/ultra.ts 4096 --out DIR     # also writes each result as DIR/wct-4096.png, to look at the seams
 *
 * Weights from the weights cache or PASTICHE_WEIGHTS_MIRROR; images from ../shared/images (PASTICHE_SAMPLES_DIR).
 */
import { loadPretrainedDistilled } from '../src/nets/weights/node/pretrained.ts';
import { join } from 'node:path';
import { initRuntime } from '../src/gpu/runtime.ts';
import { readImageFile, writeImageFile } from '../src/io/image-file.ts';
import { resizeImage, resizeToLongSide } from '../src/io/resize.ts';
import { symmetricEigen } from '../src/nets/methods/wct/eigen.ts';
import { DistilledStylizer } from '../src/nets/methods/wct/stylizer.ts';
import { randomValues } from './data.ts';

const args = process.argv.slice(2);
const samples = process.env.PASTICHE_SAMPLES_DIR ?? join(import.meta.dirname, '..', '..', 'shared', 'images');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

if (args.includes('--eigen')) {
  for (const c of [24, 64, 128, 256, 512]) {
    // A covariance-like matrix: XᵀX of random features with a wide spectrum.
    const n = 2 * c;
    const x = randomValues(n * c, c);
    const cov = new Float64Array(c * c);
    for (let p = 0; p < n; p++) for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) cov[i * c + j] += (x[p * c + i]! * x[p * c + j]! * (i + 1)) / n;
    const t0 = performance.now();
    symmetricEigen(cov, c);
    process.stdout.write(`eigen C=${c}: ${(performance.now() - t0).toFixed(1)} ms\n`);
  }
}

const outAt = args.indexOf('--out');
const outDir = outAt >= 0 ? args[outAt + 1] : undefined;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && (outAt < 0 || i !== outAt + 1)).map(Number);
if (sizes.length > 0) {
  const kind = args.includes('--adain') ? 'adain' : 'wct';
  const runtime = await initRuntime();
  const mirror = process.env.PASTICHE_WEIGHTS_MIRROR;
  const nets = await loadPretrainedDistilled(runtime, mirror ? { mirrorDir: mirror } : {});
  const stylizer = new DistilledStylizer(nets, kind);
  const photo = await readImageFile(join(samples, 'content_chelsea.png'));
  const style = resizeToLongSide(await readImageFile(join(samples, 'starry_night_vangogh.jpg')), 512);
  for (const size of sizes) {
    const content = resizeImage(photo, size, size);
    runtime.pool.resetPeak();
    const encodesBefore = stylizer.counters.contentEncodes;
    const t0 = performance.now();
    const result = await stylizer.stylize(content, [style], { alpha: 1 });
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `${kind} ${size}×${size}: ${seconds.toFixed(1)} s, peak GPU memory ${mib(runtime.pool.getStats().peakBytes)} in live tensors ` +
        `(${mib(runtime.pool.getStats().liveBytes + runtime.pool.getStats().pooledBytes)} held by the buffer pool after the run), ` +
        `${stylizer.counters.contentEncodes - encodesBefore} encoder passes\n`,
    );
    if (outDir) await writeImageFile(join(outDir, `${kind}-${size}.png`), result);
  }
  nets.dispose();
  runtime.destroy();
}
