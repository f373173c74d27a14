/**
 * Importer for the ncnn `.bin` weights of the PyTorch-examples fast_neural_style TransformerNet
 * (nihui/ncnn-android-styletransfer: candy, mosaic, pointilism, rain_princess, udnie).
 *
 * Layout, in layer order: per conv a little-endian u32 tag 0x01306B47 (ncnn's fp16 marker), the
 * weights as fp16 [out, in, kh, kw] padded to a multiple of 4 bytes, the fp32 bias [out]; after every
 * conv but the last, its instance norm as fp32 scale [C] then fp32 shift [C]. Nothing else.
 *
 * Output names are the PyTorch state_dict keys (`conv1.conv2d.weight`, `in1.weight`, `res1.conv1.conv2d.bias`,
 * …); conv weights become HWIO [kh, kw, in, out]; instance norm `.weight` is the scale, `.bias` the shift.
 */
import { decodeFloat16LE } from '../float16.ts';
import { hostTensor, type HostTensorMap } from '../host-tensor.ts';
import { decodeFloat32LE } from '../little-endian.ts';

export const NCNN_FP16_TAG = 0x01306b47;

export interface TransformerNetConvLayer {
  /** state_dict prefix of the conv, e.g. `res2.conv1.conv2d` */
  conv: string;
  /** state_dict prefix of the instance norm that follows, or null for the final conv */
  norm: string | null;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
}

function transformerNetLayers(): TransformerNetConvLayer[] {
  const layers: TransformerNetConvLayer[] = [
    { conv: 'conv1.conv2d', norm: 'in1', inChannels: 3, outChannels: 32, kernelSize: 9 },
    { conv: 'conv2.conv2d', norm: 'in2', inChannels: 32, outChannels: 64, kernelSize: 3 },
    { conv: 'conv3.conv2d', norm: 'in3', inChannels: 64, outChannels: 128, kernelSize: 3 },
  ];
  for (let block = 1; block <= 5; block++) {
    for (const half of [1, 2]) {
      layers.push({
        conv: `res${block}.conv${half}.conv2d`,
        norm: `res${block}.in${half}`,
        inChannels: 128,
        outChannels: 128,
        kernelSize: 3,
      });
    }
  }
  layers.push(
    { conv: 'deconv1.conv2d', norm: 'in4', inChannels: 128, outChannels: 64, kernelSize: 3 },
    { conv: 'deconv2.conv2d', norm: 'in5', inChannels: 64, outChannels: 32, kernelSize: 3 },
    { conv: 'deconv3.conv2d', norm: null, inChannels: 32, outChannels: 3, kernelSize: 9 },
  );
  return layers;
}

/** The 16 convs of TransformerNet in file (and execution) order. */
export const TRANSFORMER_NET_CONV_LAYERS: readonly TransformerNetConvLayer[] = transformerNetLayers();

/** Parses a TransformerNet ncnn `.bin`; the file must be consumed exactly. */
export function parseNcnnTransformerNet(bytes: Uint8Array, sourceName = 'ncnn TransformerNet .bin'): HostTensorMap {
  const hint = 'expected an ncnn fp16 .bin of the PyTorch-examples TransformerNet (3,368,140 bytes)';
  let offset = 0;
  const take = (byteCount: number, what: string): number => {
    if (offset + byteCount > bytes.length) {
      throw new Error(`${sourceName}: truncated: ${what} needs ${byteCount} bytes at offset ${offset} but the file has ${bytes.length}; ${hint}`);
    }
    const start = offset;
    offset += byteCount;
    return start;
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const tensors: HostTensorMap = new Map();
  for (const layer of TRANSFORMER_NET_CONV_LAYERS) {
    const { inChannels, outChannels, kernelSize } = layer;
    const tagOffset = take(4, `${layer.conv} tag`);
    const tag = view.getUint32(tagOffset, true);
    if (tag !== NCNN_FP16_TAG) {
      throw new Error(
        `${sourceName}: ${layer.conv} at offset ${tagOffset} has tag 0x${tag.toString(16).padStart(8, '0')}, ` +
          `not the fp16 tag 0x${NCNN_FP16_TAG.toString(16).padStart(8, '0')}; ${hint}`,
      );
    }
    const weightCount = outChannels * inChannels * kernelSize * kernelSize;
    const weightBytes = Math.ceil((weightCount * 2) / 4) * 4;
    const weightOffset = take(weightBytes, `${layer.conv}.weight`);
    const oihw = decodeFloat16LE(bytes, weightOffset, weightCount);
    tensors.set(`${layer.conv}.weight`, hostTensor([kernelSize, kernelSize, inChannels, outChannels], oihwToHwio(oihw, layer)));
    const biasOffset = take(outChannels * 4, `${layer.conv}.bias`);
    tensors.set(`${layer.conv}.bias`, hostTensor([outChannels], decodeFloat32LE(bytes, biasOffset, outChannels)));

    if (layer.norm !== null) {
      const scaleOffset = take(outChannels * 4, `${layer.norm}.weight`);
      tensors.set(`${layer.norm}.weight`, hostTensor([outChannels], decodeFloat32LE(bytes, scaleOffset, outChannels)));
      const shiftOffset = take(outChannels * 4, `${layer.norm}.bias`);
      tensors.set(`${layer.norm}.bias`, hostTensor([outChannels], decodeFloat32LE(bytes, shiftOffset, outChannels)));
    }
  }
  if (offset !== bytes.length) {
    throw new Error(`${sourceName}: ${bytes.length - offset} unexpected bytes after the last layer (at offset ${offset}); ${hint}`);
  }
  return tensors;
}

function oihwToHwio(oihw: Float32Array, layer: TransformerNetConvLayer): Float32Array {
  const { inChannels: cin, outChannels: cout, kernelSize: k } = layer;
  const hwio = new Float32Array(oihw.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < k; y++) {
        for (let x = 0; x < k; x++) {
          hwio[((y * k + x) * cin + i) * cout + o] = oihw[((o * cin + i) * k + y) * k + x]!;
        }
      }
    }
  }
  return hwio;
}
