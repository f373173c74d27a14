/**
 * What both PyTorch checkpoint layouts share: the pickle of a state_dict, in which every tensor is
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and every storage a
 * persistent id `('storage', torch.FloatStorage, key, location, numel[, view_metadata])`.
 * The zip format (`pth.ts`) and the legacy stream (`legacy-torch.ts`) differ only in where the
 * pickle and the storage bytes sit. The allow-list below is the whole of what may be named.
 */
import { bfloat16BitsToFloat32, decodeBfloat16LE, decodeFloat16LE, float16BitsToFloat32 } from '../float16.ts';
import { decodeFloat32LE } from '../little-endian.ts';
import {
  describePickleValue,
  PickleGlobal,
  PickleGlobalRefusedError,
  PickleHostObject,
  unpicklePrefix,
  type PickleDict,
  type PickleValue,
} from './pickle.ts';
import { clipText } from './message-text.ts';

/** Element types a storage can hold, named by their legacy storage classes. */
export interface StorageDtype {
  name: string;
  bytesPerElement: number;
  /** One element, in either byte order. */
  read(view: DataView, byteOffset: number, littleEndian: boolean): number;
  /** A faster bulk path for the common little-endian case, where one exists. */
  decodeLittleEndian?: (bytes: Uint8Array, byteOffset: number, count: number) => Float32Array;
}

export const STORAGE_DTYPES: Record<string, StorageDtype> = {
  FloatStorage: { name: 'float32', bytesPerElement: 4, read: (v, at, le) => v.getFloat32(at, le), decodeLittleEndian: decodeFloat32LE },
  DoubleStorage: { name: 'float64', bytesPerElement: 8, read: (v, at, le) => v.getFloat64(at, le) },
  HalfStorage: {
    name: 'float16',
    bytesPerElement: 2,
    read: (v, at, le) => float16BitsToFloat32(v.getUint16(at, le)),
    decodeLittleEndian: decodeFloat16LE,
  },
  BFloat16Storage: {
    name: 'bfloat16',
    bytesPerElement: 2,
    read: (v, at, le) => bfloat16BitsToFloat32(v.getUint16(at, le)),
    decodeLittleEndian: decodeBfloat16LE,
  },
  // Integer tensors (e.g. BatchNorm's num_batches_tracked) come along as f32 so no key goes missing.
  LongStorage: { name: 'int64', bytesPerElement: 8, read: (v, at, le) => Number(v.getBigInt64(at, le)) },
  IntStorage: { name: 'int32', bytesPerElement: 4, read: (v, at, le) => v.getInt32(at, le) },
  ShortStorage: { name: 'int16', bytesPerElement: 2, read: (v, at, le) => v.getInt16(at, le) },
  CharStorage: { name: 'int8', bytesPerElement: 1, read: (v, at) => v.getInt8(at) },
  ByteStorage: { name: 'uint8', bytesPerElement: 1, read: (v, at) => v.getUint8(at) },
  BoolStorage: { name: 'bool', bytesPerElement: 1, read: (v, at) => (v.getUint8(at) ? 1 : 0) },
};

/** A persistent-id storage reference; its bytes are read after unpickling. */
export class StorageRef extends PickleHostObject {
  readonly hostType = 'storage';
  constructor(
    readonly key: string,
    readonly dtype: StorageDtype,
    readonly numel: number,
  ) {
    super();
  }
}

/** A strided view of a storage, as `_rebuild_tensor_v2` describes it. */
export class TensorRef extends PickleHostObject {
  readonly hostType = 'tensor';
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {
    super();
  }
}

/** Keys under which training scripts commonly nest the state_dict, tried in this order. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'params'];

function loadStorageRef(id: PickleValue, storages: Map<string, StorageRef>): StorageRef {
  // The legacy format adds a sixth field, view metadata, which is None unless a storage is a view of another.
  const legacyPlain = Array.isArray(id) && id.length === 6 && id[5] === null;
  if (!Array.isArray(id) || !(id.length === 5 || legacyPlain) || id[0] !== 'storage') {
    throw new Error(`unsupported persistent id (a ${describePickleValue(id)}); expected ('storage', type, key, location, numel)`);
  }
  const [, type, key, , numel] = id;
  const dtype = type instanceof PickleGlobal && type.module === 'torch' ? STORAGE_DTYPES[type.name] : undefined;
  if (!dtype) throw new Error(`persistent id names an unsupported storage type (${describePickleValue(type!)})`);
  if (typeof key !== 'string') throw new Error(`storage key is a ${describePickleValue(key!)}, expected a str`);
  const storage = new StorageRef(key, dtype, toCount(numel!, 'storage size'));
  // One storage can back several tensors (views); later references must agree on it.
  const known = storages.get(key);
  if (known && (known.dtype !== dtype || known.numel !== storage.numel)) {
    throw new Error(`storage '${key}' is declared twice with different types or sizes`);
  }
  if (!known) storages.set(key, storage);
  return known ?? storage;
}

/** The allow-list: everything a plain state_dict's pickle refers to, and nothing else. */
const TORCH_GLOBALS: ReadonlyMap<string, PickleGlobal> = new Map(
  [
    new PickleGlobal('collections', 'OrderedDict', (args) => orderedDict(args)),
    new PickleGlobal('torch._utils', '_rebuild_tensor', (args) => rebuildTensor(args)),
    new PickleGlobal('torch._utils', '_rebuild_tensor_v2', (args) => rebuildTensor(args)),
    // Parameters wrap a tensor; requires_grad and hooks mean nothing for inference.
    new PickleGlobal('torch._utils', '_rebuild_parameter', (args) => unwrapTensor(args[0])),
    new PickleGlobal('torch._utils', '_rebuild_parameter_with_state', (args) => unwrapTensor(args[0])),
    // Tensor subclasses: (func, type, args, state) means func(*args) re-typed; the type is irrelevant here.
    new PickleGlobal('torch._tensor', '_rebuild_from_type_v2', (args) => rebuildFromType(args)),
    new PickleGlobal('torch', 'Tensor'),
    new PickleGlobal('torch.nn.parameter', 'Parameter'),
    ...Object.keys(STORAGE_DTYPES).map((name) => new PickleGlobal('torch', name)),
  ].map((global) => [global.qualifiedName, global]),
);

function orderedDict(args: readonly PickleValue[]): PickleDict {
  const dict: PickleDict = new Map();
  const pairs = args[0];
  if (pairs === undefined) return dict;
  if (!Array.isArray(pairs)) throw new Error(`expected a list of (key, value) pairs, got a ${describePickleValue(pairs)}`);
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Error('expected (key, value) pairs');
    dict.set(pair[0]!, pair[1]!);
  }
  return dict;
}

function rebuildTensor(args: readonly PickleValue[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error(`expected a storage, got a ${describePickleValue(storage ?? null)}`);
  const sizes = toCountList(size, 'size');
  const strides = toCountList(stride, 'stride');
  if (sizes.length !== strides.length) {
    throw new Error(`size [${sizes.join(', ')}] and stride [${strides.join(', ')}] differ in rank`);
  }
  return new TensorRef(storage, toCount(offset ?? null, 'storage offset'), sizes, strides);
}

function unwrapTensor(value: PickleValue | undefined): TensorRef {
  if (!(value instanceof TensorRef)) throw new Error(`expected a tensor, got a ${describePickleValue(value ?? null)}`);
  return value;
}

function rebuildFromType(args: readonly PickleValue[]): PickleValue {
  const [func, , funcArgs] = args;
  if (!(func instanceof PickleGlobal) || !func.call) throw new Error(`expected a rebuild function, got a ${describePickleValue(func ?? null)}`);
  if (!Array.isArray(funcArgs)) throw new Error(`expected an argument tuple, got a ${describePickleValue(funcArgs ?? null)}`);
  return func.call(funcArgs);
}

function toCount(value: PickleValue, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${what} must be a non-negative integer, got ${typeof value === 'number' ? value : `a ${describePickleValue(value)}`}`);
  }
  return value;
}

function toCountList(value: PickleValue | undefined, what: string): number[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be a tuple of integers, got a ${describePickleValue(value ?? null)}`);
  return value.map((item) => toCount(item, what));
}

/** The dict that holds the tensors: the root, or one nested in a training checkpoint. */
export function findStateDict(root: PickleValue, sourceName: string): PickleDict {
  const fix = 'Save the weights as a dict: `torch.save(model.state_dict(), path)`.';
  if (!(root instanceof Map)) {
    throw new Error(`${sourceName}: the checkpoint holds a ${describePickleValue(root)}, not a state_dict. ${fix}`);
  }
  const found = locateStateDict(root, MAX_WRAPPER_DEPTH);
  if (found) return found;
  const keys = [...root.keys()].map((key) => (typeof key === 'string' ? `'${key}'` : describePickleValue(key)));
  throw new Error(
    `${sourceName}: found no state_dict: neither the top-level dict (keys ${clipText(keys.join(', ')) || 'none'}) nor a dict ` +
      `nested under ${WRAPPER_KEYS.map((key) => `'${key}'`).join('/')} holds tensors. ${fix}`,
  );
}

const MAX_WRAPPER_DEPTH = 3;

function locateStateDict(dict: PickleDict, depth: number): PickleDict | undefined {
  const holdsTensors = (candidate: PickleDict) => [...candidate.values()].some((value) => value instanceof TensorRef);
  if (holdsTensors(dict)) return dict;
  if (depth === 0) return undefined;
  for (const key of WRAPPER_KEYS) {
    const nested = dict.get(key);
    const found = nested instanceof Map ? locateStateDict(nested, depth - 1) : undefined;
    if (found) return found;
  }
  // An unfamiliar wrapper key is fine as long as the choice is unambiguous.
  const dictsOfTensors = [...dict.values()].filter((value): value is PickleDict => value instanceof Map && holdsTensors(value));
  return dictsOfTensors.length === 1 ? dictsOfTensors[0] : undefined;
}

/** The tensor's values in row-major order, read through its offset and strides. */
export function gatherTensor(tensor: TensorRef, storageBytes: Uint8Array, littleEndian: boolean, context: string): Float32Array {
  const { size, stride, storageOffset } = tensor;
  const count = size.reduce((a, b) => a * b, 1);
  if (count === 0) return new Float32Array(0);
  // Elements the view can touch, from its first element to its furthest one.
  const span = 1 + size.reduce((furthest, n, d) => furthest + (n - 1) * stride[d]!, 0);
  if (storageOffset + span > tensor.storage.numel) {
    throw new Error(
      `${context} reads storage elements up to ${storageOffset + span} but storage '${tensor.storage.key}' holds ` +
        `${tensor.storage.numel}; the file is corrupt`,
    );
  }
  // Only overlapping views (stride 0, as expand() makes) hold more elements than their storage;
  // copying one out would allocate what its size declares, not what the file backs.
  if (count > tensor.storage.numel) {
    throw new Error(
      `${context} is a view of ${count} elements over storage '${tensor.storage.key}' of ${tensor.storage.numel} ` +
        `(overlapping strides [${stride.join(', ')}]); save a copy instead: \`tensor.clone()\` before torch.save`,
    );
  }
  const window = decodeElements(storageBytes, tensor.storage.dtype, storageOffset, span, littleEndian);
  return isRowMajor(size, stride) ? window : gatherStrided(window, size, stride, count);
}

function isRowMajor(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

/** Copies a strided view into a dense row-major array; `source[0]` is the view's first element. */
function gatherStrided(source: Float32Array, size: number[], stride: number[], count: number): Float32Array {
  const result = new Float32Array(count);
  const rank = size.length;
  const innerSize = size[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const position = new Array<number>(rank).fill(0);
  let base = 0;
  let written = 0;
  for (;;) {
    for (let j = 0; j < innerSize; j++) result[written++] = source[base + j * innerStride]!;
    // Advance the outer dimensions like an odometer.
    let d = rank - 2;
    for (; d >= 0; d--) {
      position[d]!++;
      base += stride[d]!;
      if (position[d]! < size[d]!) break;
      base -= stride[d]! * size[d]!;
      position[d] = 0;
    }
    if (d < 0) return result;
  }
}

/** `count` storage elements from `firstElement` on, widened to float32 (always a fresh array). */
function decodeElements(bytes: Uint8Array, dtype: StorageDtype, firstElement: number, count: number, littleEndian: boolean): Float32Array {
  const start = firstElement * dtype.bytesPerElement;
  if (littleEndian && dtype.decodeLittleEndian) return dtype.decodeLittleEndian(bytes, start, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * dtype.bytesPerElement);
  const result = new Float32Array(count);
  for (let i = 0; i < count; i++) result[i] = dtype.read(view, i * dtype.bytesPerElement, littleEndian);
  return result;
}

/** A persistent-id resolver that records each storage once. */
export function storageLoader(storages: Map<string, StorageRef>): (id: PickleValue) => StorageRef {
  return (id) => loadStorageRef(id, storages);
}

/** Unpickles a checkpoint's object through the torch allow-list, turning a refused global into advice. */
export function unpickleCheckpoint(
  bytes: Uint8Array,
  sourceName: string,
  storages: Map<string, StorageRef>,
  part: string,
): { value: PickleValue; bytesRead: number } {
  try {
    return unpicklePrefix(bytes, { sourceName: `${sourceName} (${part})`, allowedGlobals: TORCH_GLOBALS, persistentLoad: storageLoader(storages) });
  } catch (err) {
    if (err instanceof PickleGlobalRefusedError) {
      throw new Error(
        `${sourceName}: refusing to load: the checkpoint refers to '${clipText(err.qualifiedName)}', and pastiche reads only ` +
          `state_dict tensors (it never runs the Python a checkpoint names). If this is a whole pickled model or a ` +
          `TorchScript file, save just the weights: \`torch.save(model.state_dict(), path)\`.`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** The state_dict's tensor entries, in order; entries that aren't tensors are skipped. */
export function stateDictTensors(root: PickleValue, sourceName: string): [string, TensorRef][] {
  return [...findStateDict(root, sourceName)].filter(
    (entry): entry is [string, TensorRef] => typeof entry[0] === 'string' && entry[1] instanceof TensorRef,
  );
}
