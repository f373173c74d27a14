/**
 * Reads the legacy (pre-1.6, non-zip) `torch.save` layout: a stream of pickles, then raw storages.
 *
 *   pickle 1  the magic number 0x1950a86a20f9469cfc6c
 *   pickle 2  the protocol version, 1001
 *   pickle 3  system info: {'protocol_version', 'little_endian', 'type_sizes'}
 *   pickle 4  the object (a state_dict, possibly wrapped), storages as persistent ids
 *   pickle 5  the list of storage keys, in the order their bytes follow
 *   then per key: an int64 element count and that many elements
 *
 * The object pickle goes through the same allow-list as the zip format (`torch-pickle.ts`):
 * nothing the file names is ever run.
 */
import { hostTensor, type HostTensorMap } from '../host-tensor.ts';
import { clipText } from './message-text.ts';
import { describePickleValue, unpicklePrefix, type PickleValue } from './pickle.ts';
import { gatherTensor, stateDictTensors, unpickleCheckpoint, type StorageRef } from './torch-pickle.ts';

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;
/** PROTO 2, then LONG1 with 10 bytes: how every legacy file begins. */
const LEADING_BYTES = [0x80, 0x02, 0x8a, 0x0a];

/** True when the bytes begin like a legacy torch.save stream (the magic number's pickle). */
export function looksLikeLegacyTorch(bytes: Uint8Array): boolean {
  return LEADING_BYTES.every((byte, i) => bytes[i] === byte);
}

/** Every tensor of a legacy `torch.save` state_dict, float32, PyTorch layout, keyed as in the state_dict. */
export function readLegacyTorch(bytes: Uint8Array, sourceName = 'checkpoint'): HostTensorMap {
  const reader = new LegacyStream(bytes, sourceName);
  const magic = reader.plainPickle('the magic number');
  if (magic !== MAGIC_NUMBER) {
    throw new Error(`${sourceName}: not a torch.save file: it starts with a pickle but not with torch's magic number`);
  }
  const version = reader.plainPickle('the protocol version');
  if (version !== PROTOCOL_VERSION) {
    throw new Error(`${sourceName}: legacy torch.save protocol version ${describeValue(version)}; pastiche reads version ${PROTOCOL_VERSION}`);
  }
  const littleEndian = readByteOrder(reader.plainPickle('the system info'), sourceName);

  const storages = new Map<string, StorageRef>();
  const root = reader.checkpointPickle(storages);
  const keys = reader.plainPickle('the storage key list');
  if (!Array.isArray(keys) || !keys.every((key): key is string => typeof key === 'string')) {
    throw new Error(`${sourceName}: the storage key list is a ${describePickleValue(keys)}, expected a list of str`);
  }

  const storageBytes = new Map<string, Uint8Array>();
  for (const key of keys) {
    const storage = storages.get(key);
    if (!storage) throw new Error(`${sourceName}: storage '${key}' has bytes in the file but no tensor refers to it; the file is corrupt`);
    const numel = reader.int64(littleEndian, `the element count of storage '${key}'`);
    if (numel !== storage.numel) {
      throw new Error(`${sourceName}: storage '${key}' holds ${numel} elements but the pickle declares ${storage.numel}; the file is corrupt`);
    }
    storageBytes.set(key, reader.take(numel * storage.dtype.bytesPerElement, `the data of storage '${key}'`));
  }
  if (reader.remaining > 0) {
    throw new Error(`${sourceName}: ${reader.remaining} unexpected bytes after the last storage; the file is corrupt or not a single torch.save`);
  }

  const tensors: HostTensorMap = new Map();
  for (const [key, tensor] of stateDictTensors(root, sourceName)) {
    const data = storageBytes.get(tensor.storage.key);
    if (!data) throw new Error(`${sourceName}: tensor '${clipText(key)}' refers to storage '${tensor.storage.key}', which the file doesn't hold`);
    tensors.set(key, hostTensor(tensor.size, gatherTensor(tensor, data, littleEndian, `${sourceName}: tensor '${clipText(key)}'`)));
  }
  return tensors;
}

/** A cursor over the stream, with each read bounds-checked and named in its error. */
class LegacyStream {
  private position = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly sourceName: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  /** A pickle that may name no global and hold no storage (header and trailer pickles). */
  plainPickle(what: string): PickleValue {
    const { value, bytesRead } = unpicklePrefix(this.bytes.subarray(this.position), { sourceName: `${this.sourceName} (${what})` });
    this.position += bytesRead;
    return value;
  }

  checkpointPickle(storages: Map<string, StorageRef>): PickleValue {
    const { value, bytesRead } = unpickleCheckpoint(this.bytes.subarray(this.position), this.sourceName, storages, 'the object');
    this.position += bytesRead;
    return value;
  }

  int64(littleEndian: boolean, what: string): number {
    const at = this.claim(8, what);
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + at, 8).getBigInt64(0, littleEndian);
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.sourceName}: ${what} is ${value}; the file is corrupt`);
    return Number(value);
  }

  take(count: number, what: string): Uint8Array {
    const at = this.claim(count, what);
    return this.bytes.subarray(at, at + count);
  }

  private claim(count: number, what: string): number {
    if (count > this.remaining) {
      throw new Error(`${this.sourceName}: the file ends inside ${what} (needs ${count} bytes, has ${this.remaining}); it is truncated`);
    }
    const at = this.position;
    this.position += count;
    return at;
  }
}

function readByteOrder(info: PickleValue, sourceName: string): boolean {
  const flag = info instanceof Map ? info.get('little_endian') : undefined;
  if (typeof flag !== 'boolean') {
    throw new Error(`${sourceName}: the system info pickle has no 'little_endian' flag (found a ${describePickleValue(info)}); the file is corrupt`);
  }
  return flag;
}

function describeValue(value: PickleValue): string {
  return typeof value === 'number' || typeof value === 'bigint' ? String(value) : `a ${describePickleValue(value)}`;
}
