/**
 * Crafts small .tflite files byte by byte for tests: a generic forward flatbuffer writer
 * (tables, strings, vectors) and a TFLite model layer on top of it. Writing the bytes here,
 * independently of the reader, lets tests produce files the real converter never would
 * (unknown ops, mislabelled options, external buffers, broken offsets).
 */

type ScalarKind = 'int8' | 'uint8' | 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32';

export type FbField =
  | { kind: 'scalar'; type: ScalarKind; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'vector'; type: ScalarKind; values: ArrayLike<number> }
  | { kind: 'tables'; values: FbTable[] }
  | { kind: 'table'; value: FbTable };

/** A table: entry i is field id i; undefined entries are absent fields. */
export type FbTable = (FbField | undefined)[];

export const fb = {
  scalar: (type: ScalarKind, value: number): FbField => ({ kind: 'scalar', type, value }),
  int8: (value: number): FbField => fb.scalar('int8', value),
  uint8: (value: number): FbField => fb.scalar('uint8', value),
  bool: (value: boolean): FbField => fb.scalar('bool', value ? 1 : 0),
  int32: (value: number): FbField => fb.scalar('int32', value),
  uint32: (value: number): FbField => fb.scalar('uint32', value),
  uint64: (value: number): FbField => fb.scalar('uint64', value),
  string: (value: string): FbField => ({ kind: 'string', value }),
  vector: (type: ScalarKind, values: ArrayLike<number>): FbField => ({ kind: 'vector', type, values }),
  tables: (values: FbTable[]): FbField => ({ kind: 'tables', values }),
  table: (value: FbTable): FbField => ({ kind: 'table', value }),
};

const WIDTH: Record<ScalarKind, number> = {
  int8: 1, uint8: 1, bool: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4,
};

/** Appends bytes front to back; references point forward, so children are written after parents. */
class ForwardWriter {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(size: number): number {
    while (this.length + size > this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += size;
    return at;
  }

  align(boundary: number): void {
    while (this.length % boundary !== 0) this.reserve(1);
  }

  scalar(type: ScalarKind, value: number, at = this.reserve(WIDTH[type])): number {
    const v = this.view;
    switch (type) {
      case 'int8': v.setInt8(at, value); break;
      case 'uint8': case 'bool': v.setUint8(at, value); break;
      case 'int16': v.setInt16(at, value, true); break;
      case 'uint16': v.setUint16(at, value, true); break;
      case 'int32': v.setInt32(at, value, true); break;
      case 'uint32': v.setUint32(at, value, true); break;
      case 'int64': v.setBigInt64(at, BigInt(value), true); break;
      case 'uint64': v.setBigUint64(at, BigInt(value), true); break;
      case 'float32': v.setFloat32(at, value, true); break;
    }
    return at;
  }

  raw(bytes: Uint8Array): number {
    const at = this.reserve(bytes.length);
    this.buffer.set(bytes, at);
    return at;
  }

  /** Fills a u32 reference slot with the forward distance to `target`. */
  patchReference(slot: number, target: number): void {
    this.scalar('uint32', target - slot, slot);
  }

  result(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

function writeTable(w: ForwardWriter, table: FbTable): number {
  // Inline layout: soffset at 0, then each present field at its natural alignment (max 4).
  const slots: number[] = [];
  let size = 4;
  table.forEach((field, id) => {
    if (field === undefined) return;
    const width = field.kind === 'scalar' ? WIDTH[field.type] : 4;
    const alignment = Math.min(width, 4);
    size = Math.ceil(size / alignment) * alignment;
    slots[id] = size;
    size += width;
  });
  size = Math.ceil(size / 4) * 4;

  w.align(2);
  const vtable = w.length;
  w.scalar('uint16', 4 + 2 * table.length);
  w.scalar('uint16', size);
  for (let id = 0; id < table.length; id++) w.scalar('uint16', slots[id] ?? 0);

  w.align(4);
  const start = w.length;
  w.raw(new Uint8Array(size));
  w.scalar('int32', start - vtable, start);
  const pending: { slot: number; field: FbField }[] = [];
  table.forEach((field, id) => {
    if (field === undefined) return;
    const slot = start + slots[id];
    if (field.kind === 'scalar') w.scalar(field.type, field.value, slot);
    else pending.push({ slot, field });
  });
  for (const { slot, field } of pending) w.patchReference(slot, writeChild(w, field));
  return start;
}

function writeChild(w: ForwardWriter, field: FbField): number {
  switch (field.kind) {
    case 'scalar':
      throw new Error('scalars are stored inline');
    case 'table':
      return writeTable(w, field.value);
    case 'string': {
      w.align(4);
      const bytes = new TextEncoder().encode(field.value);
      const at = w.scalar('uint32', bytes.length);
      w.raw(bytes);
      w.scalar('uint8', 0);
      return at;
    }
    case 'vector': {
      // 16-byte alignment for the elements, as the converter does for buffer data.
      while ((w.length + 4) % 16 !== 0) w.scalar('uint8', 0);
      const at = w.scalar('uint32', field.values.length);
      for (let i = 0; i < field.values.length; i++) w.scalar(field.type, field.values[i]);
      return at;
    }
    case 'tables': {
      w.align(4);
      const at = w.scalar('uint32', field.values.length);
      const slots = field.values.map(() => w.scalar('uint32', 0));
      field.values.forEach((table, i) => w.patchReference(slots[i], writeTable(w, table)));
      return at;
    }
  }
}

/** Root offset, 4-byte file identifier, then the root table. */
export function serializeFlatbuffer(root: FbTable, identifier: string): Uint8Array {
  if (identifier.length !== 4) throw new Error('a flatbuffer file identifier is 4 characters');
  const w = new ForwardWriter();
  const rootSlot = w.scalar('uint32', 0);
  w.raw(new TextEncoder().encode(identifier));
  w.patchReference(rootSlot, writeTable(w, root));
  return w.result();
}

// ---------------------------------------------------------------------------------------------
// TFLite layer (field ids from tensorflow/lite/schema/schema.fbs)

export const TENSOR_TYPE = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, INT8: 9 } as const;

export interface TinyOperatorCode {
  deprecatedBuiltinCode?: number;
  builtinCode?: number;
  customCode?: string;
  version?: number;
}

export interface TinyTensor {
  name: string;
  shape?: number[];
  type: number;
  buffer?: number;
  scale?: number[];
  zeroPoint?: number[];
  quantizedDimension?: number;
}

export interface TinyOperator {
  opcodeIndex: number;
  inputs: number[];
  outputs: number[];
  /** BuiltinOptions union type id (e.g. 1 = Conv2DOptions); omit for none. */
  optionsType?: number;
  options?: FbTable;
}

/** Inline data, or data placed after the flatbuffer and addressed by offset/size. */
export type TinyBuffer = Uint8Array | { external: Uint8Array };

export interface TinyModel {
  identifier?: string;
  version?: number;
  operatorCodes: TinyOperatorCode[];
  tensors: TinyTensor[];
  operators: TinyOperator[];
  inputs: number[];
  outputs: number[];
  /** Buffer 0 should be empty, as the converter writes it. */
  buffers: TinyBuffer[];
}

export function buildTflite(model: TinyModel): Uint8Array {
  const externals = model.buffers.map((b) => (b instanceof Uint8Array ? undefined : b.external));
  // The external offsets depend on the flatbuffer's length, which does not depend on their values
  // (fixed-width fields): serialize once to measure, then for real.
  const measured = serializeFlatbuffer(modelTable(model, externals.map(() => 2)), model.identifier ?? 'TFL3');
  const offsets: number[] = [];
  let end = Math.ceil(measured.length / 16) * 16;
  for (const data of externals) {
    offsets.push(end);
    if (data !== undefined) end = Math.ceil((end + data.length) / 16) * 16;
  }
  const flatbuffer = serializeFlatbuffer(modelTable(model, offsets), model.identifier ?? 'TFL3');
  if (flatbuffer.length !== measured.length) throw new Error('tflite-builder: layout changed between passes');
  const file = new Uint8Array(end);
  file.set(flatbuffer);
  externals.forEach((data, i) => {
    if (data !== undefined) file.set(data, offsets[i]);
  });
  return file;
}

function modelTable(model: TinyModel, externalOffsets: number[]): FbTable {
  const operatorCodes: FbTable[] = model.operatorCodes.map((c) => [
    c.deprecatedBuiltinCode === undefined ? undefined : fb.int8(c.deprecatedBuiltinCode),
    c.customCode === undefined ? undefined : fb.string(c.customCode),
    fb.int32(c.version ?? 1),
    c.builtinCode === undefined ? undefined : fb.int32(c.builtinCode),
  ]);
  const tensors: FbTable[] = model.tensors.map((t) => [
    t.shape === undefined ? undefined : fb.vector('int32', t.shape),
    fb.int8(t.type),
    fb.uint32(t.buffer ?? 0),
    fb.string(t.name),
    t.scale === undefined
      ? undefined
      : fb.table([
        undefined, // min
        undefined, // max
        fb.vector('float32', t.scale),
        fb.vector('int64', t.zeroPoint ?? t.scale.map(() => 0)),
        undefined, // details_type
        undefined, // details
        fb.int32(t.quantizedDimension ?? 0),
      ]),
  ]);
  const operators: FbTable[] = model.operators.map((op) => [
    fb.uint32(op.opcodeIndex),
    fb.vector('int32', op.inputs),
    fb.vector('int32', op.outputs),
    op.optionsType === undefined ? undefined : fb.uint8(op.optionsType),
    op.options === undefined ? undefined : fb.table(op.options),
  ]);
  const subgraph: FbTable = [
    fb.tables(tensors),
    fb.vector('int32', model.inputs),
    fb.vector('int32', model.outputs),
    fb.tables(operators),
    fb.string('main'),
  ];
  const buffers: FbTable[] = model.buffers.map((b, i) =>
    b instanceof Uint8Array
      ? [b.length === 0 ? undefined : fb.vector('uint8', b)]
      : [undefined, fb.uint64(externalOffsets[i]), fb.uint64(b.external.length)],
  );
  return [
    fb.uint32(model.version ?? 3),
    fb.tables(operatorCodes),
    fb.tables([subgraph]),
    fb.string('crafted by tflite-builder'),
    fb.tables(buffers),
  ];
}

/** Little-endian bytes of typed values, for buffer contents. */
export function bytesOf(values: Int8Array | Uint8Array | Int32Array | Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}
