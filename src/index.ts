/**
 * pastiche's library API, the platform-neutral core: the method registry, option checking, the
 * image types, and `createPastiche` that the Node entry (index.node.ts) and the browser entry
 * (index.browser.ts) turn into `stylize` and `load`. Import from 'pastiche', which resolves to the
 * entry for your platform.
 */
import { METHODS } from './nets/methods/registry.ts';

/** Every method: its id, aliases, label, summary, how many styles it takes, and its options (types, ranges, defaults). */
export const methods = METHODS;

export { createPastiche } from './api/create.ts';
export type { CallOptions, LoadOptions, Model, Pastiche, Platform, RunOptions, StylizeOptions } from './api/create.ts';
export type { CoreImageInput, ImageDataLike, StylizedImage } from './api/images.ts';
export { defaultMethodId, findMethod, methodById } from './nets/methods/registry.ts';
export { optionHelp, resolveOptions } from './nets/methods/options.ts';
export { fetchWeightSource, type FetchWeightSourceOptions } from './nets/weights/fetch-weight-source.ts';
export { WeightsNotFoundError } from './nets/methods/contract.ts';
export type {
  MethodDefinition,
  MethodEnvironment,
  OptionSpec,
  OptionUi,
  OptionValue,
  OptionValues,
  Progress,
  RunControl,
  StyleInput,
  Stylizer,
  StylizeResult,
  WeightSource,
} from './nets/methods/contract.ts';
export { decodeImage, encodePng, fromRgba8, toRgba8, type RgbImage } from './io/image.ts';
