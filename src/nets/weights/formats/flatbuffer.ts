/**
 * A minimal, bounds-checked reader for FlatBuffers binaries (read-only, schema-less).
 *
 * Layout reminders (all little-endian):
 *   - the file starts with a uoffset (u32) to the root table, optionally followed by a 4-byte
 *     file identifier;
 *   - a table starts with an soffset (i32); `table - soffset` is its vtable;
 *   - a vtable is [u16 vtableBytes, u16 tableBytes, u16 fieldOffset...]; a field offset of 0
 *     (or a field id past the vtable's end) means "absent, use the default";
 *   - references (tables, strings, vectors) are stored as a u32 relative to where they are stored;
 *   - vectors and strings start with a u32 element count.
 *
 * Every access checks its byte range, so a truncated or corrupt file fails with an error that
 * names the field path being read instead of returning garbage. Pure: Uint8Array in, no Node APIs.
 */

export class FlatbufferError extends Error {
  /** The problem without the `flatbuffer <source>:` prefix, for callers that name the file themselves. */
  readonly detail: string;

  constructor(sourceName: string, detail: string) {
    super(`flatbuffer ${sourceName}: ${detail}`);
    this.name = 'FlatbufferError';
    this.detail = detail;
  }
}

/** Scalar element kinds a vector or field may hold, with their byte widths. */
export type ScalarKind = 'int8' | 'uint8' | 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

const SCALAR_BYTES: Record<ScalarKind, number> = {
  int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4, float64: 8,
};

/** Owns the bytes and the checks; tables, vectors and structs are positions into it. */
export class FlatbufferBuffer {
  readonly bytes: Uint8Array;
  readonly sourceName: string;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, sourceName = 'flatbuffer') {
    this.bytes = bytes;
    this.sourceName = sourceName;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  /** The 4 bytes after the root offset, as ASCII; '' if the file is too short to hold them. */
  fileIdentifier(): string {
    if (this.length < 8) return '';
    return String.fromCharCode(...this.bytes.subarray(4, 8));
  }

  rootTable(name = 'root'): FlatTable {
    return new FlatTable(this, this.followOffset(0, name), name);
  }

  /** Throws unless [position, position + size) lies inside the buffer. */
  check(position: number, size: number, what: string): void {
    if (!Number.isInteger(position) || position < 0 || size < 0 || position + size > this.length) {
      throw new FlatbufferError(
        this.sourceName,
        `${what} needs bytes [${position}, ${position + size}) ` +
          `but the file is ${this.length} bytes (truncated or corrupt?)`,
      );
    }
  }

  scalar(kind: ScalarKind, position: number, what: string): number {
    this.check(position, SCALAR_BYTES[kind], what);
    const v = this.view;
    switch (kind) {
      case 'int8': return v.getInt8(position);
      case 'uint8': return v.getUint8(position);
      case 'bool': return v.getUint8(position) !== 0 ? 1 : 0;
      case 'int16': return v.getInt16(position, true);
      case 'uint16': return v.getUint16(position, true);
      case 'int32': return v.getInt32(position, true);
      case 'uint32': return v.getUint32(position, true);
      case 'int64': return this.safeNumber(v.getBigInt64(position, true), what);
      case 'uint64': return this.safeNumber(v.getBigUint64(position, true), what);
      case 'float32': return v.getFloat32(position, true);
      case 'float64': return v.getFloat64(position, true);
    }
  }

  /** Resolves the uoffset stored at `position` to the absolute position it points at. */
  followOffset(position: number, what: string): number {
    const relative = this.scalar('uint32', position, `${what} (offset)`);
    const target = position + relative;
    this.check(target, 4, what);
    return target;
  }

  private safeNumber(value: bigint, what: string): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new FlatbufferError(this.sourceName, `${what} = ${value} does not fit a JS number`);
    }
    return Number(value);
  }
}

/** A table: fields addressed by their schema id (declaration order, unions take two ids). */
export class FlatTable {
  readonly buffer: FlatbufferBuffer;
  readonly position: number;
  /** Human-readable field path (e.g. `Model.subgraphs[0].tensors[3]`) used in error messages. */
  readonly path: string;
  private readonly vtable: number;
  private readonly vtableBytes: number;
  private readonly tableBytes: number;

  constructor(buffer: FlatbufferBuffer, position: number, path: string) {
    this.buffer = buffer;
    this.position = position;
    this.path = path;
    this.vtable = position - buffer.scalar('int32', position, `${path} (vtable offset)`);
    this.vtableBytes = buffer.scalar('uint16', this.vtable, `${path} (vtable size)`);
    this.tableBytes = buffer.scalar('uint16', this.vtable + 2, `${path} (table size)`);
    if (this.vtableBytes < 4 || this.vtableBytes % 2 !== 0) {
      throw new FlatbufferError(buffer.sourceName, `${path} has a malformed vtable (size ${this.vtableBytes})`);
    }
    buffer.check(this.vtable, this.vtableBytes, `${path} (vtable)`);
    buffer.check(position, this.tableBytes, `${path} (table body)`);
  }

  /** Absolute position of a field's inline data, or undefined when the field is absent. */
  fieldPosition(fieldId: number): number | undefined {
    const slot = 4 + 2 * fieldId;
    if (slot + 2 > this.vtableBytes) return undefined;
    const offset = this.buffer.scalar('uint16', this.vtable + slot, `${this.path} field ${fieldId} (vtable slot)`);
    if (offset === 0) return undefined;
    if (offset >= this.tableBytes) {
      throw new FlatbufferError(
        this.buffer.sourceName,
        `${this.path} field ${fieldId} points past the table body (${offset} >= ${this.tableBytes})`,
      );
    }
    return this.position + offset;
  }

  has(fieldId: number): boolean {
    return this.fieldPosition(fieldId) !== undefined;
  }

  scalar(fieldId: number, kind: ScalarKind, defaultValue: number): number {
    const at = this.fieldPosition(fieldId);
    return at === undefined ? defaultValue : this.buffer.scalar(kind, at, this.fieldName(fieldId));
  }

  int8(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'int8', defaultValue); }
  uint8(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'uint8', defaultValue); }
  int16(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'int16', defaultValue); }
  uint16(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'uint16', defaultValue); }
  int32(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'int32', defaultValue); }
  uint32(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'uint32', defaultValue); }
  int64(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'int64', defaultValue); }
  uint64(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'uint64', defaultValue); }
  float32(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'float32', defaultValue); }
  float64(fieldId: number, defaultValue = 0): number { return this.scalar(fieldId, 'float64', defaultValue); }
  bool(fieldId: number, defaultValue = false): boolean { return this.scalar(fieldId, 'bool', defaultValue ? 1 : 0) !== 0; }

  string(fieldId: number): string | undefined {
    const bytes = this.bytesVector(fieldId, `field ${fieldId} (string)`);
    return bytes === undefined ? undefined : new TextDecoder('utf-8').decode(bytes);
  }

  table(fieldId: number, name = `field ${fieldId}`): FlatTable | undefined {
    const at = this.fieldPosition(fieldId);
    if (at === undefined) return undefined;
    const path = `${this.path}.${name}`;
    return new FlatTable(this.buffer, this.buffer.followOffset(at, path), path);
  }

  vector(fieldId: number, name = `field ${fieldId}`): FlatVector | undefined {
    const at = this.fieldPosition(fieldId);
    if (at === undefined) return undefined;
    const path = `${this.path}.${name}`;
    return new FlatVector(this.buffer, this.buffer.followOffset(at, path), path);
  }

  /** A [ubyte]/[byte] vector as a zero-copy view into the file bytes. */
  bytesVector(fieldId: number, name = `field ${fieldId}`): Uint8Array | undefined {
    return this.vector(fieldId, name)?.bytes(1);
  }

  /** A vector of scalars as plain numbers (copied, so alignment never matters). */
  scalarVector(fieldId: number, kind: ScalarKind, name = `field ${fieldId}`): number[] | undefined {
    return this.vector(fieldId, name)?.scalars(kind);
  }

  tableVector(fieldId: number, name = `field ${fieldId}`): FlatTable[] | undefined {
    return this.vector(fieldId, name)?.tables();
  }

  private fieldName(fieldId: number): string {
    return `${this.path} field ${fieldId}`;
  }
}

/** A vector: a u32 count followed by inline elements (scalars, structs or table offsets). */
export class FlatVector {
  readonly buffer: FlatbufferBuffer;
  readonly path: string;
  readonly length: number;
  /** Absolute position of element 0. */
  readonly start: number;

  constructor(buffer: FlatbufferBuffer, position: number, path: string) {
    this.buffer = buffer;
    this.path = path;
    this.length = buffer.scalar('uint32', position, `${path} (length)`);
    this.start = position + 4;
  }

  /** The elements' raw bytes (zero-copy view) given each element's size. */
  bytes(elementBytes: number): Uint8Array {
    const size = this.length * elementBytes;
    this.buffer.check(this.start, size, `${this.path} (${this.length} elements of ${elementBytes} bytes)`);
    return this.buffer.bytes.subarray(this.start, this.start + size);
  }

  scalars(kind: ScalarKind): number[] {
    const width = SCALAR_BYTES[kind];
    this.bytes(width); // one range check for the whole vector, so a bad length fails before the loop
    const out = new Array<number>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.buffer.scalar(kind, this.start + i * width, `${this.path}[${i}]`);
    return out;
  }

  tables(): FlatTable[] {
    this.bytes(4);
    const out: FlatTable[] = [];
    for (let i = 0; i < this.length; i++) {
      const path = `${this.path}[${i}]`;
      out.push(new FlatTable(this.buffer, this.buffer.followOffset(this.start + 4 * i, path), path));
    }
    return out;
  }

  /** Inline structs of `structBytes` each; read their fields by byte offset. */
  structs(structBytes: number): FlatStruct[] {
    this.bytes(structBytes);
    const out: FlatStruct[] = [];
    for (let i = 0; i < this.length; i++) {
      out.push(new FlatStruct(this.buffer, this.start + i * structBytes, structBytes, `${this.path}[${i}]`));
    }
    return out;
  }
}

/** A fixed-size struct stored inline; fields are read by their byte offset within it. */
export class FlatStruct {
  constructor(
    readonly buffer: FlatbufferBuffer,
    readonly position: number,
    readonly byteSize: number,
    readonly path: string,
  ) {}

  scalar(byteOffset: number, kind: ScalarKind): number {
    if (byteOffset < 0 || byteOffset + SCALAR_BYTES[kind] > this.byteSize) {
      throw new FlatbufferError(
        this.buffer.sourceName,
        `${this.path} has no ${kind} at byte ${byteOffset} (struct is ${this.byteSize} bytes)`,
      );
    }
    return this.buffer.scalar(kind, this.position + byteOffset, `${this.path}+${byteOffset}`);
  }
}
