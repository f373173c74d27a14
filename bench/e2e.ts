/**
 * End-to-end lines: whole style-transfer workloads, timed like the kernel lines (N iterations,
 * then one full sync; nothing read back) and always reporting peak GPU memory: the pool's
 * liveBytes high-water mark, reset after setup (so model weights and inputs count, the setup's
 * own temporaries do not).
 *
 * Weights are random (He-uniform, bench/nets.ts): timing and memory do not depend on the values, and
 * the bench must not need the weight store. Engine modules are imported inside `setup`, so a line
 * whose modules are missing or broken fails alone (reported as not measured).
 *
 * The Gatys and feed-forward lines have a tfjs-webgpu peer (bench/peers/tfjs-nets.ts) that computes
 * the same thing from the same weights and inputs (test/bench/e2e-peers.test.ts checks the values).
 * The feed-forward and Gatys lines also have a CPU peer, onnxruntime-node, when it is installed
 * (bench/peers/onnx-runtime.ts; its output is checked against pastiche's before timing).
 *
 * Each line calls the pipeline's own pieces (GatysLoss, TransformerNet, the AdaIN encoder, target
 * and decoder, FeedForwardTraining with PerceptualLoss, Adam) the way the app/CLI loops do for one
 * iteration, minus progress readbacks. If a pipeline changes how an iteration is made, update the
 * line, keeping `name` unchanged so `--compare` keeps matching older reports. A line with `pending`
 * set is listed as skipped.
 */
import { loadPretrainedDistilled } from '../src/nets/weights/node/pretrained.ts';
import { keep, scope } from '../src/gpu/scope.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import { randomValues } from './data.ts';
import { hostImage, randomTransformerNet, randomTransformerNetWeights, randomVgg, randomVggWeights } from './nets.ts';
import type { E2EDef, Tier } from './types.ts';

/** Image size(s) per tier: quick / default / full (a list makes one line per size). */
const sized = (sizes: Record<Tier, number | readonly number[]>) => (tier: Tier) => sizes[tier];

/** Noise image in 0..255, [1, s, s, 3] (hostImage's values, so a peer can use the same). */
function randomImage(rt: Runtime, s: number, seed: number): Tensor {
  return rt.upload(hostImage(s, seed).data, [1, s, s, 3]);
}

/**
 * Builds E2E lines for every tier from one template; `size` gives the image size per tier and
 * goes into the name (names must differ between sizes so --compare never mixes them).
 */
function perTier(make: (tier: Tier, size: number) => E2EDef, size: (tier: Tier) => number | readonly number[], tiers: readonly Tier[] = ['quick', 'default', 'full']): E2EDef[] {
  return tiers.flatMap((tier) => [size(tier)].flat().map((s) => ({ ...make(tier, s), tiers: [tier] })));
}

/** Adam for the Gatys line: pastiche's default learning rate for Gatys with Adam (pixels 0..255). */
const ADAM_LR = 5;
const ADAM_EPS = 1e-8;

export const e2eBenches: E2EDef[] = [
  // One Gatys et al. optimisation step: GatysLoss's objective (VGG19 features, content loss at
  // conv4_2, Gram style losses at relu1_1..relu5_1, total variation, gradient for the image) and
  // one Adam update, as `stylizeGatys` does per iteration with optimizer 'adam'.
  ...perTier(
    (_tier, s) => ({
      name: `e2e Gatys iteration (VGG19, ${s} px)`,
      tiers: [],
      async setup(rt) {
        const { GatysLoss } = await import('../src/nets/methods/gatys/gatys.ts');
        const { Adam } = await import('../src/nets/optim/adam.ts');
        const vgg = await randomVgg(rt);
        const loss = await GatysLoss.create(vgg, hostImage(s, 1), [hostImage(s, 2)]);
        const image = randomImage(rt, s, 3);
        const adam = new Adam([image], { lr: ADAM_LR, eps: ADAM_EPS });
        return {
          // scope: the loss, gradient and intermediates are freed after each iteration.
          run: () =>
            scope(() => {
              const { grad } = loss.objective(image);
              adam.step([grad]);
            }),
          // The gradient at the starting image (the CPU peer's check; `run` moves `image` on).
          async output() {
            const start = randomImage(rt, s, 3);
            const grad = scope(() => keep(loss.objective(start).grad));
            start.dispose();
            const values = await grad.data();
            grad.dispose();
            return values;
          },
          dispose() {
            adam.dispose();
            loss.dispose();
            vgg.dispose();
            image.dispose();
          },
        };
      },
      peerWork:
        'Gatys iteration: same layers and loss terms, but pastiche computes each Gram matrix as a half product in one kernel (tfjs: a full matMul and a separate scale, forward and backward)',
      // onnxruntime-node (CPU), when installed: it has no autodiff, so the image gradient is a
      // hand-written backward graph (bench/peers/onnx-gatys.ts); the Adam step is not on its side.
      async onnx(ort) {
        const { onnxGatysWorkload } = await import('./peers/onnx-gatys.ts');
        return onnxGatysWorkload(ort, await randomVggWeights(), hostImage(s, 1), hostImage(s, 2), hostImage(s, 3));
      },
      // The same loss written in tfjs, its gradient by tfjs autodiff, and tfjs's own Adam step
      // (optimizer.minimize = valueAndGrad + applyGradients), as a tfjs Gatys loop does it.
      async peer(tf) {
        const { TfGatysLoss, disposeTfVgg, tfImage, tfVgg } = await import('./peers/tfjs-nets.ts');
        const vgg = tfVgg(tf, await randomVggWeights(), 'avg');
        const [content, style] = [tfImage(tf, hostImage(s, 1)), tfImage(tf, hostImage(s, 2))];
        const loss = await TfGatysLoss.create(tf, vgg, content, style);
        content.dispose();
        style.dispose();
        const x0 = tfImage(tf, hostImage(s, 3));
        const image = tf.variable(x0);
        x0.dispose();
        const adam = tf.train.adam(ADAM_LR, 0.9, 0.999, ADAM_EPS);
        return {
          run: () => void adam.minimize(() => loss.total(image), false, [image]),
          dispose() {
            adam.dispose();
            image.dispose();
            loss.dispose();
            disposeTfVgg(vgg);
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
        const { noGrad } = await import('../src/autograd/tape.ts');
        const net = await randomTransformerNet(rt);
        const image = randomImage(rt, s, 1);
        return {
          run: () => noGrad(() => net.forward(image)).dispose(),
          async output() {
            const y = noGrad(() => net.forward(image));
            const data = await y.data();
            y.dispose();
            return data;
          },
          dispose() {
            net.dispose();
            image.dispose();
          },
        };
      },
      // onnxruntime-node (CPU), when installed: the same net as an ONNX graph (NCHW, as PyTorch
      // exports it; the input converted once on the host), the same weights and image.
      async onnx(ort) {
        const { onnxTransformerNetWorkload } = await import('./peers/onnx-transformer-net.ts');
        return onnxTransformerNetWorkload(ort, await randomTransformerNetWeights(), hostImage(s, 1));
      },
      peerWork:
        'feed-forward image: pastiche reflects the borders inside each convolution and normalises in one kernel after the moments; tfjs writes a padded copy per conv (mirrorPad) and runs moments plus batchNorm',
      async peer(tf) {
        const { tfTransformerNet, uploadWeights } = await import('./peers/tfjs-nets.ts');
        const params = uploadWeights(tf, await randomTransformerNetWeights());
        const image = tf.tensor4d(hostImage(s, 1).data, [1, s, s, 3]);
        return {
          run: () => void tfTransformerNet(tf, params, image),
          dispose() {
            for (const t of params.values()) t.dispose();
            image.dispose();
          },
        };
      },
    }),
    sized({ quick: 64, default: [256, 512], full: 1024 }),
  ),
  // The same forward pass at --precision f16: f16 weights and activations, f32 arithmetic (the
  // input cast to f16 once in setup). No peers: the f32 line above carries the comparisons.
  ...perTier(
    (_tier, s) => ({
      name: `e2e feed-forward image f16 (transformer net, ${s} px)`,
      tiers: [],
      async setup(rt) {
        const { noGrad } = await import('../src/autograd/tape.ts');
        const { cast } = await import('../src/gpu/kernels/cast.ts');
        const { feedForwardFromWeights } = await import('../src/nets/methods/feed-forward/feed-forward.ts');
        const net = feedForwardFromWeights(rt, await randomTransformerNetWeights(), 'bench transformer-net (random, f16)', 'f16');
        const wide = randomImage(rt, s, 1);
        const image = cast(wide, 'f16');
        wide.dispose();
        return {
          run: () => noGrad(() => net.forward(image)).dispose(),
          async output() {
            const y = noGrad(() => net.forward(image));
            const out = cast(y, 'f32');
            y.dispose();
            const data = await out.data();
            out.dispose();
            return data;
          },
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
        const { adainEncode, adainTarget, ADAIN_CONTENT_TAP } = await import('../src/nets/methods/adain/adain.ts');
        const { AdainDecoder, ADAIN_FEATURE_CHANNELS } = await import('../src/nets/models/adain-decoder.ts');
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
  // WCT on the distilled nets (Universal Style Transfer, levels 5→1): per level the encoder, the
  // per-chunk means and centred Grams the covariance is made of, the whitening/colouring map as one
  // matmul, the decoder — the GPU work of DistilledStylizer, without its statistics readback and the
  // float64 eigendecompositions on the host (timed apart: `npx tsx bench/ultra.ts --eigen`). Real
  // weights from the weights cache or PASTICHE_WEIGHTS_MIRROR.
  ...perTier(
    (_tier, s) => ({
      name: `e2e WCT levels 5-1 (distilled VGG-19, ${s} px)`,
      tiers: [],
      setup: (rt) => distilledWorkload(rt, s, [5, 4, 3, 2, 1]),
    }),
    sized({ quick: 64, default: 512, full: 1024 }),
  ),
  // AdaIN on the distilled level-4 pair (the default `--method adain`): same pieces, one level.
  ...perTier(
    (_tier, s) => ({
      name: `e2e AdaIN (distilled level-4 encoder + decoder, ${s} px)`,
      tiers: [],
      setup: (rt) => distilledWorkload(rt, s, [4]),
    }),
    sized({ quick: 64, default: 512, full: 1024 }),
  ),
  // Magenta (Ghiasi et al.): the style embedding of a 256 px style image plus the transfer net on the
  // content. These nets exist only as the pretrained TFLite files, so this line needs them in the
  // weights cache (`npx pastiche weights`, or PASTICHE_WEIGHTS_MIRROR).
  ...perTier(
    (_tier, s) => ({
      name: `e2e Magenta embedding + stylization (${s} px)`,
      tiers: [],
      async setup(rt) {
        const { loadPretrainedMagenta } = await import('../src/nets/weights/node/pretrained.ts');
        const mirror = process.env.PASTICHE_WEIGHTS_MIRROR;
        const magenta = await loadPretrainedMagenta(rt, mirror ? { mirrorDir: mirror } : {});
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
        const { PerceptualLoss } = await import('../src/nets/losses/perceptual-loss.ts');
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

/** The distilled-net pipeline's GPU work over `levels` on an s×s image (see the WCT line). */
async function distilledWorkload(rt: Runtime, s: number, levels: readonly (1 | 2 | 3 | 4 | 5)[]) {
  const { DISTILLED_CHANNELS } = await import('../src/nets/models/distilled-vgg.ts');
  const { chunkStatsTensors } = await import('../src/nets/methods/wct/feature-stats.ts');
  const { GpuAffineMap } = await import('../src/nets/methods/wct/feature-transform.ts');
  const mirror = process.env.PASTICHE_WEIGHTS_MIRROR;
  const nets = await loadPretrainedDistilled(rt, mirror ? { mirrorDir: mirror } : {});
  const image = rt.upload(hostImage(s, 1).data.map((v) => v / 255), [1, s, s, 3]);
  const maps = new Map(
    levels.map((level) => {
      const c = DISTILLED_CHANNELS[level];
      const matrix = Float64Array.from(randomValues(c * c, 10 + level), (v, i) => (i % (c + 1) === 0 ? 1 : 0.01 * v));
      return [level, new GpuAffineMap(rt, { channels: c, matrix, bias: new Float64Array(c) })];
    }),
  );
  return {
    run: () =>
      scope(() => {
        let x = image;
        for (const level of levels) {
          const features = nets.encode(level, x);
          chunkStatsTensors(features);
          x = nets.decode(level, maps.get(level)!.apply(features));
        }
      }),
    dispose() {
      image.dispose();
      for (const m of maps.values()) m.dispose();
      nets.dispose();
    },
  };
}
