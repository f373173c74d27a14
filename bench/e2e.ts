/**
 * End-to-end lines: whole style-transfer workloads, timed like the kernel lines (N iterations,
 * then one full sync; nothing read back) and always reporting peak GPU memory: the pool's
 * liveBytes high-water mark, reset after setup (so model weights and inputs count, the setup's
 * own temporaries do not).
 *
 * Weights are random (He-uniform): timing and memory do not depend on the values, and the bench
 * must not need the weight store. Engine modules are imported inside `setup`, so a line whose
 * modules are missing or broken fails alone (reported as not measured).
 *
 * Each line calls the pipeline's own pieces (GatysLoss, TransformerNet, the AdaIN encoder, target
 * and decoder, FeedForwardTraining with PerceptualLoss, Adam) the way the app/CLI loops do for one
 * iteration, minus progress readbacks. If a pipeline changes how an iteration is made, update the
 * line, keeping `name` unchanged so `--compare` keeps matching older reports. A line with `pending`
 * set is listed as skipped.
 */
import { scope } from '../src/gpu/scope.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import { randomValues } from './data.ts';
import type { E2EDef, Tier } from './types.ts';

/** Image size(s) per tier: quick / default / full (a list makes one line per size). */
const sized = (sizes: Record<Tier, number | readonly number[]>) => (tier: Tier) => sizes[tier];

/** Noise image in 0..255, [1, s, s, 3]. */
function randomImage(rt: Runtime, s: number, seed: number): Tensor {
  const values = randomValues(s * s * 3, seed);
  for (let i = 0; i < values.length; i++) values[i] = Math.floor((values[i]! + 1) * 127.5);
  return rt.upload(values, [1, s, s, 3]);
}

/** VGG19 with random weights (the bench does not need the pretrained ones). */
async function randomVgg(rt: Runtime) {
  const { Vgg, vggLayers } = await import('../src/nets/vgg.ts');
  const { ParamStore } = await import('../src/nets/params.ts');
  const { heUniform } = await import('../src/nets/init.ts');
  const { fill } = await import('../src/gpu/kernels/elementwise.ts');
  const params = new ParamStore(rt, 'bench vgg19 (random)');
  vggLayers('vgg19').forEach((l, i) => {
    params.set(`${l.name}.weight`, heUniform(rt, [3, 3, l.inChannels, l.outChannels], 9 * l.inChannels, 100 + i));
    params.set(`${l.name}.bias`, fill(rt, [l.outChannels], 0));
  });
  return new Vgg(params, { arch: 'vgg19', pooling: 'avg' });
}

/**
 * Builds E2E lines for every tier from one template; `size` gives the image size per tier and
 * goes into the name (names must differ between sizes so --compare never mixes them).
 */
function perTier(make: (tier: Tier, size: number) => E2EDef, size: (tier: Tier) => number | readonly number[], tiers: readonly Tier[] = ['quick', 'default', 'full']): E2EDef[] {
  return tiers.flatMap((tier) => [size(tier)].flat().map((s) => ({ ...make(tier, s), tiers: [tier] })));
}

/** RGB image (0..255) on the host, as the pipelines take it. */
function hostImage(s: number, seed: number): { width: number; height: number; data: Float32Array } {
  const data = randomValues(s * s * 3, seed);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor((data[i]! + 1) * 127.5);
  return { width: s, height: s, data };
}

export const e2eBenches: E2EDef[] = [
  // One Gatys et al. optimisation step: GatysLoss's objective (VGG19 features, content loss at
  // conv4_2, Gram style losses at relu1_1..relu5_1, total variation, gradient for the image) and
  // one Adam update, as `stylizeGatys` does per iteration with optimizer 'adam'.
  ...perTier(
    (_tier, s) => ({
      name: `e2e Gatys iteration (VGG19, ${s} px)`,
      tiers: [],
      async setup(rt) {
        const { GatysLoss } = await import('../src/nets/gatys.ts');
        const { Adam } = await import('../src/nets/optim/adam.ts');
        const vgg = await randomVgg(rt);
        const loss = await GatysLoss.create(vgg, hostImage(s, 1), [hostImage(s, 2)]);
        const image = randomImage(rt, s, 3);
        const adam = new Adam([image], { lr: 5 });
        return {
          // scope: the loss, gradient and intermediates are freed after each iteration.
          run: () =>
            scope(() => {
              const { grad } = loss.objective(image);
              adam.step([grad]);
            }),
          dispose() {
            adam.dispose();
            loss.dispose();
            vgg.dispose();
            image.dispose();
          },
        };
      },
    }),
    sized({ quick: 32, default: [128, 256], full: 512 }),
  ),
  // One stylized image through the feed-forward transformer net (PyTorch fast_neural_style layout).
  ...perTier(
    (_tier, s) => ({
      name: `e2e feed-forward image (transformer net, ${s} px)`,
      tiers: [],
      async setup(rt) {
        const { TransformerNet } = await import('../src/nets/transformer-net.ts');
        const { noGrad } = await import('../src/autograd/tape.ts');
        const net = TransformerNet.initialize(rt, 7);
        const image = randomImage(rt, s, 1);
        return {
          run: () => noGrad(() => net.forward(image)).dispose(),
          dispose() {
            net.dispose();
            image.dispose();
          },
        };
      },
    }),
    sized({ quick: 64, default: [256, 512], full: 1024 }),
  ),
  // AdaIN with cached style statistics: VGG19 encoder to relu4_1, adainTarget, decoder (the GPU
  // part of AdainStylizer.stylizeWithStats, without its padding and readback).
  ...perTier(
    (_tier, s) => ({
      name: `e2e AdaIN (VGG19 encoder + decoder, ${s} px)`,
      tiers: [],
      async setup(rt) {
        const { adainEncode, adainTarget, ADAIN_CONTENT_TAP } = await import('../src/nets/adain.ts');
        const { AdainDecoder, ADAIN_FEATURE_CHANNELS } = await import('../src/nets/adain-decoder.ts');
        const { noGrad } = await import('../src/autograd/tape.ts');
        const vgg = await randomVgg(rt);
        const decoder = AdainDecoder.initialize(rt, 5);
        const image = randomImage(rt, s, 1);
        const c = ADAIN_FEATURE_CHANNELS;
        const style = { mean: rt.upload(randomValues(c, 2).map((v) => v + 1), [c]), std: rt.upload(randomValues(c, 3).map((v) => v + 1.5), [c]) };
        return {
          run: () =>
            scope(() =>
              noGrad(() => {
                const features = adainEncode(vgg, image).get(ADAIN_CONTENT_TAP)!;
                decoder.forward(adainTarget(features, [style], { alpha: 1, weights: [1] }));
              }),
            ),
          dispose() {
            for (const t of [image, style.mean, style.std]) t.dispose();
            decoder.dispose();
            vgg.dispose();
          },
        };
      },
    }),
    sized({ quick: 32, default: [256, 512], full: 1024 }),
  ),
  // Magenta (Ghiasi et al.): the style embedding of a 256 px style image plus the transfer net on the
  // content. These nets exist only as the pretrained TFLite files, so this line needs them in the
  // weights cache (`npx pastiche weights`, or PASTICHE_WEIGHTS_MIRROR).
  ...perTier(
    (_tier, s) => ({
      name: `e2e Magenta embedding + stylization (${s} px)`,
      tiers: [],
      async setup(rt) {
        const { Magenta } = await import('../src/nets/magenta.ts');
        const mirror = process.env.PASTICHE_WEIGHTS_MIRROR;
        const magenta = await Magenta.load(rt, mirror ? { mirrorDir: mirror } : {});
        const style = randomImage(rt, 256, 2);
        const content = randomImage(rt, s, 3);
        return {
          run: () => {
            const embedding = magenta.predictStyleTensor(style);
            magenta.transferTensor(content, embedding).dispose();
            embedding.dispose();
          },
          dispose() {
            magenta.dispose();
            style.dispose();
            content.dispose();
          },
        };
      },
    }),
    sized({ quick: 128, default: [384, 768], full: 1024 }),
  ),
  // One training step of a feed-forward net, as the training loop does it: FeedForwardTraining's
  // loss (transformer net forward, perceptual loss through VGG19 with the batch upload), gradients
  // for every net parameter, one Adam update.
  ...perTier(
    (_tier, s) => ({
      name: `e2e training step (transformer net + perceptual loss, batch 1, ${s} px)`,
      tiers: [],
      async setup(rt) {
        const { FeedForwardTraining, createFeedForwardNet } = await import('../src/nets/train/feed-forward.ts');
        const { PerceptualLoss } = await import('../src/nets/perceptual-loss.ts');
        const { valueAndGradOf } = await import('../src/autograd/grad.ts');
        const { Adam } = await import('../src/nets/optim/adam.ts');
        const vgg = await randomVgg(rt);
        const style = randomImage(rt, s, 2);
        const perceptual = new PerceptualLoss(vgg, style);
        style.dispose();
        const net = createFeedForwardNet(rt, { arch: 'transformer-net', norm: 'instance', dropout: 0 }, 11);
        const model = new FeedForwardTraining(net, 'transformer-net', perceptual);
        model.setTraining(true);
        const params = model.params();
        const adam = new Adam(params, { lr: 1e-3 });
        const batch = { data: hostImage(s, 4).data, count: 1, size: s };
        let iteration = 0;
        return {
          run() {
            iteration++;
            scope(() => {
              const { grads } = valueAndGradOf(() => model.loss(batch, { iteration, phase: 'train', seed: iteration }).total, params);
              adam.step(grads);
            });
          },
          dispose() {
            adam.dispose();
            net.dispose();
            perceptual.dispose();
            vgg.dispose();
          },
        };
      },
    }),
    sized({ quick: 32, default: 64, full: 256 }),
    // The costliest line (about 90 s a step at 128 px on a loaded lavapipe): left out of --quick.
    ['default', 'full'],
  ),
];
