// Feed-forward style transfer (Johnson et al. 2016): one pretrained net per style, one forward pass
// per image, run by the same engine code as `pastiche stylize --method transformer`.

import { getRuntime } from '../../gpu/runtime.ts';
import { feedForwardFromWeights, stylizeFeedForward, type FeedForwardNet } from '../../nets/feed-forward.ts';
import { resizeToLongSide } from '../../io/resize.ts';
import type { StyleMethod } from '../methods.ts';
import { numberValue, sizeControl, stringValue, throwIfAborted } from '../methods.ts';
import { fetchSafetensors, weightsAvailable } from '../weights.ts';

/** The pretrained styles in weights/manifest.json: PyTorch-examples nets, then ml5 (lengstrom) nets. */
export const FEED_FORWARD_MODELS = [
  { value: 'candy', label: 'Candy' },
  { value: 'mosaic', label: 'Mosaic' },
  { value: 'pointilism', label: 'Pointillism' },
  { value: 'rain_princess', label: 'Rain Princess' },
  { value: 'udnie', label: 'Udnie' },
  { value: 'mathura', label: 'Mathura' },
  { value: 'matilde_perez', label: 'Matilde Pérez' },
  { value: 'matta', label: 'Matta' },
];

/** Nets stay on the GPU once loaded, so switching back to a model is instant. */
const nets = new Map<string, Promise<FeedForwardNet>>();

function loadNet(model: string, onProgress: Parameters<StyleMethod['run']>[2]): Promise<FeedForwardNet> {
  let net = nets.get(model);
  if (!net) {
    net = fetchSafetensors(model, onProgress).then(({ tensors }) => feedForwardFromWeights(getRuntime(), tensors, model));
    nets.set(model, net);
    net.catch(() => nets.delete(model));
  }
  return net;
}

const feedForward: StyleMethod = {
  id: 'feed-forward',
  label: 'Feed-forward',
  summary: 'A network trained on one painting restyles any photo in a single pass. Pick a model.',
  order: 10,
  styleInputs: 'none',
  controls: [
    { kind: 'gallery', id: 'model', label: 'Model', options: FEED_FORWARD_MODELS, default: 'mosaic' },
    sizeControl([256, 512, 1024], 512),
  ],
  async available() {
    const results = await Promise.all(FEED_FORWARD_MODELS.map((m) => weightsAvailable([`${m.value}.safetensors`])));
    return results.some((r) => r === true) ? true : (results[0] as string);
  },
  async run(inputs, controls, onProgress, signal) {
    const model = stringValue(controls, 'model');
    const net = await loadNet(model, onProgress);
    throwIfAborted(signal);
    const content = resizeToLongSide(inputs.content, numberValue(controls, 'size'));
    onProgress({ stage: 'run', message: `Stylizing with ${model}…` });
    return stylizeFeedForward(net, content);
  },
};

export default feedForward;
