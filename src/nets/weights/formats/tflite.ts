/**
 * TensorFlow Lite (.tflite, schema v3 flatbuffer) reader: a typed description of the first
 * subgraph (tensors, operators with decoded builtin options, inputs/outputs) plus helpers that
 * turn constant tensors into f32 HostTensors. Pure (Uint8Array in), so the browser can use it.
 *
 * Field ids follow tensorflow/lite/schema/schema.fbs; a union field `x` occupies two ids
 * (`x_type` then `x`).
 *
 * The two Magenta arbitrary-stylization models (shared/weights/magenta), as found in the files:
 *
 * style_predict_int8_256.tflite: 66 ops, 174 tensors; ADD CONV_2D DEPTHWISE_CONV_2D MEAN QUANTIZE DEQUANTIZE.
 *   in #172 `style_image` f32 [1,256,256,3] → out #173 `mobilenet_conv/Conv/BiasAdd` f32 [1,1,1,100].
 *   QUANTIZE (scale 1/255, zp -128), then MobileNetV2 in int8, SAME padding throughout: CONV_2D 3x3/2
 *   3→32 RELU6; expanded_conv (DEPTHWISE 3x3 + RELU6, 1x1 project 32→16); expanded_conv_1..16 (1x1
 *   expand + RELU6, DEPTHWISE 3x3 m=1 + RELU6, stride 2 in blocks 1/3/6/13, 1x1 linear project, ADD
 *   skip where shapes match: 10 ADDs); CONV_2D 1x1 320→1280 RELU6 [1,8,8,1280]; MEAN axes [1,2]
 *   keep_dims; CONV_2D 1x1 1280→100 (no activation); DEQUANTIZE.
 *
 * style_transfer_int8_384.tflite: 295 ops, 430 tensors; ADD CONV_2D LOGISTIC MUL MEAN SUB RSQRT
 * RESIZE_NEAREST_NEIGHBOR SQUARED_DIFFERENCE MIRROR_PAD QUANTIZE DEQUANTIZE.
 *   in #0 `content_image` f32 [1,384,384,3] and #428 the style vector f32 [1,1,1,100] (same name as
 *   the predictor's output) → out #429 `transformer/expand/conv3/conv/Sigmoid` f32 [1,384,384,3].
 *   Style: op 0 QUANTIZEs the vector; ops 25..50 are 26 1x1 CONV_2D [C,1,1,100] giving each of the
 *   13 conditional instance norms its beta (`style_params/<layer>/StyleNorm/Conv`) and gamma (`.../Conv_1`).
 *   Every conv: [RESIZE_NEAREST_NEIGHBOR] → MIRROR_PAD REFLECT (f32; paddings [[0,0],[p,p],[p,p],[0,0]],
 *   p = 4 for 9x9, 1 for 3x3) → QUANTIZE → CONV_2D VALID int8.
 *   contract conv1 9x9/1 3→8, conv2 3x3/2 8→16, conv3 3x3/2 16→32: fused RELU, no norm, then DEQUANTIZE.
 *   residual1..5 at [1,96,96,32]: two 3x3 convs (bias: one shared all-zero tensor), each + norm, RELU
 *   fused into the first norm's last ADD, then an ADD skip.
 *   expand conv1: RESIZE to 192x192 + 3x3 32→16; conv2: RESIZE to 384x384 + 3x3 16→8 (both norm + RELU);
 *   conv3: RESIZE to 384x384 (same size) + 9x9 8→3 + norm → LOGISTIC (int8) → DEQUANTIZE.
 *   Norm (int8 unless noted): mean = MEAN(x, [1,2], keep_dims); SQUARED_DIFFERENCE(x, mean) in f32
 *   between DEQUANTIZE/QUANTIZE; var = MEAN; ADD epsilon (int8 scalar, shape [], = 1e-5); RSQRT in
 *   f32; m = MUL(rsqrt, gamma); y = MUL(x, m) + SUB(beta, MUL(mean, m)).
 *   RESIZE: align_corners and half_pixel_centers false; sizes come from int32 [2] constants.
 *   Only MIRROR_PAD, RESIZE, SQUARED_DIFFERENCE and RSQRT run in f32; QUANTIZE/DEQUANTIZE wrap them.
 *
 * Weights in both: conv kernels int8 [out,kh,kw,in] (depthwise [1,kh,kw,C]) with per-output-channel
 * scales and zero point 0 (quantized_dimension 0, depthwise 3); biases int32 with scale s_in*s_w.
 */
import { FlatbufferBuffer, FlatbufferError, type FlatTable } from './flatbuffer.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../float16.ts';
import { hostTensor, type HostTensor } from '../host-tensor.ts';
import { clipText } from './message-text.ts';

export type TfliteTensorType =
  | 'FLOAT32' | 'FLOAT16' | 'INT32' | 'UINT8' | 'INT64' | 'STRING' | 'BOOL' | 'INT16' | 'COMPLEX64'
  | 'INT8' | 'FLOAT64' | 'COMPLEX128' | 'UINT64' | 'RESOURCE' | 'VARIANT' | 'UINT32' | 'UINT16' | 'INT4' | 'BFLOAT16';

/** schema.fbs `TensorType`, indexed by its enum value. */
const TENSOR_TYPES: readonly TfliteTensorType[] = [
  'FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16', 'COMPLEX64',
  'INT8', 'FLOAT64', 'COMPLEX128', 'UINT64', 'RESOURCE', 'VARIANT', 'UINT32', 'UINT16', 'INT4', 'BFLOAT16',
];

export type FusedActivation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';
const FUSED_ACTIVATIONS: readonly FusedActivation[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

export type Padding = 'SAME' | 'VALID';
export type MirrorPadMode = 'REFLECT' | 'SYMMETRIC';

export interface Conv2dOptions {
  padding: Padding;
  strideW: number;
  strideH: number;
  dilationW: number;
  dilationH: number;
  activation: FusedActivation;
}
export interface DepthwiseConv2dOptions extends Conv2dOptions {
  depthMultiplier: number;
}
export interface ElementwiseOptions {
  activation: FusedActivation;
}
/** MEAN's axes are not an option: they come from its second input tensor. */
export interface ReducerOptions {
  keepDims: boolean;
}
/** MIRROR_PAD's paddings come from its second input, an int32 [rank, 2] tensor. */
export interface MirrorPadOptions {
  mode: MirrorPadMode;
}
/** The output size comes from the second input, an int32 [2] tensor (height, width). */
export interface ResizeNearestNeighborOptions {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}
/** new_shape is optional in the file; the second input tensor, when present, wins. */
export interface ReshapeOptions {
  newShape: number[] | undefined;
}
export type NoOptions = Record<string, never>;

/** Builtin options per supported operator; the keys are the operators this reader accepts. */
export interface TfliteOptionsByOp {
  CONV_2D: Conv2dOptions;
  DEPTHWISE_CONV_2D: DepthwiseConv2dOptions;
  ADD: ElementwiseOptions;
  MUL: ElementwiseOptions;
  SUB: ElementwiseOptions;
  MEAN: ReducerOptions;
  MIRROR_PAD: MirrorPadOptions;
  RESIZE_NEAREST_NEIGHBOR: ResizeNearestNeighborOptions;
  RESHAPE: ReshapeOptions;
  SQUARED_DIFFERENCE: NoOptions;
  RSQRT: NoOptions;
  LOGISTIC: NoOptions;
  QUANTIZE: NoOptions;
  DEQUANTIZE: NoOptions;
}
export type TfliteOpName = keyof TfliteOptionsByOp;

export interface TfliteQuantization {
  /** One scale per tensor, or one per slice along `quantizedDimension`. */
  scale: Float32Array;
  /** Same length as `scale` (filled with 0 when the file omits zero points). */
  zeroPoint: number[];
  quantizedDimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  /** [] for a scalar. */
  shape: number[];
  type: TfliteTensorType;
  /** Index into `TfliteModel.buffers`; buffer 0 is the always-empty sentinel. */
  buffer: number;
  quantization: TfliteQuantization | undefined;
  isVariable: boolean;
}

export interface TfliteOperatorCode {
  builtinCode: number;
  /** Builtin name from schema.fbs, `CUSTOM`, or `BUILTIN_<code>` for codes this reader cannot name. */
  name: string;
  customName: string | undefined;
  version: number;
}

interface TfliteOperatorBase {
  index: number;
  opcodeIndex: number;
  version: number;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
}
/** Discriminated on `op`, so `options` narrows to the op's own options type. */
export type TfliteOperator = {
  [K in TfliteOpName]: TfliteOperatorBase & { op: K; options: TfliteOptionsByOp[K] };
}[TfliteOpName];

export interface TfliteModel {
  sourceName: string;
  /** Schema version (3 for every current file). */
  version: number;
  description: string | undefined;
  operatorCodes: TfliteOperatorCode[];
  /** Total subgraphs in the file; only the first (the main model) is described below. */
  subgraphCount: number;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
  /** Raw constant data, zero-copy views into the file bytes; empty for activations. */
  buffers: Uint8Array[];
}

export const SUPPORTED_TFLITE_OPS: ReadonlySet<TfliteOpName> = new Set<TfliteOpName>([
  'CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD', 'MUL', 'SUB', 'MEAN', 'MIRROR_PAD', 'RESIZE_NEAREST_NEIGHBOR',
  'RESHAPE', 'SQUARED_DIFFERENCE', 'RSQRT', 'LOGISTIC', 'QUANTIZE', 'DEQUANTIZE',
]);

/**
 * schema.fbs `BuiltinOperator` names for codes 0..161, used for op names and error messages
 * (127 is a placeholder, not an op; the STABLEHLO_* codes above print as `code <n>`).
 */
const BUILTIN_OPERATOR_NAMES: readonly (string | undefined)[] = [
  'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE', 'DEQUANTIZE',
  'EMBEDDING_LOOKUP', 'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP', 'L2_NORMALIZATION', 'L2_POOL_2D',
  'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC', 'LSH_PROJECTION', 'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU',
  'RELU_N1_TO_1', 'RELU6', 'RESHAPE', 'RESIZE_BILINEAR', 'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH',
  'CONCAT_EMBEDDINGS', 'SKIP_GRAM', 'CALL', 'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD',
  'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER', 'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND', 'TRANSPOSE', 'MEAN',
  'SUB', 'DIV', 'SQUEEZE', 'UNIDIRECTIONAL_SEQUENCE_LSTM', 'STRIDED_SLICE', 'BIDIRECTIONAL_SEQUENCE_RNN',
  'EXP', 'TOPK_V2', 'SPLIT', 'LOG_SOFTMAX', 'DELEGATE', 'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU',
  'MAXIMUM', 'ARG_MAX', 'MINIMUM', 'LESS', 'NEG', 'PADV2', 'GREATER', 'GREATER_EQUAL', 'LESS_EQUAL', 'SELECT',
  'SLICE', 'SIN', 'TRANSPOSE_CONV', 'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS', 'EQUAL', 'NOT_EQUAL', 'LOG',
  'SUM', 'SQRT', 'RSQRT', 'SHAPE', 'POW', 'ARG_MIN', 'FAKE_QUANT', 'REDUCE_PROD', 'REDUCE_MAX', 'PACK',
  'LOGICAL_OR', 'ONE_HOT', 'LOGICAL_AND', 'LOGICAL_NOT', 'UNPACK', 'REDUCE_MIN', 'FLOOR_DIV', 'REDUCE_ANY',
  'SQUARE', 'ZEROS_LIKE', 'FILL', 'FLOOR_MOD', 'RANGE', 'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU',
  'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'ABS', 'SPLIT_V', 'UNIQUE', 'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND',
  'COS', 'WHERE', 'RANK', 'ELU', 'REVERSE_SEQUENCE', 'MATRIX_DIAG', 'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND',
  'HARD_SWISH', 'IF', 'WHILE', 'NON_MAX_SUPPRESSION_V4', 'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2',
  'DENSIFY', 'SEGMENT_SUM', 'BATCH_MATMUL', undefined, 'CUMSUM', 'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D',
  'CONV_3D', 'IMAG', 'REAL', 'COMPLEX_ABS', 'HASHTABLE', 'HASHTABLE_FIND', 'HASHTABLE_IMPORT', 'HASHTABLE_SIZE',
  'REDUCE_ALL', 'CONV_3D_TRANSPOSE', 'VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE', 'BROADCAST_ARGS',
  'RANDOM_STANDARD_NORMAL', 'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU', 'DYNAMIC_UPDATE_SLICE',
  'RELU_0_TO_1', 'UNSORTED_SEGMENT_PROD', 'UNSORTED_SEGMENT_MAX', 'UNSORTED_SEGMENT_SUM', 'ATAN2',
  'UNSORTED_SEGMENT_MIN', 'SIGN', 'BITCAST', 'BITWISE_XOR', 'RIGHT_SHIFT',
];
const CUSTOM_CODE = 32;

/**
 * schema.fbs `BuiltinOptions` union member each supported op carries (0 = NONE). Checked against
 * the file so a mislabelled table is never decoded with the wrong field ids.
 */
const OPTIONS_UNION_TYPE: Record<TfliteOpName, { id: number; table: string }> = {
  CONV_2D: { id: 1, table: 'Conv2DOptions' },
  DEPTHWISE_CONV_2D: { id: 2, table: 'DepthwiseConv2DOptions' },
  ADD: { id: 11, table: 'AddOptions' },
  RESHAPE: { id: 17, table: 'ReshapeOptions' },
  MUL: { id: 21, table: 'MulOptions' },
  MEAN: { id: 27, table: 'ReducerOptions' },
  SUB: { id: 28, table: 'SubOptions' },
  DEQUANTIZE: { id: 38, table: 'DequantizeOptions' },
  RESIZE_NEAREST_NEIGHBOR: { id: 74, table: 'ResizeNearestNeighborOptions' },
  SQUARED_DIFFERENCE: { id: 76, table: 'SquaredDifferenceOptions' },
  MIRROR_PAD: { id: 77, table: 'MirrorPadOptions' },
  QUANTIZE: { id: 89, table: 'QuantizeOptions' },
  // No options table exists for these two in the schema; files carry NONE.
  RSQRT: { id: 0, table: 'none' },
  LOGISTIC: { id: 0, table: 'none' },
};

export function parseTflite(bytes: Uint8Array, sourceName = 'model.tflite'): TfliteModel {
  if (bytes.byteLength < 8) {
    throw new Error(`tflite: ${sourceName} is ${bytes.byteLength} bytes, too short to be a TFLite model`);
  }
  const file = new FlatbufferBuffer(bytes, sourceName);
  const identifier = file.fileIdentifier();
  if (identifier !== 'TFL3') {
    throw new Error(`tflite: ${sourceName} is not a TFLite model (file identifier '${printable(identifier)}', expected 'TFL3')`);
  }
  try {
    return readModel(file, sourceName);
  } catch (error) {
    if (error instanceof FlatbufferError) throw new Error(`tflite: ${sourceName} is corrupt: ${clipText(error.detail)}`);
    // Names read from the file (tensors, custom ops) can be arbitrarily long.
    if (error instanceof Error && error.message.length > 2000) throw new Error(clipText(error.message, 2000), { cause: error });
    throw error;
  }
}

function readModel(file: FlatbufferBuffer, sourceName: string): TfliteModel {
  const model = file.rootTable('Model');
  const version = model.uint32(0);
  if (version !== 3) throw new Error(`tflite: ${sourceName} has schema version ${version}; only version 3 is supported`);

  const operatorCodes = (model.tableVector(1, 'operator_codes') ?? []).map(readOperatorCode);
  const subgraphs = model.tableVector(2, 'subgraphs') ?? [];
  if (subgraphs.length === 0) throw new Error(`tflite: ${sourceName} has no subgraphs`);
  const buffers = (model.tableVector(4, 'buffers') ?? []).map((table) => readBuffer(file, table));

  const graph = subgraphs[0];
  const tensors = (graph.tableVector(0, 'tensors') ?? []).map((table, index) => readTensor(table, index, sourceName));
  for (const tensor of tensors) {
    if (tensor.buffer >= buffers.length) {
      throw new Error(`tflite: ${sourceName} tensor #${tensor.index} '${tensor.name}' refers to buffer ${tensor.buffer} of ${buffers.length}`);
    }
  }
  const checkTensorIndex = (index: number, where: string, optional: boolean): void => {
    if ((optional && index === -1) || (Number.isInteger(index) && index >= 0 && index < tensors.length)) return;
    throw new Error(`tflite: ${sourceName} ${where} refers to tensor ${index} of ${tensors.length}`);
  };

  const inputs = graph.scalarVector(1, 'int32', 'inputs') ?? [];
  const outputs = graph.scalarVector(2, 'int32', 'outputs') ?? [];
  inputs.forEach((t) => checkTensorIndex(t, 'subgraph input', false));
  outputs.forEach((t) => checkTensorIndex(t, 'subgraph output', false));

  const operators = (graph.tableVector(3, 'operators') ?? []).map((table, index) => {
    const operator = readOperator(table, index, operatorCodes, sourceName);
    operator.inputs.forEach((t) => checkTensorIndex(t, `operator #${index} (${operator.op}) input`, true));
    operator.outputs.forEach((t) => checkTensorIndex(t, `operator #${index} (${operator.op}) output`, false));
    return operator;
  });

  return {
    sourceName,
    version,
    description: model.string(3),
    operatorCodes,
    subgraphCount: subgraphs.length,
    tensors,
    operators,
    inputs,
    outputs,
    buffers,
  };
}

function readOperatorCode(table: FlatTable): TfliteOperatorCode {
  // Old files only fill the int8 field; new ones write both, with 127 (a placeholder) in the int8
  // field for codes past it. Taking the larger value works for either, as the TFLite runtime does.
  const builtinCode = Math.max(table.int8(0), table.int32(3));
  const name = BUILTIN_OPERATOR_NAMES[builtinCode] ?? `BUILTIN_${builtinCode}`;
  return { builtinCode, name, customName: table.string(1), version: table.int32(2, 1) };
}

function readBuffer(file: FlatbufferBuffer, table: FlatTable): Uint8Array {
  // Files over 2 GB keep data after the flatbuffer, addressed by absolute offset/size;
  // an offset of 1 is the converter's "not placed yet" marker, not a location.
  const offset = table.uint64(1);
  if (offset > 1) {
    const size = table.uint64(2);
    file.check(offset, size, `${table.path} external data`);
    return file.bytes.subarray(offset, offset + size);
  }
  return table.bytesVector(0, 'data') ?? new Uint8Array(0);
}

function readTensor(table: FlatTable, index: number, sourceName: string): TfliteTensor {
  const typeCode = table.int8(1);
  const type = TENSOR_TYPES[typeCode];
  const name = table.string(3) ?? `tensor_${index}`;
  const where = `${sourceName} tensor #${index} '${name}'`;
  if (type === undefined) throw new Error(`tflite: ${where} has unknown type code ${typeCode}`);
  // A missing shape is a scalar. Negative sizes only belong in shape_signature, which is not read.
  const shape = table.scalarVector(0, 'int32', 'shape') ?? [];
  if (shape.some((d) => d < 0)) throw new Error(`tflite: ${where} has a negative dimension [${shape.join(', ')}]`);
  return {
    index,
    name,
    shape,
    type,
    buffer: table.uint32(2),
    quantization: readQuantization(table.table(4, 'quantization'), shape, where),
    isVariable: table.bool(5),
  };
}

function readQuantization(table: FlatTable | undefined, shape: number[], where: string): TfliteQuantization | undefined {
  // Float tensors often carry an empty QuantizationParameters table: no scale means "not quantized".
  const scales = table?.scalarVector(2, 'float32', 'scale');
  if (table === undefined || scales === undefined || scales.length === 0) return undefined;
  const zeroPoints = table.scalarVector(3, 'int64', 'zero_point') ?? [];
  const quantizedDimension = table.int32(6);
  if (zeroPoints.length !== 0 && zeroPoints.length !== scales.length) {
    throw new Error(`tflite: ${where} has ${scales.length} scales but ${zeroPoints.length} zero points`);
  }
  if (scales.length > 1 && (quantizedDimension < 0 || quantizedDimension >= shape.length || shape[quantizedDimension] !== scales.length)) {
    throw new Error(
      `tflite: ${where} [${shape.join(', ')}] has ${scales.length} scales along dimension ${quantizedDimension}`,
    );
  }
  return {
    scale: Float32Array.from(scales),
    zeroPoint: zeroPoints.length === 0 ? scales.map(() => 0) : zeroPoints,
    quantizedDimension,
  };
}

function readOperator(table: FlatTable, index: number, codes: TfliteOperatorCode[], sourceName: string): TfliteOperator {
  const opcodeIndex = table.uint32(0);
  const code = codes[opcodeIndex];
  if (code === undefined) {
    throw new Error(`tflite: ${sourceName} operator #${index} uses opcode index ${opcodeIndex} of ${codes.length}`);
  }
  if (!isSupportedOp(code.name)) {
    const label = code.builtinCode === CUSTOM_CODE
      ? `CUSTOM '${code.customName ?? '?'}'`
      : BUILTIN_OPERATOR_NAMES[code.builtinCode] ?? `code ${code.builtinCode}`;
    throw new Error(`tflite: unsupported operator ${label} in ${sourceName} (operator #${index})`);
  }
  const base: TfliteOperatorBase = {
    index,
    opcodeIndex,
    version: code.version,
    inputs: table.scalarVector(1, 'int32', 'inputs') ?? [],
    outputs: table.scalarVector(2, 'int32', 'outputs') ?? [],
  };
  const expected = OPTIONS_UNION_TYPE[code.name];
  const optionsType = table.uint8(3);
  if (optionsType !== 0 && optionsType !== expected.id) {
    throw new Error(
      `tflite: ${sourceName} operator #${index} (${code.name}) carries builtin options of union type ${optionsType}, expected ${expected.table} (${expected.id})`,
    );
  }
  // Absent options mean every field takes its schema default, as in the TFLite runtime.
  const options = optionsType === 0 ? undefined : table.table(4, 'builtin_options');
  return decodeOptions(code.name, options, base, sourceName);
}

function isSupportedOp(name: string): name is TfliteOpName {
  return (SUPPORTED_TFLITE_OPS as ReadonlySet<string>).has(name);
}

function decodeOptions(op: TfliteOpName, t: FlatTable | undefined, base: TfliteOperatorBase, sourceName: string): TfliteOperator {
  const where = `${sourceName} operator #${base.index} (${op})`;
  switch (op) {
    case 'CONV_2D':
      // Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused_activation_function 3, dilation_w 4, dilation_h 5.
      return {
        ...base, op,
        options: {
          padding: padding(t?.int8(0) ?? 0, where),
          strideW: t?.int32(1) ?? 0,
          strideH: t?.int32(2) ?? 0,
          activation: activation(t?.int8(3) ?? 0, where),
          dilationW: t?.int32(4, 1) ?? 1,
          dilationH: t?.int32(5, 1) ?? 1,
        },
      };
    case 'DEPTHWISE_CONV_2D':
      // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3,
      // fused_activation_function 4, dilation_w 5, dilation_h 6.
      return {
        ...base, op,
        options: {
          padding: padding(t?.int8(0) ?? 0, where),
          strideW: t?.int32(1) ?? 0,
          strideH: t?.int32(2) ?? 0,
          depthMultiplier: t?.int32(3) ?? 0,
          activation: activation(t?.int8(4) ?? 0, where),
          dilationW: t?.int32(5, 1) ?? 1,
          dilationH: t?.int32(6, 1) ?? 1,
        },
      };
    case 'ADD':
    case 'MUL':
    case 'SUB':
      // Add/Mul/SubOptions: fused_activation_function 0.
      return { ...base, op, options: { activation: activation(t?.int8(0) ?? 0, where) } };
    case 'MEAN':
      // ReducerOptions: keep_dims 0.
      return { ...base, op, options: { keepDims: t?.bool(0) ?? false } };
    case 'MIRROR_PAD': {
      // MirrorPadOptions: mode 0.
      const mode = t?.int8(0) ?? 0;
      if (mode !== 0 && mode !== 1) throw new Error(`tflite: ${where} has unknown mirror pad mode ${mode}`);
      return { ...base, op, options: { mode: mode === 0 ? 'REFLECT' : 'SYMMETRIC' } };
    }
    case 'RESIZE_NEAREST_NEIGHBOR':
      // ResizeNearestNeighborOptions: align_corners 0, half_pixel_centers 1.
      return { ...base, op, options: { alignCorners: t?.bool(0) ?? false, halfPixelCenters: t?.bool(1) ?? false } };
    case 'RESHAPE':
      // ReshapeOptions: new_shape 0.
      return { ...base, op, options: { newShape: t?.scalarVector(0, 'int32', 'new_shape') } };
    case 'SQUARED_DIFFERENCE':
    case 'RSQRT':
    case 'LOGISTIC':
    case 'QUANTIZE':
    case 'DEQUANTIZE':
      return { ...base, op, options: {} };
  }
}

function padding(code: number, where: string): Padding {
  if (code === 0) return 'SAME';
  if (code === 1) return 'VALID';
  throw new Error(`tflite: ${where} has unknown padding ${code}`);
}

function activation(code: number, where: string): FusedActivation {
  const name = FUSED_ACTIVATIONS[code];
  if (name === undefined) throw new Error(`tflite: ${where} has unknown fused activation ${code}`);
  return name;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

// ---------------------------------------------------------------------------------------------
// Constant tensors → f32

const ELEMENT_BYTES: Partial<Record<TfliteTensorType, number>> = {
  FLOAT32: 4, FLOAT16: 2, BFLOAT16: 2, INT32: 4, UINT8: 1, INT8: 1, INT16: 2, INT64: 8,
};

function tensorLabel(model: TfliteModel, tensor: TfliteTensor): string {
  return `${model.sourceName} tensor #${tensor.index} '${tensor.name}'`;
}

function tensorAt(model: TfliteModel, tensorIndex: number): TfliteTensor {
  const tensor = model.tensors[tensorIndex];
  if (tensor === undefined) throw new Error(`tflite: ${model.sourceName} has no tensor #${tensorIndex} (it has ${model.tensors.length})`);
  return tensor;
}

/** The tensor's constant bytes, checked against its shape and element size. */
function constantBytes(model: TfliteModel, tensor: TfliteTensor): { bytes: DataView; count: number } {
  const elementBytes = ELEMENT_BYTES[tensor.type];
  if (elementBytes === undefined) {
    throw new Error(`tflite: ${tensorLabel(model, tensor)} has type ${tensor.type}, which cannot be converted to f32`);
  }
  const data = model.buffers[tensor.buffer];
  if (data === undefined || data.byteLength === 0) {
    throw new Error(`tflite: ${tensorLabel(model, tensor)} is not a constant (buffer ${tensor.buffer} holds no data)`);
  }
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (data.byteLength !== count * elementBytes) {
    throw new Error(
      `tflite: ${tensorLabel(model, tensor)} [${tensor.shape.join(', ')}] ${tensor.type} needs ${count * elementBytes} bytes but its buffer holds ${data.byteLength}`,
    );
  }
  return { bytes: new DataView(data.buffer, data.byteOffset, data.byteLength), count };
}

function readRawElement(view: DataView, type: TfliteTensorType, i: number): number {
  switch (type) {
    case 'INT8': return view.getInt8(i);
    case 'UINT8': return view.getUint8(i);
    case 'INT16': return view.getInt16(2 * i, true);
    case 'INT32': return view.getInt32(4 * i, true);
    case 'INT64': return Number(view.getBigInt64(8 * i, true));
    case 'FLOAT32': return view.getFloat32(4 * i, true);
    case 'FLOAT16': return float16BitsToFloat32(view.getUint16(2 * i, true));
    case 'BFLOAT16': return bfloat16BitsToFloat32(view.getUint16(2 * i, true));
    default: throw new Error(`tflite: cannot read ${type} elements`);
  }
}

/**
 * A constant tensor as f32 in its TFLite layout (conv [out,kh,kw,in], depthwise [1,kh,kw,C*m]).
 * Quantized integers become scale[c] * (q - zero_point[c]), c the index along quantized_dimension
 * (one scale = per-tensor); float32 is copied, float16/bfloat16 widened; unquantized INT32/INT64
 * (axes, shapes) are converted as plain numbers.
 */
export function dequantizeTensor(model: TfliteModel, tensorIndex: number): HostTensor {
  const tensor = tensorAt(model, tensorIndex);
  const { bytes, count } = constantBytes(model, tensor);
  const out = new Float32Array(count);
  const isFloat = tensor.type === 'FLOAT32' || tensor.type === 'FLOAT16' || tensor.type === 'BFLOAT16';
  const q = tensor.quantization;

  if (isFloat || q === undefined) {
    if (!isFloat && tensor.type !== 'INT32' && tensor.type !== 'INT64') {
      throw new Error(`tflite: ${tensorLabel(model, tensor)} is ${tensor.type} without quantization parameters to dequantize with`);
    }
    for (let i = 0; i < count; i++) out[i] = readRawElement(bytes, tensor.type, i);
    return hostTensor(tensor.shape, out);
  }

  // Element i belongs to channel floor(i / inner) % channels, inner = product of dims after the axis.
  const perChannel = q.scale.length > 1;
  const channels = perChannel ? tensor.shape[q.quantizedDimension] : 1;
  const inner = perChannel ? tensor.shape.slice(q.quantizedDimension + 1).reduce((a, b) => a * b, 1) : count;
  for (let i = 0; i < count; i++) {
    const c = perChannel ? Math.floor(i / inner) % channels : 0;
    out[i] = q.scale[c] * (readRawElement(bytes, tensor.type, i) - q.zeroPoint[c]);
  }
  return hostTensor(tensor.shape, out);
}

/** An integer constant (MEAN axes, MIRROR_PAD paddings, RESIZE sizes, RESHAPE shapes) as numbers. */
export function readIntTensor(model: TfliteModel, tensorIndex: number): number[] {
  const tensor = tensorAt(model, tensorIndex);
  if (tensor.type !== 'INT32' && tensor.type !== 'INT64') {
    throw new Error(`tflite: ${tensorLabel(model, tensor)} is ${tensor.type}, expected an INT32/INT64 constant`);
  }
  const { bytes, count } = constantBytes(model, tensor);
  return Array.from({ length: count }, (_, i) => readRawElement(bytes, tensor.type, i));
}

// ---------------------------------------------------------------------------------------------
// Layout conversion to pastiche's conventions (see host-tensor.ts)

/** CONV_2D kernel [out, kh, kw, in] → HWIO [kh, kw, in, out]. */
export function tfliteConvToHwio(kernel: HostTensor): HostTensor {
  if (kernel.shape.length !== 4) {
    throw new Error(`tfliteConvToHwio: expected a [out, kh, kw, in] kernel, got [${kernel.shape.join(', ')}]`);
  }
  const [out, kh, kw, inC] = kernel.shape;
  const src = kernel.data;
  const dst = new Float32Array(src.length);
  for (let o = 0; o < out; o++) {
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < inC; i++) {
          dst[((y * kw + x) * inC + i) * out + o] = src[((o * kh + y) * kw + x) * inC + i];
        }
      }
    }
  }
  return hostTensor([kh, kw, inC, out], dst);
}

/**
 * DEPTHWISE_CONV_2D kernel [1, kh, kw, C*m] → [kh, kw, C, m]. TFLite numbers output channel
 * c*m + j for input channel c and multiplier j, so this is a pure reshape (data copied, not moved).
 */
export function tfliteDepthwiseToHwim(kernel: HostTensor, depthMultiplier: number): HostTensor {
  const [one, kh, kw, channels] = kernel.shape;
  if (kernel.shape.length !== 4 || one !== 1) {
    throw new Error(`tfliteDepthwiseToHwim: expected a [1, kh, kw, C*m] kernel, got [${kernel.shape.join(', ')}]`);
  }
  if (!Number.isInteger(depthMultiplier) || depthMultiplier < 1 || channels % depthMultiplier !== 0) {
    throw new Error(`tfliteDepthwiseToHwim: depth multiplier ${depthMultiplier} does not divide ${channels} channels`);
  }
  return hostTensor([kh, kw, channels / depthMultiplier, depthMultiplier], kernel.data.slice());
}
