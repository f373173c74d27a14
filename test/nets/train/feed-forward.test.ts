/**
 * Training the feed-forward nets for real, at CI sizes (32 px crops of a few photos, VGG19 loss):
 * the loss goes down, early stopping keeps the best-validation weights in the model file, resume is
 * bit-identical, batch norm and dropout honour train/eval mode, and the model file loads for stylize.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../../src/autograd/tape.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { readImageFile, writePngFile } from '../../../src/io/image-file.ts';
import { decodeImage } from '../../../src/io/image.ts';
import { resizeToLongSide } from '../../../src/io/resize.ts';
import { runFeedForward } from '../../../src/nets/methods/feed-forward/feed-forward.ts';
import { loadFeedForwardModel } from '../../../src/nets/methods/feed-forward/node/load-model.ts';
import { JohnsonNet } from '../../../src/nets/models/johnson-net.ts';
import { DEFAULT_AUGMENT } from '../../../src/nets/train/augment.ts';
import { readCheckpoint } from '../../../src/nets/train/node/checkpoint.ts';
import { trainFeedForward, type FeedForwardTrainConfig } from '../../../src/nets/train/node/run-feed-forward.ts';
import { ParamStore } from '../../../src/nets/models/params.ts';
import { DEFAULT_STYLE_LAYERS } from '../../../src/nets/losses/perceptual-loss.ts';
import { TransformerNet } from '../../../src/nets/models/transformer-net.ts';
import { Vgg } from '../../../src/nets/models/vgg.ts';
import { parseSafetensors } from '../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../helpers/gpu.ts';
import { SHARED_IMAGES_DIR, testStoreOptions } from '../../helpers/shared-data.ts';
import { loadPretrainedVgg } from '../../../src/nets/weights/node/pretrained.ts';

const runtime = useRuntime();
const IMAGES = SHARED_IMAGES_DIR;
let vgg: Vgg;
let photos: string;
let broken: string;

beforeAll(async () => {
  vgg = await loadPretrainedVgg(runtime(), testStoreOptions());
  // A small photo folder: mixed sizes, a subfolder, and one file that is not an image.
  photos = mkdtempSync(join(tmpdir(), 'pastiche-photos-'));
  mkdirSync(join(photos, 'more'));
  const sources = ['content_chelsea.png', 'content_coffee.png', 'content_astronaut.png', 'content_rocket.jpg', 'texture_brick.png'];
  for (const [i, name] of sources.entries()) {
    const image = resizeToLongSide(await readImageFile(join(IMAGES, name)), 40 + 8 * i);
    await writePngFile(join(photos, i % 2 ? 'more' : '', `${i}.png`), image);
  }
  broken = join(photos, 'more', 'broken.jpg');
  writeFileSync(broken, 'not a JPEG at all');
});

afterAll(() => vgg?.dispose());

function config(overrides: Partial<FeedForwardTrainConfig> = {}): FeedForwardTrainConfig {
  return {
    style: join(IMAGES, 'starry_night_vangogh.jpg'),
    contentDir: photos,
    valCount: 1,
    size: 32,
    styleSize: 48,
    batch: 1,
    iterations: 4,
    lr: 1e-3,
    contentWeight: 1,
    styleWeight: 5,
    tvWeight: 1,
    contentLayer: 'relu2_2',
    // Shallow style layers keep the machinery tests cheap; the loss test runs the default set.
    styleLayers: ['relu1_2', 'relu2_2'],
    arch: 'transformer-net',
    norm: 'instance',
    dropout: 0,
    seed: 3,
    valEvery: 2,
    patience: 0,
    checkpointEvery: 0,
    augment: DEFAULT_AUGMENT,
    ...overrides,
  };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'pastiche-train-'));

/** Bit-for-bit equality of two float arrays (toEqual walks millions of elements slowly). */
const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function modelFile(path: string) {
  return parseSafetensors(new Uint8Array(await readFile(path)), path);
}

const image = (seed: number, n = 2, size = 16): Tensor =>
  runtime().upload(
    Array.from({ length: n * size * size * 3 }, (_, i) => (Math.sin(i * 0.37 + seed) * 0.5 + 0.5) * 255),
    [n, size, size, 3],
  );

describe('feed-forward training', () => {
  it('lowers the training perceptual loss substantially in a few dozen iterations', async () => {
    const dir = tmp();
    const totals: number[] = [];
    const unreadable: string[] = [];
    const result = await trainFeedForward(runtime(), {
      vgg,
      output: join(dir, 'model.safetensors'),
      config: config({ iterations: 24, batch: 2, lr: 1e-2, styleLayers: [...DEFAULT_STYLE_LAYERS], valEvery: 0 }),
      hooks: { onIteration: (r) => totals.push(r.total), onUnreadable: (path) => unreadable.push(path) },
    });
    // Every batch is a different random crop, so compare the first and last few iterations.
    const head = totals.slice(0, 4).reduce((a, b) => a + b) / 4;
    const tail = totals.slice(-4).reduce((a, b) => a + b) / 4;
    expect(tail).toBeLessThan(head * 0.5);
    expect(unreadable).toEqual([broken]);
    expect(result.unreadable.has(broken)).toBe(true);
    // Six files listed (the broken one among them): one held out for validation, five to train on.
    expect([result.trainImages, result.valImages]).toEqual([5, 1]);
    // The loss curve is written next to the model.
    const curve = decodeImage(new Uint8Array(await readFile(join(dir, 'model.loss.png'))));
    expect(curve.width).toBe(800);
  }, 600_000);

  it('keeps the best-validation weights as the model when validation stops improving', async () => {
    const dir = tmp();
    const scripted = [2, 1, 1.5];
    const snapshots: Float32Array[] = [];
    const result = await trainFeedForward(runtime(), {
      vgg,
      output: join(dir, 'best.safetensors'),
      config: config({ iterations: 50, valEvery: 1, patience: 1, norm: 'batch' }),
      validator: async (model) => {
        snapshots.push((await model.saveState()).get('conv1.conv2d.weight')!.data);
        return scripted[snapshots.length - 1]!;
      },
    });
    expect(result.stopReason).toBe('early-stop');
    expect(result.iteration).toBe(3);
    expect(result.best).toEqual({ iteration: 2, loss: 1 });
    const saved = await modelFile(join(dir, 'best.safetensors'));
    expect(saved.tensors.get('conv1.conv2d.weight')!.data).toEqual(snapshots[1]);
    expect(saved.tensors.get('conv1.conv2d.weight')!.data).not.toEqual(snapshots[2]);
    expect(saved.metadata).toMatchObject({ arch: 'transformer-net', norm: 'batch', iteration: '2', 'val-loss': '1' });
    expect(saved.tensors.has('in1.running_mean')).toBe(true);
  }, 300_000);

  it('resumes from a checkpoint bit-identically (batch norm, dropout, augmentation, validation)', async () => {
    const dir = tmp();
    const run = config({ norm: 'batch', dropout: 0.2, batch: 2, valEvery: 1, iterations: 4 });
    await trainFeedForward(runtime(), { vgg, output: join(dir, 'straight.safetensors'), config: run });
    await trainFeedForward(runtime(), { vgg, output: join(dir, 'resumed.safetensors'), config: { ...run, iterations: 2 } });
    const partial = await readCheckpoint(join(dir, 'resumed.ckpt.safetensors'));
    expect(partial.state.iteration).toBe(2);
    await trainFeedForward(runtime(), { vgg, output: join(dir, 'resumed.safetensors'), config: run, resume: partial });

    const a = await readCheckpoint(join(dir, 'straight.ckpt.safetensors'));
    const b = await readCheckpoint(join(dir, 'resumed.ckpt.safetensors'));
    expect(b.state.iteration).toBe(4);
    expect([...b.model.keys()]).toEqual([...a.model.keys()]);
    for (const [name, t] of a.model) expect(sameBits(b.model.get(name)!.data, t.data), name).toBe(true);
    expect(b.adam.m.length).toBe(a.adam.m.length);
    a.adam.m.forEach((t, i) => expect(sameBits(b.adam.m[i]!.data, t.data), `adam m ${i}`).toBe(true));
    a.adam.v.forEach((t, i) => expect(sameBits(b.adam.v[i]!.data, t.data), `adam v ${i}`).toBe(true));
    expect({ ...b.state, seconds: 0, config: null }).toEqual({ ...a.state, seconds: 0, config: null });
    const ma = await modelFile(join(dir, 'straight.safetensors'));
    const mb = await modelFile(join(dir, 'resumed.safetensors'));
    for (const [name, t] of ma.tensors) expect(sameBits(mb.tensors.get(name)!.data, t.data), name).toBe(true);
  }, 600_000);

  it.each([
    ['johnson', JohnsonNet],
    ['transformer-net', TransformerNet],
  ] as const)('writes a %s batch-norm model that loadFeedForwardModel loads and runs in eval mode', async (arch, Net) => {
    const rt = runtime();
    const output = join(tmp(), `${arch}.safetensors`);
    const styleLayers = arch === 'johnson' ? [...DEFAULT_STYLE_LAYERS] : ['relu1_2'];
    const result = await trainFeedForward(rt, { vgg, output, config: config({ arch, norm: 'batch', iterations: 1, valEvery: 0, styleLayers }) });
    const net = await loadFeedForwardModel(rt, output);
    expect(net).toBeInstanceOf(Net);
    expect(net.norm).toBe('batch');
    expect(net.training).toBe(false);
    // The trained weights in a net built explicitly with batch norm give the same pixels.
    const reference = new Net(ParamStore.fromHost(rt, result.weights, 'trained'), { norm: 'batch' });
    const x = image(1, 1, 32);
    const y = await runFeedForward(net, x).data();
    expect(y).toEqual(await runFeedForward(reference, x).data());
    // Raw net outputs are not clamped (Johnson's tanh head spans −22.5…277.5; pixels clamp on encoding): finite is the property.
    expect(y.every(Number.isFinite)).toBe(true);
    expect(new Set(y).size).toBeGreaterThan(1);
    x.dispose();
    net.dispose();
    reference.dispose();
  }, 300_000);
});

describe('train and eval modes of the nets', () => {
  it('batch norm updates its running statistics in train mode and normalises with them in eval mode', async () => {
    const rt = runtime();
    const net = TransformerNet.initialize(rt, 5, { norm: 'batch' });
    const mean0 = await net.params.get('in1.running_mean').data();
    const var0 = await net.params.get('in1.running_var').data();
    const ab = image(1);
    const ac = rt.upload([...(await ab.data()).slice(0, 16 * 16 * 3), ...(await image(7, 1).data())], [2, 16, 16, 3]);
    const firstOf = async (t: Tensor) => (await t.data()).slice(0, 16 * 16 * 3);

    net.training = true;
    const trainAb = await firstOf(noGrad(() => net.forward(ab)));
    const trainAc = await firstOf(noGrad(() => net.forward(ac)));
    const mean1 = await net.params.get('in1.running_mean').data();
    const var1 = await net.params.get('in1.running_var').data();
    expect(mean1).not.toEqual(mean0);
    expect(var1).not.toEqual(var0);
    // Train mode: the first image's output depends on the rest of the batch (batch statistics).
    expect(trainAb).not.toEqual(trainAc);

    net.training = false;
    const evalAb = await firstOf(noGrad(() => net.forward(ab)));
    const evalAc = await firstOf(noGrad(() => net.forward(ac)));
    // Eval mode: statistics untouched, each image normalised on its own (running statistics).
    expect(await net.params.get('in1.running_mean').data()).toEqual(mean1);
    expect(await net.params.get('in1.running_var').data()).toEqual(var1);
    expect(evalAb).toEqual(evalAc);
    // … and they really are the ones used: changing them changes the output.
    net.params.set('in1.running_var', rt.upload(Array.from(var1, (v) => v * 4), [32]));
    expect(await firstOf(noGrad(() => net.forward(ab)))).not.toEqual(evalAb);
    for (const t of [ab, ac]) t.dispose();
    net.dispose();
  });

  it('dropout is active in train mode only', async () => {
    const rt = runtime();
    for (const Net of [TransformerNet, JohnsonNet]) {
      const net = Net.initialize(rt, 2, { dropout: 0.5 });
      const plain = new Net(net.params, { dropout: 0 });
      const x = image(3, 1);
      const run = async (seed: number) => {
        net.dropoutSeed = seed;
        return noGrad(() => net.forward(x)).data();
      };
      net.training = true;
      const a = await run(1);
      expect(await run(1)).toEqual(a);
      expect(await run(2)).not.toEqual(a);
      net.training = false;
      plain.training = false;
      const evalOut = await run(1);
      expect(await run(2)).toEqual(evalOut);
      expect(await noGrad(() => plain.forward(x)).data()).toEqual(evalOut);
      x.dispose();
      net.dispose();
    }
  });
});
