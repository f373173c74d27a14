import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  SUPPORTED_TFLITE_OPS,
  dequantizeTensor,
  parseTflite,
  readIntTensor,
  tfliteConvToHwio,
  tfliteDepthwiseToHwim,
  type TfliteModel,
} from '../../../../src/nets/weights/formats/tflite.ts';
import { hostTensor } from '../../../../src/nets/weights/host-tensor.ts';
import { TENSOR_TYPE, buildTflite, bytesOf, fb, type TinyModel } from '../../../helpers/tflite-builder.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const magentaDir = resolve(repoRoot, '../shared/weights/magenta');

function readShared(name: string): Uint8Array {
  const path = resolve(magentaDir, name);
  if (!existsSync(path)) {
    throw new Error(`shared model ${path} is missing: these tests need the read-only data in ../shared (see shared/README.md, magenta)`);
  }
  return new Uint8Array(readFileSync(path));
}

const PREDICT = 'style_predict_int8_256.tflite';
const TRANSFER = 'style_transfer_int8_384.tflite';
const predictBytes = readShared(PREDICT);
const transferBytes = readShared(TRANSFER);

function tensorNamed(model: TfliteModel, name: string): number {
  const index = model.tensors.findIndex((t) => t.name === name);
  if (index < 0) throw new Error(`no tensor '${name}' in ${model.sourceName}`);
  return index;
}

function describeTensor(model: TfliteModel, index: number): string {
  const t = model.tensors[index];
  return `${t.name} ${t.type} [${t.shape.join(',')}]`;
}

describe('parseTflite on the Magenta models', () => {
  const predict = parseTflite(predictBytes, PREDICT);
  const transfer = parseTflite(transferBytes, TRANSFER);

  it('reads the style predictor: inputs, outputs, op set and counts', () => {
    expect(predict.version).toBe(3);
    expect(predict.subgraphCount).toBe(1);
    expect(predict.inputs.map((i) => describeTensor(predict, i))).toEqual(['style_image FLOAT32 [1,256,256,3]']);
    expect(predict.outputs.map((i) => describeTensor(predict, i))).toEqual(['mobilenet_conv/Conv/BiasAdd FLOAT32 [1,1,1,100]']);
    expect(new Set(predict.operators.map((op) => op.op))).toEqual(
      new Set(['ADD', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'MEAN', 'QUANTIZE', 'DEQUANTIZE']),
    );
    expect(predict.operators).toHaveLength(66);
    expect(predict.operators.filter((op) => op.op === 'DEPTHWISE_CONV_2D')).toHaveLength(17);
    expect(predict.operators[0].op).toBe('QUANTIZE');
    expect(predict.operators[65].op).toBe('DEQUANTIZE');
  });

  it('reads the style transfer net: two inputs (content, style vector), op set and counts', () => {
    expect(transfer.inputs.map((i) => describeTensor(transfer, i))).toEqual([
      'content_image FLOAT32 [1,384,384,3]',
      'mobilenet_conv/Conv/BiasAdd FLOAT32 [1,1,1,100]',
    ]);
    expect(transfer.outputs.map((i) => describeTensor(transfer, i))).toEqual([
      'transformer/expand/conv3/conv/Sigmoid FLOAT32 [1,384,384,3]',
    ]);
    expect(new Set(transfer.operators.map((op) => op.op))).toEqual(
      new Set([
        'ADD', 'CONV_2D', 'LOGISTIC', 'MUL', 'MEAN', 'SUB', 'RSQRT', 'RESIZE_NEAREST_NEIGHBOR',
        'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'QUANTIZE', 'DEQUANTIZE',
      ]),
    );
    expect(transfer.operators).toHaveLength(295);
    // 13 conditional instance norms (10 residual convs + 3 upsampling convs), one RSQRT each.
    expect(transfer.operators.filter((op) => op.op === 'RSQRT')).toHaveLength(13);
    for (const model of [predict, transfer]) {
      for (const op of model.operators) expect(SUPPORTED_TFLITE_OPS.has(op.op)).toBe(true);
    }
  });

  it('decodes builtin options and the fixed-shape constant inputs', () => {
    const first = predict.operators[1];
    if (first.op !== 'CONV_2D') throw new Error(`operator #1 is ${first.op}`);
    expect(first.options).toEqual({ padding: 'SAME', strideW: 2, strideH: 2, dilationW: 1, dilationH: 1, activation: 'RELU6' });
    const depthwise = predict.operators[2];
    if (depthwise.op !== 'DEPTHWISE_CONV_2D') throw new Error(`operator #2 is ${depthwise.op}`);
    expect(depthwise.options.depthMultiplier).toBe(1);
    expect(depthwise.options.activation).toBe('RELU6');

    const pads = transfer.operators.filter((op) => op.op === 'MIRROR_PAD');
    expect(pads).toHaveLength(16);
    for (const op of pads) {
      expect(op.options.mode).toBe('REFLECT');
    }
    expect(readIntTensor(transfer, pads[0].inputs[1])).toEqual([0, 0, 4, 4, 4, 4, 0, 0]);

    const resizes = transfer.operators.filter((op) => op.op === 'RESIZE_NEAREST_NEIGHBOR');
    expect(resizes.map((op) => readIntTensor(transfer, op.inputs[1]))).toEqual([[192, 192], [384, 384], [384, 384]]);
    for (const op of resizes) expect(op.options).toEqual({ alignCorners: false, halfPixelCenters: false });

    for (const model of [predict, transfer]) {
      for (const op of model.operators) {
        if (op.op !== 'MEAN') continue;
        expect(op.options.keepDims).toBe(true);
        expect(readIntTensor(model, op.inputs[1])).toEqual([1, 2]);
      }
    }
    const contractConv1 = transfer.operators[3];
    if (contractConv1.op !== 'CONV_2D') throw new Error(`operator #3 is ${contractConv1.op}`);
    expect(contractConv1.options).toMatchObject({ padding: 'VALID', strideW: 1, activation: 'RELU' });
  });

  it('dequantizes a per-output-channel int8 conv kernel: raw bytes x scale, element by element', () => {
    const index = tensorNamed(predict, 'MobilenetV2/Conv/weights');
    const tensor = predict.tensors[index];
    expect(tensor.type).toBe('INT8');
    expect(tensor.shape).toEqual([32, 3, 3, 3]);
    const q = tensor.quantization!;
    expect(q.quantizedDimension).toBe(0);
    expect(q.scale).toHaveLength(32);

    const raw = predict.buffers[tensor.buffer];
    const int8 = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    const w = dequantizeTensor(predict, index);
    expect(w.shape).toEqual([32, 3, 3, 3]);
    for (let o = 0; o < 32; o++) {
      for (let k = 0; k < 27; k++) {
        const i = o * 27 + k;
        expect(w.data[i]).toBe(Math.fround(int8[i] * q.scale[o]));
      }
    }
    // Values pinned from an independent walk of the file (Python struct, not this reader).
    expect(raw.byteOffset).toBe(145412);
    expect(Array.from(int8.slice(0, 8))).toEqual([-32, -51, -26, -53, -79, -31, -15, -13]);
    expect(q.scale[0]).toBeCloseTo(0.009329798631, 12);
    expect(int8.reduce((a, b) => a + b, 0)).toBe(2057);
    expect(w.data[((5 * 3 + 1) * 3 + 2) * 3 + 1]).toBeCloseTo(0.009824996814, 9); // [o=5, y=1, x=2, i=1]
    expect(w.data.reduce((a, b) => a + b, 0)).toBeCloseTo(-14.41862362, 4);
  });

  it('dequantizes a depthwise kernel along its last dimension and biases with s_in * s_w', () => {
    const index = tensorNamed(predict, 'MobilenetV2/expanded_conv/depthwise/depthwise_weights');
    const tensor = predict.tensors[index];
    expect(tensor.shape).toEqual([1, 3, 3, 32]);
    expect(tensor.quantization!.quantizedDimension).toBe(3);
    const w = dequantizeTensor(predict, index);
    const raw = predict.buffers[tensor.buffer];
    const int8 = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < int8.length; i++) expect(w.data[i]).toBe(Math.fround(int8[i] * tensor.quantization!.scale[i % 32]));
    expect(int8[(2 * 3 + 1) * 32 + 7]).toBe(97); // pinned independently
    expect(w.data.reduce((a, b) => a + b, 0)).toBeCloseTo(-588.3293433, 3);

    const conv = predict.operators[1];
    const [input, weights, bias] = conv.inputs.map((i) => predict.tensors[i]);
    expect(bias.type).toBe('INT32');
    bias.quantization!.scale.forEach((s, c) => {
      expect(s / (input.quantization!.scale[0] * weights.quantization!.scale[c])).toBeCloseTo(1, 5);
    });
    expect(Array.from(dequantizeTensor(predict, conv.inputs[2]).data.slice(0, 3))).toEqual(
      [63426, 29306, -14157].map((q, c) => Math.fround(q * bias.quantization!.scale[c])),
    );
  });

  it('reads the instance-norm epsilon, a scalar int8 constant', () => {
    const epsilon = dequantizeTensor(transfer, tensorNamed(transfer, 'transformer/residual/residual1/conv1/StyleNorm/batchnorm/add/y'));
    expect(epsilon.shape).toEqual([]);
    expect(epsilon.data[0]).toBeCloseTo(1e-5, 9);
  });

  it('refuses to dequantize an activation (no constant data)', () => {
    expect(() => dequantizeTensor(transfer, transfer.inputs[0])).toThrow(/content_image' is not a constant/);
  });

  it('rejects truncated files with a clear error', () => {
    for (const length of [0, 7, 40, 300, 5000, transferBytes.length >> 1]) {
      expect(() => parseTflite(transferBytes.subarray(0, length), 'cut.tflite')).toThrow(
        /tflite: cut\.tflite (is \d+ bytes, too short|is corrupt: .*truncated or corrupt)/,
      );
    }
  });

  it('rejects a file without the TFL3 identifier', () => {
    const bytes = predictBytes.slice(0, 64);
    bytes.set([0x4e, 0x4f, 0x50, 0x45], 4);
    expect(() => parseTflite(bytes, 'x.bin')).toThrow("tflite: x.bin is not a TFLite model (file identifier 'NOPE', expected 'TFL3')");
  });
});

/** One CONV_2D (per-channel int8 kernel, int32 bias) followed by one ADD of a uint8 constant. */
function tinyConvModel(): TinyModel {
  const kernel = new Int8Array([1, -2, 3, -4, 5, -6, 7, -8]); // [2 out, 1, 2, 2 in]
  const bias = new Int32Array([100, -200]);
  return {
    operatorCodes: [
      { deprecatedBuiltinCode: 3 }, // CONV_2D, old-style: legacy field only
      { deprecatedBuiltinCode: 0, builtinCode: 0, version: 2 }, // ADD, new-style: both fields
    ],
    tensors: [
      { name: 'x', shape: [1, 4, 4, 2], type: TENSOR_TYPE.FLOAT32 },
      { name: 'kernel', shape: [2, 1, 2, 2], type: TENSOR_TYPE.INT8, buffer: 1, scale: [0.5, 0.25], quantizedDimension: 0 },
      { name: 'bias', shape: [2], type: TENSOR_TYPE.INT32, buffer: 2, scale: [0.01, 0.02] },
      { name: 'y', shape: [1, 2, 3, 2], type: TENSOR_TYPE.FLOAT32 },
      { name: 'offset', shape: [2], type: TENSOR_TYPE.UINT8, buffer: 3, scale: [0.1], zeroPoint: [128] },
      { name: 'z', shape: [1, 2, 3, 2], type: TENSOR_TYPE.FLOAT32 },
    ],
    operators: [
      {
        opcodeIndex: 0, inputs: [0, 1, 2], outputs: [3], optionsType: 1,
        // Conv2DOptions: padding VALID, stride_w 1, stride_h 2, RELU6, dilation_w 1, dilation_h 3.
        options: [fb.int8(1), fb.int32(1), fb.int32(2), fb.int8(3), undefined, fb.int32(3)],
      },
      { opcodeIndex: 1, inputs: [3, 4], outputs: [5], optionsType: 11, options: [fb.int8(1)] },
    ],
    inputs: [0],
    outputs: [5],
    buffers: [new Uint8Array(0), bytesOf(kernel), bytesOf(bias), new Uint8Array([128, 138])],
  };
}

describe('parseTflite on crafted files', () => {
  it('parses a tiny conv model built byte by byte', () => {
    const model = parseTflite(buildTflite(tinyConvModel()), 'tiny.tflite');
    expect(model.operatorCodes.map((c) => c.name)).toEqual(['CONV_2D', 'ADD']);
    expect(model.description).toBe('crafted by tflite-builder');
    const [conv, add] = model.operators;
    expect(conv).toMatchObject({
      op: 'CONV_2D', inputs: [0, 1, 2], outputs: [3],
      options: { padding: 'VALID', strideW: 1, strideH: 2, activation: 'RELU6', dilationW: 1, dilationH: 3 },
    });
    expect(add).toMatchObject({ op: 'ADD', version: 2, options: { activation: 'RELU' } });

    expect(Array.from(dequantizeTensor(model, 1).data)).toEqual([0.5, -1, 1.5, -2, 1.25, -1.5, 1.75, -2]);
    const bias = dequantizeTensor(model, 2);
    expect(bias.data[0]).toBeCloseTo(1, 6);
    expect(bias.data[1]).toBeCloseTo(-4, 6);
    const offset = dequantizeTensor(model, 4); // uint8, per-tensor, zero point 128
    expect(offset.data[0]).toBe(0);
    expect(offset.data[1]).toBeCloseTo(1, 6);
  });

  it('decodes the other option tables with non-default values', () => {
    // Operators only need valid tensor indices here; the graph is not meant to run.
    const spec: TinyModel = {
      operatorCodes: [
        { deprecatedBuiltinCode: 4 }, { deprecatedBuiltinCode: 40 }, { deprecatedBuiltinCode: 100 },
        { deprecatedBuiltinCode: 97 }, { deprecatedBuiltinCode: 22 }, { deprecatedBuiltinCode: 41 },
        { deprecatedBuiltinCode: 76 },
      ],
      tensors: [{ name: 'a', shape: [1, 2, 2, 4], type: TENSOR_TYPE.FLOAT32 }, { name: 'b', type: TENSOR_TYPE.FLOAT32 }],
      operators: [
        // DepthwiseConv2DOptions: SAME, stride 2x1, multiplier 2, TANH, dilation 2x4.
        { opcodeIndex: 0, inputs: [0, -1], outputs: [1], optionsType: 2,
          options: [fb.int8(0), fb.int32(2), fb.int32(1), fb.int32(2), fb.int8(4), fb.int32(2), fb.int32(4)] },
        { opcodeIndex: 1, inputs: [0], outputs: [1], optionsType: 27, options: [fb.bool(true)] },
        { opcodeIndex: 2, inputs: [0], outputs: [1], optionsType: 77, options: [fb.int8(1)] },
        { opcodeIndex: 3, inputs: [0], outputs: [1], optionsType: 74, options: [undefined, fb.bool(true)] },
        { opcodeIndex: 4, inputs: [0], outputs: [1], optionsType: 17, options: [fb.vector('int32', [4, 4])] },
        { opcodeIndex: 5, inputs: [0, 1], outputs: [1], optionsType: 28, options: [fb.int8(2)] },
        { opcodeIndex: 6, inputs: [0], outputs: [1] },
      ],
      inputs: [0],
      outputs: [1],
      buffers: [new Uint8Array(0)],
    };
    const model = parseTflite(buildTflite(spec), 'options.tflite');
    expect(model.tensors[1].shape).toEqual([]);
    expect(model.operators.map((op) => [op.op, op.options])).toEqual([
      ['DEPTHWISE_CONV_2D', { padding: 'SAME', strideW: 2, strideH: 1, depthMultiplier: 2, activation: 'TANH', dilationW: 2, dilationH: 4 }],
      ['MEAN', { keepDims: true }],
      ['MIRROR_PAD', { mode: 'SYMMETRIC' }],
      ['RESIZE_NEAREST_NEIGHBOR', { alignCorners: false, halfPixelCenters: true }],
      ['RESHAPE', { newShape: [4, 4] }],
      ['SUB', { activation: 'RELU_N1_TO_1' }],
      ['RSQRT', {}],
    ]);
    expect(model.operators[0].inputs).toEqual([0, -1]);
  });

  it('takes the larger of the legacy and the int32 builtin code', () => {
    const spec = tinyConvModel();
    spec.operatorCodes[1] = { builtinCode: 18 }; // MUL written only in the new field
    spec.operators[1].optionsType = 21; // MulOptions
    const model = parseTflite(buildTflite(spec), 'tiny.tflite');
    expect(model.operators[1].op).toBe('MUL');
  });

  it('names an unknown builtin code in the error', () => {
    const spec = tinyConvModel();
    spec.operatorCodes[1] = { deprecatedBuiltinCode: 127, builtinCode: 200 };
    expect(() => parseTflite(buildTflite(spec), 'tiny.tflite')).toThrow(
      'tflite: unsupported operator code 200 in tiny.tflite (operator #1)',
    );
  });

  it('names a custom op in the error', () => {
    const spec = tinyConvModel();
    spec.operatorCodes[0] = { deprecatedBuiltinCode: 32, builtinCode: 32, customCode: 'FancyStyleOp' };
    expect(() => parseTflite(buildTflite(spec), 'tiny.tflite')).toThrow(
      "tflite: unsupported operator CUSTOM 'FancyStyleOp' in tiny.tflite (operator #0)",
    );
  });

  it('names a known builtin the reader does not support', () => {
    const spec = tinyConvModel();
    spec.operatorCodes[1] = { deprecatedBuiltinCode: 9 };
    expect(() => parseTflite(buildTflite(spec), 'tiny.tflite')).toThrow(
      'tflite: unsupported operator FULLY_CONNECTED in tiny.tflite (operator #1)',
    );
  });

  it('refuses options of the wrong union type', () => {
    const spec = tinyConvModel();
    spec.operators[0].optionsType = 2; // DepthwiseConv2DOptions on a CONV_2D
    expect(() => parseTflite(buildTflite(spec), 'tiny.tflite')).toThrow(/operator #0 \(CONV_2D\).*expected Conv2DOptions \(1\)/);
  });

  it('uses schema defaults when an operator has no options table', () => {
    const spec = tinyConvModel();
    delete spec.operators[0].optionsType;
    delete spec.operators[0].options;
    const conv = parseTflite(buildTflite(spec), 'tiny.tflite').operators[0];
    expect(conv.options).toEqual({ padding: 'SAME', strideW: 0, strideH: 0, activation: 'NONE', dilationW: 1, dilationH: 1 });
  });

  it('rejects out-of-range tensor, buffer and opcode indices', () => {
    const badInput = tinyConvModel();
    badInput.operators[1].inputs = [3, 9];
    expect(() => parseTflite(buildTflite(badInput), 'tiny.tflite')).toThrow('operator #1 (ADD) input refers to tensor 9 of 6');
    const badBuffer = tinyConvModel();
    badBuffer.tensors[1].buffer = 7;
    expect(() => parseTflite(buildTflite(badBuffer), 'tiny.tflite')).toThrow("tensor #1 'kernel' refers to buffer 7 of 4");
    const badOpcode = tinyConvModel();
    badOpcode.operators[0].opcodeIndex = 5;
    expect(() => parseTflite(buildTflite(badOpcode), 'tiny.tflite')).toThrow('operator #0 uses opcode index 5 of 2');
  });

  it('rejects a quantized tensor whose scales do not match its channel count', () => {
    const spec = tinyConvModel();
    spec.tensors[1].scale = [0.5, 0.25, 0.125];
    expect(() => parseTflite(buildTflite(spec), 'tiny.tflite')).toThrow("tflite: tiny.tflite tensor #1 'kernel' [2, 1, 2, 2] has 3 scales along dimension 0");
  });

  it('rejects a buffer whose size does not match the tensor shape', () => {
    const spec = tinyConvModel();
    spec.buffers[1] = new Uint8Array(7);
    const model = parseTflite(buildTflite(spec), 'tiny.tflite');
    expect(() => dequantizeTensor(model, 1)).toThrow("tensor #1 'kernel' [2, 1, 2, 2] INT8 needs 8 bytes but its buffer holds 7");
  });

  it('reads buffers stored after the flatbuffer (offset/size) and widens float16', () => {
    const spec = tinyConvModel();
    // 1, -2, 0.5, 65504 as IEEE half floats
    spec.tensors.push({ name: 'half', shape: [4], type: TENSOR_TYPE.FLOAT16, buffer: 4 });
    spec.buffers.push({ external: bytesOf(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff])) });
    spec.buffers[1] = { external: bytesOf(new Int8Array([1, -2, 3, -4, 5, -6, 7, -8])) };
    const model = parseTflite(buildTflite(spec), 'tiny.tflite');
    expect(Array.from(dequantizeTensor(model, 6).data)).toEqual([1, -2, 0.5, 65504]);
    expect(Array.from(dequantizeTensor(model, 1).data)).toEqual([0.5, -1, 1.5, -2, 1.25, -1.5, 1.75, -2]);
  });

  it('rejects an external buffer that points past the end of the file', () => {
    const spec = tinyConvModel();
    spec.buffers[1] = { external: new Uint8Array(8) };
    const bytes = buildTflite(spec);
    // The file ends with the 8 data bytes and 8 bytes of alignment padding: cut into the data.
    expect(() => parseTflite(bytes.subarray(0, bytes.length - 12), 'tiny.tflite')).toThrow(/Model\.buffers\[1\] external data needs bytes .*truncated or corrupt/);
  });

  it('rejects other schema versions', () => {
    const spec = tinyConvModel();
    spec.version = 2;
    expect(() => parseTflite(buildTflite(spec), 'old.tflite')).toThrow('tflite: old.tflite has schema version 2; only version 3 is supported');
  });
});

describe('kernel layout helpers', () => {
  it('moves [out, kh, kw, in] to [kh, kw, in, out]', () => {
    const [out, kh, kw, inC] = [3, 2, 2, 4];
    const src = Float32Array.from({ length: out * kh * kw * inC }, (_, i) => i);
    const hwio = tfliteConvToHwio(hostTensor([out, kh, kw, inC], src));
    expect(hwio.shape).toEqual([kh, kw, inC, out]);
    for (let o = 0; o < out; o++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          for (let i = 0; i < inC; i++) {
            expect(hwio.data[((y * kw + x) * inC + i) * out + o]).toBe(src[((o * kh + y) * kw + x) * inC + i]);
          }
    expect(() => tfliteConvToHwio(hostTensor([2, 2], new Float32Array(4)))).toThrow(/expected a \[out, kh, kw, in\] kernel/);
  });

  it('splits depthwise [1, kh, kw, C*m] into [kh, kw, C, m]', () => {
    const src = Float32Array.from({ length: 2 * 2 * 6 }, (_, i) => i);
    const hwim = tfliteDepthwiseToHwim(hostTensor([1, 2, 2, 6], src), 2);
    expect(hwim.shape).toEqual([2, 2, 3, 2]);
    // output channel c*m + j of TFLite is (c, j) here: same flat order
    expect(Array.from(hwim.data)).toEqual(Array.from(src));
    expect(() => tfliteDepthwiseToHwim(hostTensor([1, 2, 2, 6], src), 4)).toThrow('depth multiplier 4 does not divide 6 channels');
  });
});
