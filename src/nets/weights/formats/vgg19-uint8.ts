/**
 * Importer for the uint8-quantized VGG19 of neuralpixels/neuralpixels (Oxford ImageNet weights):
 * a manifest.json plus one file per tensor holding one uint8 per value, value = q * scale + min_value.
 *
 * Output (HostTensorMap, in layer order): `conv1_1.weight` [3, 3, in, out] (HWIO) and
 * `conv1_1.bias` [out] for all 16 convs conv1_1 … conv5_4.
 *
 * Input convention of the imported net: feed **RGB** pixels in 0..255 minus the Caffe mean
 * R=123.68, G=116.779, B=103.939 (VGG19_CAFFE_MEAN_RGB). conv1_1's input-channel axis is kept in the
 * RGB order the files use; reverse that axis only for a net fed BGR.
 */
import { readFromDirectory, type ReadRelativeFile } from '../file-source.ts';
import { hostTensor, type HostTensorMap } from '../host-tensor.ts';

/** Caffe ImageNet mean, in RGB order, subtracted from 0..255 RGB input. */
export const VGG19_CAFFE_MEAN_RGB: readonly [number, number, number] = [123.68, 116.779, 103.939];

/** The 16 convolutions of VGG19 with their channel counts (all 3x3, stride 1, padding 1). */
export const VGG19_CONV_LAYERS: readonly { name: string; inChannels: number; outChannels: number }[] = [
  { name: 'conv1_1', inChannels: 3, outChannels: 64 },
  { name: 'conv1_2', inChannels: 64, outChannels: 64 },
  { name: 'conv2_1', inChannels: 64, outChannels: 128 },
  { name: 'conv2_2', inChannels: 128, outChannels: 128 },
  { name: 'conv3_1', inChannels: 128, outChannels: 256 },
  { name: 'conv3_2', inChannels: 256, outChannels: 256 },
  { name: 'conv3_3', inChannels: 256, outChannels: 256 },
  { name: 'conv3_4', inChannels: 256, outChannels: 256 },
  { name: 'conv4_1', inChannels: 256, outChannels: 512 },
  { name: 'conv4_2', inChannels: 512, outChannels: 512 },
  { name: 'conv4_3', inChannels: 512, outChannels: 512 },
  { name: 'conv4_4', inChannels: 512, outChannels: 512 },
  { name: 'conv5_1', inChannels: 512, outChannels: 512 },
  { name: 'conv5_2', inChannels: 512, outChannels: 512 },
  { name: 'conv5_3', inChannels: 512, outChannels: 512 },
  { name: 'conv5_4', inChannels: 512, outChannels: 512 },
];

/** One tensor's entry in the neuralpixels manifest, after validation. */
export interface Vgg19Uint8TensorEntry {
  filename: string;
  shape: number[];
  scale: number;
  minValue: number;
  md5: string;
}

/**
 * Imports VGG19 through `readFile` (paths relative to the folder holding manifest.json).
 * Verifies each file's md5 against the manifest before dequantizing.
 */
export async function importVgg19Uint8(readFile: ReadRelativeFile, sourceName = 'vgg19-uint8'): Promise<HostTensorMap> {
  const manifestBytes = await readFile('manifest.json');
  const weights = readManifestWeights(manifestBytes, sourceName);

  const tensors: HostTensorMap = new Map();
  for (const layer of VGG19_CONV_LAYERS) {
    const kernelKey = `${layer.name}/kernel`;
    const biasKey = `${layer.name}/bias`;
    const kernel = manifestEntry(weights, kernelKey, [3, 3, layer.inChannels, layer.outChannels], sourceName);
    const bias = manifestEntry(weights, biasKey, [layer.outChannels], sourceName);

    const kernelValues = dequantize(await readVerified(readFile, kernel, sourceName), kernel, sourceName);
    const [width, height, inChannels, outChannels] = kernel.shape as [number, number, number, number];
    const hwioShape = [height, width, inChannels, outChannels];
    tensors.set(`${layer.name}.weight`, hostTensor(hwioShape, swapLeadingAxes(kernelValues, kernel.shape)));
    const biasValues = dequantize(await readVerified(readFile, bias, sourceName), bias, sourceName);
    tensors.set(`${layer.name}.bias`, hostTensor(bias.shape, biasValues));
  }
  return tensors;
}

/** Imports VGG19 from a local folder laid out as neuralpixels publishes it (Node only). */
export function importVgg19Uint8Directory(directory: string): Promise<HostTensorMap> {
  return importVgg19Uint8(readFromDirectory(directory), directory);
}

function readManifestWeights(bytes: Uint8Array, sourceName: string): Record<string, unknown> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`${sourceName}/manifest.json is not valid JSON (${err instanceof Error ? err.message : String(err)}); fetch the model again`);
  }
  const weights = (manifest as { weights?: unknown } | null)?.weights;
  if (typeof weights !== 'object' || weights === null) {
    throw new Error(`${sourceName}/manifest.json has no "weights" object: it is not a neuralpixels VGG19 manifest`);
  }
  return weights as Record<string, unknown>;
}

function manifestEntry(
  weights: Record<string, unknown>,
  key: string,
  expectedShape: number[],
  sourceName: string,
): Vgg19Uint8TensorEntry {
  const where = `${sourceName}/manifest.json "${key}"`;
  const raw = weights[key] as Record<string, unknown> | undefined;
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where} is missing: not a complete VGG19 manifest`);
  const { filename, shape, quantization, checksum } = raw;
  if (typeof filename !== 'string' || filename === '' || /[\\/]|^\.\.?$/.test(filename)) {
    throw new Error(`${where} has no valid "filename" (a plain file name in the model folder)`);
  }
  if (!Array.isArray(shape) || shape.join(',') !== expectedShape.join(',')) {
    throw new Error(`${where} has shape ${JSON.stringify(shape)}, expected [${expectedShape.join(', ')}] for VGG19`);
  }
  const q = quantization as { dtype?: unknown; scale?: unknown; min_value?: unknown } | undefined;
  if (q?.dtype !== 'uint8' || typeof q.scale !== 'number' || typeof q.min_value !== 'number') {
    throw new Error(`${where} lacks uint8 "quantization" {dtype, scale, min_value}; only the uint8-quantized files are supported`);
  }
  // JSON turns 1e400 into Infinity, which would dequantize to non-finite weights without a word.
  if (!Number.isFinite(q.scale) || !Number.isFinite(q.min_value)) {
    throw new Error(`${where} has a non-finite quantization scale or min_value (${q.scale}, ${q.min_value}); the manifest is damaged: fetch the model again`);
  }
  if (typeof checksum !== 'string' || !/^[0-9a-f]{32}$/i.test(checksum)) {
    throw new Error(`${where} has no md5 "checksum"`);
  }
  return { filename, shape: expectedShape, scale: q.scale, minValue: q.min_value, md5: checksum.toLowerCase() };
}

async function readVerified(readFile: ReadRelativeFile, entry: Vgg19Uint8TensorEntry, sourceName: string): Promise<Uint8Array> {
  const bytes = await readFile(entry.filename);
  // Loaded on use: the importer itself stays importable in the browser (md5 is not in WebCrypto).
  const { createHash } = await import('node:crypto');
  const actual = createHash('md5').update(bytes).digest('hex');
  if (actual !== entry.md5) {
    throw new Error(
      `${sourceName}/${entry.filename}: md5 ${actual} does not match the manifest's ${entry.md5} ` +
        `(${bytes.length} bytes); the file is damaged or from another release: download it again`,
    );
  }
  return bytes;
}

function dequantize(quantized: Uint8Array, entry: Vgg19Uint8TensorEntry, sourceName: string): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (quantized.length !== count) {
    throw new Error(`${sourceName}/${entry.filename}: ${quantized.length} bytes, expected ${count} (one uint8 per value of [${entry.shape.join(', ')}])`);
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = quantized[i]! * entry.scale + entry.minValue;
  return values;
}

/** The files store kernels as [W, H, in, out]; swapping the first two axes gives HWIO. */
function swapLeadingAxes(values: Float32Array, shape: number[]): Float32Array {
  const [width, height, inChannels, outChannels] = shape as [number, number, number, number];
  const inner = inChannels * outChannels;
  const out = new Float32Array(values.length);
  for (let w = 0; w < width; w++) {
    for (let h = 0; h < height; h++) {
      const from = (w * height + h) * inner;
      const to = (h * width + w) * inner;
      out.set(values.subarray(from, from + inner), to);
    }
  }
  return out;
}
