/**
 * Ghiasi et al.'s arbitrary style transfer as a method: the Magenta style-prediction net turns each
 * style image into an embedding (once per image, however many contents follow), the embeddings are
 * blended by the styles' weights, and `strength` mixes in the content's own embedding.
 */
import type { RgbImage } from '../../../io/image.ts';
import type { MethodDefinition, OptionValues, RunControl, StyleInput, Stylizer } from '../contract.ts';
import {
  checkPrecision,
  fitContent,
  PRECISION_OPTION,
  PRESERVE_COLOR_POST,
  preserveColorPost,
  report,
  seconds,
  SIZE_OPTION,
  styleWeights,
  throwIfAborted,
  type Precision,
} from '../common-options.ts';
import type { ConvertedGraph } from './graph/format.ts';
import { convertTfliteGraph } from './graph/lower-tflite.ts';
import { blendEmbeddings, Magenta } from './magenta.ts';
import { parseTflite } from '../../weights/formats/tflite.ts';
import type { WeightSource } from '../contract.ts';

async function graphOf(weights: WeightSource, name: string, control: RunControl | undefined): Promise<ConvertedGraph> {
  if (weights.graph) return weights.graph(name, control?.onProgress);
  if (!weights.bytes) throw new Error(`magenta: the weight source can give neither the converted graph nor the .tflite file of ${name}`);
  const bytes = await weights.bytes(name, control?.onProgress);
  report(control, { stage: 'compile', message: `converting ${name} for the GPU` });
  return convertTfliteGraph(parseTflite(bytes, name));
}

export const magentaMethod: MethodDefinition = {
  id: 'magenta',
  label: 'Magenta',
  summary: "Ghiasi et al.: the Magenta style-prediction and transfer nets; any style in one pass, strength and style blending",
  styles: 'many',
  options: [
    { id: 'strength', label: 'Strength', description: "style strength: 1 = the style's embedding, 0 = the content's own", kind: 'number', min: 0, max: 1, default: 1, ui: { control: 'slider', step: 0.01, live: true } },
    SIZE_OPTION,
    PRESERVE_COLOR_POST,
    // CLI and API only: the page runs Magenta its own way. f16 applies to the transfer net.
    { ...PRECISION_OPTION, description: `${PRECISION_OPTION.description}; the transfer net (the style predictor stays f32)`, ui: undefined },
  ],
  async load(env, options, control) {
    const precision = String(options.precision ?? 'f32') as Precision;
    checkPrecision(env.runtime, precision);
    const started = performance.now();
    report(control, { stage: 'weights', message: 'loading the magenta models' });
    const predict = await graphOf(env.weights, 'magenta-predict', control);
    const transfer = await graphOf(env.weights, 'magenta-transfer', control);
    const net = Magenta.fromGraphs(env.runtime, { predict, transfer }, { half: precision === 'f16' });
    report(control, { stage: 'weights', message: `magenta: models ready (${seconds(started)})` });
    // Embeddings by style image: a batch predicts each style once.
    const embeddings = new WeakMap<RgbImage, Float32Array>();
    const embed = async (style: StyleInput, run?: RunControl): Promise<Float32Array> => {
      let e = embeddings.get(style.image);
      if (!e) {
        const t0 = performance.now();
        e = await net.predictStyle(style.image);
        embeddings.set(style.image, e);
        report(run, { stage: 'style', message: `style ${style.name}: embedding in ${seconds(t0)}` });
      }
      return e;
    };
    return {
      async stylize(content: RgbImage, styles: readonly StyleInput[], values: OptionValues, run?: RunControl) {
        if (styles.length === 0) throw new Error('magenta needs at least one style image');
        throwIfAborted(run);
        const input = fitContent(content, values.size as number | undefined);
        const vectors: Float32Array[] = [];
        for (const style of styles) vectors.push(await embed(style, run));
        throwIfAborted(run);
        const strength = (values.strength as number | undefined) ?? 1;
        const image = await net.stylize(input, blendEmbeddings(vectors, styleWeights(styles)), { strength });
        return { image: preserveColorPost(image, input, values.preserveColor as string | undefined), summary: `strength ${strength}` };
      },
      dispose: () => net.dispose(),
    } satisfies Stylizer;
  },
};
