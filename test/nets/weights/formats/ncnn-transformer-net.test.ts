import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNcnnTransformerNet } from '../../../../src/nets/weights/formats/ncnn-transformer-net.ts';
import { sharedWeightsPath } from '../../../helpers/shared-data.ts';

const STYLES = ['candy', 'mosaic', 'pointilism', 'rain_princess', 'udnie'];

/** Expected state_dict keys and HWIO shapes, written out independently of the importer's layer table. */
function expectedShapes(): [string, number[]][] {
  const conv = (prefix: string, k: number, cin: number, cout: number): [string, number[]][] => [
    [`${prefix}.conv2d.weight`, [k, k, cin, cout]],
    [`${prefix}.conv2d.bias`, [cout]],
  ];
  const norm = (prefix: string, c: number): [string, number[]][] => [
    [`${prefix}.weight`, [c]],
    [`${prefix}.bias`, [c]],
  ];
  const entries = [
    ...conv('conv1', 9, 3, 32), ...norm('in1', 32),
    ...conv('conv2', 3, 32, 64), ...norm('in2', 64),
    ...conv('conv3', 3, 64, 128), ...norm('in3', 128),
  ];
  for (let r = 1; r <= 5; r++) {
    entries.push(...conv(`res${r}.conv1`, 3, 128, 128), ...norm(`res${r}.in1`, 128));
    entries.push(...conv(`res${r}.conv2`, 3, 128, 128), ...norm(`res${r}.in2`, 128));
  }
  entries.push(...conv('deconv1', 3, 128, 64), ...norm('in4', 64));
  entries.push(...conv('deconv2', 3, 64, 32), ...norm('in5', 32));
  entries.push(...conv('deconv3', 9, 32, 3));
  return entries;
}

/** Plain f16 decoding from the IEEE definition, independent of src/nets/weights/float16.ts. */
function halfAt(bytes: Uint8Array, offset: number): number {
  const bits = bytes[offset]! | (bytes[offset + 1]! << 8);
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 31;
  const mantissa = bits & 1023;
  return exponent === 0 ? sign * mantissa * 2 ** -24 : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

describe('ncnn TransformerNet importer', () => {
  it.each(STYLES)('parses %s.bin with the PyTorch state_dict names and HWIO shapes', (style) => {
    const path = sharedWeightsPath('transformer-net', `${style}.bin`);
    const tensors = parseNcnnTransformerNet(readFileSync(path), path);
    const actual = [...tensors.entries()].map(([name, t]): [string, number[]] => [name, t.shape]);
    expect(actual).toEqual(expectedShapes());
    for (const [name, tensor] of tensors) {
      expect(tensor.data.every(Number.isFinite), name).toBe(true);
    }
    // instance-norm scales of a trained net are not all zero
    expect(tensors.get('in1.weight')!.data.some((v) => v !== 0)).toBe(true);
  });

  it('takes values from the right bytes: conv1 weights transposed from [out,in,kh,kw], biases and the last conv', () => {
    const bytes = new Uint8Array(readFileSync(sharedWeightsPath('transformer-net', 'candy.bin')));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const tensors = parseNcnnTransformerNet(bytes);
    const weight = tensors.get('conv1.conv2d.weight')!.data;
    // conv1 weights start after the 4-byte tag; file order is [out=32, in=3, kh=9, kw=9]
    for (const [o, i, y, x] of [[0, 0, 0, 0], [31, 2, 8, 8], [5, 1, 2, 7], [17, 0, 6, 1]] as const) {
      const expected = halfAt(bytes, 4 + 2 * (((o * 3 + i) * 9 + y) * 9 + x));
      expect(weight[((y * 9 + x) * 3 + i) * 32 + o], `conv1[${o},${i},${y},${x}]`).toBe(expected);
    }
    const conv1BiasOffset = 4 + 32 * 3 * 81 * 2;
    expect(tensors.get('conv1.conv2d.bias')!.data[3]).toBe(view.getFloat32(conv1BiasOffset + 12, true));
    // in1 scale then shift follow the bias
    expect(tensors.get('in1.weight')!.data[0]).toBe(view.getFloat32(conv1BiasOffset + 128, true));
    expect(tensors.get('in1.bias')!.data[31]).toBe(view.getFloat32(conv1BiasOffset + 256 + 31 * 4, true));
    // the final conv's 3 fp32 biases are the last 12 bytes of the file
    const lastBias = tensors.get('deconv3.conv2d.bias')!.data;
    expect(Array.from(lastBias)).toEqual([0, 1, 2].map((c) => view.getFloat32(bytes.length - 12 + 4 * c, true)));
  });

  it('rejects truncated files, trailing bytes and a wrong tag with clear errors', () => {
    const bytes = new Uint8Array(readFileSync(sharedWeightsPath('transformer-net', 'mosaic.bin')));
    expect(() => parseNcnnTransformerNet(bytes.subarray(0, bytes.length - 4), 'short.bin')).toThrow(
      /short\.bin: truncated: deconv3\.conv2d\.bias needs 12 bytes/,
    );
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    expect(() => parseNcnnTransformerNet(longer, 'long.bin')).toThrow(/long\.bin: 8 unexpected bytes after the last layer/);
    const badTag = bytes.slice();
    badTag[0] = 0;
    expect(() => parseNcnnTransformerNet(badTag, 'tag.bin')).toThrow(/tag\.bin: conv1\.conv2d at offset 0 has tag 0x01306b00, not the fp16 tag 0x01306b47/);
  });
});
