/**
 * The bench's hand-written ONNX writer (bench/peers/onnx-model.ts) and the TransformerNet graph it
 * writes for the onnxruntime-cpu peer, checked without onnxruntime: a protobuf decoder
 * (test/helpers/onnx-decoder.ts) reads the bytes back; the structure is checked field by field, and the decoded graph is run by
 * a small interpreter on tfjs's CPU backend (the oracle) and compared with pastiche's TransformerNet.
 * (With onnxruntime-node installed, `npm run bench -- -f feed --quick` also checks ORT's own output
 * against pastiche's before timing it.)
 */
import { describe, expect, it } from 'vitest';
import { hostImage, randomTransformerNet, randomTransformerNetWeights } from '../../bench/nets.ts';
import { attr, encodeOnnxModel, ProtoWriter } from '../../bench/peers/onnx-model.ts';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, transformerNetOnnx } from '../../bench/peers/onnx-transformer-net.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { transformerNetConvSpecs } from '../../src/nets/models/transformer-net.ts';
import { useRuntime } from '../helpers/gpu.ts';
import { relativeL2 } from '../helpers/oracle.ts';
import { decodeMessage, int, interpret, only, readModel, str, sub } from '../helpers/onnx-decoder.ts';

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
