import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReadRelativeFile } from '../../../../src/nets/weights/file-source.ts';
import { hostTensor, type HostTensorMap } from '../../../../src/nets/weights/host-tensor.ts';
import { lengstromToCanonical, readMl5Checkpoint, readMl5CheckpointDirectory } from '../../../../src/nets/weights/formats/ml5-checkpoint.ts';
import { sharedWeightsPath } from '../../../helpers/shared-data.ts';

const STYLES = ['mathura', 'matilde_perez', 'matta'];

/** Canonical layer name → index of its kernel variable and kernel shape, as listed in the shared README. */
const LAYERS: [string, number, number[]][] = [
  ['conv1', 0, [9, 9, 3, 32]],
  ['conv2', 3, [3, 3, 32, 64]],
  ['conv3', 6, [3, 3, 64, 128]],
  ...[1, 2, 3, 4, 5].flatMap((r): [string, number, number[]][] => [
    [`res${r}.conv1`, 9 + 6 * (r - 1), [3, 3, 128, 128]],
    [`res${r}.conv2`, 12 + 6 * (r - 1), [3, 3, 128, 128]],
  ]),
  ['deconv1', 39, [3, 3, 64, 128]],
  ['deconv2', 42, [3, 3, 32, 64]],
  ['conv4', 45, [9, 9, 32, 3]],
];
const variable = (i: number): string => (i === 0 ? 'Variable' : `Variable_${i}`);

function memoryCheckpoint(files: Record<string, Uint8Array>): ReadRelativeFile {
  return async (path) => {
    const bytes = files[path];
    if (bytes === undefined) throw new Error(`no ${path}`);
    return bytes;
  };
}

describe('ml5 checkpoint reader', () => {
  it.each(STYLES)('reads %s: every variable with its manifest shape and raw float32 values', async (style) => {
    const directory = sharedWeightsPath('lengstrom', style);
    const variables = await readMl5CheckpointDirectory(directory);
    const manifest = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8')) as Record<string, { filename: string; shape: number[] }>;
    expect(variables.size).toBe(48);
    expect([...variables.keys()].slice(0, 3)).toEqual(['Variable', 'Variable_1', 'Variable_2']); // numeric order
    for (const [name, entry] of Object.entries(manifest)) {
      expect(variables.get(name)!.shape, name).toEqual(entry.shape);
    }
    // spot-check values against the bytes
    const raw = readFileSync(join(directory, 'Variable_45'));
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const data = variables.get('Variable_45')!.data;
    for (const i of [0, 1, 1000, data.length - 1]) expect(data[i]).toBe(view.getFloat32(4 * i, true));
  });

  it.each(STYLES)('renames %s to canonical names: kernel, then IN shift, then IN scale', async (style) => {
    const variables = await readMl5CheckpointDirectory(sharedWeightsPath('lengstrom', style));
    const canonical = lengstromToCanonical(variables, style);
    const expectedNames = LAYERS.flatMap(([name]) => [`${name}.weight`, `${name}.norm.shift`, `${name}.norm.scale`]);
    expect([...canonical.keys()]).toEqual(expectedNames);
    for (const [name, index, shape] of LAYERS) {
      expect(canonical.get(`${name}.weight`), name).toBe(variables.get(variable(index)));
      expect(canonical.get(`${name}.weight`)!.shape, name).toEqual(shape);
      expect(canonical.get(`${name}.norm.shift`), name).toBe(variables.get(variable(index + 1)));
      expect(canonical.get(`${name}.norm.scale`), name).toBe(variables.get(variable(index + 2)));
    }
    expect(canonical.get('deconv1.norm.scale')!.shape).toEqual([64]);
    expect(canonical.get('conv4.norm.shift')!.shape).toEqual([3]);
  });

  it('rejects a variable file of the wrong size, naming the variable', async () => {
    const manifest = { w: { filename: 'w.bin', shape: [2, 3] }, b: { filename: 'b.bin', shape: [3] } };
    const files = {
      'manifest.json': new TextEncoder().encode(JSON.stringify(manifest)),
      'w.bin': new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer),
      'b.bin': new Uint8Array(10),
    };
    await expect(readMl5Checkpoint(memoryCheckpoint(files), 'ckpt')).rejects.toThrow(
      /ckpt\/b\.bin: variable "b" \[3\] needs 12 bytes of float32 but the file has 10/,
    );
    files['b.bin'] = new Uint8Array(new Float32Array([7, 8, 9]).buffer);
    const ok = await readMl5Checkpoint(memoryCheckpoint(files), 'ckpt');
    expect(Array.from(ok.get('w')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ok.get('w')!.shape).toEqual([2, 3]);
  });

  it('rejects a manifest entry escaping the folder and a checkpoint with missing or misshapen variables', async () => {
    const escaping = { 'manifest.json': new TextEncoder().encode(JSON.stringify({ v: { filename: '../x', shape: [1] } })) };
    await expect(readMl5Checkpoint(memoryCheckpoint(escaping), 'ckpt')).rejects.toThrow(/variable "v" has no valid "filename"/);

    const variables = await readMl5CheckpointDirectory(sharedWeightsPath('lengstrom', 'matta'));
    const missing: HostTensorMap = new Map(variables);
    missing.delete('Variable_40');
    expect(() => lengstromToCanonical(missing, 'matta')).toThrow(/variable "Variable_40" \(deconv1\.norm\.shift\) is missing/);
    const misshapen: HostTensorMap = new Map(variables);
    misshapen.set('Variable_3', hostTensor([3, 3, 64, 32], new Float32Array(3 * 3 * 64 * 32)));
    expect(() => lengstromToCanonical(misshapen, 'matta')).toThrow(/"Variable_3" \(conv2\.weight\) has shape \[3, 3, 64, 32\], expected \[3, 3, 32, 64\]/);
    const extra: HostTensorMap = new Map(variables);
    extra.set('Variable_48', hostTensor([1], new Float32Array(1)));
    expect(() => lengstromToCanonical(extra, 'matta')).toThrow(/unexpected variables Variable_48/);
  });
});
