/**
 * The safetensors container (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON describing each tensor ({dtype, shape, data_offsets} relative to
 * the data section, plus optional string "__metadata__"), then the raw little-endian tensor data.
 * Pure byte-in/byte-out so it runs in the browser as well as in Node.
 */
import { decodeBfloat16LE, decodeFloat16LE, encodeFloat16LE } from '../float16.ts';
import { hostTensor, type HostTensor, type HostTensorMap } from '../host-tensor.ts';
import { decodeFloat32LE, encodeFloat32LE } from '../little-endian.ts';
import { clipText } from './message-text.ts';

export interface SafetensorsContents {
  tensors: HostTensorMap;
  metadata: Record<string, string>;
}

export interface SerializeSafetensorsOptions {
  /** Storage precision on disk; values are always float32 in memory. Default 'f32'. */
  dtype?: 'f32' | 'f16';
  metadata?: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
const BYTES_PER_ELEMENT: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

interface TensorHeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses a safetensors file; F16 and BF16 tensors are widened to float32. */
export function parseSafetensors(bytes: Uint8Array, sourceName = 'safetensors data'): SafetensorsContents {
  const fail = (problem: string): never => {
    throw new Error(`${sourceName}: not a valid safetensors file: ${clipText(problem)}`);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, fewer than the 8-byte header length`);

  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(`header length ${headerLength} runs past the end of the ${bytes.length}-byte file (truncated or not safetensors)`);
  }
  const dataStart = 8 + Number(headerLength);
  const header = parseHeaderJson(bytes.subarray(8, dataStart), fail);
  const dataLength = bytes.length - dataStart;

  const metadata = readMetadata(header[METADATA_KEY], fail);
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, raw]) => readTensorEntry(name, raw, dataLength, fail));

  // The format requires the data section to be covered exactly: no overlaps, holes or trailing bytes.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let previous: TensorHeaderEntry | null = null;
  for (const entry of byOffset) {
    if (entry.begin < expectedBegin) {
      fail(`tensor "${entry.name}" bytes [${entry.begin}, ${entry.end}) overlap tensor "${previous?.name}" bytes [${previous?.begin}, ${previous?.end})`);
    }
    if (entry.begin > expectedBegin) {
      fail(`bytes [${expectedBegin}, ${entry.begin}) of the data section before tensor "${entry.name}" belong to no tensor`);
    }
    expectedBegin = entry.end;
    previous = entry;
  }
  if (expectedBegin !== dataLength) {
    fail(`the data section has ${dataLength} bytes but its tensors cover only ${expectedBegin} (trailing bytes)`);
  }

  const tensors: HostTensorMap = new Map();
  for (const entry of entries) {
    tensors.set(entry.name, decodeTensor(bytes, dataStart, entry));
  }
  return { tensors, metadata };
}

function parseHeaderJson(headerBytes: Uint8Array, fail: (problem: string) => never): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`the header is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    return fail('the header JSON is not an object');
  }
  return header as Record<string, unknown>;
}

function readMetadata(raw: unknown, fail: (problem: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`"${METADATA_KEY}" is not an object`);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') fail(`"${METADATA_KEY}.${key}" is not a string`);
    metadata[key] = value as string;
  }
  return metadata;
}

function readTensorEntry(
  name: string,
  raw: unknown,
  dataLength: number,
  fail: (problem: string) => never,
): TensorHeaderEntry {
  if (typeof raw !== 'object' || raw === null) fail(`tensor "${name}" has no {dtype, shape, data_offsets} entry`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(`tensor "${name}" has no dtype`);
  const bytesPerElement = BYTES_PER_ELEMENT[dtype as string];
  if (bytesPerElement === undefined) {
    fail(`tensor "${name}" has dtype ${String(dtype)}; supported are ${Object.keys(BYTES_PER_ELEMENT).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor "${name}" shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    fail(`tensor "${name}" data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    fail(`tensor "${name}" data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section (truncated file?)`);
  }
  const dims = shape as number[];
  const elementCount = dims.reduce((a, b) => a * b, 1);
  if (elementCount * bytesPerElement! !== end - begin) {
    fail(`tensor "${name}" ${dtype} shape [${dims.join(', ')}] needs ${elementCount * bytesPerElement!} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype: dtype as string, shape: dims, begin, end };
}

function decodeTensor(bytes: Uint8Array, dataStart: number, entry: TensorHeaderEntry): HostTensor {
  const offset = dataStart + entry.begin;
  const count = (entry.end - entry.begin) / BYTES_PER_ELEMENT[entry.dtype]!;
  switch (entry.dtype) {
    case 'F32':
      return hostTensor(entry.shape, decodeFloat32LE(bytes, offset, count));
    case 'F16':
      return hostTensor(entry.shape, decodeFloat16LE(bytes, offset, count));
    default: // BF16, the only other dtype readTensorEntry accepts
      return hostTensor(entry.shape, decodeBfloat16LE(bytes, offset, count));
  }
}

/** Writes tensors (in map order) as a safetensors file, f32 or f16 on disk. */
export function serializeSafetensors(tensors: HostTensorMap, opts: SerializeSafetensorsOptions = {}): Uint8Array {
  const dtype = opts.dtype ?? 'f32';
  const header: Record<string, unknown> = {};
  if (opts.metadata !== undefined && Object.keys(opts.metadata).length > 0) {
    header[METADATA_KEY] = { ...opts.metadata };
  }
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === METADATA_KEY) throw new Error(`serializeSafetensors: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (expected !== tensor.data.length) {
      throw new Error(`serializeSafetensors: tensor "${name}" shape [${tensor.shape.join(', ')}] holds ${expected} values but its data has ${tensor.data.length}`);
    }
    const payload = dtype === 'f16' ? encodeFloat16LE(tensor.data) : encodeFloat32LE(tensor.data);
    header[name] = {
      dtype: dtype === 'f16' ? 'F16' : 'F32',
      shape: tensor.shape,
      data_offsets: [offset, offset + payload.length],
    };
    payloads.push(payload);
    offset += payload.length;
  }

  // Pad the JSON with spaces so the data section starts 8-byte aligned (the format recommends it).
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padding = (8 - ((8 + headerBytes.length) % 8)) % 8;
  if (padding > 0) {
    const padded = new Uint8Array(headerBytes.length + padding).fill(0x20);
    padded.set(headerBytes);
    headerBytes = padded;
  }

  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const payload of payloads) {
    out.set(payload, position);
    position += payload.length;
  }
  return out;
}
