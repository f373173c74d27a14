/**
 * Builds PyTorch-style `.pth` files byte by byte for tests: a small pickle emitter, a ZIP
 * writer (STORED or DEFLATE entries, real CRC-32s, optional ZIP64 records), and a helper that
 * writes a state_dict pickle the way `torch.save` (protocol 2) lays it out.
 * Independent of the reader under test: CRCs and DEFLATE come from node:zlib.
 */
import { crc32, deflateRawSync } from 'node:zlib';

/** Emits pickle opcodes one by one; each method writes exactly the opcode it names. */
export class PickleEmitter {
  private readonly out: number[] = [];
  private memoCount = 0;

  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  proto(version = 2): this {
    return this.raw(0x80, version);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  mark(): this {
    return this.raw(0x28);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(value: boolean): this {
    return this.raw(value ? 0x88 : 0x89);
  }
  /** BININT1, BININT2 or BININT, whichever fits, as Python's pickler chooses. */
  int(value: number): this {
    if (value >= 0 && value < 0x100) return this.raw(0x4b, value);
    if (value >= 0 && value < 0x10000) return this.raw(0x4d, value & 0xff, value >> 8);
    return this.raw(0x4a, ...le(value, 4));
  }
  /** LONG1 with a little-endian two's-complement body. */
  long1(value: bigint): this {
    const body: number[] = [];
    let rest = value;
    do {
      body.push(Number(rest & 0xffn));
      rest >>= 8n;
    } while (!((rest === 0n && (body[body.length - 1]! & 0x80) === 0) || (rest === -1n && (body[body.length - 1]! & 0x80) !== 0)));
    return this.raw(0x8a, body.length, ...body);
  }
  float(value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, false);
    return this.raw(0x47, ...bytes);
  }
  /** SHORT_BINUNICODE when short (protocol 4 style), else BINUNICODE as protocol 2 writes. */
  str(value: string, opcode: 'BINUNICODE' | 'SHORT_BINUNICODE' = 'BINUNICODE'): this {
    const utf8 = new TextEncoder().encode(value);
    if (opcode === 'SHORT_BINUNICODE') return this.raw(0x8c, utf8.length, ...utf8);
    return this.raw(0x58, ...le(utf8.length, 4), ...utf8);
  }
  /** Text GLOBAL: 'c' module '\n' name '\n'. */
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  stackGlobal(): this {
    return this.raw(0x93);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  /** TUPLE1..3 for small tuples; TUPLE closes the last MARK. */
  tuple(count?: 1 | 2 | 3): this {
    return count === undefined ? this.raw(0x74) : this.raw(0x84 + count);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  appends(): this {
    return this.raw(0x65);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  build(): this {
    return this.raw(0x62);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  /** BINPUT into the next memo slot; returns the slot through `slot`. */
  put(slot?: (index: number) => void): this {
    const index = this.memoCount++;
    slot?.(index);
    return index < 0x100 ? this.raw(0x71, index) : this.raw(0x72, ...le(index, 4));
  }
  get(index: number): this {
    return index < 0x100 ? this.raw(0x68, index) : this.raw(0x6a, ...le(index, 4));
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

function le(value: number, width: number): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < width; i++) bytes.push(Number((BigInt(value) >> BigInt(8 * i)) & 0xffn));
  return bytes;
}

export type StorageType = 'FloatStorage' | 'HalfStorage' | 'DoubleStorage' | 'BFloat16Storage' | 'LongStorage';

export interface TensorSpec {
  storageKey: string;
  storageType: StorageType;
  /** Elements in the whole storage, as the persistent id records it. */
  storageNumel: number;
  offset: number;
  size: number[];
  stride: number[];
  /** Wrap in `_rebuild_parameter`, as an nn.Parameter pickles. */
  asParameter?: boolean;
}

/** A state_dict entry: a tensor, or a plain value (which readers should skip). */
export type EntrySpec = TensorSpec | number | string;

/**
 * Emits `OrderedDict([...entries])` the way torch.save does: REDUCE on OrderedDict, SETITEMS,
 * storages memoized so a second view of the same storage is a BINGET, then BUILD with the
 * `_metadata` attribute. `wrapKey` nests it as `{wrapKey: state_dict, 'epoch': 7}`.
 */
export function stateDictPickle(entries: Array<[string, EntrySpec]>, options: { wrapKey?: string } = {}): Uint8Array {
  const p = new PickleEmitter().proto(2);
  if (options.wrapKey) p.emptyDict().put().mark().str(options.wrapKey);
  p.global('collections', 'OrderedDict').put().emptyTuple().reduce().put().mark();
  const storageSlots = new Map<string, number>();
  for (const [key, value] of entries) {
    p.str(key).put();
    if (typeof value === 'number') p.int(value);
    else if (typeof value === 'string') p.str(value).put();
    else emitTensor(p, value, storageSlots).put();
  }
  p.setitems();
  // state_dict()'s `_metadata` attribute arrives through BUILD; readers must tolerate it.
  p.emptyDict().put().str('_metadata').global('collections', 'OrderedDict').put().emptyTuple().reduce().put();
  p.setitem().build();
  if (options.wrapKey) p.str('epoch').int(7).str('optimizer').emptyDict().put().setitems();
  return p.stop().bytes();
}

function emitTensor(p: PickleEmitter, t: TensorSpec, storageSlots: Map<string, number>): PickleEmitter {
  if (t.asParameter) p.global('torch._utils', '_rebuild_parameter').put().mark();
  p.global('torch._utils', '_rebuild_tensor_v2').put().mark();
  const known = storageSlots.get(t.storageKey);
  if (known !== undefined) {
    p.get(known);
  } else {
    p.mark().str('storage').put().global('torch', t.storageType).put().str(t.storageKey).put().str('cpu').put();
    p.int(t.storageNumel).tuple().put().binpersid().put((slot) => storageSlots.set(t.storageKey, slot));
  }
  p.int(t.offset);
  intTuple(p, t.size).put();
  intTuple(p, t.stride).put().bool(false);
  p.global('collections', 'OrderedDict').put().emptyTuple().reduce().put();
  p.tuple().reduce();
  if (t.asParameter) p.put().bool(true).global('collections', 'OrderedDict').put().emptyTuple().reduce().put().tuple().reduce();
  return p;
}

/** A tuple of ints in the opcodes Python's pickler picks: EMPTY_TUPLE, TUPLE1..3, or MARK..TUPLE. */
function intTuple(p: PickleEmitter, items: number[]): PickleEmitter {
  if (items.length === 0) return p.emptyTuple();
  if (items.length > 3) p.mark();
  for (const item of items) p.int(item);
  return items.length > 3 ? p.tuple() : p.tuple(items.length as 1 | 2 | 3);
}

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
  /** Store DEFLATE-compressed instead of STORED. */
  deflate?: boolean;
}

export interface ZipOptions {
  /** Pad local headers (with an extra field, as PyTorch does) so each entry's data starts at a multiple of this. */
  alignData?: number;
  /** Add ZIP64 end records and saturate the classic EOCD so readers must use the ZIP64 ones. */
  zip64?: boolean;
}

/** Writes a ZIP archive: local headers + data, central directory, end records. */
export function buildZip(files: ZipFileSpec[], options: ZipOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const push = (chunk: Uint8Array) => {
    chunks.push(chunk);
    offset += chunk.length;
  };
  const central: Uint8Array[] = [];
  for (const file of files) {
    const name = new TextEncoder().encode(file.name);
    const stored = file.deflate ? deflateRawSync(file.data) : file.data;
    const method = file.deflate ? 8 : 0;
    const crc = crc32(file.data);
    const headerOffset = offset;
    let extra = new Uint8Array(0);
    if (options.alignData) {
      const unpadded = offset + 30 + name.length + 4;
      const padding = (options.alignData - (unpadded % options.alignData)) % options.alignData;
      extra = new Uint8Array(4 + padding);
      new DataView(extra.buffer).setUint16(0, 0x4246, true); // 'FB', PyTorch's padding field id
      new DataView(extra.buffer).setUint16(2, padding, true);
    }
    const local = new Uint8Array(30 + name.length + extra.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint16(12, 0x21, true); // 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, stored.length, true);
    lv.setUint32(22, file.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra.length, true);
    local.set(name, 30);
    local.set(extra, 30 + name.length);
    push(local);
    push(stored);

    const entry = new Uint8Array(46 + name.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, method, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, stored.length, true);
    cv.setUint32(24, file.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, headerOffset, true);
    entry.set(name, 46);
    central.push(entry);
  }
  const directoryOffset = offset;
  for (const entry of central) push(entry);
  const directorySize = offset - directoryOffset;

  if (options.zip64) {
    const record = new Uint8Array(56);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(files.length), true);
    rv.setBigUint64(32, BigInt(files.length), true);
    rv.setBigUint64(40, BigInt(directorySize), true);
    rv.setBigUint64(48, BigInt(directoryOffset), true);
    const recordOffset = offset;
    push(record);
    const locator = new Uint8Array(20);
    const xv = new DataView(locator.buffer);
    xv.setUint32(0, 0x07064b50, true);
    xv.setBigUint64(8, BigInt(recordOffset), true);
    xv.setUint32(16, 1, true);
    push(locator);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, options.zip64 ? 0xffff : files.length, true);
  ev.setUint16(10, options.zip64 ? 0xffff : files.length, true);
  ev.setUint32(12, options.zip64 ? 0xffffffff : directorySize, true);
  ev.setUint32(16, options.zip64 ? 0xffffffff : directoryOffset, true);
  push(end);

  const result = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    result.set(chunk, at);
    at += chunk.length;
  }
  return result;
}

export interface PthSpec {
  pickle: Uint8Array;
  /** Raw storage bytes by storage key. */
  storages: Record<string, Uint8Array>;
  /** The archive folder name; torch uses the file's stem or 'archive'. */
  prefix?: string;
  /** Entry names (relative to the prefix, e.g. 'data/0' or 'data.pkl') to DEFLATE. */
  deflate?: string[];
  byteorder?: 'little' | 'big';
  zip?: ZipOptions;
}

/** A torch.save-style archive: `<prefix>/data.pkl`, `<prefix>/data/<key>`, version files. */
export function buildPth(spec: PthSpec): Uint8Array {
  const prefix = spec.prefix ?? 'archive';
  const deflated = new Set(spec.deflate ?? []);
  const files: ZipFileSpec[] = [{ name: 'data.pkl', data: spec.pickle }];
  if (spec.byteorder) files.push({ name: 'byteorder', data: new TextEncoder().encode(spec.byteorder) });
  for (const [key, data] of Object.entries(spec.storages)) files.push({ name: `data/${key}`, data });
  files.push({ name: 'version', data: new TextEncoder().encode('3\n') });
  return buildZip(
    files.map((file) => ({ name: `${prefix}/${file.name}`, data: file.data, deflate: deflated.has(file.name) })),
    spec.zip ?? { alignData: 64 },
  );
}

export function float32Bytes(values: number[], littleEndian = true): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, littleEndian));
  return bytes;
}

export function float64Bytes(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return bytes;
}

/** Raw 16-bit patterns (f16 or bf16), little-endian. */
export function uint16Bytes(bits: number[]): Uint8Array {
  const bytes = new Uint8Array(bits.length * 2);
  const view = new DataView(bytes.buffer);
  bits.forEach((b, i) => view.setUint16(i * 2, b, true));
  return bytes;
}

export function int64Bytes(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}
