/** Johnson et al.'s feed-forward style transfer as a method: one forward pass of a net trained for one style. */
import type { MethodDefinition, OptionValues, RunControl, StyleInput, Stylizer } from '../contract.ts';
import { fitContent, PRESERVE_COLOR_POST, preserveColorPost, report, SIZE_OPTION, throwIfAborted } from '../common-options.ts';
import { feedForwardFromWeights, stylizeFeedForward } from './feed-forward.ts';
import { feedForwardWeightsFromBytes } from './model-file.ts';
import type { RgbImage } from '../../../io/image.ts';

/** The pretrained styles the manifest lists (TransformerNet from ncnn, and the ml5/lengstrom nets). */
export const FEED_FORWARD_MODELS = ['mathura', 'candy', 'mosaic', 'pointilism', 'rain_princess', 'udnie', 'matilde_perez', 'matta'] as const;

export const DEFAULT_FEED_FORWARD_MODEL = 'mathura';

const isNamedModel = (model: string): boolean => (FEED_FORWARD_MODELS as readonly string[]).includes(model);

function checkModelName(model: string): void {
  if (!isNamedModel(model) && !/\.(safetensors|pth|pt)$/i.test(model)) {
    throw new Error(`unknown feed-forward model '${model}': choose one of ${FEED_FORWARD_MODELS.join(', ')}, or give a .safetensors or .pth file`);
  }
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
      description: `a pretrained style (${FEED_FORWARD_MODELS.join(', ')}) or a .safetensors/.pth file`,
      kind: 'choice',
      choices: FEED_FORWARD_MODELS.map((value) => ({ value, label: value.replace(/_/g, ' ') })),
      default: DEFAULT_FEED_FORWARD_MODEL,
      open: true,
      ui: { control: 'gallery' },
    },
    { id: 'tile', label: 'Tile', description: 'process in overlapping tiles of this many pixels', kind: 'integer', min: 64, max: 8192 },
    SIZE_OPTION,
    PRESERVE_COLOR_POST,
  ],
  checkInputs(_styleCount, options) {
    checkModelName(String(options.model ?? DEFAULT_FEED_FORWARD_MODEL));
  },
  async load(env, options, control) {
    const model = String(options.model ?? DEFAULT_FEED_FORWARD_MODEL);
    checkModelName(model);
    report(control, { stage: 'weights', message: `loading '${model}'` });
    let weights;
    if (isNamedModel(model) || !env.weights.file) {
      weights = await env.weights.tensors(model, control?.onProgress);
    } else {
      weights = await feedForwardWeightsFromBytes(await env.weights.file(model), model);
    }
    const net = feedForwardFromWeights(env.runtime, weights, isNamedModel(model) ? `${model} weights` : model);
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
