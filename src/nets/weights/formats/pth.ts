/**
 * Reads PyTorch checkpoints (`torch.save(state_dict, path)`, PyTorch ≥ 1.6 zip format) into
 * host tensors, without running any of the Python the format could name.
 *
 * The zip holds `<prefix>/data.pkl`, a pickle of the state_dict in which every tensor is
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and every storage is a
 * persistent id `('storage', torch.FloatStorage, key, location, numel)` whose raw
 * little-endian bytes are the entry `<prefix>/data/<key>`.
 *
 * Tensors keep PyTorch's layout (conv weights [out, in, kh, kw]); nets convert what they
 * need with `convOihwToHwio`.
 */
import { bfloat16BitsToFloat32, decodeBfloat16LE, decodeFloat16LE, float16BitsToFloat32 } from '../float16.ts';
import { hostTensor, type HostTensor, type HostTensorMap } from '../host-tensor.ts';
import { decodeFloat32LE } from '../little-endian.ts';
import {
  describePickleValue,
  PickleGlobal,
  PickleGlobalRefusedError,
  PickleHostObject,
  unpickle,
  type PickleDict,
  type PickleValue,
} from './pickle.ts';
import { clipText } from './message-text.ts';
import { looksLikeZip, openZip, type ZipArchive } from './zip-reader.ts';

/** Element types a storage can hold, named by their legacy storage classes. */
interface StorageDtype {
  name: string;
  bytesPerElement: number;
  /** One element, in either byte order. */
  read(view: DataView, byteOffset: number, littleEndian: boolean): number;
  /** A faster bulk path for the common little-endian case, where one exists. */
  decodeLittleEndian?: (bytes: Uint8Array, byteOffset: number, count: number) => Float32Array;
}

const STORAGE_DTYPES: Record<string, StorageDtype> = {
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
class StorageRef extends PickleHostObject {
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
class TensorRef extends PickleHostObject {
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

const LEGACY_FORMAT_FIX =
  'Re-save it with PyTorch ≥ 1.6: `torch.save(torch.load(old_path), new_path)` ' +
  '(a state_dict: `torch.save(model.state_dict(), path)`).';

/**
 * Reads every tensor of a state_dict `.pth` file, keyed as in the state_dict, converted to
 * float32 and kept in PyTorch layout. A state_dict nested under `state_dict`, `model` etc. is
 * unwrapped; entries that aren't tensors are skipped.
 */
export async function readPth(bytes: Uint8Array, sourceName = 'checkpoint'): Promise<HostTensorMap> {
  rejectNonZipFormats(bytes, sourceName);
  const zip = openZip(bytes, { sourceName });
  const pickleName = findDataPickle(zip, sourceName);
  const prefix = pickleName.slice(0, pickleName.length - 'data.pkl'.length);
  const littleEndian = await readByteOrder(zip, prefix, sourceName);

  const storages = new Map<string, StorageRef>();
  let root: PickleValue;
  try {
    root = unpickle(await zip.read(pickleName), {
      sourceName: `${sourceName} (${pickleName})`,
      allowedGlobals: TORCH_GLOBALS,
      persistentLoad: (id) => loadStorageRef(id, storages),
    });
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

  const stateDict = findStateDict(root, sourceName);
  const tensorRefs = [...stateDict].filter(
    (entry): entry is [string, TensorRef] => typeof entry[0] === 'string' && entry[1] instanceof TensorRef,
  );
  // Storage bytes are cached while views of them remain, then dropped, so inflated
  // (DEFLATE) storages don't all stay in memory at once.
  const viewsLeft = new Map<string, number>();
  for (const [, tensor] of tensorRefs) viewsLeft.set(tensor.storage.key, (viewsLeft.get(tensor.storage.key) ?? 0) + 1);
  const storageBytes = new Map<string, Uint8Array>();

  const tensors: HostTensorMap = new Map();
  for (const [key, value] of tensorRefs) {
    const storageKey = value.storage.key;
    const bytes = storageBytes.get(storageKey) ?? (await readStorageBytes(zip, prefix, value.storage, sourceName));
    const remaining = viewsLeft.get(storageKey)! - 1;
    viewsLeft.set(storageKey, remaining);
    if (remaining > 0) storageBytes.set(storageKey, bytes);
    else storageBytes.delete(storageKey);
    const data = gatherTensor(value, bytes, littleEndian, `${sourceName}: tensor '${clipText(key)}'`);
    tensors.set(key, hostTensor(value.size, data));
  }
  return tensors;
}

/**
 * Converts a PyTorch conv kernel [out, in, kh, kw] to pastiche's HWIO [kh, kw, in, out].
 * The same permutation turns a ConvTranspose2d kernel [in, out, kh, kw] into [kh, kw, out, in],
 * which is pastiche's transposed-conv layout.
 */
export function convOihwToHwio(t: HostTensor): HostTensor {
  if (t.shape.length !== 4) {
    throw new Error(`convOihwToHwio: expected a 4-D [out, in, kh, kw] kernel, got shape [${t.shape.join(', ')}]`);
  }
  const [outs, ins, height, width] = t.shape as [number, number, number, number];
  const result = new Float32Array(t.data.length);
  let from = 0;
  for (let o = 0; o < outs; o++) {
    for (let i = 0; i < ins; i++) {
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          result[((h * width + w) * ins + i) * outs + o] = t.data[from++]!;
        }
      }
    }
  }
  return hostTensor([height, width, ins, outs], result);
}

function rejectNonZipFormats(bytes: Uint8Array, sourceName: string): void {
  if (looksLikeZip(bytes)) return;
  const PICKLE_PROTO = 0x80;
  if (bytes.length > 0 && bytes[0] === PICKLE_PROTO) {
    throw new Error(`${sourceName}: this is a legacy (pre-1.6, non-zip) torch.save file, which pastiche can't read. ${LEGACY_FORMAT_FIX}`);
  }
  const isTar = bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar';
  if (isTar) {
    throw new Error(`${sourceName}: this is a very old tar-format torch.save file, which pastiche can't read. ${LEGACY_FORMAT_FIX}`);
  }
  const isSafetensors = bytes.length >= 9 && bytes[8] === 0x7b; // 8-byte header length, then '{'
  const hint = isSafetensors ? ' It looks like a .safetensors file; load it with the safetensors reader.' : '';
  throw new Error(
    `${sourceName}: not a PyTorch checkpoint: it doesn't start with a zip signature ` +
      `(${bytes.length === 0 ? 'the file is empty' : 'wrong file, or cut short at the start'}).${hint}`,
  );
}

/** `torch.save` puts the pickle at `<prefix>/data.pkl`, the prefix being the archive's name. */
function findDataPickle(zip: ZipArchive, sourceName: string): string {
  const candidates = [...zip.entries.keys()].filter((name) => /^([^/]+\/)?data\.pkl$/.test(name));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    throw new Error(`${sourceName}: the zip has no '<name>/data.pkl', so it isn't a torch.save checkpoint`);
  }
  throw new Error(`${sourceName}: the zip holds several checkpoints (${candidates.join(', ')}); save one state_dict per file`);
}

async function readByteOrder(zip: ZipArchive, prefix: string, sourceName: string): Promise<boolean> {
  const name = `${prefix}byteorder`;
  if (!zip.has(name)) return true; // Written only since PyTorch 1.12; earlier files are little-endian.
  const order = new TextDecoder().decode(await zip.read(name)).trim();
  if (order !== 'little' && order !== 'big') {
    throw new Error(`${sourceName}: '${name}' says '${order}', expected 'little' or 'big'`);
  }
  return order === 'little';
}

function loadStorageRef(id: PickleValue, storages: Map<string, StorageRef>): StorageRef {
  if (!Array.isArray(id) || id.length !== 5 || id[0] !== 'storage') {
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
function findStateDict(root: PickleValue, sourceName: string): PickleDict {
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

async function readStorageBytes(zip: ZipArchive, prefix: string, storage: StorageRef, sourceName: string): Promise<Uint8Array> {
  const name = `${prefix}data/${storage.key}`;
  if (!zip.has(name)) {
    throw new Error(`${sourceName}: the pickle refers to storage '${storage.key}' but the zip has no '${name}'; the file is incomplete`);
  }
  const bytes = await zip.read(name);
  const needed = storage.numel * storage.dtype.bytesPerElement;
  if (bytes.length < needed) {
    throw new Error(
      `${sourceName}: '${name}' holds ${bytes.length} bytes but ${storage.numel} ${storage.dtype.name} values need ${needed}; the file is corrupt`,
    );
  }
  return bytes;
}

/** The tensor's values in row-major order, read through its offset and strides. */
function gatherTensor(tensor: TensorRef, storageBytes: Uint8Array, littleEndian: boolean, context: string): Float32Array {
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
