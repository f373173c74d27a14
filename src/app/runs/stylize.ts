// Runs the active method on the chosen inputs: new runs, live re-renders after a control change,
// resuming a stopped iterative run, and stopping. Results go to the history in the store.

import type { ControlSpec, GalleryControl, Progress, StyleMethod } from '../methods.ts';
import { formatMs } from '../format.ts';
import { gpuFailure } from '../gpu.ts';
import { thumbnailCanvas } from '../images.ts';
import {
  activeMethod,
  gpuReady,
  nextId,
  nextResultVersion,
  stylesFor,
  valuesFor,
  withResult,
  type ActiveRun,
  type AppStore,
  type ResultEntry,
  type RunMode,
} from '../state/app-state.ts';
import { flash, toast } from '../ui/notify.ts';

/**
 * Live re-rendering on control changes only for results that re-render faster than this. A method
 * that marks controls `live` vouches that re-rendering is cheap (its slow parts, such as weights,
 * style predictions or encoder features, stay cached), so its first re-render is tried whatever the
 * first run cost; after that the measured re-render time decides.
 */
const LIVE_RERUN_MS = 2500;
/** A software adapter (SwiftShader) is slow at everything: re-render anyway, up to this. */
const LIVE_RERUN_SOFTWARE_MS = 15_000;
/** Control changes closer together than this re-render once. */
const LIVE_RERUN_DEBOUNCE_MS = 90;

const STAGE_LABELS: Record<string, string> = {
  weights: 'Downloading weights',
  compile: 'Compiling GPU kernels',
  run: 'Stylizing',
};

export function progressLabel(p: Progress): string {
  return p.message ?? STAGE_LABELS[p.stage ?? 'run'] ?? 'Working';
}

export interface Runner {
  stylize(mode: RunMode): Promise<void>;
  /** Stops the run or the webcam live mode. */
  stop(): void;
  stopCamera(): Promise<void>;
  /** After an input change the stage shows the new inputs; `weightsOnly` may re-render live instead. */
  inputsChanged(weightsOnly: boolean): void;
  controlChanged(method: StyleMethod, spec: ControlSpec): void;
}

/** Gallery tiles without a picture show what the option last made of the user's photo. */
export function rememberGalleryThumb(store: AppStore, entry: ResultEntry): void {
  const gallery = entry.method.controls.find((c): c is GalleryControl => c.kind === 'gallery');
  if (!gallery) return;
  const value = String(entry.values[gallery.id] ?? gallery.default);
  if (gallery.options.find((o) => o.value === value)?.thumbnail) return; // a picture of the painting says more
  const thumbs = store.get().galleryThumbs;
  thumbs.set(`${entry.method.id}/${gallery.id}/${value}`, thumbnailCanvas(entry.image, 120).toDataURL('image/jpeg', 0.85));
  store.update({ galleryThumbs: thumbs });
}

export function createRunner(store: AppStore): Runner {
  let liveTimer: ReturnType<typeof setTimeout> | undefined;

  function liveRerunEligible(): boolean {
    const state = store.get();
    const selected = state.selected;
    const reg = activeMethod(state);
    if (
      !selected ||
      state.camera ||
      reg?.availability !== true ||
      !gpuReady(state) ||
      selected.method !== reg.method ||
      selected.stopped ||
      selected.content !== state.content
    ) {
      return false;
    }
    const vouchesCheapRerender = reg.method.controls.some((c) => c.live);
    const cost = selected.rerunMs ?? (vouchesCheapRerender ? 0 : selected.elapsedMs);
    const software = state.gpu?.ok === true && state.gpu.isSoftware;
    return cost < (software ? LIVE_RERUN_SOFTWARE_MS : LIVE_RERUN_MS);
  }

  function scheduleLiveRerun(): void {
    clearTimeout(liveTimer);
    store.update({ livePending: true });
    liveTimer = setTimeout(() => {
      liveTimer = undefined;
      store.update({ livePending: false });
      void stylize('live');
    }, LIVE_RERUN_DEBOUNCE_MS);
  }

  async function stopCamera(): Promise<void> {
    const session = store.get().camera;
    if (!session) return;
    session.controller.abort(new DOMException('Stopped', 'AbortError'));
    await session.done;
  }

  function showProgress(run: ActiveRun, p: Progress): void {
    const label = progressLabel(p);
    if (p.preview) run.preview = p.preview;
    if (p.losses) run.losses.push({ step: p.step ?? (run.losses[run.losses.length - 1]?.step ?? -1) + 1, losses: { ...p.losses } });
    store.update({ progress: { label, ...(p.fraction !== undefined ? { fraction: p.fraction } : {}) }, status: label, run });
  }

  async function stylize(mode: RunMode): Promise<void> {
    const state = store.get();
    const reg = activeMethod(state);
    if (!reg || reg.availability !== true || !gpuReady(state)) return;
    const method = reg.method;
    const content = state.content;
    if (!content) {
      toast('Add a content photo first: pick a sample, drop a file or paste one.');
      flash('#content-card');
      return;
    }
    const styles = [...state.styles];
    if (method.styleInputs !== 'none' && styles.length === 0) {
      toast(`${method.label} needs a style image: pick a sample painting or add your own.`);
      flash('#style-card');
      return;
    }
    const target = mode === 'new' ? null : state.selected;
    if (mode !== 'new' && (!target || target.method !== method)) return;
    if (state.camera) await stopCamera();

    const previous = store.get().run;
    if (previous) {
      previous.superseded = true;
      previous.controller.abort(new DOMException('Superseded', 'AbortError'));
    }
    const controller = new AbortController();
    let finish!: () => void;
    const run: ActiveRun = {
      mode,
      controller,
      method,
      target,
      content,
      styles: styles.map((s) => ({ ...s })),
      startedAt: 0,
      priorMs: mode === 'resume' && target ? target.elapsedMs : 0,
      losses: mode === 'resume' && target ? [...target.losses] : [],
      preview: null,
      superseded: false,
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    const values = { ...valuesFor(state, method) };
    const inputs = {
      content: run.content.image,
      styles: stylesFor(method, run.styles),
      ...(mode === 'resume' && target ? { resumeFrom: target.image, resumeStep: target.losses[target.losses.length - 1]?.step ?? 0 } : {}),
    };
    // In the store at once, so the superseded run's late progress reports are ignored.
    store.update({ run, lastError: null });
    if (previous) await previous.done;
    if (run.superseded) return finish();

    run.startedAt = performance.now();
    store.update({ run });
    const overlayTimer = setTimeout(() => {
      if (store.get().run === run) store.update({ overlay: true });
    }, mode === 'live' ? 400 : 0);
    try {
      const image = await method.run(inputs, values, (p) => store.get().run === run && showProgress(run, p), controller.signal);
      if (run.superseded) return;
      const elapsedMs = performance.now() - run.startedAt + run.priorMs;
      const stopped = controller.signal.aborted;
      const version = nextResultVersion();
      let entry: ResultEntry;
      let results = store.get().results;
      if (target) {
        Object.assign(target, { image, values, elapsedMs, stopped, losses: run.losses, version, styles: run.styles });
        if (mode === 'live') target.rerunMs = elapsedMs;
        entry = target;
      } else {
        entry = { id: nextId(), method, image, values, content: run.content, styles: run.styles, elapsedMs, stopped, losses: run.losses, version };
        results = withResult(results, entry);
      }
      // Only show it if the user has not moved on to other inputs meanwhile.
      const shown = run.content === store.get().content;
      store.update({
        results,
        ...(shown ? { selected: entry } : {}),
        status: stopped
          ? `Stopped after ${formatMs(elapsedMs)}${run.losses.length ? ` at step ${run.losses[run.losses.length - 1]!.step}` : ''}. Resume to continue.`
          : `Done in ${formatMs(elapsedMs)}.`,
      });
      if (!stopped) rememberGalleryThumb(store, entry);
    } catch (err) {
      if (run.superseded) return;
      if (controller.signal.aborted) {
        store.update({ status: 'Stopped.' });
      } else {
        const message = (err as Error).message || String(err);
        console.error(err);
        store.update({ lastError: message, status: '' });
        toast(`${method.label} failed: ${message.split('\n')[0]}`, 'error');
        // A lost device or an out-of-memory: the GPU panel offers Retry (a fresh device).
        const failure = gpuFailure(err);
        if (failure && store.get().gpu?.ok) store.update({ gpu: failure });
      }
    } finally {
      clearTimeout(overlayTimer);
      if (store.get().run === run) store.update({ run: null, progress: null, overlay: false });
      finish();
    }
  }

  return {
    stylize,
    stopCamera,
    stop() {
      const state = store.get();
      if (state.camera) void stopCamera();
      state.run?.controller.abort(new DOMException('Stopped', 'AbortError'));
    },
    inputsChanged(weightsOnly) {
      if (weightsOnly && liveRerunEligible()) return scheduleLiveRerun();
      store.update({ selected: null, lastError: null });
    },
    controlChanged(method, spec) {
      const state = store.get();
      if (state.camera) return store.touch('values'); // the next webcam frame uses the new values
      if (spec.live && liveRerunEligible()) scheduleLiveRerun();
      else if (state.selected?.method === method && !state.run) store.update({ status: 'Settings changed: press Stylize to apply them.' });
    },
  };
}
