/**
 * The pretrained nets loaded from the weight store on disk (Node only). The nets themselves stay
 * platform-neutral; the page builds them from fetched weights through the method definitions.
 */
import type { Runtime } from '../../../gpu/runtime.ts';
import { Magenta } from '../../methods/magenta/magenta.ts';
import type { GraphProgramOptions } from '../../methods/magenta/graph/interpret.ts';
import { loadTfliteGraph } from '../../methods/magenta/node/store.ts';
import { DistilledVgg, DISTILLED_MODEL } from '../../models/distilled-vgg.ts';
import { Vgg, type VggOptions } from '../../models/vgg.ts';
import { loadModelWeights, type StoreOptions } from './store.ts';

/** VGG19 with the pretrained ImageNet weights. */
export async function loadPretrainedVgg(runtime: Runtime, options: Omit<VggOptions, 'arch'> & StoreOptions = {}): Promise<Vgg> {
  const weights = await loadModelWeights('vgg19', options);
  return Vgg.fromHost(runtime, weights, { ...options, arch: 'vgg19' }, 'vgg19 weights');
}

/**
 * Both Magenta nets: the first call fetches the .tflite files and converts them into the cache
 * (`magenta-predict` / `magenta-transfer` .safetensors + .graph.json); later calls read the conversion.
 */
export async function loadPretrainedMagenta(runtime: Runtime, store: StoreOptions = {}, options: GraphProgramOptions = {}): Promise<Magenta> {
  const predict = await loadTfliteGraph('magenta-predict', store);
  const transfer = await loadTfliteGraph('magenta-transfer', store);
  return Magenta.fromGraphs(runtime, { predict, transfer }, options);
}

/** The ten Collaborative-Distillation nets (encoders and decoders, levels 1..5) for WCT and AdaIN. */
export async function loadPretrainedDistilled(runtime: Runtime, store: StoreOptions = {}): Promise<DistilledVgg> {
  return DistilledVgg.fromHost(runtime, await loadModelWeights(DISTILLED_MODEL, store), `${DISTILLED_MODEL} weights`);
}
