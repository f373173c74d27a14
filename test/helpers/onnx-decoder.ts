/**
 * Reading ONNX models back for the bench's peer tests, with no onnx or protobuf dependency: a protobuf
 * wire-format decoder written independently of bench/peers/onnx-model.ts's writer, ONNX views over
 * the decoded messages, and an interpreter that runs a decoded graph on tfjs's CPU backend per the
 * ONNX operator definitions (the oracle for the graphs the onnxruntime-cpu peer is given).
 */
import type { Tensor as TfTensor, Tensor4D } from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { tf } from './oracle.ts';

// ---------------------------------------------------------------------------------------------
// A protobuf wire-format decoder (independent of the writer): every field of a message by number.

type Field = { wire: 0; int: bigint } | { wire: 1; bytes: Uint8Array } | { wire: 2; bytes: Uint8Array } | { wire: 5; f32: number };
type Message = Map<number, Field[]>;

export function decodeMessage(bytes: Uint8Array): Message {
  const out: Message = new Map();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= bytes.length) throw new Error('truncated varint');
      const b = bytes[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const [field, wire] = [key >>> 3, key & 7];
    let value: Field;
    if (wire === 0) value = { wire, int: varint() };
    else if (wire === 2) {
      const n = Number(varint());
      if (pos + n > bytes.length) throw new Error('truncated length-delimited field');
      value = { wire, bytes: bytes.subarray(pos, (pos += n)) };
    } else if (wire === 5) {
      value = { wire, f32: new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getFloat32(0, true) };
      pos += 4;
    } else if (wire === 1) value = { wire, bytes: bytes.subarray(pos, (pos += 8)) };
    else throw new Error(`unexpected wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const all = (m: Message, field: number): Field[] => m.get(field) ?? [];
export function only(m: Message, field: number): Field {
  const list = all(m, field);
  if (list.length !== 1) throw new Error(`field ${field}: ${list.length} values, expected 1`);
  return list[0]!;
}
function asInt(f: Field): number {
  if (f.wire !== 0) throw new Error(`expected a varint, got wire type ${f.wire}`);
  return Number(BigInt.asIntN(64, f.int));
}
function asBytes(f: Field): Uint8Array {
  if (f.wire !== 2) throw new Error(`expected bytes, got wire type ${f.wire}`);
  return f.bytes;
}
const asString = (f: Field) => new TextDecoder().decode(asBytes(f));
export const int = (m: Message, field: number) => asInt(only(m, field));
export const ints = (m: Message, field: number) => all(m, field).map(asInt);
export const str = (m: Message, field: number) => asString(only(m, field));
export const strs = (m: Message, field: number) => all(m, field).map(asString);
export const sub = (m: Message, field: number) => decodeMessage(asBytes(only(m, field)));
export const subs = (m: Message, field: number) => all(m, field).map((f) => decodeMessage(asBytes(f)));

// ---------------------------------------------------------------------------------------------
// ONNX views over decoded messages (field numbers from onnx.proto).

interface DecodedTensor {
  name: string;
  dims: number[];
  dataType: number;
  values: Float32Array | number[];
}

function readTensor(t: Message): DecodedTensor {
  const dims = ints(t, 1);
  const dataType = int(t, 2);
  const raw = asBytes(only(t, 9));
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = dims.reduce((a, b) => a * b, 1);
  let values: Float32Array | number[];
  if (dataType === 1) {
    expect(raw.byteLength).toBe(4 * n);
    values = Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true));
  } else if (dataType === 7) {
    expect(raw.byteLength).toBe(8 * n);
    values = Array.from({ length: n }, (_, i) => Number(view.getBigInt64(8 * i, true)));
  } else throw new Error(`unexpected data type ${dataType}`);
  return { name: str(t, 8), dims, dataType, values };
}

export type DecodedAttribute = { type: number; f?: number; i?: number; s?: string; ints?: number[] };

function readAttributes(node: Message): Map<string, DecodedAttribute> {
  const out = new Map<string, DecodedAttribute>();
  for (const a of subs(node, 5)) {
    const type = int(a, 20);
    const d: DecodedAttribute = { type };
    if (type === 1) {
      const f = only(a, 2);
      if (f.wire !== 5) throw new Error('float attribute not fixed32');
      d.f = f.f32;
    } else if (type === 2) d.i = int(a, 3);
    else if (type === 3) d.s = str(a, 4);
    else if (type === 7) d.ints = ints(a, 8);
    else throw new Error(`unexpected attribute type ${type}`);
    out.set(str(a, 1), d);
  }
  return out;
}

export interface DecodedNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, DecodedAttribute>;
}

/** Elem type and dims (numbers, or strings for dim_param) of a ValueInfoProto. */
function readValueInfo(v: Message): { name: string; elemType: number; shape: (number | string)[] } {
  const tensorType = sub(sub(v, 2), 1);
  const shape = subs(sub(tensorType, 2), 1).map((d) => (d.has(1) ? int(d, 1) : str(d, 2)));
  return { name: str(v, 1), elemType: int(tensorType, 1), shape };
}

export function readModel(bytes: Uint8Array) {
  const model = decodeMessage(bytes);
  const graph = sub(model, 7);
  return {
    irVersion: int(model, 1),
    opsets: subs(model, 8).map((o) => ({ domain: o.has(1) ? str(o, 1) : '', version: int(o, 2) })),
    graphName: str(graph, 2),
    nodes: subs(graph, 1).map((n): DecodedNode => ({ opType: str(n, 4), inputs: strs(n, 1), outputs: strs(n, 2), attributes: readAttributes(n) })),
    initializers: subs(graph, 5).map(readTensor),
    inputs: subs(graph, 11).map(readValueInfo),
    outputs: subs(graph, 12).map(readValueInfo),
  };
}
export type DecodedModel = ReturnType<typeof readModel>;

// ---------------------------------------------------------------------------------------------
// The decoded graph run on tfjs's CPU backend, per the ONNX operator definitions (NCHW).

/** NCHW ↔ NHWC for the tfjs ops that only take channels last. */
const toNhwc = (x: TfTensor) => tf.transpose(x, [0, 2, 3, 1]) as Tensor4D;
const toNchw = (x: TfTensor) => tf.transpose(x, [0, 3, 1, 2]) as Tensor4D;

/** [[top, bottom], [left, right]] of an ONNX 2-D `pads` attribute (begins, then ends), default none. */
function spatialPads(n: DecodedNode): [[number, number], [number, number]] {
  const p = n.attributes.get('pads')?.ints ?? [0, 0, 0, 0];
  return [
    [p[0]!, p[2]!],
    [p[1]!, p[3]!],
  ];
}

/** Every graph output of `model` run on `input` (the graph's one input). */
export function interpretAll(model: DecodedModel, input: Float32Array): Map<string, Float32Array> {
  const values = new Map<string, TfTensor>();
  const ints64 = new Map<string, number[]>();
  for (const t of model.initializers) {
    if (t.values instanceof Float32Array) values.set(t.name, tf.tensor(t.values, t.dims));
    else ints64.set(t.name, t.values);
  }
  const [graphInput] = model.inputs;
  values.set(graphInput!.name, tf.tensor(input, graphInput!.shape as number[]));
  const get = <T extends TfTensor>(name: string): T => {
    const t = values.get(name);
    if (!t) throw new Error(`value '${name}' used before it is defined`);
    return t as T;
  };
  const intsOf = (name: string): number[] => {
    const v = ints64.get(name);
    if (!v) throw new Error(`no int64 constant '${name}'`);
    return v;
  };
  const attribute = (n: DecodedNode, name: string): DecodedAttribute => {
    const a = n.attributes.get(name);
    if (!a) throw new Error(`${n.opType}: no attribute '${name}'`);
    return a;
  };
  const data = tf.tidy(() => {
    for (const n of model.nodes) {
      const x = get<Tensor4D>(n.inputs[0]!);
      const second = <T extends TfTensor>() => get<T>(n.inputs[1]!);
      let y: TfTensor;
      switch (n.opType) {
        case 'Pad': {
          const p = intsOf(n.inputs[1]!);
          const widths = [0, 1, 2, 3].map((axis) => [p[axis]!, p[axis + 4]!] as [number, number]);
          const mode = n.attributes.get('mode')?.s ?? 'constant';
          y = mode === 'reflect' ? tf.mirrorPad(x, widths, 'reflect') : (expect(mode).toBe('constant'), tf.pad(x, widths));
          break;
        }
        case 'Conv': {
          const [kh, kw] = attribute(n, 'kernel_shape').ints!;
          const strides = n.attributes.get('strides')?.ints ?? [1, 1];
          const w = second<Tensor4D>();
          expect(w.shape.slice(2)).toEqual([kh, kw]);
          const conv = tf.conv2d(toNhwc(x), tf.transpose(w, [2, 3, 1, 0]) as Tensor4D, [strides[0]!, strides[1]!], [[0, 0], ...spatialPads(n), [0, 0]]);
          y = toNchw(tf.add(conv, get(n.inputs[2]!)));
          break;
        }
        case 'ConvTranspose': {
          // W is [C_in, C_out, kh, kw]; stride 1 here, so the output keeps the input's size when pads = k − 1 − pads.
          const w = second<Tensor4D>();
          expect(n.attributes.get('strides')?.ints ?? [1, 1]).toEqual([1, 1]);
          const [[t, b], [l, r]] = spatialPads(n);
          const [, , kh, kw] = w.shape;
          const [batch, , h, wd] = x.shape;
          const outShape: [number, number, number, number] = [batch, h + kh - 1 - t - b, wd + kw - 1 - l - r, w.shape[1]];
          // The transposed conv is a full correlation with the spatially flipped, channel-swapped filter.
          const flipped = tf.reverse(tf.transpose(w, [2, 3, 0, 1]), [0, 1]) as Tensor4D;
          const full = tf.conv2d(toNhwc(x), flipped, 1, [[0, 0], [kh - 1 - t, kh - 1 - b], [kw - 1 - l, kw - 1 - r], [0, 0]]);
          expect(full.shape).toEqual(outShape);
          y = toNchw(full);
          break;
        }
        case 'AveragePool': {
          const [kh, kw] = attribute(n, 'kernel_shape').ints!;
          const [sh, sw] = attribute(n, 'strides').ints!;
          y = toNchw(tf.avgPool(toNhwc(x), [kh!, kw!], [sh!, sw!], 'valid'));
          break;
        }
        case 'InstanceNormalization': {
          const eps = attribute(n, 'epsilon').f!;
          const c = x.shape[1];
          const { mean, variance } = tf.moments(x, [2, 3], true);
          const scale = tf.reshape(second(), [1, c, 1, 1]);
          const shift = tf.reshape(get(n.inputs[2]!), [1, c, 1, 1]);
          y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), scale), shift);
          break;
        }
        case 'Relu':
          y = tf.relu(x);
          break;
        case 'Identity':
          y = tf.clone(x);
          break;
        case 'Add':
          y = tf.add(x, second());
          break;
        case 'Sub':
          y = tf.sub(x, second());
          break;
        case 'Mul':
          y = tf.mul(x, second());
          break;
        case 'MatMul':
          y = tf.matMul(x as unknown as TfTensor as never, second() as never);
          break;
        case 'Transpose':
          y = tf.transpose(x, attribute(n, 'perm').ints!);
          break;
        case 'Reshape':
          y = tf.reshape(x, intsOf(n.inputs[1]!));
          break;
        case 'Greater':
          y = tf.greater(x, second());
          break;
        case 'Where': {
          const a = second();
          y = tf.where(x as never, a, tf.broadcastTo(get(n.inputs[2]!), a.shape));
          break;
        }
        case 'Slice': {
          const [starts, ends, axes] = [intsOf(n.inputs[1]!), intsOf(n.inputs[2]!), intsOf(n.inputs[3]!)];
          const begin = x.shape.map(() => 0);
          const size = [...x.shape];
          axes.forEach((axis, i) => {
            begin[axis] = starts[i]!;
            size[axis] = Math.min(ends[i]!, x.shape[axis]!) - starts[i]!;
          });
          y = tf.slice(x, begin, size);
          break;
        }
        case 'Resize': {
          expect([attribute(n, 'mode').s, attribute(n, 'coordinate_transformation_mode').s, attribute(n, 'nearest_mode').s]).toEqual(['nearest', 'asymmetric', 'floor']);
          expect(n.inputs[1]).toBe('');
          const scales = get(n.inputs[2]!).dataSync();
          y = x;
          for (const axis of [2, 3]) {
            // asymmetric: input coordinate = output index / scale; floor picks the pixel.
            const size = Math.floor(x.shape[axis]! * scales[axis]!);
            const index = Array.from({ length: size }, (_, i) => Math.min(x.shape[axis]! - 1, Math.floor(i / scales[axis]!)));
            y = tf.gather(y, index, axis);
          }
          break;
        }
        default:
          throw new Error(`interpreter: no ${n.opType}`);
      }
      expect(n.outputs).toHaveLength(1);
      values.set(n.outputs[0]!, tf.keep(y));
    }
    const outputs = model.outputs.map((o) => {
      const out = get(o.name);
      expect(out.shape).toEqual(o.shape);
      return out.dataSync() as Float32Array;
    });
    for (const t of values.values()) t.dispose();
    return outputs;
  });
  return new Map(model.outputs.map((o, i) => [o.name, data[i]!]));
}

/** The first graph output of `model` run on `input`. */
export function interpret(model: DecodedModel, input: Float32Array): Float32Array {
  return interpretAll(model, input).get(model.outputs[0]!.name)!;
}
