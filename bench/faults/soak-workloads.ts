/**
 * The long runs a soak measures: Gatys optimisation (L-BFGS or Adam) on a small image, and the
 * training loop (validation and checkpoints included) on the tiny conv net. Each calls `onStep` with
 * a sample after every step; neither reads anything back beyond what the run itself does.
 */
import { join } from 'node:path';
import type { Runtime } from '../../src/gpu/runtime.ts';
import { readImageFile } from '../../src/io/image-file.ts';
import type { RgbImage } from '../../src/io/image.ts';
import { resizeToLongSide } from '../../src/io/resize.ts';
import { stylizeGatys } from '../../src/nets/methods/gatys/gatys.ts';
import type { Vgg } from '../../src/nets/models/vgg.ts';
import { SeededRandom } from '../../src/nets/random.ts';
import { lossValidator, train } from '../../src/nets/train/loop.ts';
import { sample, type SoakSample } from './soak-measure.ts';
import { TinyConvModel, TinyImages, tinyBatch } from './tiny-training.ts';

export const SHARED_IMAGES = join(import.meta.dirname, '..', '..', '..', 'shared', 'images');

export async function soakImages(size: number): Promise<{ content: RgbImage; style: RgbImage }> {
  const content = resizeToLongSide(await readImageFile(join(SHARED_IMAGES, 'content_chelsea.png')), size);
  const style = resizeToLongSide(await readImageFile(join(SHARED_IMAGES, 'starry_night_vangogh.jpg')), size);
  return { content, style };
}

/**
 * `steps` Gatys iterations on shallow layers (cheap at 32 px). A run that stops early (converged)
 * is followed by another from its result, as the page's resume does, until the steps are done.
 */
export async function soakGatys(runtime: Runtime, vgg: Vgg, optimizer: 'lbfgs' | 'adam', steps: number, size = 32): Promise<SoakSample[]> {
  const { content, style } = await soakImages(size);
  const samples: SoakSample[] = [];
  let init: RgbImage | 'content' = 'content';
  let step = 0;
  while (step < steps) {
    const run = stylizeGatys(vgg, content, [style], {
      optimizer,
      iterations: steps - step,
      contentLayers: { relu2_1: 1 },
      styleLayers: { relu1_1: 1, relu2_1: 1 },
      learningRate: optimizer === 'adam' ? 2 : 10,
      patience: 0,
      init,
    });
    for (;;) {
      const next = await run.next();
      if (next.done) {
        init = next.value.image;
        break;
      }
      samples.push(sample(runtime, ++step));
    }
  }
  return samples;
}

/** `steps` iterations of the training loop on the tiny net: validation every 50, a checkpoint every 100. */
export async function soakTraining(runtime: Runtime, steps: number, dir: string): Promise<SoakSample[]> {
  const model = new TinyConvModel(runtime, 1);
  const samples: SoakSample[] = [];
  const rng = new SeededRandom(99);
  try {
    await train({
      model,
      data: new TinyImages(2, 7),
      iterations: steps,
      adam: { lr: 1e-2 },
      validate: lossValidator([tinyBatch(rng, 2), tinyBatch(rng, 2)], (b) => b.count),
      valEvery: 50,
      patience: 0,
      checkpointPath: join(dir, 'soak.ckpt.safetensors'),
      checkpointEvery: 100,
      onIteration: (r) => samples.push(sample(runtime, r.iteration)),
    });
  } finally {
    model.dispose();
  }
  return samples;
}
