// A tab of the page made from a method definition (src/nets/methods/<id>/definition.ts): its id,
// label, style inputs and controls come from the definition, and by default it runs through it
// (loaded once per set of weight-picking options, then kept on the GPU). A page adapter
// (methods/<id>.ts) adds only what the page needs beyond that: the order of the tabs, the page's
// wording, whether the weights are installed, and a faster run where the page keeps more cached
// between re-renders (style vectors, encoder features) or resumes a stopped run.

import { getRuntime } from '../gpu/runtime.ts';
import type { MethodDefinition, OptionValues, RgbImage, Stylizer } from '../index.browser.ts';
import { controlsFor, optionValuesFrom, type ControlOverrides } from './definition-controls.ts';
import type { ControlSpec, ControlValues, LiveMode, MethodInputs, ProgressFn, StyleMethod, WeightsFileInput } from './methods.ts';
import { runtimeTag } from './methods/_shared.ts';
import { pageWeights } from './weights.ts';

/** Runs with the definition's checked option values (the page's control values resolved by it). */
export type PageRun = (inputs: MethodInputs, options: OptionValues, onProgress: ProgressFn, signal: AbortSignal) => Promise<RgbImage>;

export interface PageAdapter {
  /** The definition this adapts (its id). */
  method: string;
  /** Tab order (lower first); tabs without an adapter follow in the registry's order. */
  order: number;
  /** The line under the tabs, in the page's words (default: the definition's summary). */
  summary?: string;
  controls?: ControlOverrides;
  /** Options whose value picks the weights, so a change loads anew (default: gallery options such as `model`). */
  loadOptions?: readonly string[];
  /** `true` when the weights are installed, else the sentence for the disabled tab (default: `true`). */
  available?(controls: readonly ControlSpec[]): Promise<true | string>;
  /** A page-specific run; default: through the definition. */
  run?(definition: MethodDefinition, through: PageRun): PageRun;
  resumable?: boolean;
  weightsFile?: WeightsFileInput;
  /** Webcam live mode (see LiveMode), with option values; frames go through the tab's run unless `frame` says otherwise. */
  live?: {
    frameSize(options: OptionValues): number;
    frame?(run: PageRun): PageRun;
    stop?(): void;
  };
}

/** Runs through the definition: `load` once per value of the weight-picking options, kept on the GPU. */
export function definitionRun(definition: MethodDefinition, loadOptions: readonly string[]): PageRun {
  const loaded = new Map<string, Promise<Stylizer>>();
  return async (inputs, options, onProgress, signal) => {
    // Per GPU runtime too: after a lost device the page starts a fresh one and the old weights are gone.
    const key = `${runtimeTag()}:${JSON.stringify(loadOptions.map((id) => options[id] ?? null))}`;
    let stylizer = loaded.get(key);
    if (!stylizer) {
      stylizer = definition.load({ runtime: getRuntime(), weights: pageWeights }, options, { onProgress });
      loaded.set(key, stylizer);
      stylizer.catch(() => loaded.delete(key)); // retried at the next run
    }
    const ready = await stylizer;
    if (signal.aborted) throw signal.reason;
    const result = await ready.stylize(inputs.content, inputs.styles, options, { onProgress, signal });
    return result.image;
  };
}

export function pageMethod(definition: MethodDefinition, adapter: PageAdapter | undefined, order: number): StyleMethod {
  const controls = controlsFor(definition, adapter?.controls);
  const loadOptions = adapter?.loadOptions ?? controls.filter((c) => c.kind === 'gallery').map((c) => c.id);
  const through = definitionRun(definition, loadOptions);
  const run = adapter?.run ? adapter.run(definition, through) : through;
  const withValues = (values: ControlValues) => optionValuesFrom(definition, values);
  const camera = adapter?.live;
  const frame = camera?.frame?.(run) ?? run;
  const live: LiveMode | undefined = camera && {
    frameSize: (values) => camera.frameSize(withValues(values)),
    frame: async (inputs, values, onProgress, signal) => frame(inputs, withValues(values), onProgress, signal),
    ...(camera.stop ? { stop: camera.stop } : {}),
  };
  return {
    id: definition.id,
    label: definition.label,
    summary: adapter?.summary ?? definition.summary,
    order: adapter?.order ?? order,
    styleInputs: definition.styles,
    controls,
    ...(adapter?.resumable ? { resumable: true } : {}),
    ...(adapter?.weightsFile ? { weightsFile: adapter.weightsFile } : {}),
    available: adapter?.available ? () => adapter.available!(controls) : async () => true,
    run: async (inputs, values, onProgress, signal) => run(inputs, withValues(values), onProgress, signal),
    ...(live ? { live } : {}),
  };
}
