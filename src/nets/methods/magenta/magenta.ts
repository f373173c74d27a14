/**
 * Arbitrary style transfer with a style prediction network (Ghiasi et al. 2017, Magenta): a
 * MobileNet-style predictor turns any style image into a 100-d embedding, which drives the
 * conditional instance norms of a feed-forward transfer net. Both are the pretrained int8 TFLite
 * models, run in float32 on pastiche's engine by the graph interpreter (magenta-graph/interpret.ts).
 *
 * Images are RgbImages in 0..255 (pastiche's convention); the models see [0, 1]. The transfer net is
 * fully convolutional: content of any size (at least 5×5) comes back at its own size; content too
 * large for the device's buffers runs in blended tiles. Styles are resized to 256×256 for the predictor.
 *
 * Style strength mixes embeddings as Magenta does: e = s·e_style + (1 − s)·e_content, e_content the
 * content image's own embedding (predicted on the content resized to 256×256). Several styles blend
 * by a weighted mean of their embeddings.
 */
import { affine } from '../../../autograd/ops/elementwise.ts';
import { slice } from '../../../autograd/ops/structural.ts';
import { noGrad } from '../../../autograd/tape.ts';
import type { Runtime } from '../../../gpu/runtime.ts';
import { scope } from '../../../gpu/scope.ts';
import { formatShape, type Tensor } from '../../../gpu/tensor.ts';
import { assertRgbImage, type RgbImage } from '../../../io/image.ts';
import { resizeImage } from '../../../io/resize.ts';
import type { ConvertedGraph } from './graph/format.ts';
import { GraphProgram, type GraphProgramOptions } from './graph/interpret.ts';
import { convertTfliteGraph } from './graph/lower-tflite.ts';
import { applyTiled, assertMinimumSize, bufferLimitOf, largestActivationBytes, largestUntiledLongSide, planTiles, type NetFootprint } from '../../image/tiling.ts';
import { parseTflite } from '../../weights/formats/tflite.ts';
import { checkedOutput } from '../../image/checked-output.ts';

/** Side of the square style image the predictor takes. */
export const MAGENTA_STYLE_SIZE = 256;
/** Length of a style embedding. */
export const MAGENTA_EMBEDDING_SIZE = 100;
/** Smallest content side the transfer net's reflection paddings allow. */
export const MAGENTA_MIN_CONTENT_SIZE = 5;

/**
 * The transfer net's tensors: a 9×9 conv (8 ch), two stride-2 convs (16, 32 ch), residual blocks at
 * 1/4, then three nearest upsamplings each followed by a conv (16, 8, 3 ch). The largest tensor is
 * the 16-channel upsampled map at full size. Odd sizes round up through the strides (a multiple of
 * 4); a border of 1 px covers the reflection pads when they are not fused into the convs.
 */
export const MAGENTA_TRANSFER_FOOTPRINT: NetFootprint = {
  name: 'magenta',
  activations: [
    { channels: 3, downsample: 1 },
    { channels: 8, downsample: 1 },
    { channels: 16, downsample: 2 },
    { channels: 32, downsample: 4 },
    { channels: 32, downsample: 2 },
    { channels: 16, downsample: 2 },
    { channels: 16, downsample: 1 },
  ],
  sizeMultiple: 4,
  border: 1,
  minSide: MAGENTA_MIN_CONTENT_SIZE,
};

/** The two converted graphs (from the weights cache, or converted in the browser). */
export interface MagentaGraphs {
  predict: ConvertedGraph;
  transfer: ConvertedGraph;
}

export interface MagentaStylizeOptions {
  /** Style strength 0..1 (default 1): 0 gives the content's own reconstruction. */
  strength?: number;
  /** Blend weights, one per embedding (default equal); normalised to sum to 1. */
  weights?: readonly number[];
  /** The content's own embedding, if already known (saves a predictor run when strength < 1). */
  contentEmbedding?: Float32Array;
  /** Largest buffer in bytes to plan tiles for (default: the device's limits). */
  bufferLimit?: number;
}

export interface MagentaStylized {
  image: RgbImage;
  /** The embedding the transfer net ran with (styles blended, strength applied). */
  embedding: Float32Array;
  /** The content's own embedding (null when strength was 1 and none was given). */
  contentEmbedding: Float32Array | null;
}

/** Weighted mean of embeddings (weights default to equal and are normalised to sum to 1). */
export function blendEmbeddings(embeddings: readonly Float32Array[], weights?: readonly number[]): Float32Array {
  if (embeddings.length === 0) throw new Error('magenta: at least one style embedding is needed');
  const w = weights ?? embeddings.map(() => 1);
  if (w.length !== embeddings.length) throw new Error(`magenta: ${w.length} blend weights for ${embeddings.length} style embeddings`);
  if (w.some((x) => !Number.isFinite(x) || x < 0)) throw new Error(`magenta: blend weights must be non-negative numbers, got [${w.join(', ')}]`);
  const total = w.reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error('magenta: the blend weights must not all be zero');
  const size = embeddings[0]!.length;
  const out = new Float32Array(size);
  embeddings.forEach((e, k) => {
    if (e.length !== size) throw new Error(`magenta: style embedding ${k} has ${e.length} values, expected ${size}`);
    const wk = w[k]! / total;
    for (let i = 0; i < size; i++) out[i] += wk * e[i]!;
  });
  return out;
}

/** e = strength·style + (1 − strength)·content. */
export function mixStrength(style: Float32Array, content: Float32Array, strength: number): Float32Array {
  if (!(strength >= 0 && strength <= 1)) throw new Error(`magenta: strength must be in [0, 1], got ${strength}`);
  if (style.length !== content.length) throw new Error(`magenta: style embedding has ${style.length} values, content embedding ${content.length}`);
  const out = new Float32Array(style.length);
  for (let i = 0; i < style.length; i++) out[i] = strength * style[i]! + (1 - strength) * content[i]!;
  return out;
}

export class Magenta {
  private disposed = false;

  private constructor(
    readonly runtime: Runtime,
    /** style image [N, 256, 256, 3] in [0, 1] → [N, 1, 1, 100] */
    readonly predictor: GraphProgram,
    /** content [N, H, W, 3] in [0, 1] and embedding [N, 1, 1, 100] → [N, H', W', 3] in [0, 1] */
    readonly transferNet: GraphProgram,
    private readonly contentInput: number,
  ) {}


  /**
   * Builds the nets straight from the two .tflite files' bytes (parsed and converted in memory;
   * browser-safe). `load` caches the conversion instead.
   */
  static fromTflite(runtime: Runtime, predictTflite: Uint8Array, transferTflite: Uint8Array, options: GraphProgramOptions = {}): Magenta {
    return Magenta.fromGraphs(runtime, {
      predict: convertTfliteGraph(parseTflite(predictTflite, 'style_predict.tflite')),
      transfer: convertTfliteGraph(parseTflite(transferTflite, 'style_transfer.tflite')),
    }, options);
  }

  /** Builds the nets from converted graphs (uploads the weights; validates and fuses the graphs). */
  static fromGraphs(runtime: Runtime, graphs: MagentaGraphs, options: GraphProgramOptions = {}): Magenta {
    // `half` applies to the transfer net: the predictor runs once per style, and its depthwise convs have no f16 kernel.
    const predictor = GraphProgram.create(runtime, graphs.predict.spec, graphs.predict.weights, { ...options, half: false, name: 'magenta style predictor' });
    let transfer: GraphProgram;
    try {
      transfer = GraphProgram.create(runtime, graphs.transfer.spec, graphs.transfer.weights, { ...options, name: 'magenta style transfer' });
    } catch (err) {
      predictor.dispose();
      throw err;
    }
    const fail = (what: string): never => {
      predictor.dispose();
      transfer.dispose();
      throw new Error(`magenta: ${what}`);
    };
    const pIn = predictor.spec.inputs;
    const pOut = predictor.spec.outputs;
    if (pIn.length !== 1 || pIn[0]!.shape[3] !== 3 || pOut.length !== 1 || sizeOf(pOut[0]!.shape) !== MAGENTA_EMBEDDING_SIZE) {
      fail(`the predictor graph should map one RGB image to ${MAGENTA_EMBEDDING_SIZE} values`);
    }
    const tIn = transfer.spec.inputs;
    const contentInput = tIn.findIndex((v) => v.shape.length === 4 && v.shape[3] === 3);
    const styleInput = tIn.findIndex((v) => sizeOf(v.shape) === MAGENTA_EMBEDDING_SIZE);
    if (tIn.length !== 2 || contentInput < 0 || styleInput < 0 || contentInput === styleInput || transfer.spec.outputs.length !== 1) {
      fail(`the transfer graph should take an RGB image and a ${MAGENTA_EMBEDDING_SIZE}-d embedding and return one image`);
    }
    return new Magenta(runtime, predictor, transfer, contentInput);
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('magenta: this model was disposed');
  }

  /** Style images [N, 256, 256, 3] in 0..255 → embeddings [N, 100]. */
  predictStyleTensor(images: Tensor): Tensor {
    this.assertAlive();
    if (images.rank !== 4 || images.shape[3] !== 3) throw new Error(`magenta: style images must be [N, H, W, 3], got ${formatShape(images.shape)}`);
    return noGrad(() =>
      scope(() => {
        const [out] = this.predictor.run([affine(images, 1 / 255)]);
        return this.runtime.reshape(out!, [images.shape[0]!, MAGENTA_EMBEDDING_SIZE]);
      }),
    );
  }

  /** The style embedding of an image (resized to 256×256 first). */
  async predictStyle(style: RgbImage): Promise<Float32Array> {
    assertRgbImage(style, 'magenta predictStyle');
    this.assertAlive();
    const square = style.width === MAGENTA_STYLE_SIZE && style.height === MAGENTA_STYLE_SIZE ? style : resizeImage(style, MAGENTA_STYLE_SIZE, MAGENTA_STYLE_SIZE);
    const input = this.runtime.upload(square.data, [1, MAGENTA_STYLE_SIZE, MAGENTA_STYLE_SIZE, 3]);
    try {
      const e = this.predictStyleTensor(input);
      try {
        return (await e.data()).slice();
      } finally {
        e.dispose();
      }
    } finally {
      input.dispose();
    }
  }

  /** The content image's own embedding (what strength 0 reproduces). Same as predictStyle. */
  contentEmbedding(content: RgbImage): Promise<Float32Array> {
    return this.predictStyle(content);
  }

  /**
   * Content [N, H, W, 3] in 0..255 and embeddings ([N, 100], or [100] / [1, 100] shared by the batch)
   * → stylized [N, H, W, 3] in 0..255.
   */
  transferTensor(content: Tensor, embedding: Tensor): Tensor {
    this.assertAlive();
    if (content.rank !== 4 || content.shape[3] !== 3) throw new Error(`magenta: content must be [N, H, W, 3], got ${formatShape(content.shape)}`);
    const [n, h, w] = content.shape as [number, number, number, number];
    assertMinimumSize(MAGENTA_TRANSFER_FOOTPRINT, w, h);
    if (embedding.size !== MAGENTA_EMBEDDING_SIZE && embedding.size !== n * MAGENTA_EMBEDDING_SIZE) {
      throw new Error(`magenta: embedding ${formatShape(embedding.shape)} must hold ${MAGENTA_EMBEDDING_SIZE} values (or ${MAGENTA_EMBEDDING_SIZE} per image)`);
    }
    this.checkMemory(n, h, w);
    return noGrad(() =>
      scope(() => {
        const rows = embedding.size / MAGENTA_EMBEDDING_SIZE;
        const e = this.runtime.reshape(embedding, [rows, 1, 1, MAGENTA_EMBEDDING_SIZE]);
        const inputs: Tensor[] = [];
        inputs[this.contentInput] = affine(content, 1 / 255);
        inputs[1 - this.contentInput] = e;
        const [y] = this.transferNet.run(inputs);
        // The net rounds odd sizes up through its stride-2 layers: crop back to the content.
        const cropped = y!.shape[1] === h && y!.shape[2] === w ? y! : slice(y!, [0, 0, 0, 0], [n, h, w, 3]);
        return affine(cropped, 255);
      }),
    );
  }

  /**
   * Runs the transfer net with one embedding (no blending): the image in 0..255 at the content's size,
   * in blended tiles when its tensors would not fit the device's buffers (or `bufferLimit`).
   */
  async transfer(content: RgbImage, embedding: Float32Array, bufferLimit?: number): Promise<RgbImage> {
    assertRgbImage(content, 'magenta transfer');
    this.assertAlive();
    if (embedding.length !== MAGENTA_EMBEDDING_SIZE) throw new Error(`magenta: embedding has ${embedding.length} values, expected ${MAGENTA_EMBEDDING_SIZE}`);
    assertMinimumSize(MAGENTA_TRANSFER_FOOTPRINT, content.width, content.height);
    const plan = planTiles(MAGENTA_TRANSFER_FOOTPRINT, content.width, content.height, bufferLimit ?? bufferLimitOf(this.runtime.context.limits));
    if (plan.tile !== null) return applyTiled(content, plan.tile, plan.overlap, (part) => this.transferWhole(part, embedding));
    return this.transferWhole(content, embedding);
  }

  private async transferWhole(content: RgbImage, embedding: Float32Array): Promise<RgbImage> {
    const x = this.runtime.upload(content.data, [1, content.height, content.width, 3]);
    const e = this.runtime.upload(embedding, [1, MAGENTA_EMBEDDING_SIZE]);
    try {
      const y = this.transferTensor(x, e);
      try {
        const data = checkedOutput((await y.data()).slice(), content.width, 'the magenta models (magenta-predict and magenta-transfer in the weights cache)');
        return { width: content.width, height: content.height, data };
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
      e.dispose();
    }
  }

  /**
   * Stylizes `content` with one style embedding, or several blended by `options.weights`, at
   * `options.strength` (mixing in the content's own embedding).
   */
  async stylize(content: RgbImage, style: Float32Array | readonly Float32Array[], options: MagentaStylizeOptions = {}): Promise<RgbImage> {
    return (await this.stylizeDetailed(content, style, options)).image;
  }

  /** `stylize`, also returning the embeddings used (so a UI can re-mix without re-predicting). */
  async stylizeDetailed(content: RgbImage, style: Float32Array | readonly Float32Array[], options: MagentaStylizeOptions = {}): Promise<MagentaStylized> {
    assertRgbImage(content, 'magenta stylize');
    const strength = options.strength ?? 1;
    if (!(strength >= 0 && strength <= 1)) throw new Error(`magenta: strength must be in [0, 1], got ${strength}`);
    const styles = style instanceof Float32Array ? [style] : style;
    const blended = blendEmbeddings(styles, options.weights);
    let contentEmbedding = options.contentEmbedding ?? null;
    if (contentEmbedding === null && strength < 1) contentEmbedding = await this.contentEmbedding(content);
    const embedding = contentEmbedding === null || strength === 1 ? blended : mixStrength(blended, contentEmbedding, strength);
    const image = await this.transfer(content, embedding, options.bufferLimit);
    return { image, embedding, contentEmbedding };
  }

  /** Frees both nets' weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.predictor.dispose();
    this.transferNet.dispose();
  }

  /** Refuses a batch whose largest tensor would not fit one device buffer, naming the --size that would. */
  private checkMemory(n: number, h: number, w: number): void {
    const limit = bufferLimitOf(this.runtime.context.limits);
    const bytes = n * largestActivationBytes(MAGENTA_TRANSFER_FOOTPRINT, w, h);
    if (bytes > limit) {
      const side = largestUntiledLongSide(MAGENTA_TRANSFER_FOOTPRINT, w, h, limit / n);
      throw new Error(`magenta: a ${w}×${h} content needs ${(bytes / 2 ** 20).toFixed(0)} MiB buffers, over this device's ${(limit / 2 ** 20).toFixed(0)} MiB limit; resize it (e.g. --size ${side})`);
    }
  }
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
