/**
 * `pastiche tune --size 128,256`: measures which kernel variant is fastest on this adapter for the
 * shapes of VGG19 (forward and image gradient, with Gram matrices: Gatys, AdaIN, perceptual losses),
 * of the feed-forward nets — TransformerNet and Johnson et al.'s net with its transposed convs
 * (forward and every gradient: stylizing and training; and the forward at f16 precision when the
 * adapter has f16 shaders) — and of AdaIN (one decoder training step:
 * the VGG encoder, the decoder forward and its gradients) at the given image sizes, and writes the
 * choices to the tuning cache that every later run reads.
 */
import type { Command } from 'commander';
import { valueAndGrad, valueAndGradOf } from '../../autograd/grad.ts';
import { add } from '../../autograd/ops/elementwise.ts';
import { gram } from '../../autograd/ops/gram.ts';
import { sum } from '../../autograd/ops/reduce.ts';
import { defaultTuneStore, describeResult, fileTuneStore, tuneWorkload, type TuneResult, type TuneStore } from '../../gpu/autotune.ts';
import { initRuntime, type Runtime } from '../../gpu/runtime.ts';
import { scope } from '../../gpu/scope.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { noGrad } from '../../autograd/tape.ts';
import { AdainDecoder } from '../../nets/models/adain-decoder.ts';
import { halfPrecisionCopy, runFeedForward } from '../../nets/methods/feed-forward/feed-forward.ts';
import { AdainDecoderTraining } from '../../nets/train/node/adain-decoder.ts';
import { JohnsonNet } from '../../nets/models/johnson-net.ts';
import { TransformerNet } from '../../nets/models/transformer-net.ts';
import type { ImageBatch } from '../../nets/train/node/dataset.ts';
import { Vgg, vggLayers } from '../../nets/models/vgg.ts';
import type { HostTensorMap } from '../../nets/weights/host-tensor.ts';
import { choice, parseInteger } from '../options.ts';

const NETS = ['vgg19', 'transformer', 'johnson', 'adain'] as const;
type TunedNet = (typeof NETS)[number];

/** Taps the style and content losses read (relu1_1 … relu5_1 and relu4_2). */
const VGG_TAPS = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu4_2', 'relu5_1'];

export interface TuneOptions {
  size: number[];
  nets: TunedNet[];
  force?: boolean;
  samples: number;
  cache?: string;
}

/** Values in [0, 255): timing does not depend on them, only on the shapes. */
function pixels(size: number, seed = 0): Float32Array {
  const values = new Float32Array(size * size * 3);
  for (let i = 0; i < values.length; i++) values[i] = (i * 37 + seed) % 255;
  return values;
}

function image(runtime: Runtime, size: number): Tensor {
  return runtime.upload(pixels(size), [1, size, size, 3]);
}

const imageBatch = (size: number, seed: number): ImageBatch => ({ data: pixels(size, seed), count: 1, size });

/** VGG19 with small made-up weights (the pretrained ones are not needed to time kernels). */
function vggWithoutWeights(runtime: Runtime): Vgg {
  const weights: HostTensorMap = new Map();
  for (const l of vggLayers('vgg19')) {
    const n = 9 * l.inChannels * l.outChannels;
    weights.set(`${l.name}.weight`, { shape: [3, 3, l.inChannels, l.outChannels], data: new Float32Array(n).map((_, i) => (((i * 7919) % 200) - 100) * 1e-4) });
    weights.set(`${l.name}.bias`, { shape: [l.outChannels], data: new Float32Array(l.outChannels) });
  }
  return Vgg.fromHost(runtime, weights, {}, 'tuning vgg19');
}

/** Records one run of each net at each size; the runtime captures the kernels' shapes. */
export async function tuneNets(runtime: Runtime, o: TuneOptions, store: TuneStore | null, log: (line: string) => void): Promise<TuneResult[]> {
  const vgg = o.nets.includes('vgg19') || o.nets.includes('adain') ? vggWithoutWeights(runtime) : null;
  const feedForward = [
    o.nets.includes('transformer') ? TransformerNet.initialize(runtime, 1) : null,
    o.nets.includes('johnson') ? JohnsonNet.initialize(runtime, 1) : null,
  ].filter((net) => net !== null);
  // With f16 shaders, also the forward at --precision f16 (its convs have their own f16 variants).
  const halfNets = runtime.hasF16 ? feedForward.map(halfPrecisionCopy) : [];
  const decoder = o.nets.includes('adain') ? AdainDecoder.initialize(runtime, 1) : null;
  try {
    return await tuneWorkload(
      runtime,
      () =>
        scope(() => {
          for (const size of o.size) {
            const x = image(runtime, size);
            if (vgg && o.nets.includes('vgg19')) {
              // The image gradient of content and Gram losses: what Gatys and the perceptual losses run.
              valueAndGrad((img: Tensor) => {
                const taps = vgg.features(img, VGG_TAPS);
                let loss = sum(taps.get('relu4_2')!);
                for (const t of VGG_TAPS.filter((name) => name.endsWith('_1'))) loss = add(loss, sum(gram(taps.get(t)!)));
                return loss;
              })(x);
            }
            for (const net of feedForward) {
              // Every gradient of a training step (stylizing runs the same forward convs).
              net.training = true;
              valueAndGradOf(() => sum(net.forward(x)), net.trainableParams());
              net.training = false;
            }
            for (const net of halfNets) noGrad(() => runFeedForward(net, x));
            if (vgg && decoder) {
              // One decoder training step: encoder passes, AdaIN, the decoder, its output encoded and
              // differentiated back to the decoder's weights (stylizing runs the same forward convs).
              const step = new AdainDecoderTraining(decoder, vgg, 1);
              const batch = { content: imageBatch(size, 0), style: imageBatch(size, 101) };
              valueAndGradOf(() => step.loss(batch).total, step.params());
            }
          }
        }),
      { force: o.force, samples: o.samples, onProgress: log, store },
    );
  } finally {
    vgg?.params.dispose();
    for (const net of [...feedForward, ...halfNets]) net.params.dispose();
    decoder?.dispose();
  }
}

export function registerTuneCommand(program: Command): void {
  program
    .command('tune')
    .description('time the kernel variants on this GPU for the nets\' shapes and cache the fastest')
    .option('--size <px,...>', 'image sizes to tune for (comma-separated)', (v: string) => v.split(',').map((s) => parseInteger('--size', 16)(s.trim())), [256])
    .option('--nets <names>', `nets whose shapes are tuned: ${NETS.join(', ')}`, (v: string) => v.split(',').map((s) => choice('--nets', NETS)(s.trim())), [...NETS])
    .option('--force', 'measure shapes that already have a cached choice again')
    .option('--samples <n>', 'timed runs per variant', parseInteger('--samples', 1), 3)
    .option('--cache <file>', 'tuning cache file (default: $PASTICHE_TUNE_CACHE, else autotune.json in the weights cache folder)')
    .action(async (o: TuneOptions) => {
      const runtime = await initRuntime();
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(`tuning on ${runtime.tuning.adapter}: ${o.nets.join(', ')} at ${o.size.join(', ')} px`);
      const t0 = performance.now();
      const store = o.cache ? fileTuneStore(o.cache) : await defaultTuneStore(runtime);
      const results = await tuneNets(runtime, o, store, log);
      for (const r of results.filter((x) => !x.measured)) log(describeResult(r));
      const counts = new Map<string, number>();
      for (const r of results) counts.set(`${r.family} ${r.choice}`, (counts.get(`${r.family} ${r.choice}`) ?? 0) + 1);
      const summary = [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
      process.stdout.write(`${results.length} shapes in ${((performance.now() - t0) / 1000).toFixed(0)} s; chosen: ${summary}\n`);
      process.stdout.write(store ? `saved to ${store.where}\n` : 'not saved: PASTICHE_TUNE_CACHE is off\n');
      runtime.destroy();
    });
}
