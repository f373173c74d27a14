/** Johnson et al.'s feed-forward style transfer as a method: one forward pass of a net trained for one style. */
import type { MethodDefinition, OptionValues, RunControl, StyleInput, Stylizer, WeightSource } from '../contract.ts';
import type { HostTensorMap } from '../../weights/host-tensor.ts';
import { lengstromToCanonical, readMl5Checkpoint } from '../../weights/formats/ml5-checkpoint.ts';
import { checkPrecision, fitContent, PRECISION_OPTION, PRESERVE_COLOR_POST, preserveColorPost, report, SIZE_OPTION, throwIfAborted, type Precision } from '../common-options.ts';
import { feedForwardFromWeights, stylizeFeedForward } from './feed-forward.ts';
import { feedForwardWeightsFromBytes } from './model-file.ts';
import type { RgbImage } from '../../../io/image.ts';

/** The pretrained styles the manifest lists (TransformerNet from ncnn, and the ml5/lengstrom nets). */
export const FEED_FORWARD_MODELS = ['mathura', 'candy', 'mosaic', 'pointilism', 'rain_princess', 'udnie', 'matilde_perez', 'matta'] as const;

export const DEFAULT_FEED_FORWARD_MODEL = 'mathura';

const isNamedModel = (model: string): boolean => (FEED_FORWARD_MODELS as readonly string[]).includes(model);

const isModelFile = (model: string): boolean => /\.(safetensors|pth|pt)$/i.test(model);
/** Anything else with a slash is an ml5 checkpoint folder (manifest.json and its variables). */
const isModelFolder = (model: string): boolean => !isModelFile(model) && model.includes('/');

function checkModelName(model: string): void {
  if (!isNamedModel(model) && !isModelFile(model) && !isModelFolder(model)) {
    throw new Error(`unknown feed-forward model '${model}': choose one of ${FEED_FORWARD_MODELS.join(', ')}, or give a .safetensors or .pth file, or an ml5 checkpoint folder (as ./${model}/ if it is one here)`);
  }
}

async function readModel(weights: WeightSource, model: string, onProgress: RunControl['onProgress']): Promise<HostTensorMap> {
  if (isNamedModel(model)) return weights.tensors(model, onProgress);
  const file = weights.file?.bind(weights);
  if (!file) throw new Error(`feed-forward: model files cannot be read here; choose one of ${FEED_FORWARD_MODELS.join(', ')}`);
  if (isModelFile(model)) return feedForwardWeightsFromBytes(await file(model), model);
  const folder = model.replace(/\/+$/, '');
  let manifest: Uint8Array;
  try {
    manifest = await file(`${folder}/manifest.json`);
  } catch (err) {
    throw new Error(
      `${folder} is not an ml5 checkpoint folder: no readable manifest.json (${err instanceof Error ? err.message : String(err)}); ` +
        '--model takes a model name, a .safetensors/.pth file, or an ml5 checkpoint folder (manifest.json and its variable files)',
      { cause: err },
    );
  }
  const read = (relative: string): Promise<Uint8Array> => (relative === 'manifest.json' ? Promise.resolve(manifest) : file(`${folder}/${relative}`));
  return lengstromToCanonical(await readMl5Checkpoint(read, folder), folder);
}

export const feedForwardMethod: MethodDefinition = {
  id: 'feed-forward',
  aliases: ['transformer'],
  label: 'Feed-forward',
  summary: "Johnson et al.: one forward pass of a net trained for one style; instant, and the style is the model's",
  styles: 'none',
  styleHint: "the feed-forward net's style is fixed by its --model; use --method adain, magenta or gatys for a style image",
  options: [
    {
      id: 'model',
      label: 'Style',
      description: `a pretrained style (${FEED_FORWARD_MODELS.join(', ')}), a .safetensors/.pth file, or an ml5 checkpoint folder`,
      kind: 'choice',
      choices: FEED_FORWARD_MODELS.map((value) => ({ value, label: value.replace(/_/g, ' ') })),
      default: DEFAULT_FEED_FORWARD_MODEL,
      open: true,
      ui: { control: 'gallery' },
    },
    PRECISION_OPTION,
    { id: 'tile', label: 'Tile', description: 'process in overlapping tiles of this many pixels', kind: 'integer', min: 64, max: 8192 },
    SIZE_OPTION,
    PRESERVE_COLOR_POST,
  ],
  checkInputs(_styleCount, options) {
    checkModelName(String(options.model ?? DEFAULT_FEED_FORWARD_MODEL));
  },
  async load(env, options, control) {
    const model = String(options.model ?? DEFAULT_FEED_FORWARD_MODEL);
    const precision = String(options.precision ?? 'f32') as Precision;
    checkModelName(model);
    // Before the download: an adapter without f16 shaders is refused at once.
    checkPrecision(env.runtime, precision);
    report(control, { stage: 'weights', message: `loading '${model}'` });
    const weights = await readModel(env.weights, model, control?.onProgress);
    const net = feedForwardFromWeights(env.runtime, weights, isNamedModel(model) ? `${model} weights` : model, precision);
    return {
      async stylize(content: RgbImage, _styles: readonly StyleInput[], values: OptionValues, run?: RunControl) {
        throwIfAborted(run);
        const input = fitContent(content, values.size as number | undefined);
        const tile = values.tile as number | undefined;
        const image = await stylizeFeedForward(net, input, tile !== undefined ? { tileSize: tile } : {});
        return { image: preserveColorPost(image, input, values.preserveColor as string | undefined) };
      },
      dispose: () => net.dispose(),
    } satisfies Stylizer;
  },
};
