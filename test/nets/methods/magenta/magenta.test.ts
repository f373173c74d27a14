import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../../../../src/gpu/tensor.ts';
import { readImageFile } from '../../../../src/io/image-file.ts';
import type { RgbImage } from '../../../../src/io/image.ts';
import { resizeImage } from '../../../../src/io/resize.ts';
import type { ConvertedGraph, GraphSpec } from '../../../../src/nets/methods/magenta/graph/format.ts';
import { GraphProgram } from '../../../../src/nets/methods/magenta/graph/interpret.ts';
import { convertedGraphPath, convertTfliteBytes, loadTfliteGraph } from '../../../../src/nets/methods/magenta/node/store.ts';
import { blendEmbeddings, Magenta, mixStrength } from '../../../../src/nets/methods/magenta/magenta.ts';
import { parseSafetensors } from '../../../../src/nets/weights/formats/safetensors.ts';
import { useRuntime } from '../../../helpers/gpu.ts';
import { sharedReferencePath, sharedWeightsPath, testStoreOptions } from '../../../helpers/shared-data.ts';
import { TENSOR_TYPE, buildTflite, bytesOf, fb, type TinyModel } from '../../../helpers/tflite-builder.ts';
import { loadPretrainedMagenta } from '../../../../src/nets/weights/node/pretrained.ts';

const getRuntime = useRuntime();

// ---------------------------------------------------------------------------------------------
// A tiny crafted graph exercising the generic interpreter, with a CPU reference.

const KERNEL = Int8Array.from({ length: 36 }, (_, i) => ((i * 37) % 23) - 11); // [2 out, 3, 3, 2 in]
const KERNEL_SCALES = [0.05, 0.02];
const INPUT_SCALE = 0.5;
const BIAS_Q = [40, -30];

/**
 * QUANTIZE → CONV_2D 3×3 SAME (int8 per-channel, int32 bias whose own scale is wrong on purpose)
 * → ADD int8 scalar (fused RELU) → MIRROR_PAD 1 → RESIZE_NEAREST to 12×12 (×2) → MEAN [1,2]
 * → SQUARED_DIFFERENCE with that mean → LOGISTIC → DEQUANTIZE.
 */
function tinyGraph(): TinyModel {
  return {
    operatorCodes: [
      { deprecatedBuiltinCode: 114 }, { deprecatedBuiltinCode: 3 }, { deprecatedBuiltinCode: 0 },
      { deprecatedBuiltinCode: 100 }, { deprecatedBuiltinCode: 97 }, { deprecatedBuiltinCode: 40 },
      { deprecatedBuiltinCode: 99 }, { deprecatedBuiltinCode: 14 }, { deprecatedBuiltinCode: 6 },
    ],
    tensors: [
      { name: 'x', shape: [1, 4, 4, 2], type: TENSOR_TYPE.FLOAT32 }, // 0
      { name: 'xq', shape: [1, 4, 4, 2], type: TENSOR_TYPE.INT8, scale: [INPUT_SCALE] }, // 1
      { name: 'kernel', shape: [2, 3, 3, 2], type: TENSOR_TYPE.INT8, buffer: 1, scale: KERNEL_SCALES, quantizedDimension: 0 }, // 2
      { name: 'bias', shape: [2], type: TENSOR_TYPE.INT32, buffer: 2, scale: [1, 1] }, // 3
      { name: 'conv', shape: [1, 4, 4, 2], type: TENSOR_TYPE.INT8, scale: [0.1] }, // 4
      { name: 'offset', shape: [], type: TENSOR_TYPE.INT8, buffer: 3, scale: [0.1] }, // 5
      { name: 'added', shape: [1, 4, 4, 2], type: TENSOR_TYPE.INT8, scale: [0.1] }, // 6
      { name: 'paddings', shape: [4, 2], type: TENSOR_TYPE.INT32, buffer: 4 }, // 7
      { name: 'padded', shape: [1, 6, 6, 2], type: TENSOR_TYPE.INT8, scale: [0.1] }, // 8
      { name: 'size', shape: [2], type: TENSOR_TYPE.INT32, buffer: 5 }, // 9
      { name: 'resized', shape: [1, 12, 12, 2], type: TENSOR_TYPE.INT8, scale: [0.1] }, // 10
      { name: 'axes', shape: [2], type: TENSOR_TYPE.INT32, buffer: 6 }, // 11
      { name: 'mean', shape: [1, 1, 1, 2], type: TENSOR_TYPE.INT8, scale: [0.1] }, // 12
      { name: 'sqdiff', shape: [1, 12, 12, 2], type: TENSOR_TYPE.INT8, scale: [0.1] }, // 13
      { name: 'sigmoid', shape: [1, 12, 12, 2], type: TENSOR_TYPE.INT8, scale: [1 / 256], zeroPoint: [-128] }, // 14
      { name: 'y', shape: [1, 12, 12, 2], type: TENSOR_TYPE.FLOAT32 }, // 15
    ],
    operators: [
      { opcodeIndex: 0, inputs: [0], outputs: [1] },
      { opcodeIndex: 1, inputs: [1, 2, 3], outputs: [4], optionsType: 1, options: [fb.int8(0), fb.int32(1), fb.int32(1), fb.int8(0)] },
      { opcodeIndex: 2, inputs: [4, 5], outputs: [6], optionsType: 11, options: [fb.int8(1)] },
      { opcodeIndex: 3, inputs: [6, 7], outputs: [8], optionsType: 77, options: [fb.int8(0)] },
      { opcodeIndex: 4, inputs: [8, 9], outputs: [10], optionsType: 74, options: [] },
      { opcodeIndex: 5, inputs: [10, 11], outputs: [12], optionsType: 27, options: [fb.bool(true)] },
      { opcodeIndex: 6, inputs: [10, 12], outputs: [13] },
      { opcodeIndex: 7, inputs: [13], outputs: [14] },
      { opcodeIndex: 8, inputs: [14], outputs: [15] },
    ],
    inputs: [0],
    outputs: [15],
    buffers: [
      new Uint8Array(0),
      bytesOf(KERNEL),
      bytesOf(Int32Array.from(BIAS_Q)),
      bytesOf(Int8Array.from([3])),
      bytesOf(Int32Array.from([0, 0, 1, 1, 1, 1, 0, 0])),
      bytesOf(Int32Array.from([12, 12])),
      bytesOf(Int32Array.from([1, 2])),
    ],
  };
}

/** The tiny graph in float64 on the CPU, for input x [h, w, 2] (HWC). */
function tinyGraphReference(x: Float32Array, h: number, w: number): Float32Array {
  const C = 2;
  const conv = new Float64Array(h * w * C);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      for (let o = 0; o < C; o++) {
        let acc = BIAS_Q[o]! * INPUT_SCALE * Math.fround(KERNEL_SCALES[o]!);
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const sy = y + ky - 1;
            const sx = xx + kx - 1;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
            for (let i = 0; i < C; i++) acc += x[(sy * w + sx) * C + i]! * KERNEL[((o * 3 + ky) * 3 + kx) * C + i]! * Math.fround(KERNEL_SCALES[o]!);
          }
        }
        conv[(y * w + xx) * C + o] = Math.max(0, acc + 3 * Math.fround(0.1));
      }
    }
  }
  const reflect = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const H = 2 * (h + 2);
  const W = 2 * (w + 2);
  const resized = new Float64Array(H * W * C);
  for (let y = 0; y < H; y++) {
    for (let xx = 0; xx < W; xx++) {
      const sy = reflect(Math.floor(y / 2) - 1, h);
      const sx = reflect(Math.floor(xx / 2) - 1, w);
      for (let c = 0; c < C; c++) resized[(y * W + xx) * C + c] = conv[(sy * w + sx) * C + c]!;
    }
  }
  const mean = [0, 0];
  for (let i = 0; i < resized.length; i++) mean[i % C]! += resized[i]! / (H * W);
  return Float32Array.from(resized, (v, i) => 1 / (1 + Math.exp(-((v - mean[i % C]!) ** 2))));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function runOnce(program: GraphProgram, input: Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  const [y] = program.run([input]);
  const data = await y!.data();
  const shape = [...y!.shape];
  y!.dispose();
  return { shape, data };
}

describe('graph interpreter on a crafted .tflite', () => {
  const tiny = (): ConvertedGraph => convertTfliteBytes(buildTflite(tinyGraph()), 'tiny.tflite');

  it('lowers the graph: quantize/dequantize vanish, sizes become scale factors, biases use s_in·s_w', () => {
    const { spec, weights } = tiny();
    expect(spec.nodes.map((n) => n.op)).toEqual(['conv2d', 'add', 'mirrorPad', 'resizeNearest', 'mean', 'squaredDifference', 'logistic']);
    expect(spec.nodes[3]).toMatchObject({ scale: [2, 2], size: [12, 12] });
    expect(spec.nodes[4]).toMatchObject({ axes: [1, 2], keepDims: true });
    const bias = weights.get((spec.nodes[0] as { bias: string }).bias)!;
    expect(bias.data[0]).toBeCloseTo(BIAS_Q[0]! * INPUT_SCALE * KERNEL_SCALES[0]!, 6);
    expect(bias.data[1]).toBeCloseTo(BIAS_Q[1]! * INPUT_SCALE * KERNEL_SCALES[1]!, 6);
    expect(weights.get((spec.nodes[0] as { weight: string }).weight)!.shape).toEqual([3, 3, 2, 2]);
    expect(spec.outputs.map((v) => v.name)).toEqual(['y']);
  });

  it('matches a CPU reference, fused or not, at the file size and at another size', async () => {
    const runtime = getRuntime();
    const { spec, weights } = tiny();
    for (const fuse of [true, false]) {
      const program = GraphProgram.create(runtime, spec, weights, { fuse });
      try {
        for (const [h, w] of [[4, 4], [6, 5]] as const) {
          const x = Float32Array.from({ length: h * w * 2 }, (_, i) => Math.sin(i * 1.7) * 2);
          const input = runtime.upload(x, [1, h, w, 2]);
          const out = await runOnce(program, input);
          input.dispose();
          expect(out.shape).toEqual([1, 2 * (h + 2), 2 * (w + 2), 2]);
          expect(maxAbsDiff(out.data, tinyGraphReference(x, h, w))).toBeLessThan(2e-5);
        }
      } finally {
        program.dispose();
      }
    }
  });

  it('names an op it does not support, before converting anything', () => {
    const spec = tinyGraph();
    spec.operatorCodes[7] = { deprecatedBuiltinCode: 28 }; // TANH instead of LOGISTIC
    expect(() => convertTfliteBytes(buildTflite(spec), 'crafted.tflite')).toThrow(/unsupported operator TANH in crafted\.tflite \(operator #7\)/);
  });

  it('rejects an unknown op or option in a graph description before running anything', () => {
    const runtime = getRuntime();
    const { spec, weights } = tiny();
    const before = runtime.stats().liveTensors;
    const unknownOp = structuredClone(spec) as GraphSpec;
    (unknownOp.nodes[6] as { op: string }).op = 'gelu';
    expect(() => GraphProgram.create(runtime, unknownOp, weights)).toThrow(/node #6 \(source operator #7\) has op 'gelu', which the graph interpreter does not support/);
    const symmetric = structuredClone(spec) as GraphSpec;
    (symmetric.nodes[2] as { mode: string }).mode = 'symmetric';
    expect(() => GraphProgram.create(runtime, symmetric, weights)).toThrow(/node #2 .*'mirrorPad': mirror pad mode 'symmetric' is not supported/);
    const dangling = structuredClone(spec) as GraphSpec;
    dangling.nodes[1]!.inputs = [999, dangling.nodes[1]!.inputs[1]!];
    expect(() => GraphProgram.create(runtime, dangling, weights)).toThrow(/input #999 is not produced by any earlier node/);
    expect(runtime.stats().liveTensors).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// The real Magenta models against the reference outputs of an independent float32 implementation.

describe('Magenta arbitrary stylization', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pastiche-magenta-'));
  const store = { ...testStoreOptions(), cacheDir };
  let magenta: Magenta;
  let content: RgbImage;
  let style: RgbImage;
  let reference: Map<string, { shape: number[]; data: Float32Array }>;
  const converted: string[] = [];

  beforeAll(async () => {
    const runtime = getRuntime();
    // Convert into the fresh cache first (recording it), then load as a user would.
    for (const name of ['magenta-predict', 'magenta-transfer']) {
      await loadTfliteGraph(name, { ...store, onGraphConverted: (model) => converted.push(model) });
    }
    magenta = await loadPretrainedMagenta(runtime, store);
    content = await readImageFile(sharedReferencePath('magenta.content.png'));
    style = await readImageFile(sharedReferencePath('magenta.style.png'));
    reference = parseSafetensors(readFileSync(sharedReferencePath('magenta.safetensors'))).tensors;
  });

  afterAll(() => {
    magenta?.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('converts each .tflite once into the cache and reconverts when the source changes', async () => {
    expect(converted).toEqual(['magenta-predict', 'magenta-transfer']);
    const again = await loadTfliteGraph('magenta-transfer', store);
    expect(again.converted).toBe(false);
    expect(again.graphPath).toBe(convertedGraphPath('magenta-transfer', cacheDir));
    expect(again.weightsPath).toBe(join(cacheDir, 'magenta-transfer.safetensors'));
    expect(again.spec.source.sha256).toBe('7a1550643cf034a4d813c0aa276976cd15da4141b4f1ec3631db1d0d9c8e2cd1');
    // A description made from another source file is stale.
    const spec = JSON.parse(readFileSync(again.graphPath, 'utf8')) as GraphSpec;
    writeFileSync(again.graphPath, JSON.stringify({ ...spec, source: { ...spec.source, sha256: '0'.repeat(64) } }));
    const rebuilt = await loadTfliteGraph('magenta-transfer', store);
    expect(rebuilt.converted).toBe(true);
    expect((await loadTfliteGraph('magenta-transfer', store)).converted).toBe(false);
  });

  it('fuses every instance norm, reflection pad and same-size resize of the converted graph', () => {
    // Counted in the graph as converted from the .tflite (one RSQRT per instance norm), not in the fusion's output.
    const { spec, fusion, compiledOps } = magenta.transferNet;
    const inSpec = (test: (node: GraphSpec['nodes'][number]) => boolean) => spec.nodes.filter(test).length;
    const rsqrts = inSpec((n) => n.op === 'rsqrt');
    const pads = inSpec((n) => n.op === 'mirrorPad');
    const identityResizes = inSpec((n) => n.op === 'resizeNearest' && n.scale[0] === 1 && n.scale[1] === 1);
    expect(rsqrts * pads * identityResizes, 'the converted graph has all three patterns').toBeGreaterThan(0);
    expect(fusion).toEqual({ instanceNorms: rsqrts, reflectPadConvs: pads, identityResizes });
    expect(compiledOps.filter((op) => op === 'instanceNorm')).toHaveLength(rsqrts);
    expect(compiledOps).not.toContain('rsqrt');
    expect(compiledOps).not.toContain('mirrorPad');
    // Each instance norm replaces 10 nodes; each pad and identity resize disappears.
    expect(compiledOps).toHaveLength(spec.nodes.length - 9 * rsqrts - pads - identityResizes);
  });

  it('predicts the reference style vector', async () => {
    const expected = reference.get('style_vector')!;
    expect(expected.shape).toEqual([100]);
    const embedding = await magenta.predictStyle(style);
    expect(embedding).toHaveLength(100);
    let num = 0;
    let den = 0;
    for (let i = 0; i < 100; i++) {
      num += (embedding[i]! - expected.data[i]!) ** 2;
      den += expected.data[i]! ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
  });

  it('stylizes the 384×384 reference content to within one grey level', async () => {
    const expected = reference.get('output')!;
    expect(expected.shape).toEqual([384, 384, 3]);
    const embedding = await magenta.predictStyle(style);
    const out = await magenta.stylize(content, embedding);
    expect([out.width, out.height]).toEqual([384, 384]);
    let mae = 0;
    for (let i = 0; i < expected.data.length; i++) mae += Math.abs(out.data[i]! - expected.data[i]!);
    expect(mae / expected.data.length).toBeLessThan(1);
  });

  it('at strength 0 reproduces the network\'s own reconstruction (the content embedding)', async () => {
    const small = resizeImage(content, 96, 96);
    const own = await magenta.contentEmbedding(small);
    const reconstruction = await magenta.transfer(small, own);
    const styleEmbedding = await magenta.predictStyle(style);
    const result = await magenta.stylizeDetailed(small, styleEmbedding, { strength: 0 });
    expect(Array.from(result.embedding)).toEqual(Array.from(own));
    expect(maxAbsDiff(result.image.data, reconstruction.data)).toBeLessThan(1e-3);
    // With the content as its own style, strength does not matter.
    const self = await magenta.stylize(small, own, { strength: 0.3, contentEmbedding: own });
    expect(maxAbsDiff(self.data, reconstruction.data)).toBeLessThan(1e-2);
  });

  it('runs on content that is not 384×384 and returns its size', async () => {
    const embedding = reference.get('style_vector')!.data;
    const live = getRuntime().stats().liveTensors;
    for (const [w, h] of [[100, 76], [37, 29]] as const) {
      const out = await magenta.transfer(resizeImage(content, w, h), embedding);
      expect([out.width, out.height]).toEqual([w, h]);
      expect(out.data).toHaveLength(w * h * 3);
      expect(out.data.every((v) => Number.isFinite(v) && v >= 0 && v <= 255)).toBe(true);
    }
    await expect(magenta.transfer(resizeImage(content, 4, 4), embedding)).rejects.toThrow(/4×4 px but this method needs at least 5 px a side; use a larger --size/);
    expect(getRuntime().stats().liveTensors).toBe(live);
  });

  it('fails, naming the models as damaged, when NaN weights give a NaN image', async () => {
    const runtime = getRuntime();
    const predict = await loadTfliteGraph('magenta-predict', store);
    const transfer = await loadTfliteGraph('magenta-transfer', store);
    // Poison the output convolution (the last conv2d of the graph: no ReLU after it to turn NaN into 0).
    const weights = new Map(transfer.weights);
    const name = transfer.spec.nodes.flatMap((n) => (n.op === 'conv2d' ? [n.weight] : [])).at(-1)!;
    const weight = weights.get(name)!;
    weights.set(name, { ...weight, data: new Float32Array(weight.data.length).fill(NaN) });
    const damaged = Magenta.fromGraphs(runtime, { predict, transfer: { ...transfer, weights } });
    try {
      await expect(damaged.transfer(resizeImage(content, 24, 20), reference.get('style_vector')!.data)).rejects.toThrow(/^the magenta models .* produced NaN at pixel .*the model file is damaged/);
    } finally {
      damaged.dispose();
    }
  });

  it('gives the same image through the fused and the plain interpretation', async () => {
    // Converted in memory from the .tflite files (the browser's path), interpreted node by node.
    const plain = Magenta.fromTflite(
      getRuntime(),
      readFileSync(sharedWeightsPath('magenta', 'style_predict_int8_256.tflite')),
      readFileSync(sharedWeightsPath('magenta', 'style_transfer_int8_384.tflite')),
      { fuse: false },
    );
    try {
      expect(plain.transferNet.compiledOps).toContain('mirrorPad');
      const small = resizeImage(content, 64, 48);
      const embedding = reference.get('style_vector')!.data;
      const a = await magenta.transfer(small, embedding);
      const b = await plain.transfer(small, embedding);
      expect(maxAbsDiff(a.data, b.data)).toBeLessThan(0.05);
    } finally {
      plain.dispose();
    }
  });
});

describe('style embedding arithmetic', () => {
  it('blends with normalised weights and mixes strength', () => {
    const a = Float32Array.from([1, 0, 2]);
    const b = Float32Array.from([0, 1, 4]);
    expect(Array.from(blendEmbeddings([a, b], [3, 1]))).toEqual([0.75, 0.25, 2.5]);
    expect(Array.from(blendEmbeddings([a, b]))).toEqual([0.5, 0.5, 3]);
    expect(Array.from(mixStrength(a, b, 0.25))).toEqual([0.25, 0.75, 3.5]);
    expect(Array.from(mixStrength(a, b, 0))).toEqual(Array.from(b));
    expect(() => blendEmbeddings([a, b], [1])).toThrow(/1 blend weights for 2/);
    expect(() => blendEmbeddings([a], [0])).toThrow(/must not all be zero/);
    expect(() => mixStrength(a, b, 1.5)).toThrow(/strength must be in \[0, 1\]/);
  });
});
