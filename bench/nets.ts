/**
 * Random weights for the nets of the end-to-end lines, generated once on the host so that pastiche
 * and its tfjs peer upload identical values (timing does not depend on them, the equality check of
 * the peers does). Engine modules are imported on use, as in e2e.ts, so a broken one fails only the
 * lines that need it.
 */
import type { Runtime } from '../src/gpu/runtime.ts';
import type { HostTensorMap } from '../src/nets/weights/host-tensor.ts';
import { count, randomValues } from './data.ts';

/** He-uniform-like values: U(−b, b) with b = √(6 / fanIn). */
function heValues(shape: readonly number[], fanIn: number, seed: number): Float32Array {
  const values = randomValues(count(shape), seed);
  const bound = Math.sqrt(6 / fanIn);
  for (let i = 0; i < values.length; i++) values[i]! *= bound;
  return values;
}

/** center + spread·U(−1, 1): small non-zero biases and norm parameters, so every term is exercised. */
function around(n: number, center: number, spread: number, seed: number): Float32Array {
  const values = randomValues(n, seed);
  for (let i = 0; i < values.length; i++) values[i] = center + spread * values[i]!;
  return values;
}

let vggHost: Promise<HostTensorMap> | null = null;

/** VGG19 (all 16 convs, HWIO kernels), the same values for every caller in this process. */
export function randomVggWeights(): Promise<HostTensorMap> {
  vggHost ??= (async () => {
    const { vggLayers } = await import('../src/nets/models/vgg.ts');
    const weights: HostTensorMap = new Map();
    vggLayers('vgg19').forEach((l, i) => {
      const shape = [3, 3, l.inChannels, l.outChannels];
      weights.set(`${l.name}.weight`, { shape, data: heValues(shape, 9 * l.inChannels, 100 + i) });
      weights.set(`${l.name}.bias`, { shape: [l.outChannels], data: around(l.outChannels, 0, 0.1, 200 + i) });
    });
    return weights;
  })();
  return vggHost;
}

/** The bench's VGG19: random weights, average pooling (as Gatys et al. prefer), Caffe preprocessing. */
export async function randomVgg(rt: Runtime) {
  const { Vgg } = await import('../src/nets/models/vgg.ts');
  return Vgg.fromHost(rt, await randomVggWeights(), { arch: 'vgg19', pooling: 'avg' }, 'bench vgg19 (random)');
}

let transformerHost: Promise<HostTensorMap> | null = null;

/** TransformerNet with instance norm (PyTorch fast_neural_style names, HWIO kernels). */
export function randomTransformerNetWeights(): Promise<HostTensorMap> {
  transformerHost ??= (async () => {
    const { transformerNetConvSpecs } = await import('../src/nets/models/transformer-net.ts');
    const weights: HostTensorMap = new Map();
    transformerNetConvSpecs().forEach((spec, i) => {
      const shape = [spec.k, spec.k, spec.cin, spec.cout];
      weights.set(`${spec.name}.conv2d.weight`, { shape, data: heValues(shape, spec.k * spec.k * spec.cin, 300 + i) });
      weights.set(`${spec.name}.conv2d.bias`, { shape: [spec.cout], data: around(spec.cout, 0, 0.1, 400 + i) });
      if (spec.norm) {
        weights.set(`${spec.norm}.weight`, { shape: [spec.cout], data: around(spec.cout, 1, 0.2, 500 + i) });
        weights.set(`${spec.norm}.bias`, { shape: [spec.cout], data: around(spec.cout, 0, 0.2, 600 + i) });
      }
    });
    return weights;
  })();
  return transformerHost;
}

export async function randomTransformerNet(rt: Runtime) {
  const { TransformerNet } = await import('../src/nets/models/transformer-net.ts');
  const { ParamStore } = await import('../src/nets/models/params.ts');
  return new TransformerNet(ParamStore.fromHost(rt, await randomTransformerNetWeights(), 'bench transformer-net (random)'), { norm: 'instance' });
}

/** RGB image (0..255 integers) on the host, as the pipelines take it; the same for a seed on both sides. */
export function hostImage(s: number, seed: number): { width: number; height: number; data: Float32Array } {
  const data = randomValues(s * s * 3, seed);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor((data[i]! + 1) * 127.5);
  return { width: s, height: s, data };
}
