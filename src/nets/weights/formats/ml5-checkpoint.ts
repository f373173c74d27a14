/**
 * Reader for deeplearn.js / ml5 checkpoint folders: a manifest.json mapping each variable name to
 * {filename, shape}, and one raw little-endian float32 file per variable. Also the renaming of
 * lengstrom fast-style-transfer checkpoints (ml5 style-transfer models) to pastiche's names.
 */
import { readFromDirectory, type ReadRelativeFile } from '../file-source.ts';
import { hostTensor, type HostTensorMap } from '../host-tensor.ts';
import { decodeFloat32LE } from '../little-endian.ts';
import { clipText } from './message-text.ts';

/** Reads every variable of a checkpoint; the map is ordered by variable name, numbers compared numerically. */
export async function readMl5Checkpoint(readFile: ReadRelativeFile, sourceName = 'ml5 checkpoint'): Promise<HostTensorMap> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await readFile('manifest.json')));
  } catch (err) {
    throw new Error(`${sourceName}/manifest.json is not valid JSON (${err instanceof Error ? err.message : String(err)}); fetch the checkpoint again`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new Error(`${sourceName}/manifest.json is not an object mapping variable names to {filename, shape}`);
  }

  const names = Object.keys(manifest).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const tensors: HostTensorMap = new Map();
  for (const name of names) {
    const entry = (manifest as Record<string, unknown>)[name] as { filename?: unknown; shape?: unknown } | null;
    const filename = entry?.filename;
    const shape = entry?.shape;
    if (typeof filename !== 'string' || filename === '' || /[\\/]|^\.\.?$/.test(filename)) {
      throw new Error(`${sourceName}/manifest.json: variable "${clipText(name)}" has no valid "filename" (a plain file name in the checkpoint folder)`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${sourceName}/manifest.json: variable "${clipText(name)}" shape ${clipText(JSON.stringify(shape) ?? 'missing')} is not a list of non-negative integers`);
    }
    const dims = shape as number[];
    const count = dims.reduce((a, b) => a * b, 1);
    const bytes = await readFile(filename);
    if (bytes.length !== count * 4) {
      throw new Error(
        `${sourceName}/${filename}: variable "${clipText(name)}" [${clipText(dims.join(', '))}] needs ${count * 4} bytes of float32 but the file has ${bytes.length}; ` +
          'the file is truncated or damaged: fetch the checkpoint again',
      );
    }
    tensors.set(name, hostTensor(dims, decodeFloat32LE(bytes, 0, count)));
  }
  return tensors;
}

/** Reads a checkpoint from a local folder (Node only). */
export function readMl5CheckpointDirectory(directory: string): Promise<HostTensorMap> {
  return readMl5Checkpoint(readFromDirectory(directory), directory);
}

interface LengstromLayer {
  name: string;
  /** index of the kernel variable; its IN shift and scale follow at +1 and +2 */
  index: number;
  kernelShape: number[];
}

function lengstromLayers(): LengstromLayer[] {
  const layers: LengstromLayer[] = [
    { name: 'conv1', index: 0, kernelShape: [9, 9, 3, 32] },
    { name: 'conv2', index: 3, kernelShape: [3, 3, 32, 64] },
    { name: 'conv3', index: 6, kernelShape: [3, 3, 64, 128] },
  ];
  for (let block = 1; block <= 5; block++) {
    const base = 9 + 6 * (block - 1);
    layers.push({ name: `res${block}.conv1`, index: base, kernelShape: [3, 3, 128, 128] });
    layers.push({ name: `res${block}.conv2`, index: base + 3, kernelShape: [3, 3, 128, 128] });
  }
  layers.push(
    // conv-transpose kernels stay [kh, kw, out, in] as tf.conv2dTranspose takes them
    { name: 'deconv1', index: 39, kernelShape: [3, 3, 64, 128] },
    { name: 'deconv2', index: 42, kernelShape: [3, 3, 32, 64] },
    { name: 'conv4', index: 45, kernelShape: [9, 9, 32, 3] },
  );
  return layers;
}

/** The 16 conv / conv-transpose layers of a lengstrom checkpoint, in execution order. */
export const LENGSTROM_LAYERS: readonly LengstromLayer[] = lengstromLayers();

const LENGSTROM_VARIABLE_COUNT = 48;

function variableName(index: number): string {
  return index === 0 ? 'Variable' : `Variable_${index}`;
}

/**
 * Renames a lengstrom checkpoint's `Variable`, `Variable_1`, … to pastiche's names, checking shapes:
 * `<layer>.weight`, `<layer>.norm.shift`, `<layer>.norm.scale` for layers conv1, conv2, conv3,
 * res1.conv1, res1.conv2, … res5.conv2, deconv1, deconv2, conv4 (each followed by instance norm).
 * Conv kernels are [kh, kw, in, out]; deconv kernels [kh, kw, out, in]. Tensors are shared, not copied.
 */
export function lengstromToCanonical(variables: HostTensorMap, sourceName = 'lengstrom checkpoint'): HostTensorMap {
  const canonical: HostTensorMap = new Map();
  const take = (index: number, canonicalName: string, expectedShape: number[]): void => {
    const name = variableName(index);
    const tensor = variables.get(name);
    if (tensor === undefined) {
      throw new Error(`${sourceName}: variable "${name}" (${canonicalName}) is missing; expected ${LENGSTROM_VARIABLE_COUNT} variables of a lengstrom style net`);
    }
    if (tensor.shape.join(',') !== expectedShape.join(',')) {
      throw new Error(`${sourceName}: variable "${name}" (${canonicalName}) has shape [${tensor.shape.join(', ')}], expected [${expectedShape.join(', ')}]`);
    }
    canonical.set(canonicalName, tensor);
  };
  for (const layer of LENGSTROM_LAYERS) {
    // channels normalised = the conv's output channels: last axis for convs, third for transposed convs
    const channels = layer.name.startsWith('deconv') ? layer.kernelShape[2]! : layer.kernelShape[3]!;
    take(layer.index, `${layer.name}.weight`, layer.kernelShape);
    take(layer.index + 1, `${layer.name}.norm.shift`, [channels]);
    take(layer.index + 2, `${layer.name}.norm.scale`, [channels]);
  }
  if (variables.size !== LENGSTROM_VARIABLE_COUNT) {
    const known = new Set(Array.from({ length: LENGSTROM_VARIABLE_COUNT }, (_, i) => variableName(i)));
    const extra = [...variables.keys()].filter((name) => !known.has(name));
    throw new Error(`${sourceName}: unexpected variables ${clipText(extra.join(', '))}; a lengstrom style net has exactly ${LENGSTROM_VARIABLE_COUNT}`);
  }
  return canonical;
}
