import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hostTensor, type HostTensorMap } from '../../../../src/nets/weights/host-tensor.ts';
import { parseSafetensors, serializeSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { sharedReferencePath } from '../../../helpers/shared-data.ts';

/** Builds a safetensors file by hand: u64 LE header length, header text, data bytes. */
function buildFile(headerText: string, data: number[]): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const bytes = new Uint8Array(8 + header.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  bytes.set(data, 8 + header.length);
  return bytes;
}

function sampleTensors(): HostTensorMap {
  return new Map([
    ['conv.weight', hostTensor([2, 3], new Float32Array([0.1, -2.5, 3e-7, 1e30, -0, 7]))],
    ['scalar', hostTensor([], new Float32Array([42.25]))],
    ['empty', hostTensor([0, 4], new Float32Array(0))],
    ['bias', hostTensor([3], new Float32Array([1, 2, 3]))],
  ]);
}

describe('safetensors', () => {
  it('round-trips f32 tensors and metadata exactly, with an 8-byte aligned space-padded header', () => {
    const tensors = sampleTensors();
    const bytes = serializeSafetensors(tensors, { metadata: { format: 'pastiche', note: 'x' } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(headerText.trimEnd().endsWith('}')).toBe(true);
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ *$/);
    // offsets are consecutive in map order: 6 + 1 + 0 + 3 floats
    expect(JSON.parse(headerText).bias).toEqual({ dtype: 'F32', shape: [3], data_offsets: [28, 40] });
    expect(bytes.length).toBe(8 + headerLength + 40);

    const parsed = parseSafetensors(bytes, 'roundtrip');
    expect(parsed.metadata).toEqual({ format: 'pastiche', note: 'x' });
    expect([...parsed.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, tensor] of tensors) {
      const got = parsed.tensors.get(name)!;
      expect(got.shape, name).toEqual(tensor.shape);
      expect(Array.from(got.data), name).toEqual(Array.from(tensor.data));
    }
  });

  it('round-trips through f16 storage with round-to-nearest-even', () => {
    const values = new Float32Array([1, -2, 0.5, 65504, 1 + 2 ** -11, 0.1]);
    const bytes = serializeSafetensors(new Map([['t', hostTensor([6], values)]]), { dtype: 'f16' });
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))));
    expect(header.t).toEqual({ dtype: 'F16', shape: [6], data_offsets: [0, 12] });
    const back = parseSafetensors(bytes).tensors.get('t')!.data;
    // 1+2^-11 ties to 1; 0.1 becomes the nearest half, 0x2e66 = 0.0999755859375
    expect(Array.from(back)).toEqual([1, -2, 0.5, 65504, 1, 0.0999755859375]);
  });

  it('reads a hand-built file with F16, BF16 and an unaligned F32 tensor', () => {
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},' +
      '"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},' +
      '"c":{"dtype":"F32","shape":[1,1],"data_offsets":[6,10]}}';
    const data = [0x00, 0x3c, 0x00, 0xc0, 0x49, 0x40, 0x00, 0x00, 0x00, 0x3f];
    const { tensors, metadata } = parseSafetensors(buildFile(header, data), 'hand-built');
    expect(metadata).toEqual({ format: 'pt' });
    expect(Array.from(tensors.get('a')!.data)).toEqual([1, -2]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([3.140625]);
    expect(tensors.get('c')!.shape).toEqual([1, 1]);
    expect(Array.from(tensors.get('c')!.data)).toEqual([0.5]);
  });

  it('rejects malformed files with errors naming the source and the tensor', () => {
    const good = serializeSafetensors(sampleTensors());
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(5), /model\.st: .*only 5 bytes/],
      [buildFile('{}', []).map((b, i) => (i === 1 ? 0x10 : b)), /header length 4098 runs past the end/],
      [buildFile('{"a":', []), /not valid JSON/],
      [buildFile('[1,2]', []), /not an object/],
      [good.subarray(0, good.length - 4), /tensor "bias" data_offsets \[28, 40\] run past the 36-byte data section/],
      [buildFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Array(8).fill(0)),
        /tensor "b" bytes \[4, 8\) overlap tensor "a"/],
      [buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Array(8).fill(0)), /bytes \[0, 4\) .* before tensor "a" belong to no tensor/],
      [buildFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)), /tensor "a" F32 shape \[3\] needs 12 bytes but data_offsets span 8/],
      [buildFile('{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', new Array(8).fill(0)), /tensor "a" has dtype I64; supported are F32, F16, BF16/],
      [buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Array(6).fill(0)), /covers? only 4 \(trailing bytes\)/],
      [buildFile('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Array(4).fill(0)), /tensor "a" shape \[-1\]/],
      [buildFile('{"__metadata__":{"n":1}}', []), /"__metadata__.n" is not a string/],
    ];
    for (const [bytes, pattern] of cases) {
      expect(() => parseSafetensors(bytes, 'model.st')).toThrow(pattern);
    }
  });

  it('refuses to serialize inconsistent tensors or the reserved name', () => {
    const bad: HostTensorMap = new Map([['t', { shape: [2, 2], data: new Float32Array(3) }]]);
    expect(() => serializeSafetensors(bad)).toThrow(/tensor "t" shape \[2, 2\] holds 4 values but its data has 3/);
    const reserved: HostTensorMap = new Map([['__metadata__', hostTensor([1], new Float32Array(1))]]);
    expect(() => serializeSafetensors(reserved)).toThrow(/reserved/);
  });

  it('reads a file written by an independent implementation (numpy reference outputs)', () => {
    const path = sharedReferencePath('vgg19.safetensors');
    const { tensors } = parseSafetensors(readFileSync(path), path);
    expect(tensors.size).toBe(13); // relu1_1 … relu5_1
    expect(tensors.get('relu1_1')!.shape).toEqual([48, 64, 64]);
    expect(tensors.get('relu5_1')!.shape).toEqual([3, 4, 512]);
    const relu = tensors.get('relu3_1')!.data;
    expect(relu.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
    expect(relu.some((v) => v > 0)).toBe(true);
  });
});
