/**
 * The bench's hand-written ONNX writer (bench/peers/onnx-model.ts) and the TransformerNet graph it
 * writes for the onnxruntime-cpu peer, checked without onnxruntime: a small protobuf decoder written
 * here reads the bytes back; the structure is checked field by field, and the decoded graph is run by
 * a small interpreter on tfjs's CPU backend (the oracle) and compared with pastiche's TransformerNet.
 * (With onnxruntime-node installed, `npm run bench -- -f feed --quick` also checks ORT's own output
 * against pastiche's before timing it.)
 */
import type { Tensor as TfTensor, Tensor4D } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { hostImage, randomTransformerNet, randomTransformerNetWeights } from '../../bench/nets.ts';
import { attr, encodeOnnxModel, ProtoWriter } from '../../bench/peers/onnx-model.ts';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, transformerNetOnnx } from '../../bench/peers/onnx-transformer-net.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { transformerNetConvSpecs } from '../../src/nets/models/transformer-net.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { relativeL2, tf } from '../helpers/oracle.ts';

// ---------------------------------------------------------------------------------------------
// A protobuf wire-format decoder (independent of the writer): every field of a message by number.

type Field = { wire: 0; int: bigint } | { wire: 1; bytes: Uint8Array } | { wire: 2; bytes: Uint8Array } | { wire: 5; f32: number };
type Message = Map<number, Field[]>;

function decodeMessage(bytes: Uint8Array): Message {
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
function only(m: Message, field: number): Field {
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
const int = (m: Message, field: number) => asInt(only(m, field));
const ints = (m: Message, field: number) => all(m, field).map(asInt);
const str = (m: Message, field: number) => asString(only(m, field));
const strs = (m: Message, field: number) => all(m, field).map(asString);
const sub = (m: Message, field: number) => decodeMessage(asBytes(only(m, field)));
const subs = (m: Message, field: number) => all(m, field).map((f) => decodeMessage(asBytes(f)));

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

type DecodedAttribute = { type: number; f?: number; i?: number; s?: string; ints?: number[] };

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

interface DecodedNode {
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

function readModel(bytes: Uint8Array) {
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
type DecodedModel = ReturnType<typeof readModel>;

// ---------------------------------------------------------------------------------------------
// The decoded graph run on tfjs's CPU backend, per the ONNX operator definitions (NCHW).

function interpret(model: DecodedModel, input: Float32Array): Float32Array {
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
  const attribute = (n: DecodedNode, name: string): DecodedAttribute => {
    const a = n.attributes.get(name);
    if (!a) throw new Error(`${n.opType}: no attribute '${name}'`);
    return a;
  };
  return tf.tidy(() => {
    for (const n of model.nodes) {
      const x = get<Tensor4D>(n.inputs[0]!);
      let y: TfTensor;
      switch (n.opType) {
        case 'Pad': {
          expect(attribute(n, 'mode').s).toBe('reflect');
          const p = ints64.get(n.inputs[1]!)!;
          y = tf.mirrorPad(x, [0, 1, 2, 3].map((axis) => [p[axis]!, p[axis + 4]!] as [number, number]), 'reflect');
          break;
        }
        case 'Conv': {
          const [kh, kw] = attribute(n, 'kernel_shape').ints!;
          const strides = attribute(n, 'strides').ints!;
          expect(attribute(n, 'pads').ints).toEqual([0, 0, 0, 0]);
          const w = get<Tensor4D>(n.inputs[1]!);
          expect(w.shape.slice(2)).toEqual([kh, kw]);
          const nhwc = tf.transpose(x, [0, 2, 3, 1]);
          const conv = tf.conv2d(nhwc, tf.transpose(w, [2, 3, 1, 0]), [strides[0]!, strides[1]!], 'valid');
          y = tf.transpose(tf.add(conv, get(n.inputs[2]!)), [0, 3, 1, 2]);
          break;
        }
        case 'InstanceNormalization': {
          const eps = attribute(n, 'epsilon').f!;
          const c = x.shape[1];
          const { mean, variance } = tf.moments(x, [2, 3], true);
          const scale = tf.reshape(get(n.inputs[1]!), [1, c, 1, 1]);
          const shift = tf.reshape(get(n.inputs[2]!), [1, c, 1, 1]);
          y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), scale), shift);
          break;
        }
        case 'Relu':
          y = tf.relu(x);
          break;
        case 'Add':
          y = tf.add(x, get(n.inputs[1]!));
          break;
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
    const out = get(model.outputs[0]!.name);
    expect(out.shape).toEqual(model.outputs[0]!.shape);
    const data = out.dataSync() as Float32Array;
    for (const t of values.values()) t.dispose();
    return data;
  });
}

// ---------------------------------------------------------------------------------------------

describe('protobuf writer', () => {
  it('writes varints, negative int64s, fixed32 floats, strings and nested messages as the wire format defines them', () => {
    const w = new ProtoWriter();
    w.int(1, 300).int(2, -1).int(3, 2 ** 40 + 5).float(4, -1.5).string(5, 'Résumé').message(6, (m) => m.int(1, 0));
    const bytes = w.finish();
    // Field 1 = 300: key 0x08, varint 0xAC 0x02 (the protobuf docs' example).
    expect([...bytes.subarray(0, 3)]).toEqual([0x08, 0xac, 0x02]);
    // −1 as int64: ten bytes (nine 0xFF, then 0x01).
    expect([...bytes.subarray(3, 14)]).toEqual([0x10, ...Array<number>(9).fill(0xff), 0x01]);
    const m = decodeMessage(bytes);
    expect(int(m, 1)).toBe(300);
    expect(int(m, 2)).toBe(-1);
    expect(int(m, 3)).toBe(2 ** 40 + 5);
    expect(only(m, 4)).toEqual({ wire: 5, f32: -1.5 });
    expect(str(m, 5)).toBe('Résumé');
    expect(int(sub(m, 6), 1)).toBe(0);
  });

  it('encodes a ModelProto: IR version, opset, nodes with every attribute kind, initializers, symbolic and fixed dims', () => {
    const bytes = encodeOnnxModel(
      {
        name: 'tiny',
        nodes: [
          { opType: 'Pad', inputs: ['x', 'pads', ''], outputs: ['p'], name: 'pad0', attributes: { mode: attr.string('reflect') } },
          { opType: 'Softmax', inputs: ['p'], outputs: ['s'], attributes: { axis: attr.int(-1) } },
          { opType: 'LeakyRelu', inputs: ['s'], outputs: ['y'], attributes: { alpha: attr.float(0.25), ignored: attr.ints([3, -2, 0]) } },
        ],
        initializers: [
          { name: 'pads', dims: [4], data: BigInt64Array.from([0n, 1n, 0n, -1n]) },
          { name: 'w', dims: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-7, -0]) },
        ],
        inputs: [{ name: 'x', shape: ['batch', 7] }],
        outputs: [{ name: 'y', shape: ['batch', 7] }],
      },
      { opset: 13, irVersion: 7, producerName: 'test' },
    );
    const model = readModel(bytes);
    expect(model.irVersion).toBe(7);
    expect(str(decodeMessage(bytes), 2)).toBe('test');
    expect(model.opsets).toEqual([{ domain: '', version: 13 }]);
    expect(model.graphName).toBe('tiny');
    expect(model.nodes.map((n) => [n.opType, n.inputs, n.outputs])).toEqual([
      ['Pad', ['x', 'pads', ''], ['p']],
      ['Softmax', ['p'], ['s']],
      ['LeakyRelu', ['s'], ['y']],
    ]);
    expect(model.nodes[0]!.attributes.get('mode')).toEqual({ type: 3, s: 'reflect' });
    expect(model.nodes[1]!.attributes.get('axis')).toEqual({ type: 2, i: -1 });
    expect(model.nodes[2]!.attributes.get('alpha')).toEqual({ type: 1, f: 0.25 });
    expect(model.nodes[2]!.attributes.get('ignored')).toEqual({ type: 7, ints: [3, -2, 0] });
    const [pads, w] = model.initializers;
    expect(pads).toEqual({ name: 'pads', dims: [4], dataType: 7, values: [0, 1, 0, -1] });
    expect(w!.dataType).toBe(1);
    expect(w!.dims).toEqual([2, 3]);
    expect([...(w!.values as Float32Array)]).toEqual([...Float32Array.from([1, -2, 3.5, 0, 1e-7, -0])]);
    expect(model.inputs).toEqual([{ name: 'x', elemType: 1, shape: ['batch', 7] }]);
    expect(model.outputs).toEqual([{ name: 'y', elemType: 1, shape: ['batch', 7] }]);
  });

  it('refuses an initializer whose data does not fill its dims', () => {
    const graph = { name: 'bad', nodes: [], initializers: [{ name: 'w', dims: [2, 2], data: new Float32Array(3) }], inputs: [], outputs: [] };
    expect(() => encodeOnnxModel(graph, { opset: 17 })).toThrow(/3 values for dims \[2, 2\]/);
  });
});

describe('TransformerNet as ONNX (the onnxruntime-cpu peer of the feed-forward lines)', () => {
  const runtime = useRuntime();
  const s = 16;

  it('has the net’s structure: ops in topological order, OIHW weights, strides, reflect pads, ×2 nearest resizes', async () => {
    const weights = await randomTransformerNetWeights();
    const model = readModel(transformerNetOnnx(weights, s, s));
    expect(model.irVersion).toBe(8);
    expect(model.opsets).toEqual([{ domain: '', version: 17 }]);
    expect(model.inputs).toEqual([{ name: 'image', elemType: 1, shape: [1, 3, s, s] }]);
    expect(model.outputs).toEqual([{ name: 'stylized', elemType: 1, shape: [1, 3, s, s] }]);

    const count = (op: string) => model.nodes.filter((n) => n.opType === op).length;
    // 16 convs, each after a reflection pad; 15 instance norms (not after the output conv); ReLU after
    // all but the residual blocks' second norms; 5 residual adds; 2 upsamplings.
    expect([count('Pad'), count('Conv'), count('InstanceNormalization'), count('Relu'), count('Add'), count('Resize')]).toEqual([16, 16, 15, 10, 5, 2]);
    expect(model.nodes).toHaveLength(16 + 16 + 15 + 10 + 5 + 2);

    // Every input is defined before use (graph input, initializer or an earlier output); names unique.
    const defined = new Set(['', 'image', ...model.initializers.map((t) => t.name)]);
    expect(defined.size).toBe(2 + model.initializers.length);
    for (const n of model.nodes) {
      for (const i of n.inputs) expect(defined.has(i), `${n.opType} reads '${i}'`).toBe(true);
      for (const o of n.outputs) {
        expect(defined.has(o)).toBe(false);
        defined.add(o);
      }
    }
    expect(model.nodes.at(-1)!.outputs).toEqual(['stylized']);

    const initializer = new Map(model.initializers.map((t) => [t.name, t]));
    const convOf = new Map(model.nodes.filter((n) => n.opType === 'Conv').map((n) => [n.inputs[1]!, n]));
    for (const spec of transformerNetConvSpecs()) {
      const host = weights.get(`${spec.name}.conv2d.weight`)!;
      const w = initializer.get(`${spec.name}.weight`)!;
      expect(w.dims).toEqual([spec.cout, spec.cin, spec.k, spec.k]);
      // W[o][i][y][x] = kernel[y][x][i][o], every element.
      const values = w.values as Float32Array;
      let mismatches = 0;
      for (let o = 0; o < spec.cout; o++)
        for (let i = 0; i < spec.cin; i++)
          for (let y = 0; y < spec.k; y++)
            for (let x = 0; x < spec.k; x++) if (values[((o * spec.cin + i) * spec.k + y) * spec.k + x] !== host.data[((y * spec.k + x) * spec.cin + i) * spec.cout + o]) mismatches++;
      expect(mismatches, spec.name).toBe(0);
      expect([...(initializer.get(`${spec.name}.bias`)!.values as Float32Array)]).toEqual([...weights.get(`${spec.name}.conv2d.bias`)!.data]);
      const conv = convOf.get(`${spec.name}.weight`)!;
      const stride = spec.name === 'conv2' || spec.name === 'conv3' ? 2 : 1;
      expect(conv.attributes.get('strides')!.ints, spec.name).toEqual([stride, stride]);
      expect(conv.attributes.get('kernel_shape')!.ints).toEqual([spec.k, spec.k]);
      // Its input is reflection-padded by ⌊k/2⌋ on H and W only.
      const pad = model.nodes.find((n) => n.outputs[0] === conv.inputs[0])!;
      expect(pad.opType).toBe('Pad');
      const p = Math.floor(spec.k / 2);
      expect(initializer.get(pad.inputs[1]!)!.values).toEqual([0, 0, p, p, 0, 0, p, p]);
    }
    for (const n of model.nodes.filter((n) => n.opType === 'InstanceNormalization')) expect(n.attributes.get('epsilon')!.f).toBeCloseTo(1e-5, 10);
    for (const n of model.nodes.filter((n) => n.opType === 'Resize')) expect([...(initializer.get(n.inputs[2]!)!.values as Float32Array)]).toEqual([1, 1, 2, 2]);
  });

  it('computes pastiche’s TransformerNet output (the decoded graph run on tfjs-cpu, 16 px)', async () => {
    const rt = runtime();
    const weights = await randomTransformerNetWeights();
    const image = hostImage(s, 1);
    const net = await randomTransformerNet(rt);
    const x = rt.upload(image.data, [1, s, s, 3]);
    const y = noGrad(() => net.forward(x));
    const ours = await y.data();
    for (const t of [x, y]) t.dispose();
    net.dispose();

    const theirs = nchwToNhwc(interpret(readModel(transformerNetOnnx(weights, s, s)), nhwcToNchw(image.data, s, s, 3)), s, s, 3);
    expect(relativeL2(theirs, ours)).toBeLessThan(1e-4);
  });

  it('converts layouts: HWIO → OIHW and NHWC ↔ NCHW', () => {
    // A 1×2 kernel, 3 in, 2 out: HWIO value = 100·x + 10·i + o.
    const hwio = Float32Array.from({ length: 12 }, (_, j) => {
      const [x, i, o] = [Math.floor(j / 6), Math.floor(j / 2) % 3, j % 2];
      return 100 * x + 10 * i + o;
    });
    const oihw = hwioToOihw(hwio, [1, 2, 3, 2]);
    expect([...oihw]).toEqual([0, 100, 10, 110, 20, 120, 1, 101, 11, 111, 21, 121]);
    const nhwc = Float32Array.from({ length: 2 * 3 * 4 }, (_, j) => j);
    const nchw = nhwcToNchw(nhwc, 2, 3, 4);
    expect(nchw[1 * 6 + 0 * 3 + 2]).toBe(nhwc[(0 * 3 + 2) * 4 + 1]);
    expect([...nchwToNhwc(nchw, 2, 3, 4)]).toEqual([...nhwc]);
  });
});
