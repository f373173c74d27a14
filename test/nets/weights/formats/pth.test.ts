import { describe, expect, it } from 'vitest';
import { convOihwToHwio, readPth } from '../../../../src/nets/weights/formats/pth.ts';
import { PickleGlobalRefusedError, unpickle } from '../../../../src/nets/weights/formats/pickle.ts';
import { hostTensor } from '../../../../src/nets/weights/host-tensor.ts';
import {
  buildPth,
  float32Bytes,
  float64Bytes,
  int64Bytes,
  PickleEmitter,
  stateDictPickle,
  uint16Bytes,
  type EntrySpec,
  type PthSpec,
} from '../../../helpers/pth-builder.ts';

const convWeight = Array.from({ length: 54 }, (_, i) => i * 0.25 - 6);
const stridedStorage = Array.from({ length: 20 }, (_, i) => 100 + i);

/** A state_dict covering every storage dtype, shared storages, offsets, strides and non-tensors. */
const ENTRIES: Array<[string, EntrySpec]> = [
  ['conv.weight', { storageKey: '0', storageType: 'FloatStorage', storageNumel: 54, offset: 0, size: [2, 3, 3, 3], stride: [27, 9, 3, 1] }],
  ['conv.bias', { storageKey: '1', storageType: 'FloatStorage', storageNumel: 2, offset: 0, size: [2], stride: [1] }],
  ['half', { storageKey: '2', storageType: 'HalfStorage', storageNumel: 4, offset: 0, size: [2, 2], stride: [2, 1] }],
  // A transposed view starting 5 elements in: t[i][j] = storage[5 + i + 3j].
  ['strided', { storageKey: '3', storageType: 'FloatStorage', storageNumel: 20, offset: 5, size: [3, 2], stride: [1, 3] }],
  // A second view of the same storage (torch pickles it as a memo BINGET).
  ['view', { storageKey: '3', storageType: 'FloatStorage', storageNumel: 20, offset: 2, size: [4], stride: [1] }],
  ['bf16', { storageKey: '4', storageType: 'BFloat16Storage', storageNumel: 2, offset: 0, size: [2], stride: [1] }],
  ['f64', { storageKey: '5', storageType: 'DoubleStorage', storageNumel: 2, offset: 0, size: [2], stride: [1] }],
  ['note', 'not a tensor'],
  ['count', 3],
  ['bn.num_batches_tracked', { storageKey: '6', storageType: 'LongStorage', storageNumel: 1, offset: 0, size: [], stride: [] }],
  ['param', { storageKey: '7', storageType: 'FloatStorage', storageNumel: 3, offset: 0, size: [3], stride: [1], asParameter: true }],
];

const STORAGES: Record<string, Uint8Array> = {
  '0': float32Bytes(convWeight),
  '1': float32Bytes([0.5, -1.5]),
  '2': uint16Bytes([0x3c00, 0xc000, 0x0001, 0x7bff]), // 1, -2, smallest subnormal, largest finite
  '3': float32Bytes(stridedStorage),
  '4': uint16Bytes([0x3f80, 0xc060]), // 1, -3.5
  '5': float64Bytes([0.1, -2.5]),
  '6': int64Bytes([42]),
  '7': float32Bytes([1, 2, 3]),
};

const EXPECTED: Record<string, { shape: number[]; values: number[] }> = {
  'conv.weight': { shape: [2, 3, 3, 3], values: convWeight },
  'conv.bias': { shape: [2], values: [0.5, -1.5] },
  half: { shape: [2, 2], values: [1, -2, 2 ** -24, 65504] },
  strided: { shape: [3, 2], values: [105, 108, 106, 109, 107, 110] },
  view: { shape: [4], values: [102, 103, 104, 105] },
  bf16: { shape: [2], values: [1, -3.5] },
  f64: { shape: [2], values: [Math.fround(0.1), -2.5] },
  'bn.num_batches_tracked': { shape: [], values: [42] },
  param: { shape: [3], values: [1, 2, 3] },
};

function pth(overrides: Partial<PthSpec> = {}): Uint8Array {
  return buildPth({ pickle: stateDictPickle(ENTRIES), storages: STORAGES, ...overrides });
}

async function expectAllTensors(bytes: Uint8Array): Promise<void> {
  const tensors = await readPth(bytes, 'test.pth');
  expect([...tensors.keys()]).toEqual(Object.keys(EXPECTED));
  for (const [key, { shape, values }] of Object.entries(EXPECTED)) {
    const tensor = tensors.get(key)!;
    expect(tensor.shape, key).toEqual(shape);
    expect(Array.from(tensor.data), key).toEqual(values);
  }
}

describe('readPth', () => {
  it('reads a state_dict exactly: dtypes, storage offsets, strides, shared storages, parameters', async () => {
    await expectAllTensors(pth());
  });

  it.each(['state_dict', 'model'])("unwraps a state_dict nested under '%s'", async (wrapKey) => {
    await expectAllTensors(pth({ pickle: stateDictPickle(ENTRIES, { wrapKey }) }));
  });

  it('reads DEFLATE-compressed entries', async () => {
    await expectAllTensors(pth({ deflate: ['data.pkl', 'data/0', 'data/3'] }));
  });

  it('reads archives with ZIP64 end records and an unaligned, differently named prefix', async () => {
    await expectAllTensors(pth({ prefix: 'vgg19-dcbb9e9d', zip: { zip64: true } }));
  });

  it("honours a 'big' byteorder record", async () => {
    const pickle = stateDictPickle([ENTRIES[1]!]);
    const tensors = await readPth(buildPth({ pickle, storages: { '1': float32Bytes([0.5, -1.5], false) }, byteorder: 'big' }));
    expect(Array.from(tensors.get('conv.bias')!.data)).toEqual([0.5, -1.5]);
  });

  it('refuses a pickle that names os.system, without running anything', async () => {
    const evil = new PickleEmitter().proto(2).global('os', 'system').str('echo pwned').tuple(1).reduce().stop().bytes();
    await expect(readPth(pth({ pickle: evil }), 'evil.pth')).rejects.toThrow(
      /evil\.pth: refusing to load: the checkpoint refers to 'os\.system'.*torch\.save\(model\.state_dict\(\), path\)/,
    );
  });

  it('reports a truncated file as truncated, whichever part is missing', async () => {
    const bytes = pth();
    for (const keep of [bytes.length - 1, Math.floor(bytes.length * 0.6), 40]) {
      await expect(readPth(bytes.subarray(0, keep), 'cut.pth')).rejects.toThrow(/cut\.pth: truncated or corrupt zip/);
    }
  });

  it('detects a damaged storage through its CRC-32', async () => {
    const bytes = pth().slice();
    const at = findBytes(bytes, float32Bytes(convWeight));
    bytes[at + 7]! ^= 0x01;
    await expect(readPth(bytes, 'bad.pth')).rejects.toThrow(/'archive\/data\/0' fails its CRC-32 check/);
  });

  it('hands legacy (pre-1.6) torch.save files to the legacy reader', async () => {
    // The magic-number pickle alone: the legacy reader then finds the stream cut short.
    const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    await expect(readPth(legacy, 'old.pth')).rejects.toThrow(/old\.pth \(the protocol version\): .*ends/);
  });

  it('rejects a storage entry smaller than its declared size', async () => {
    const storages = { ...STORAGES, '0': float32Bytes(convWeight.slice(0, 50)) };
    await expect(readPth(pth({ storages }), 'short.pth')).rejects.toThrow(/'archive\/data\/0' holds 200 bytes but 54 float32 values need 216/);
  });

  it('rejects a view that reads past the end of its storage', async () => {
    const overreach: Array<[string, EntrySpec]> = [
      ['w', { storageKey: '1', storageType: 'FloatStorage', storageNumel: 2, offset: 1, size: [2], stride: [1] }],
    ];
    await expect(readPth(pth({ pickle: stateDictPickle(overreach) }), 'x.pth')).rejects.toThrow(
      /tensor 'w' reads storage elements up to 3 but storage '1' holds 2/,
    );
  });
});

describe('unpickle', () => {
  it('decodes scalars, strings and the memo as Python would', () => {
    const p = new PickleEmitter().proto(4).emptyList().put().raw(0x28);
    p.long1(-2n).long1(2n ** 70n).int(-7).int(300).float(1.5).none().bool(true).str('é', 'SHORT_BINUNICODE').get(0);
    const list = unpickle(p.appends().stop().bytes()) as unknown[];
    expect(list.slice(0, 8)).toEqual([-2, 2n ** 70n, -7, 300, 1.5, null, true, 'é']);
    expect(list[8]).toBe(list); // the memo returns the same object, so cycles survive
  });

  it('refuses any global that is not allowed, also through STACK_GLOBAL', () => {
    const p = new PickleEmitter().proto(4).str('builtins', 'SHORT_BINUNICODE').str('eval', 'SHORT_BINUNICODE').stackGlobal().stop();
    expect(() => unpickle(p.bytes())).toThrow(PickleGlobalRefusedError);
    expect(() => unpickle(p.bytes())).toThrow(/'builtins\.eval', which is not on the allow-list/);
  });

  it('names an unsupported opcode and where it is', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 0x02, 0x49]), { sourceName: 'p' })).toThrow(
      /p: unsupported opcode 0x49 \('I'\).*at byte 2/,
    );
  });

  it('reports a pickle that ends early', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 0x02, 0x58, 0x05, 0x00, 0x00, 0x00, 0x61]))).toThrow(/ends inside BINUNICODE/);
  });
});

describe('convOihwToHwio', () => {
  it('moves PyTorch [out, in, kh, kw] into HWIO [kh, kw, in, out]', () => {
    // value = 1000*o + 100*i + 10*h + w, so every element names its own source position
    const [outs, ins, height, width] = [2, 3, 2, 4];
    const source: number[] = [];
    for (let o = 0; o < outs; o++)
      for (let i = 0; i < ins; i++)
        for (let h = 0; h < height; h++) for (let w = 0; w < width; w++) source.push(1000 * o + 100 * i + 10 * h + w);
    const hwio = convOihwToHwio(hostTensor([outs, ins, height, width], Float32Array.from(source)));
    expect(hwio.shape).toEqual([height, width, ins, outs]);
    for (let h = 0; h < height; h++)
      for (let w = 0; w < width; w++)
        for (let i = 0; i < ins; i++)
          for (let o = 0; o < outs; o++) {
            expect(hwio.data[((h * width + w) * ins + i) * outs + o]).toBe(1000 * o + 100 * i + 10 * h + w);
          }
  });

  it('rejects a tensor that is not 4-D', () => {
    expect(() => convOihwToHwio(hostTensor([2, 3], new Float32Array(6)))).toThrow(/expected a 4-D .* got shape \[2, 3\]/);
  });
});

function findBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let at = 0; at + needle.length <= haystack.length; at++) {
    for (let j = 0; j < needle.length; j++) if (haystack[at + j] !== needle[j]) continue outer;
    return at;
  }
  throw new Error('needle not found');
}
