/**
 * Every parser pastiche runs on untrusted bytes, as a fuzz target: its seeds (real files from
 * ../shared and hand-built ones), how to run it, its memory bound and its structure-aware generators.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import UPNG from 'upng-js';
import { decodeImage, encodePng, MAX_DEFLATE_RATIO, MAX_JPEG_PIXELS_PER_BYTE } from '../../src/io/image.ts';
import { readMl5Checkpoint } from '../../src/nets/weights/formats/ml5-checkpoint.ts';
import { parseNcnnTransformerNet } from '../../src/nets/weights/formats/ncnn-transformer-net.ts';
import { readPth } from '../../src/nets/weights/formats/pth.ts';
import { parseSafetensors, serializeSafetensors } from '../../src/nets/weights/formats/safetensors.ts';
import { dequantizeTensor, parseTflite } from '../../src/nets/weights/formats/tflite.ts';
import { importVgg19Uint8 } from '../../src/nets/weights/formats/vgg19-uint8.ts';
import { openZip } from '../../src/nets/weights/formats/zip-reader.ts';
import { buildPth, buildZip, float32Bytes, stateDictPickle, uint16Bytes } from '../helpers/pth-builder.ts';
import { sharedReferencePath, sharedWeightsPath, REPO_ROOT } from '../helpers/shared-data.ts';
import { buildTflite, fb, TENSOR_TYPE } from '../helpers/tflite-builder.ts';
import { BOUNDS, expectTypedError, type FuzzTarget } from './harness.ts';
import { pickleProgram } from './pickle-programs.ts';
import { fixPngChecksums } from './png-repair.ts';
import { imageHeaderPatches, jpegFrameHeader, zipFieldPatches } from './field-patches.ts';

const encoder = new TextEncoder();
const once = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};

// ---- zip -------------------------------------------------------------------------------------

const zipSeeds = once(() => {
  const files = [
    { name: 'a/data.pkl', data: encoder.encode('hello zip') },
    { name: 'a/data/0', data: float32Bytes([1, 2, 3, 4]), deflate: true },
    { name: 'a/zeros', data: new Uint8Array(256 * 1024), deflate: true }, // a ~1000:1 ratio, legitimately
  ];
  return [buildZip(files), buildZip(files, { zip64: true }), buildZip(files, { alignData: 64 }), buildZip([])];
});

export const zipTarget: FuzzTarget = {
  name: 'zip',
  seeds: zipSeeds,
  async parse(bytes, sourceName) {
    const zip = openZip(bytes, { sourceName });
    // Every entry is read, each failure checked on its own; the first one is the outcome.
    let firstError: unknown;
    for (const name of zip.entries.keys()) {
      try {
        await zip.read(name);
      } catch (err) {
        expectTypedError(err, sourceName, 'zip', bytes);
        firstError ??= err;
      }
    }
    if (firstError) throw firstError;
  },
  memoryBound: BOUNDS.deflate,
  generators: () => [zipFieldPatches(zipSeeds)],
};

// ---- pth (zip + pickle + tensor views) ------------------------------------------------------

const pthTensors = {
  storages: { '0': float32Bytes([1, 2, 3, 4, 5, 6]), '1': uint16Bytes([0x3c00, 0x4000, 0xc000]) },
  pickle: () =>
    stateDictPickle([
      ['conv.weight', { storageKey: '0', storageType: 'FloatStorage', storageNumel: 6, offset: 0, size: [2, 3], stride: [3, 1] }],
      ['conv.t', { storageKey: '0', storageType: 'FloatStorage', storageNumel: 6, offset: 1, size: [2, 2], stride: [1, 3], asParameter: true }],
      ['half', { storageKey: '1', storageType: 'HalfStorage', storageNumel: 3, offset: 0, size: [3], stride: [1] }],
      ['steps', 7],
    ]),
};

export const pthTarget: FuzzTarget = {
  name: 'pth',
  seeds: once(() => [
    buildPth({ pickle: pthTensors.pickle(), storages: pthTensors.storages }),
    buildPth({ pickle: pthTensors.pickle(), storages: pthTensors.storages, deflate: ['data.pkl', 'data/0'], byteorder: 'big' }),
    buildPth({ pickle: pthTensors.pickle(), storages: pthTensors.storages, zip: { zip64: true } }),
  ]),
  parse: (bytes, sourceName) => readPth(bytes, sourceName),
  memoryBound: BOUNDS.deflate,
  generators: () => [zipFieldPatches(() => pthTarget.seeds())],
};

/** The pickle inside a pth, fuzzed directly: each input is wrapped in a valid archive with real storages. */
export const pickleTarget: FuzzTarget = {
  name: 'pickle',
  seeds: once(() => [pthTensors.pickle(), stateDictPickle([['x', 1]], { wrapKey: 'model' })]),
  parse: (bytes, sourceName) => readPth(buildPth({ pickle: bytes, storages: pthTensors.storages }), sourceName),
  memoryBound: BOUNDS.weights,
  generators: () => [pickleProgram()],
};

/**
 * The legacy (non-zip) torch.save format: real files from the distilled-net checkpoints (the two
 * smallest, level 1), read through readPth as a user's file would be.
 */
export const legacyTorchTarget: FuzzTarget = {
  name: 'legacy-torch',
  seeds: once(() =>
    ['wct_se_16x_new/20191110-133713_E20.pth', 'wct_se_16x_new_sd/20191111-091942_E20.pth'].map(
      (path) => new Uint8Array(readFileSync(sharedWeightsPath('collaborative-distillation', ...path.split('/')))),
    ),
  ),
  parse: (bytes, sourceName) => readPth(bytes, sourceName),
  memoryBound: BOUNDS.weights,
};

// ---- safetensors ----------------------------------------------------------------------------

function safetensorsFile(header: unknown, data: Uint8Array): Uint8Array {
  const json = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const interestingInt = fc.oneof(
  fc.nat({ max: 64 }),
  fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -1, 1.5, 1e300),
);

export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  seeds: once(() => [
    serializeSafetensors(new Map([['a', { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }], ['b', { shape: [], data: Float32Array.of(7) }]]), { metadata: { k: 'v' } }),
    serializeSafetensors(new Map([['h', { shape: [4], data: Float32Array.of(1, -2, 0.5, 65504) }]]), { dtype: 'f16' }),
    readFileSync(sharedReferencePath('lengstrom-mathura.safetensors')),
  ]),
  parse: (bytes, sourceName) => parseSafetensors(bytes, sourceName),
  memoryBound: BOUNDS.weights,
  generators: () => [
    fc
      .tuple(
        fc.dictionary(
          fc.oneof(fc.constantFrom('__metadata__', 'w', 'b'), fc.string({ maxLength: 4 })),
          fc.oneof(
            fc.record({
              dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'f32', ''),
              shape: fc.array(interestingInt, { maxLength: 5 }),
              data_offsets: fc.array(interestingInt, { minLength: 0, maxLength: 3 }),
            }),
            fc.jsonValue({ maxDepth: 3 }),
          ),
          { maxKeys: 4 },
        ),
        fc.uint8Array({ maxLength: 96 }),
      )
      .map(([header, data]) => safetensorsFile(header, data)),
    // A tensor name and a shape thousands of entries long: the error must stay readable.
    fc.integer({ min: 1000, max: 30000 }).map((n) =>
      safetensorsFile({ ['w'.repeat(n)]: { dtype: 'F32', shape: new Array(n).fill(2), data_offsets: [0, 4] } }, new Uint8Array(4)),
    ),
  ],
};

// ---- TFLite / flatbuffers -------------------------------------------------------------------

function tinyTflite(): Uint8Array {
  const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return buildTflite({
    operatorCodes: [{ deprecatedBuiltinCode: 3 }, { deprecatedBuiltinCode: 0, builtinCode: 0, version: 2 }, { builtinCode: 32, customCode: 'X' }],
    tensors: [
      { name: 'x', shape: [1, 4, 4, 2], type: TENSOR_TYPE.FLOAT32 },
      { name: 'kernel', shape: [2, 1, 2, 2], type: TENSOR_TYPE.INT8, buffer: 1, scale: [0.5, 0.25], quantizedDimension: 0 },
      { name: 'bias', shape: [2], type: TENSOR_TYPE.INT32, buffer: 2, scale: [0.01, 0.02] },
      { name: 'y', shape: [1, 2, 3, 2], type: TENSOR_TYPE.FLOAT32 },
      { name: 'offset', shape: [2], type: TENSOR_TYPE.UINT8, buffer: 3, scale: [0.1], zeroPoint: [128] },
      { name: 'z', shape: [1, 2, 3, 2], type: TENSOR_TYPE.FLOAT32, buffer: 4 },
    ],
    operators: [
      { opcodeIndex: 0, inputs: [0, 1, 2], outputs: [3], optionsType: 1, options: [fb.int8(1), fb.int32(1), fb.int32(2), fb.int8(3), undefined, fb.int32(3)] },
      { opcodeIndex: 1, inputs: [3, 4], outputs: [5], optionsType: 11, options: [fb.int8(1)] },
    ],
    inputs: [0],
    outputs: [5],
    buffers: [new Uint8Array(0), bytesOf(new Int8Array([1, -2, 3, -4, 5, -6, 7, -8])), bytesOf(new Int32Array([100, -200])), new Uint8Array([128, 138]), { external: new Uint8Array(48) }],
  });
}

export const tfliteTarget: FuzzTarget = {
  name: 'tflite',
  seeds: once(() => [tinyTflite(), readFileSync(sharedWeightsPath('magenta', 'style_transfer_int8_384.tflite'))]),
  parse(bytes, sourceName) {
    const model = parseTflite(bytes, sourceName);
    // Every constant tensor is dequantized, each failure checked on its own.
    for (const tensor of model.tensors) {
      if ((model.buffers[tensor.buffer]?.byteLength ?? 0) === 0) continue;
      try {
        dequantizeTensor(model, tensor.index);
      } catch (err) {
        expectTypedError(err, sourceName, 'tflite', bytes);
      }
    }
  },
  memoryBound: BOUNDS.weights,
};

// ---- ncnn TransformerNet .bin ---------------------------------------------------------------

export const ncnnTarget: FuzzTarget = {
  name: 'ncnn',
  seeds: once(() => [readFileSync(sharedWeightsPath('transformer-net', 'candy.bin'))]),
  parse: (bytes, sourceName) => parseNcnnTransformerNet(bytes, sourceName),
  memoryBound: BOUNDS.weights,
};

// ---- ml5 checkpoint manifests ---------------------------------------------------------------

/** The real mathura checkpoint's files, read once; the fuzzed input is its manifest.json. */
const mathuraFiles = once(() => {
  const dir = sharedWeightsPath('lengstrom', 'mathura');
  return new Map(readdirSync(dir).map((name) => [name, new Uint8Array(readFileSync(join(dir, name)))]));
});

function readFromMemory(files: Map<string, Uint8Array>, manifest: Uint8Array, sourceName: string) {
  return async (name: string): Promise<Uint8Array> => {
    if (name === 'manifest.json') return manifest;
    const file = files.get(name);
    if (!file) throw new Error(`missing file ${sourceName}/${name}: the model folder is incomplete`);
    return file;
  };
}

export const ml5Target: FuzzTarget = {
  name: 'ml5',
  seeds: once(() => [mathuraFiles().get('manifest.json')!]),
  parse: (bytes, sourceName) => readMl5Checkpoint(readFromMemory(mathuraFiles(), bytes, sourceName), sourceName),
  memoryBound: (n) => BOUNDS.weights(n) + 64 * 1024 * 1024, // the real variables it names, ~7 MB as float32 copies
  generators: () => [
    fc
      .dictionary(
        fc.constantFrom('Variable', 'Variable_1', 'Variable_47', '__proto__', 'constructor'),
        fc.oneof(
          fc.record({
            filename: fc.constantFrom('Variable', 'Variable_1', 'manifest.json', '..', 'a/b', '', 'nope'),
            shape: fc.array(interestingInt, { maxLength: 4 }),
          }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        { maxKeys: 4 },
      )
      .map((manifest) => encoder.encode(JSON.stringify(manifest))),
  ],
};

// ---- vgg19-uint8 manifest -------------------------------------------------------------------

/** Small stand-in files for conv1_1 (correct sizes) with their md5s written into the real manifest. */
const vggSeed = once(() => {
  const files = new Map<string, Uint8Array>([
    ['conv1_1_kernel', Uint8Array.from({ length: 3 * 3 * 3 * 64 }, (_, i) => i & 0xff)],
    ['conv1_1_bias', Uint8Array.from({ length: 64 }, (_, i) => i)],
  ]);
  const manifest = JSON.parse(readFileSync(sharedWeightsPath('vgg19-uint8', 'manifest.json'), 'utf8')) as {
    weights: Record<string, { filename: string; checksum: string }>;
  };
  for (const entry of Object.values(manifest.weights)) {
    const data = files.get(entry.filename);
    if (data) entry.checksum = createHash('md5').update(data).digest('hex');
  }
  return { files, manifest: encoder.encode(JSON.stringify(manifest)) };
});

export const vgg19Target: FuzzTarget = {
  name: 'vgg19-uint8',
  seeds: once(() => [vggSeed().manifest]),
  parse: (bytes, sourceName) => importVgg19Uint8(readFromMemory(vggSeed().files, bytes, sourceName), sourceName),
  memoryBound: BOUNDS.weights,
  // Only conv1_1's files are stood in for: the seed passes the manifest and conv1_1, then stops at conv1_2.
  canSucceed: false,
};

// ---- images (PNG via upng-js, JPEG via jpeg-js) -----------------------------------------------

function smallImages(): Uint8Array[] {
  const w = 12;
  const h = 9;
  const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 200 : (i * 37) & 0xff));
  const rgb = { width: w, height: h, data: Float32Array.from({ length: w * h * 3 }, (_, i) => (i * 11) % 256) };
  const upng = (cnum: number) => new Uint8Array(UPNG.encode([rgba.buffer], w, h, cnum));
  return [
    encodePng(rgb),
    upng(0), // RGBA
    upng(16), // palette
    new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 80).data),
    readFileSync(sharedReferencePath('vgg19.input.png')),
    readFileSync(join(REPO_ROOT, '..', 'shared', 'images', 'en_campo_gris_kandinsky.jpg')),
  ];
}

/**
 * The declared pixel count, capped by what the data can back: JPEG at most 512 pixels per byte
 * (one Huffman bit per 8x8 block), PNG at most 8 pixels (1-bit samples) per inflated byte.
 */
function backedPixels(input: Uint8Array): number {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  if (input[0] === 0x89 && input.length >= 24) {
    return Math.min(view.getUint32(16) * view.getUint32(20), 8 * MAX_DEFLATE_RATIO * input.length);
  }
  const frame = jpegFrameHeader(input);
  if (frame < 0 || frame + 9 > input.length) return 0;
  return Math.min(view.getUint16(frame + 5) * view.getUint16(frame + 7), MAX_JPEG_PIXELS_PER_BYTE * input.length);
}

export const imageTarget: FuzzTarget & { repair: (bytes: Uint8Array) => Uint8Array } = {
  name: 'image',
  seeds: once(smallImages),
  parse: (bytes, sourceName) => decodeImage(bytes, sourceName),
  memoryBound: (n, input) => BOUNDS.image(n, backedPixels(input)),
  repair: fixPngChecksums,
  generators: () => [imageHeaderPatches(() => imageTarget.seeds())],
};

export const ALL_TARGETS: FuzzTarget[] = [
  zipTarget,
  pthTarget,
  pickleTarget,
  legacyTorchTarget,
  safetensorsTarget,
  tfliteTarget,
  ncnnTarget,
  ml5Target,
  vgg19Target,
  imageTarget,
];
