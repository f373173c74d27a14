/**
 * `pastiche features IMAGE --layers relu1_1,relu4_1 --out feats.safetensors`: VGG taps of an image fed
 * at its own size, one float32 tensor per tap keyed by its name, [1, H, W, C].
 */
import { downloadProgress } from '../download-progress.ts';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { noGrad } from '../../autograd/tape.ts';
import { initRuntime, type Runtime } from '../../gpu/runtime.ts';
import { writeFileAtomic } from '../../io/atomic-write.ts';
import { readImageFile } from '../../io/image-file.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import { Vgg, vggFromTorchvision, vggTapNames, type VggArch } from '../../nets/models/vgg.ts';
import type { HostTensorMap } from '../../nets/weights/host-tensor.ts';
import { convOihwToHwio, readPth } from '../../nets/weights/formats/pth.ts';
import { parseSafetensors, serializeSafetensors } from '../../nets/weights/formats/safetensors.ts';
import { loadPretrainedVgg } from '../../nets/weights/node/pretrained.ts';

interface FeaturesOptions {
  net: VggArch;
  layers: string[];
  out: string;
  size?: number;
  weights?: string;
  pooling: 'max' | 'avg';
  mirror?: string;
  cache?: string;
}

async function loadVgg(runtime: Runtime, o: FeaturesOptions): Promise<Vgg> {
  if (!o.weights) {
    if (o.net !== 'vgg19') throw new Error(`no pretrained ${o.net} weights are known; pass --weights torchvision-${o.net}.pth`);
    return loadPretrainedVgg(runtime, { pooling: o.pooling, ...(o.mirror ? { mirrorDir: o.mirror } : {}), ...(o.cache ? { cacheDir: o.cache } : {}), onProgress: downloadProgress() });
  }
  const bytes = new Uint8Array(await readFile(o.weights));
  if (/\.(pth|pt)$/i.test(o.weights)) {
    // torchvision checkpoints expect 0..1 input normalised by the ImageNet mean and std.
    const weights = vggFromTorchvision(await readPth(bytes, o.weights), o.net, convOihwToHwio);
    return Vgg.fromHost(runtime, weights, { arch: o.net, pooling: o.pooling, preprocessing: 'torchvision' }, o.weights);
  }
  const weights: HostTensorMap = parseSafetensors(bytes, o.weights).tensors;
  return Vgg.fromHost(runtime, weights, { arch: o.net, pooling: o.pooling }, o.weights);
}

export function registerFeaturesCommand(program: Command): void {
  program
    .command('features')
    .description('write VGG feature maps (taps) of an image to a safetensors file')
    .argument('<image>', 'PNG or JPEG, fed at its own size unless --size')
    .option('--net <arch>', 'vgg19 | vgg16', (v: string) => {
      if (v !== 'vgg19' && v !== 'vgg16') throw new InvalidArgumentError(`--net must be vgg19 or vgg16, got '${v}'`);
      return v;
    }, 'vgg19')
    .requiredOption('--layers <taps>', 'comma-separated taps, e.g. relu1_1,relu4_1,conv4_2', (v: string) => v.split(',').map((t) => t.trim()).filter(Boolean))
    .requiredOption('--out <path>', 'output .safetensors file')
    .option('--size <px>', 'resize so the long side is this many pixels', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 16) throw new InvalidArgumentError(`--size must be an integer ≥ 16, got '${v}'`);
      return n;
    })
    .option('--weights <file>', 'VGG weights: pastiche .safetensors or a torchvision vgg16/vgg19 .pth (default: the pretrained VGG19)')
    .option('--pooling <kind>', 'max | avg', 'max')
    .option('--mirror <dir>', 'weights mirror folder (default $PASTICHE_WEIGHTS_MIRROR)')
    .option('--cache <dir>', 'weights cache folder')
    .action(async (imagePath: string, o: FeaturesOptions) => {
      const known = vggTapNames(o.net);
      const unknown = o.layers.filter((t) => !known.includes(t));
      if (unknown.length) throw new Error(`unknown ${o.net} layer(s) ${unknown.join(', ')}; taps are ${known.join(', ')}`);
      let image = await readImageFile(imagePath);
      if (o.size) image = resizeToLongSide(image, o.size);
      const runtime = await initRuntime();
      try {
        const vgg = await loadVgg(runtime, o);
        const input = runtime.upload(image.data, [1, image.height, image.width, 3]);
        const taps = noGrad(() => vgg.features(input, o.layers));
        const host: HostTensorMap = new Map();
        for (const name of o.layers) {
          const t = taps.get(name)!;
          host.set(name, { shape: [...t.shape], data: await t.data() });
        }
        await writeFileAtomic(o.out, serializeSafetensors(host, { metadata: { image: imagePath, net: o.net, layout: 'NHWC' } }));
        process.stderr.write(`${o.out}: ${o.layers.map((n) => `${n} [${host.get(n)!.shape.join('×')}]`).join(', ')}\n`);
        vgg.dispose();
      } finally {
        runtime.destroy();
      }
    });
}
