// The pastiche demo page: inputs on the left, method and results on the right.

import './style.css';
import type { RgbImage } from '../io/image.ts';
import { startGpu, type GpuStatus } from './gpu.ts';
import {
  captureVideoFrame,
  canvasToPngBlob,
  drawImage,
  FrameGrabber,
  imagesFromDataTransfer,
  loadBlob,
  loadUrl,
  thumbnailCanvas,
  type LoadedImage,
} from './images.ts';
import {
  defaultValues,
  yieldToBrowser,
  type ControlSpec,
  type ControlValue,
  type GalleryControl,
  type MethodInputs,
  type Progress,
  type StyleMethod,
} from './methods.ts';
import { availabilityOf, loadMethods, type RegisteredMethod } from './registry.ts';
import { loadSamples, type Sample } from './samples.ts';
import { describeValue, renderControls } from './ui/controls.ts';
import { h, icon, replaceChildren } from './ui/dom.ts';
import { gpuPanel } from './ui/gpu-panel.ts';
import { LossPlot, type LossPoint } from './ui/loss-plot.ts';

// ---- state ---------------------------------------------------------------------------------------

interface StyleEntry {
  id: number;
  loaded: LoadedImage;
  /** Slider position 0..1; normalised over the styles a method uses. */
  weight: number;
}

interface ResultEntry {
  id: number;
  method: StyleMethod;
  image: RgbImage;
  values: Record<string, ControlValue>;
  content: LoadedImage;
  styles: StyleEntry[];
  elapsedMs: number;
  stopped: boolean;
  losses: LossPoint[];
  version: number;
  /** How long the latest live re-render of this result took (none yet: undefined). */
  rerunMs?: number;
}

/** Webcam live mode: frames from the camera, stylized one after another by `method.live`. */
interface CameraSession {
  method: StyleMethod;
  controller: AbortController;
  stream: MediaStream;
  video: HTMLVideoElement;
  frames: number;
  /** When the latest stylized frame was drawn. */
  lastFrameAt: number;
  /** Smoothed frames per second (from the second frame on), and the latest frame's own time. */
  fps: number;
  frameMs: number;
  lastFrame: RgbImage | null;
  lastResult: RgbImage | null;
  done: Promise<void>;
}

interface ActiveRun {
  controller: AbortController;
  method: StyleMethod;
  /** The result being updated (live re-render or resume), or null for a new one. */
  target: ResultEntry | null;
  content: LoadedImage;
  styles: StyleEntry[];
  startedAt: number;
  priorMs: number;
  losses: LossPoint[];
  preview: RgbImage | null;
  superseded: boolean;
  done: Promise<void>;
}

const MAX_STYLES = 4;
const MAX_RESULTS = 12;
/**
 * Live re-rendering on control changes only for results that re-render faster than this. A method
 * that marks controls `live` vouches that re-rendering is cheap (its slow parts, such as weights,
 * style predictions or encoder features, stay cached), so its first re-render is tried whatever the
 * first run cost; after that the measured re-render time decides.
 */
const LIVE_RERUN_MS = 2500;
/** A software adapter (SwiftShader) is slow at everything: re-render anyway, up to this. */
const LIVE_RERUN_SOFTWARE_MS = 15_000;

const state = {
  gpu: null as GpuStatus | null,
  content: null as LoadedImage | null,
  styles: [] as StyleEntry[],
  samples: [] as Sample[],
  methods: [] as RegisteredMethod[],
  activeId: '',
  values: new Map<string, Record<string, ControlValue>>(),
  results: [] as ResultEntry[],
  selected: null as ResultEntry | null,
  run: null as ActiveRun | null,
  camera: null as CameraSession | null,
  lastError: null as string | null,
  pasteTarget: null as 'content' | 'style' | null,
};
let nextId = 1;
let resultVersion = 0;

// ---- shell ---------------------------------------------------------------------------------------

const root = document.getElementById('app')!;
const gpuBadge = h('span', { class: 'gpu-badge', 'data-state': 'pending', id: 'gpu-badge' }, h('span', { class: 'gpu-dot' }), h('span', { class: 'gpu-text' }, 'Starting WebGPU…'));
const themeButton = h('button', { type: 'button', class: 'icon-button', id: 'theme-toggle', 'aria-label': 'Switch between light and dark' });
const gpuPanelSlot = h('div', { id: 'gpu-panel-slot' });

const contentFile = h('input', { type: 'file', accept: 'image/*', hidden: true, id: 'content-file' });
const styleFile = h('input', { type: 'file', accept: 'image/*', multiple: true, hidden: true, id: 'style-file' });
const contentSlot = h('div', { class: 'slot', id: 'content-slot' });
const contentSamples = h('div', { class: 'sample-row', id: 'content-samples' });
const styleList = h('ul', { class: 'style-list', id: 'style-list' });
const styleNote = h('p', { class: 'card-note-line', id: 'style-note', hidden: true });
const styleAdd = h('div', { class: 'slot slot-compact', id: 'style-slot' });
const styleSamples = h('div', { class: 'sample-row', id: 'style-samples' });

const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Method', id: 'method-tabs' });
const methodSummary = h('p', { class: 'method-summary', id: 'method-summary' });
const methodNotice = h('p', { class: 'method-notice', id: 'method-notice', hidden: true });
const controlsSlot = h('div', { class: 'controls-slot', id: 'controls' });
const runButton = h('button', { type: 'button', class: 'button primary', id: 'run-button', onclick: () => void stylize('new') }, icon('play'), h('span', {}, 'Stylize'));
const stopButton = h('button', { type: 'button', class: 'button', id: 'stop-button', hidden: true, onclick: () => stopRun() }, icon('stop'), 'Stop');
const resumeButton = h('button', { type: 'button', class: 'button', id: 'resume-button', hidden: true, onclick: () => void stylize('resume') }, icon('resume'), 'Resume');
const liveButton = h(
  'button',
  { type: 'button', class: 'button', id: 'live-button', hidden: true, title: 'Stylize the webcam continuously', onclick: () => void guard(startCamera) },
  icon('camera'),
  'Live webcam',
);
const progressBar = h('div', { class: 'progress', id: 'progress', hidden: true, role: 'progressbar', 'aria-label': 'Progress' }, h('div', { class: 'progress-fill' }));
const statusLine = h('p', { class: 'status-line', id: 'status-line', 'aria-live': 'polite' });

const contentCanvas = h('canvas', { id: 'stage-content' });
const contentEmpty = h('div', { class: 'frame-empty' }, icon('image'), h('span', {}, 'Choose a photo: a sample, a file, or the webcam'));
const styleFrame = h('div', { class: 'frame', id: 'stage-style' });
const resultCanvas = h('canvas', { id: 'result-canvas', 'data-state': 'empty', 'data-version': '0' });
const resultPlaceholder = h('div', { class: 'frame-empty', id: 'result-empty' }, icon('sparkle'), h('span', {}, 'Your stylized image appears here'));
const resultOverlay = h('div', { class: 'frame-overlay', id: 'result-overlay', hidden: true }, h('span', { class: 'spinner' }), h('span', { class: 'overlay-text' }));
const resultError = h('div', { class: 'frame-error', id: 'result-error', hidden: true });
const liveBadge = h('div', { class: 'live-badge', id: 'live-fps', hidden: true, 'aria-live': 'off' }, h('span', { class: 'live-dot' }), h('span', { class: 'live-text' }, 'Live'));
const contentCaption = h('figcaption', {}, h('span', { class: 'pane-title' }, 'Content'), h('span', { class: 'pane-meta' }));
const styleCaption = h('figcaption', {}, h('span', { class: 'pane-title' }, 'Style'), h('span', { class: 'pane-meta' }));
const downloadButton = h('button', { type: 'button', class: 'button small', id: 'download-button', disabled: true, onclick: () => void download() }, icon('download'), 'PNG');
const resultCaption = h('figcaption', {}, h('span', { class: 'pane-title' }, 'Result'), h('span', { class: 'pane-meta', id: 'result-meta' }), downloadButton);
const lossPlot = new LossPlot();
const historyStrip = h('div', { class: 'history', id: 'history' });
const historyCard = h('section', { class: 'history-card', hidden: true }, h('h3', { class: 'section-label' }, 'History'), historyStrip);
const footerStats = h('span', { id: 'engine-stats' });
const toasts = h('div', { class: 'toasts', 'aria-live': 'polite' });
const webcamDialog = h('dialog', { class: 'webcam-dialog', id: 'webcam-dialog' });

const workspace = h(
  'main',
  { class: 'workspace', id: 'workspace' },
  h(
    'aside',
    { class: 'inputs' },
    h(
      'section',
      { class: 'card', id: 'content-card', 'data-drop': 'content' },
      cardHead('1', 'Content', 'The photo to restyle'),
      contentSlot,
      h('div', { class: 'samples' }, h('span', { class: 'section-label' }, 'Sample photos'), contentSamples),
      contentFile,
    ),
    h(
      'section',
      { class: 'card', id: 'style-card', 'data-drop': 'style' },
      cardHead('2', 'Style', 'Add several to blend them'),
      styleNote,
      styleList,
      styleAdd,
      h('div', { class: 'samples' }, h('span', { class: 'section-label' }, 'Sample paintings'), styleSamples),
      styleFile,
    ),
  ),
  h(
    'div',
    { class: 'studio' },
    h(
      'section',
      { class: 'card method-card' },
      cardHead('3', 'Method'),
      tabs,
      methodSummary,
      methodNotice,
      controlsSlot,
      h('div', { class: 'actions' }, runButton, liveButton, stopButton, resumeButton, h('div', { class: 'actions-status' }, progressBar, statusLine)),
    ),
    h(
      'section',
      { class: 'card stage-card', id: 'stage' },
      h(
        'div',
        { class: 'stage' },
        h('figure', { class: 'pane', 'data-pane': 'content' }, h('div', { class: 'frame', id: 'content-frame' }, contentCanvas, contentEmpty), contentCaption),
        h('figure', { class: 'pane', 'data-pane': 'style' }, styleFrame, styleCaption),
        h('figure', { class: 'pane pane-result', 'data-pane': 'result' }, h('div', { class: 'frame' }, resultCanvas, resultPlaceholder, liveBadge, resultOverlay, resultError), resultCaption),
      ),
      lossPlot.element,
      historyCard,
    ),
  ),
);

replaceChildren(
  root,
  h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: './' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), h('span', { class: 'brand-name' }, 'pastiche')),
    h('span', { class: 'tagline' }, 'Neural style transfer on a from-scratch WebGPU engine'),
    h('span', { class: 'spacer' }),
    gpuBadge,
    themeButton,
  ),
  gpuPanelSlot,
  workspace,
  h(
    'footer',
    { class: 'footer' },
    h('span', {}, 'Everything runs on your GPU, in this tab: no image leaves the browser.'),
    footerStats,
  ),
  toasts,
  webcamDialog,
);

function cardHead(step: string, title: string, note?: string): HTMLElement {
  return h('header', { class: 'card-head' }, h('span', { class: 'step' }, step), h('h2', {}, title), note ? h('span', { class: 'card-note' }, note) : null);
}

// ---- theme ---------------------------------------------------------------------------------------

function currentTheme(): 'light' | 'dark' {
  const forced = document.documentElement.dataset['theme'];
  if (forced === 'light' || forced === 'dark') return forced;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function renderThemeButton(): void {
  replaceChildren(themeButton, icon(currentTheme() === 'dark' ? 'sun' : 'moon'));
}

themeButton.addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset['theme'] = next;
  try {
    localStorage.setItem('pastiche-theme', next);
  } catch {
    /* private mode: the choice lasts for this visit */
  }
  renderThemeButton();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', renderThemeButton);
renderThemeButton();

// ---- toasts --------------------------------------------------------------------------------------

function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts.append(el);
  setTimeout(() => el.classList.add('toast-out'), kind === 'error' ? 6000 : 3200);
  setTimeout(() => el.remove(), kind === 'error' ? 6400 : 3600);
}

// ---- inputs --------------------------------------------------------------------------------------

function activeMethod(): RegisteredMethod | undefined {
  return state.methods.find((m) => m.method.id === state.activeId);
}

function setContent(loaded: LoadedImage): void {
  state.content = loaded;
  inputsChanged(false);
  renderContent();
}

function addStyles(loaded: LoadedImage[]): void {
  for (const image of loaded) {
    if (state.styles.length >= MAX_STYLES) {
      toast(`Up to ${MAX_STYLES} styles can be blended; remove one first.`);
      break;
    }
    state.styles.push({ id: nextId++, loaded: image, weight: 1 });
  }
  inputsChanged(false);
  renderStyles();
}

function removeStyle(id: number): void {
  state.styles = state.styles.filter((s) => s.id !== id);
  inputsChanged(false);
  renderStyles();
}

/** After an input change the stage shows the new inputs; `weightsOnly` may re-render live instead. */
function inputsChanged(weightsOnly: boolean): void {
  if (weightsOnly && liveRerunEligible()) {
    scheduleLiveRerun();
    return;
  }
  state.selected = null;
  state.lastError = null;
  renderStage();
  renderActions();
}

async function guard(task: () => Promise<void>): Promise<void> {
  try {
    await task();
  } catch (err) {
    toast((err as Error).message, 'error');
  }
}

function whereTo(target: 'content' | 'style' | null): 'content' | 'style' {
  if (target) return target;
  return state.content ? 'style' : 'content';
}

function deliver(images: LoadedImage[], target: 'content' | 'style'): void {
  if (!images.length) return;
  if (target === 'content') setContent(images[0]!);
  else addStyles(images);
}

contentFile.addEventListener('change', () =>
  void guard(async () => {
    const file = contentFile.files?.[0];
    if (file) setContent(await loadBlob(file, file.name));
    contentFile.value = '';
  }),
);
styleFile.addEventListener('change', () =>
  void guard(async () => {
    const files = [...(styleFile.files ?? [])];
    addStyles(await Promise.all(files.map((f) => loadBlob(f, f.name))));
    styleFile.value = '';
  }),
);

// Drag and drop onto either card.
for (const card of [workspace.querySelector<HTMLElement>('#content-card')!, workspace.querySelector<HTMLElement>('#style-card')!]) {
  const target = card.dataset['drop'] as 'content' | 'style';
  let depth = 0;
  card.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    card.classList.add('drag-over');
  });
  card.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  card.addEventListener('dragleave', () => {
    if (--depth <= 0) {
      depth = 0;
      card.classList.remove('drag-over');
    }
  });
  card.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    card.classList.remove('drag-over');
    const data = e.dataTransfer;
    void guard(async () => {
      const images = await imagesFromDataTransfer(data);
      if (!images.length) throw new Error('Nothing to use there: drop an image file or a picture.');
      deliver(target === 'content' ? images.slice(0, 1) : images, target);
    });
  });
  card.addEventListener('pointerenter', () => (state.pasteTarget = target));
  card.addEventListener('focusin', () => (state.pasteTarget = target));
}
workspace.querySelector('.studio')!.addEventListener('pointerenter', () => (state.pasteTarget = null));

// Paste from the clipboard: into the card under the pointer, else the content if empty, else a style.
document.addEventListener('paste', (e) => {
  const data = e.clipboardData;
  if (!data) return;
  const hasImage = data.files.length > 0 || [...data.items].some((i) => i.type.startsWith('image/')) || data.types.includes('text/uri-list');
  if (!hasImage) return;
  e.preventDefault();
  const target = whereTo(state.pasteTarget);
  void guard(async () => {
    const images = await imagesFromDataTransfer(data);
    if (!images.length) return;
    deliver(target === 'content' ? images.slice(0, 1) : images, target);
    toast(target === 'content' ? 'Pasted as the content photo.' : 'Pasted as a style.');
  });
});

// ---- webcam --------------------------------------------------------------------------------------

/** The camera's stream, or an error that says what to do. */
async function cameraStream(ideal: { width: number; height: number }): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser offers no camera access (it needs a secure page: https or localhost).');
  try {
    return await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: ideal.width }, height: { ideal: ideal.height } }, audio: false });
  } catch (err) {
    const name = (err as DOMException).name;
    throw new Error(
      name === 'NotAllowedError'
        ? 'Camera permission was denied. Allow the camera for this page in the address bar, then try again.'
        : name === 'NotFoundError'
          ? 'No camera was found.'
          : `The camera could not start: ${(err as Error).message}`,
    );
  }
}

async function openWebcam(target: 'content' | 'style'): Promise<void> {
  const stream = await cameraStream({ width: 1280, height: 720 });
  const video = h('video', { autoplay: true, playsInline: true, muted: true, class: 'webcam-video' });
  video.srcObject = stream;
  const close = () => {
    for (const track of stream.getTracks()) track.stop();
    webcamDialog.close();
  };
  const capture = h(
    'button',
    {
      type: 'button',
      class: 'button primary',
      id: 'webcam-capture',
      onclick: () =>
        void guard(async () => {
          const frame = captureVideoFrame(video, 'Webcam frame');
          close();
          deliver([frame], target);
        }),
    },
    icon('camera'),
    'Capture',
  );
  replaceChildren(
    webcamDialog,
    h('h2', {}, target === 'content' ? 'Take a content photo' : 'Take a style photo'),
    video,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'button', onclick: close }, 'Cancel'), capture),
  );
  webcamDialog.onclose = () => {
    for (const track of stream.getTracks()) track.stop();
  };
  webcamDialog.showModal();
}

// ---- webcam live mode ----------------------------------------------------------------------------

/** Resolves once the video shows a picture (rejects on abort, or if the camera stays dark). */
function videoReady(video: HTMLVideoElement, signal: AbortSignal): Promise<void> {
  if (video.videoWidth > 0 && video.readyState >= 2) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (err?: unknown) => {
      clearTimeout(timer);
      video.removeEventListener('loadeddata', onData);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onData = () => finish();
    const onAbort = () => finish(signal.reason);
    const timer = setTimeout(() => finish(new Error('The camera delivered no picture within 15 s.')), 15_000);
    video.addEventListener('loadeddata', onData);
    signal.addEventListener('abort', onAbort);
  });
}

function formatFps(fps: number): string {
  return fps >= 10 ? fps.toFixed(0) : fps >= 1 ? fps.toFixed(1) : fps.toFixed(2);
}

function renderLiveBadge(session: CameraSession): void {
  const text = liveBadge.querySelector('.live-text')!;
  liveBadge.dataset['frames'] = String(session.frames);
  if (session.frames === 0) {
    text.textContent = 'Live · starting';
    delete liveBadge.dataset['fps'];
  } else if (session.frames === 1) {
    text.textContent = `Live · first frame ${formatMs(session.frameMs)}`;
  } else {
    text.textContent = `Live · ${formatFps(session.fps)} fps · ${formatMs(session.frameMs)}/frame`;
    liveBadge.dataset['fps'] = session.fps.toFixed(4);
  }
  if (state.gpu?.ok) liveBadge.dataset['buffersCreated'] = String(state.gpu.runtime.stats().created);
  liveBadge.title = `${session.frames} frames stylized since the camera started`;
}

/** Starts webcam live mode for the active method: stylizes camera frames until Stop. */
async function startCamera(): Promise<void> {
  const reg = activeMethod();
  if (!reg || reg.availability !== true || !gpuReady() || !reg.method.live || state.camera) return;
  const method = reg.method;
  if (method.styleInputs !== 'none' && state.styles.length === 0) {
    toast(`${method.label} needs a style image: pick a sample painting or add your own.`);
    flash('#style-card');
    return;
  }
  if (state.run) {
    state.run.controller.abort(new DOMException('Stopped', 'AbortError'));
    await state.run.done;
  }
  const stream = await cameraStream({ width: 640, height: 480 });
  const video = h('video', { autoplay: true, playsInline: true, muted: true, class: 'live-video', id: 'live-video' });
  video.srcObject = stream;
  let finish!: () => void;
  const session: CameraSession = {
    method,
    controller: new AbortController(),
    stream,
    video,
    frames: 0,
    lastFrameAt: 0,
    fps: 0,
    frameMs: 0,
    lastFrame: null,
    lastResult: null,
    done: new Promise<void>((resolve) => (finish = resolve)),
  };
  state.camera = session;
  state.selected = null;
  state.lastError = null;
  setBusy(true);
  renderLiveBadge(session);
  statusLine.textContent = 'Starting the camera…';
  renderStage();
  renderActions();
  const sourceSize = () => ({ width: video.videoWidth, height: video.videoHeight });
  let size = { width: 0, height: 0 };
  try {
    void video.play().catch(() => undefined);
    await videoReady(video, session.controller.signal);
    size = sourceSize();
    await cameraLoop(session);
  } catch (err) {
    if (!session.controller.signal.aborted) {
      console.error(err);
      toast(`Live mode stopped: ${((err as Error).message || String(err)).split('\n')[0]}`, 'error');
    }
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    method.live?.stop?.();
    if (state.camera === session) state.camera = null;
    progressBar.hidden = true;
    resultOverlay.hidden = true;
    if (session.lastFrame && session.lastResult) {
      // The last frame stays as a result: it can be downloaded, and it is in the history.
      const entry: ResultEntry = {
        id: nextId++,
        method,
        image: session.lastResult,
        values: { ...valuesFor(method) },
        content: { image: session.lastFrame, name: 'Webcam frame', originalWidth: size.width || session.lastFrame.width, originalHeight: size.height || session.lastFrame.height },
        styles: state.styles.map((s) => ({ ...s })),
        elapsedMs: session.frameMs,
        stopped: false,
        losses: [],
        version: ++resultVersion,
      };
      state.results.unshift(entry);
      state.results.length = Math.min(state.results.length, MAX_RESULTS);
      state.selected = entry;
      rememberGalleryThumb(entry);
      statusLine.textContent =
        session.frames > 1
          ? `Live mode ended: ${session.frames} frames at ${formatFps(session.fps)} fps. The last frame is kept.`
          : 'Live mode ended after the first frame. It is kept.';
    } else if (statusLine.textContent === 'Starting the camera…' || session.controller.signal.aborted) {
      statusLine.textContent = 'Live mode ended.';
    }
    renderStage();
    renderActions();
    updateEngineStats();
    setBusy(false);
    finish();
  }
}

/** Stylizes frame after frame; each frame: grab at the working size, one GPU pass, draw. */
async function cameraLoop(session: CameraSession): Promise<void> {
  const { method, controller, video } = session;
  const live = method.live!;
  const signal = controller.signal;
  const grabber = new FrameGrabber();
  while (!signal.aborted) {
    const values = valuesFor(method);
    const styles = stylesFor(method, state.styles);
    if (method.styleInputs !== 'none' && styles.length === 0) throw new Error(`${method.label} needs a style image.`);
    const frame = grabber.grab(video, live.frameSize(values));
    const started = performance.now();
    let image: RgbImage;
    try {
      image = await live.frame({ content: frame, styles }, values, (p) => showCameraProgress(session, p), signal);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const now = performance.now();
    session.frameMs = now - started;
    if (session.frames > 0) {
      // Frame to frame, all included (grab, upload, GPU, download, draw); smoothed.
      const instant = 1000 / Math.max(1, now - session.lastFrameAt);
      session.fps = session.frames === 1 ? instant : 0.7 * session.fps + 0.3 * instant;
    }
    session.frames++;
    session.lastFrameAt = now;
    session.lastFrame = frame;
    session.lastResult = image;
    // Hand this frame's freed buffers back to the pool now (they are recycled at a submit), so the
    // next frame gets the same ones instead of new ones.
    if (state.gpu?.ok) await state.gpu.runtime.flush();
    if (state.camera !== session) return;
    resultOverlay.hidden = true;
    progressBar.hidden = true;
    drawResult(image);
    renderLiveBadge(session);
    statusLine.textContent = `Live: frame ${session.frames} (${frame.width}×${frame.height}). Change the model or size at any time; Stop keeps the last frame.`;
    updateEngineStats();
    await yieldToBrowser();
  }
}

function showCameraProgress(session: CameraSession, p: Progress): void {
  if (state.camera !== session) return;
  // Only worth showing while the first frame (or a newly chosen model) loads.
  if (session.frames > 0 && p.stage === 'run') return;
  const label = p.message ?? STAGE_LABELS[p.stage ?? 'run'] ?? 'Working';
  statusLine.textContent = label;
  resultOverlay.querySelector('.overlay-text')!.textContent = label;
  resultOverlay.hidden = false;
  progressBar.hidden = false;
  progressBar.classList.toggle('indeterminate', p.fraction === undefined);
  progressBar.style.setProperty('--value', `${Math.round((p.fraction ?? 0) * 1000) / 10}%`);
}

async function stopCamera(): Promise<void> {
  const session = state.camera;
  if (!session) return;
  session.controller.abort(new DOMException('Stopped', 'AbortError'));
  await session.done;
}

// ---- gallery thumbnails from results -------------------------------------------------------------

/** `<method>/<control>/<value>` → a small JPEG of the latest result with that gallery option. */
const galleryThumbs = new Map<string, string>();

/** Gallery tiles without a picture show what the option last made of the user's photo. */
function rememberGalleryThumb(entry: ResultEntry): void {
  const gallery = entry.method.controls.find((c): c is GalleryControl => c.kind === 'gallery');
  if (!gallery) return;
  const value = String(entry.values[gallery.id] ?? gallery.default);
  if (gallery.options.find((o) => o.value === value)?.thumbnail) return; // a picture of the painting says more
  galleryThumbs.set(`${entry.method.id}/${gallery.id}/${value}`, thumbnailCanvas(entry.image, 120).toDataURL('image/jpeg', 0.85));
  applyGalleryThumbs();
}

function applyGalleryThumbs(): void {
  const method = activeMethod()?.method;
  if (!method) return;
  for (const [key, url] of galleryThumbs) {
    const [methodId, controlId, value] = key.split('/') as [string, string, string];
    if (methodId !== method.id) continue;
    const art = controlsSlot.querySelector<HTMLElement>(`[data-control="${CSS.escape(controlId)}"] [data-value="${CSS.escape(value)}"] .gallery-art`);
    if (!art) continue;
    art.style.backgroundImage = `url("${url}")`;
    art.dataset['result'] = 'true';
    art.title = 'Your latest result with this model';
  }
}

// ---- rendering: inputs ---------------------------------------------------------------------------

function sourceButtons(target: 'content' | 'style'): HTMLElement {
  const file = target === 'content' ? contentFile : styleFile;
  return h(
    'div',
    { class: 'source-buttons' },
    h('button', { type: 'button', class: 'button small', 'data-action': `upload-${target}`, onclick: () => file.click() }, icon('upload'), 'Upload'),
    h('button', { type: 'button', class: 'button small', 'data-action': `webcam-${target}`, onclick: () => void guard(() => openWebcam(target)) }, icon('camera'), 'Webcam'),
  );
}

function imageMeta(loaded: LoadedImage): string {
  const scaled = loaded.originalWidth !== loaded.image.width;
  return `${loaded.image.width}×${loaded.image.height}${scaled ? ` (from ${loaded.originalWidth}×${loaded.originalHeight})` : ''}`;
}

function renderContent(): void {
  const loaded = state.content;
  if (!loaded) {
    contentSlot.classList.add('slot-empty');
    replaceChildren(
      contentSlot,
      h(
        'div',
        { class: 'slot-prompt' },
        icon('image'),
        h('p', {}, h('strong', {}, 'Drop a photo'), ', paste one, or'),
        sourceButtons('content'),
      ),
    );
  } else {
    contentSlot.classList.remove('slot-empty');
    const canvas = h('canvas', { class: 'slot-preview', id: 'content-preview' });
    drawImage(canvas, loaded.image);
    replaceChildren(
      contentSlot,
      canvas,
      h(
        'div',
        { class: 'slot-bar' },
        h('div', { class: 'slot-info' }, h('span', { class: 'slot-name', title: loaded.name }, loaded.name), h('span', { class: 'slot-meta' }, imageMeta(loaded))),
        sourceButtons('content'),
      ),
    );
  }
  markSelectedSamples();
  renderStage();
  renderActions();
}

function renderStyles(): void {
  const method = activeMethod()?.method;
  const uses = method?.styleInputs ?? 'many';
  const showWeights = uses === 'many' && state.styles.length > 1;
  const total = state.styles.reduce((a, s) => a + s.weight, 0) || 1;
  replaceChildren(
    styleList,
    state.styles.map((style, index) => {
      const thumb = thumbnailCanvas(style.loaded.image, 96);
      thumb.className = 'style-thumb';
      const share = h('span', { class: 'style-share' }, `${Math.round((style.weight / total) * 100)}%`);
      const slider = h('input', {
        type: 'range',
        min: 0,
        max: 1,
        step: 0.05,
        class: 'style-weight',
        'aria-label': `Blend weight of ${style.loaded.name}`,
        'data-style-weight': String(index),
      });
      slider.value = String(style.weight);
      slider.style.setProperty('--fill', `${style.weight * 100}%`);
      slider.addEventListener('input', () => {
        style.weight = Number(slider.value);
        slider.style.setProperty('--fill', `${style.weight * 100}%`);
        const sum = state.styles.reduce((a, s) => a + s.weight, 0) || 1;
        styleList.querySelectorAll<HTMLElement>('.style-share').forEach((el, i) => {
          el.textContent = `${Math.round((state.styles[i]!.weight / sum) * 100)}%`;
        });
        inputsChanged(true);
        renderStage();
      });
      const unused = (uses === 'one' && index > 0) || uses === 'none';
      return h(
        'li',
        { class: `style-item${unused ? ' style-unused' : ''}`, 'data-style': String(index) },
        thumb,
        h(
          'div',
          { class: 'style-body' },
          h('span', { class: 'style-name', title: style.loaded.name }, style.loaded.name),
          showWeights ? h('div', { class: 'style-weight-row' }, slider, share) : h('span', { class: 'slot-meta' }, imageMeta(style.loaded)),
        ),
        h('button', { type: 'button', class: 'icon-button small', 'aria-label': `Remove ${style.loaded.name}`, onclick: () => removeStyle(style.id) }, icon('x')),
      );
    }),
  );
  styleList.hidden = state.styles.length === 0;
  styleNote.hidden = true;
  if (method && uses === 'none') {
    styleNote.hidden = false;
    styleNote.textContent = `${method.label} models carry their own style, so style images are not used.`;
  } else if (method && uses === 'one' && state.styles.length > 1) {
    styleNote.hidden = false;
    styleNote.textContent = `${method.label} uses one style: the first in the list.`;
  }
  replaceChildren(
    styleAdd,
    h(
      'div',
      { class: 'slot-prompt slot-prompt-row' },
      icon('palette'),
      h('p', {}, state.styles.length ? 'Add another: drop, paste, or' : h('span', {}, h('strong', {}, 'Drop a painting'), ', paste one, or')),
      sourceButtons('style'),
    ),
  );
  styleAdd.hidden = state.styles.length >= MAX_STYLES;
  markSelectedSamples();
  renderStage();
  renderActions();
}

function sampleButton(sample: Sample, target: 'content' | 'style'): HTMLElement {
  const img = h('img', { src: sample.url, alt: sample.title, loading: 'lazy', draggable: true, decoding: 'async' });
  img.addEventListener('dragstart', (e) => {
    e.dataTransfer?.setData('text/uri-list', sample.url);
    e.dataTransfer?.setData('application/x-pastiche-name', sample.title);
  });
  return h(
    'button',
    {
      type: 'button',
      class: 'sample',
      title: sample.title,
      'data-sample': sample.file,
      onclick: () =>
        void guard(async () => {
          const loaded = await loadUrl(sample.url, sample.title);
          if (target === 'content') setContent(loaded);
          else if (state.styles.some((s) => s.loaded.name === sample.title || s.loaded.name === sample.file)) toast(`${sample.title} is already in the list.`);
          else addStyles([loaded]);
        }),
    },
    img,
  );
}

function renderSamples(): void {
  const photos = state.samples.filter((s) => s.kind === 'photo');
  const paintings = state.samples.filter((s) => s.kind === 'painting');
  const empty = () => h('p', { class: 'samples-empty' }, 'No sample images are served here (set PASTICHE_SAMPLES_DIR).');
  replaceChildren(contentSamples, photos.length ? photos.map((s) => sampleButton(s, 'content')) : empty());
  replaceChildren(styleSamples, paintings.length ? paintings.map((s) => sampleButton(s, 'style')) : empty());
  markSelectedSamples();
}

/** Rings the samples in use (loaded from the gallery by title, or dropped/pasted under their file name). */
function markSelectedSamples(): void {
  const isUsed = (el: HTMLElement, names: Set<string>) => names.has(el.title) || names.has(el.dataset['sample'] ?? '');
  const contentNames = new Set(state.content ? [state.content.name] : []);
  for (const el of contentSamples.querySelectorAll<HTMLElement>('.sample')) el.classList.toggle('selected', isUsed(el, contentNames));
  const styleNames = new Set(state.styles.map((s) => s.loaded.name));
  for (const el of styleSamples.querySelectorAll<HTMLElement>('.sample')) el.classList.toggle('selected', isUsed(el, styleNames));
}

// ---- rendering: method ---------------------------------------------------------------------------

function valuesFor(method: StyleMethod): Record<string, ControlValue> {
  let values = state.values.get(method.id);
  if (!values) {
    values = defaultValues(method.controls);
    state.values.set(method.id, values);
  }
  return values;
}

function selectMethod(id: string): void {
  if (state.activeId === id) return;
  if (state.camera && state.camera.method.id !== id) void stopCamera();
  state.activeId = id;
  window.history.replaceState(null, '', `#method=${encodeURIComponent(id)}`);
  renderTabs();
  renderMethod();
  renderStyles();
}

function renderTabs(): void {
  replaceChildren(
    tabs,
    state.methods.map(({ method, availability }) => {
      const selected = method.id === state.activeId;
      const ready = availability === true;
      const badge = ready ? null : h('span', { class: 'tab-badge' }, badgeFor(availability));
      return h(
        'button',
        {
          type: 'button',
          role: 'tab',
          class: `tab${ready ? '' : ' tab-unavailable'}`,
          id: `tab-${method.id}`,
          'data-method': method.id,
          'aria-selected': String(selected),
          'aria-disabled': String(!ready),
          tabindex: selected ? 0 : -1,
          title: ready ? method.summary : availability,
          onclick: () => selectMethod(method.id),
          onkeydown: (e: KeyboardEvent) => {
            if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
            const ids = state.methods.map((m) => m.method.id);
            const next = ids[(ids.indexOf(method.id) + (e.key === 'ArrowRight' ? 1 : ids.length - 1)) % ids.length]!;
            selectMethod(next);
            document.getElementById(`tab-${next}`)?.focus();
          },
        },
        method.label,
        badge,
      );
    }),
  );
}

/** A one-word reason for a disabled tab (the full sentence is in its tooltip and the panel). */
function badgeFor(reason: string): string {
  if (/^coming soon/i.test(reason)) return 'Soon';
  if (/webgpu/i.test(reason)) return 'No GPU';
  if (/weights/i.test(reason)) return 'No weights';
  return 'Off';
}

function renderMethod(): void {
  const reg = activeMethod();
  if (!reg) {
    methodSummary.textContent = '';
    controlsSlot.replaceChildren();
    renderActions();
    return;
  }
  const { method, availability } = reg;
  methodSummary.textContent = method.summary;
  methodNotice.hidden = availability === true;
  if (availability !== true) replaceChildren(methodNotice, icon('alert'), h('span', {}, availability));
  const values = valuesFor(method);
  const view = renderControls(method.controls, values, (spec) => controlChanged(method, spec), availability !== true);
  replaceChildren(controlsSlot, weightsFileRow(reg), view.element);
  applyGalleryThumbs();
  renderActions();
}

// ---- user weights files --------------------------------------------------------------------------

/** The latest weights file that could not be used, shown on its method's tab until the next try. */
let weightsFileError: { method: string; message: string } | null = null;
let weightsFileLoading = false;
let weightsFileButton: HTMLButtonElement | null = null;

/** The method's weights-file picker (e.g. AdaIN's decoder): what is in use, a button, and any error. */
function weightsFileRow(reg: RegisteredMethod): HTMLElement | null {
  const spec = reg.method.weightsFile;
  weightsFileButton = null;
  if (!spec) return null;
  const input = h('input', { type: 'file', accept: spec.accept, hidden: true, id: 'weights-file-input' });
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) void loadWeightsFile(reg, file);
  });
  weightsFileButton = h('button', { type: 'button', class: 'button small', id: 'weights-file-button', onclick: () => input.click() }, icon('upload'), spec.button);
  const current = spec.current();
  const error = weightsFileError?.method === reg.method.id ? weightsFileError.message : null;
  return h(
    'div',
    { class: 'weights-file', id: 'weights-file', 'data-state': error ? 'error' : current ? 'loaded' : 'missing' },
    h(
      'div',
      { class: 'weights-file-info' },
      h('span', { class: 'control-label' }, spec.label),
      h('span', { class: 'weights-file-current', id: 'weights-file-current' }, current ?? 'None loaded'),
    ),
    weightsFileButton,
    input,
    error ? h('p', { class: 'weights-file-error', id: 'weights-file-error', role: 'alert' }, icon('alert'), h('span', {}, error)) : null,
    spec.hint ? h('p', { class: 'control-hint' }, spec.hint) : null,
  );
}

async function loadWeightsFile(reg: RegisteredMethod, file: File): Promise<void> {
  const spec = reg.method.weightsFile;
  if (!spec || weightsFileLoading) return;
  weightsFileLoading = true;
  weightsFileError = null;
  renderActions();
  statusLine.textContent = `Checking ${file.name}…`;
  try {
    await spec.load(file, (p) => {
      if (p.message) statusLine.textContent = p.message;
    });
    if (gpuReady()) reg.availability = await availabilityOf(reg.method);
    const result = state.selected?.method === reg.method && !state.run;
    statusLine.textContent = `${spec.label} loaded: ${file.name}.${reg.availability === true ? (result ? ' Press Stylize to use it.' : '') : ''}`;
    toast(`${reg.method.label} now uses ${file.name}.`);
  } catch (err) {
    weightsFileError = { method: reg.method.id, message: (err as Error).message || String(err) };
    statusLine.textContent = '';
    toast(`${file.name} cannot be used: see the ${reg.method.label} tab.`, 'error');
  } finally {
    weightsFileLoading = false;
    renderTabs();
    if (activeMethod() === reg) renderMethod();
    renderActions();
  }
}

// ---- running -------------------------------------------------------------------------------------

function gpuReady(): boolean {
  return state.gpu?.ok === true;
}

function stylesFor(method: StyleMethod, styles: StyleEntry[]): MethodInputs['styles'] {
  if (method.styleInputs === 'none') return [];
  const used = method.styleInputs === 'one' ? styles.slice(0, 1) : styles;
  const total = used.reduce((a, s) => a + s.weight, 0);
  return used.map((s) => ({
    image: s.loaded.image,
    name: s.loaded.name,
    weight: used.length === 1 ? 1 : total > 0 ? s.weight / total : 1 / used.length,
  }));
}

function liveRerunEligible(): boolean {
  const selected = state.selected;
  const reg = activeMethod();
  if (
    !selected ||
    state.camera ||
    reg?.availability !== true ||
    !gpuReady() ||
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

let liveTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleLiveRerun(): void {
  clearTimeout(liveTimer);
  setBusy(true);
  liveTimer = setTimeout(() => {
    liveTimer = undefined;
    void stylize('live');
  }, 90);
}

/** `body[data-busy]` while a run is going or about to start (for tests and styling). */
function setBusy(busy: boolean): void {
  if (busy || state.run || state.camera || liveTimer !== undefined) document.body.dataset['busy'] = 'true';
  else delete document.body.dataset['busy'];
}

function controlChanged(method: StyleMethod, spec: ControlSpec): void {
  if (state.camera) return renderStage(); // the next webcam frame uses the new values
  if (spec.live && liveRerunEligible()) scheduleLiveRerun();
  else if (state.selected?.method === method && !state.run) {
    statusLine.textContent = 'Settings changed: press Stylize to apply them.';
  }
}

function stopRun(): void {
  if (state.camera) void stopCamera();
  state.run?.controller.abort(new DOMException('Stopped', 'AbortError'));
}

const STAGE_LABELS: Record<string, string> = {
  weights: 'Downloading weights',
  compile: 'Compiling GPU kernels',
  run: 'Stylizing',
};

function showProgress(run: ActiveRun, p: Progress): void {
  const label = p.message ?? STAGE_LABELS[p.stage ?? 'run'] ?? 'Working';
  progressBar.hidden = false;
  progressBar.classList.toggle('indeterminate', p.fraction === undefined);
  progressBar.style.setProperty('--value', `${Math.round((p.fraction ?? 0) * 1000) / 10}%`);
  if (p.fraction !== undefined) progressBar.setAttribute('aria-valuenow', String(Math.round(p.fraction * 100)));
  else progressBar.removeAttribute('aria-valuenow');
  statusLine.textContent = label;
  resultOverlay.querySelector('.overlay-text')!.textContent = label;
  if (p.preview) {
    run.preview = p.preview;
    drawResult(p.preview);
    resultCanvas.dataset['state'] = 'running';
  }
  if (p.losses) {
    const point = { step: p.step ?? (run.losses[run.losses.length - 1]?.step ?? -1) + 1, losses: { ...p.losses } };
    run.losses.push(point);
    lossPlot.add(point);
  }
}

async function stylize(mode: 'new' | 'live' | 'resume'): Promise<void> {
  const reg = activeMethod();
  if (!reg || reg.availability !== true || !gpuReady()) return setBusy(false);
  const method = reg.method;
  if (!state.content) {
    toast('Add a content photo first: pick a sample, drop a file or paste one.');
    flash('#content-card');
    return setBusy(false);
  }
  const styles = [...state.styles];
  if (method.styleInputs !== 'none' && styles.length === 0) {
    toast(`${method.label} needs a style image: pick a sample painting or add your own.`);
    flash('#style-card');
    return setBusy(false);
  }
  const target = mode === 'new' ? null : state.selected;
  if (mode !== 'new' && (!target || target.method !== method)) return setBusy(false);
  if (state.camera) await stopCamera();

  const previous = state.run;
  if (previous) {
    previous.superseded = true;
    previous.controller.abort(new DOMException('Superseded', 'AbortError'));
  }
  const controller = new AbortController();
  let finish!: () => void;
  const run: ActiveRun = {
    controller,
    method,
    target,
    content: state.content,
    styles: styles.map((s) => ({ ...s })),
    startedAt: 0,
    priorMs: mode === 'resume' && target ? target.elapsedMs : 0,
    losses: mode === 'resume' && target ? [...target.losses] : [],
    preview: null,
    superseded: false,
    done: new Promise<void>((resolve) => (finish = resolve)),
  };
  state.run = run;
  state.lastError = null;
  setBusy(true);
  const values = { ...valuesFor(method) };
  const inputs: MethodInputs = {
    content: run.content.image,
    styles: stylesFor(method, run.styles),
    ...(mode === 'resume' && target ? { resumeFrom: target.image, resumeStep: target.losses[target.losses.length - 1]?.step ?? 0 } : {}),
  };
  // Let the superseded run release the GPU first.
  if (previous) await previous.done;
  if (run.superseded) return finish();

  run.startedAt = performance.now();
  if (mode !== 'live') {
    lossPlot.set(run.losses);
    renderStage();
  }
  renderActions();
  const overlayTimer = setTimeout(() => {
    if (state.run === run) resultOverlay.hidden = false;
  }, mode === 'live' ? 400 : 0);
  try {
    const image = await method.run(inputs, values, (p) => state.run === run && showProgress(run, p), controller.signal);
    if (run.superseded) return;
    const elapsedMs = performance.now() - run.startedAt + run.priorMs;
    const stopped = controller.signal.aborted;
    const version = ++resultVersion;
    let entry: ResultEntry;
    if (target) {
      Object.assign(target, { image, values, elapsedMs, stopped, losses: run.losses, version, styles: run.styles });
      if (mode === 'live') target.rerunMs = elapsedMs;
      entry = target;
    } else {
      entry = { id: nextId++, method, image, values, content: run.content, styles: run.styles, elapsedMs, stopped, losses: run.losses, version };
      state.results.unshift(entry);
      state.results.length = Math.min(state.results.length, MAX_RESULTS);
    }
    // Only show it if the user has not moved on to other inputs meanwhile.
    if (run.content === state.content) state.selected = entry;
    if (!stopped) rememberGalleryThumb(entry);
    statusLine.textContent = stopped
      ? `Stopped after ${formatMs(elapsedMs)}${run.losses.length ? ` at step ${run.losses[run.losses.length - 1]!.step}` : ''}. Resume to continue.`
      : `Done in ${formatMs(elapsedMs)}.`;
  } catch (err) {
    if (run.superseded) return;
    if (controller.signal.aborted) {
      statusLine.textContent = 'Stopped.';
    } else {
      const message = (err as Error).message || String(err);
      console.error(err);
      state.lastError = message;
      statusLine.textContent = '';
      toast(`${method.label} failed: ${message.split('\n')[0]}`, 'error');
    }
  } finally {
    clearTimeout(overlayTimer);
    if (state.run === run) {
      state.run = null;
      progressBar.hidden = true;
      resultOverlay.hidden = true;
      renderStage();
      renderHistory();
      renderActions();
      updateEngineStats();
    }
    setBusy(false);
    finish();
  }
}

function flash(selector: string): void {
  const el = document.querySelector(selector);
  el?.classList.remove('flash');
  void (el as HTMLElement | null)?.offsetWidth;
  el?.classList.add('flash');
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function renderActions(): void {
  const reg = activeMethod();
  const camera = state.camera !== null;
  const running = (state.run !== null && !state.run.superseded) || camera;
  const ready = Boolean(reg && reg.availability === true && gpuReady());
  runButton.disabled = !ready || running;
  runButton.title = !gpuReady() ? 'Needs WebGPU' : reg && reg.availability !== true ? reg.availability : 'Stylize (Ctrl+Enter)';
  stopButton.hidden = !running;
  liveButton.hidden = running || !ready || !reg?.method.live;
  const selected = state.selected;
  resumeButton.hidden = running || !ready || !selected?.stopped || !reg?.method.resumable || selected.method !== reg.method;
  if (!running) progressBar.hidden = true;
  if (weightsFileButton) weightsFileButton.disabled = !gpuReady() || weightsFileLoading;
  replaceChildren(runButton, icon('play'), h('span', {}, selected && selected.method === reg?.method && !running ? 'Stylize again' : 'Stylize'));
}

// ---- rendering: stage ----------------------------------------------------------------------------

const drawn = new WeakMap<HTMLCanvasElement, RgbImage>();
function drawOnce(canvas: HTMLCanvasElement, image: RgbImage): void {
  if (drawn.get(canvas) === image) return;
  drawImage(canvas, image);
  drawn.set(canvas, image);
}

function drawResult(image: RgbImage): void {
  drawOnce(resultCanvas, image);
  resultCanvas.hidden = false;
  resultPlaceholder.hidden = true;
  resultError.hidden = true;
}

function methodOptionLabel(method: StyleMethod, values: Record<string, ControlValue>): string | null {
  const gallery = method.controls.find((c) => c.kind === 'gallery');
  return gallery ? describeValue(gallery, values[gallery.id] ?? gallery.default) : null;
}

function summarize(entry: ResultEntry): string {
  const parts: string[] = [];
  for (const spec of entry.method.controls) {
    if (spec.visibleWhen && !spec.visibleWhen(entry.values)) continue;
    const text = describeValue(spec, entry.values[spec.id] ?? spec.default);
    if (text) parts.push(text);
  }
  return parts.slice(0, 4).join(' · ');
}

function renderStage(): void {
  const camera = state.camera;
  const run = state.run && !state.run.superseded ? state.run : null;
  const shown = camera ? null : (run ?? state.selected);
  const content = shown?.content ?? state.content;
  const method = camera?.method ?? shown?.method ?? activeMethod()?.method;
  const styles = shown?.styles ?? state.styles;

  // Content pane: the photo, or the camera itself in live mode.
  const contentMeta = contentCaption.querySelector('.pane-meta')!;
  const contentFrame = contentCanvas.parentElement!;
  for (const video of contentFrame.querySelectorAll('video')) if (video !== camera?.video) video.remove();
  if (camera) {
    if (camera.video.parentElement !== contentFrame) contentFrame.append(camera.video);
    contentCanvas.hidden = true;
    contentMeta.textContent = 'Webcam · live';
  } else if (content) {
    drawOnce(contentCanvas, content.image);
    contentCanvas.hidden = false;
    contentMeta.textContent = content.name;
  } else {
    contentCanvas.hidden = true;
    contentMeta.textContent = '';
  }
  contentEmpty.hidden = Boolean(content) || Boolean(camera);

  // Style pane: the style images (a collage when blending), or the model for feed-forward methods.
  const styleMeta = styleCaption.querySelector('.pane-meta')!;
  const used = method ? stylesFor(method, styles) : [];
  if (method?.styleInputs === 'none') {
    const values = !run && state.selected ? state.selected.values : valuesFor(method);
    const model = methodOptionLabel(method, values) ?? method.label;
    const gallery = method.controls.find((c): c is GalleryControl => c.kind === 'gallery');
    const option = gallery?.options.find((o) => o.value === (values[gallery.id] ?? gallery.default));
    const key = `model:${model}`;
    if (styleFrame.dataset['key'] !== key) {
      styleFrame.dataset['key'] = key;
      replaceChildren(
        styleFrame,
        option?.thumbnail
          ? h('img', { class: 'model-picture', src: option.thumbnail, alt: option.caption ?? model, title: option.caption ?? model })
          : h('div', { class: 'model-tile', title: option?.caption ?? '' }, h('span', {}, model), h('small', {}, 'pretrained model')),
      );
    }
    styleMeta.textContent = model;
  } else if (used.length) {
    const key = used.map((s) => `${s.name}:${s.weight.toFixed(2)}`).join('|');
    if (styleFrame.dataset['key'] !== key) {
      styleFrame.dataset['key'] = key;
      replaceChildren(
        styleFrame,
        h(
          'div',
          { class: `collage collage-${used.length}` },
          used.map((s) => {
            const c = h('canvas', {});
            drawImage(c, s.image);
            return h('div', { class: 'collage-cell' }, c, used.length > 1 ? h('span', { class: 'collage-weight' }, `${Math.round(s.weight * 100)}%`) : null);
          }),
        ),
      );
    }
    styleMeta.textContent = used.length === 1 ? used[0]!.name : `${used.length} styles blended`;
  } else {
    styleFrame.dataset['key'] = '';
    replaceChildren(styleFrame, h('div', { class: 'frame-empty' }, icon('palette'), h('span', {}, 'Add one or more paintings to borrow their style')));
    styleMeta.textContent = '';
  }

  // Result pane.
  const resultMeta = resultCaption.querySelector('.pane-meta')!;
  resultOverlay.hidden = !(run || camera) || resultOverlay.hidden;
  liveBadge.hidden = !camera;
  if (camera) {
    resultCanvas.dataset['state'] = 'live';
    if (camera.lastResult) drawResult(camera.lastResult);
    else {
      resultCanvas.hidden = true;
      resultPlaceholder.hidden = false;
    }
    resultMeta.textContent = `${camera.method.label} · live`;
    resultMeta.removeAttribute('title');
    downloadButton.disabled = true;
    lossPlot.set([]);
  } else if (run) {
    resultCanvas.dataset['state'] = 'running';
    if (run.preview) drawResult(run.preview);
    else if (run.target) drawResult(run.target.image);
    else {
      resultCanvas.hidden = true;
      resultPlaceholder.hidden = false;
    }
    resultMeta.textContent = run.method.label;
    downloadButton.disabled = true;
  } else if (state.selected) {
    const entry = state.selected;
    drawResult(entry.image);
    resultCanvas.dataset['state'] = entry.stopped ? 'stopped' : 'done';
    resultCanvas.dataset['version'] = String(entry.version);
    resultCanvas.dataset['method'] = entry.method.id;
    resultMeta.textContent = `${entry.method.label} · ${formatMs(entry.elapsedMs)}${entry.stopped ? ' · stopped' : ''}`;
    resultMeta.setAttribute('title', summarize(entry));
    downloadButton.disabled = false;
    lossPlot.set(entry.losses);
  } else {
    resultCanvas.hidden = true;
    resultCanvas.dataset['state'] = state.lastError ? 'error' : 'empty';
    resultPlaceholder.hidden = Boolean(state.lastError);
    resultMeta.textContent = '';
    downloadButton.disabled = true;
    lossPlot.set([]);
  }
  resultError.hidden = !state.lastError || Boolean(run) || Boolean(camera) || Boolean(state.selected);
  if (!resultError.hidden) replaceChildren(resultError, icon('alert'), h('p', {}, state.lastError ?? ''));
  renderHistory();
}

function renderHistory(): void {
  historyCard.hidden = state.results.length === 0;
  const existing = new Map([...historyStrip.children].map((el) => [(el as HTMLElement).dataset['entry'], el as HTMLElement]));
  const items = state.results.map((entry) => {
    let item = existing.get(String(entry.id));
    if (!item || item.dataset['version'] !== String(entry.version)) {
      const thumb = thumbnailCanvas(entry.image, 180);
      item = h(
        'button',
        { type: 'button', class: 'history-item', 'data-entry': String(entry.id), 'data-version': String(entry.version), onclick: () => selectResult(entry) },
        h('span', { class: 'history-thumb' }, thumb),
        h('span', { class: 'history-label' }, `${methodOptionLabel(entry.method, entry.values) ?? entry.method.label}${entry.content.name === 'Webcam frame' ? ' · webcam' : ''}`),
        h('span', { class: 'history-meta' }, `${formatMs(entry.elapsedMs)}${entry.stopped ? ' · stopped' : ''}`),
      );
      item.title = summarize(entry);
    }
    item.classList.toggle('selected', entry === state.selected);
    return item;
  });
  historyStrip.replaceChildren(...items);
}

function selectResult(entry: ResultEntry): void {
  if (state.run) return;
  state.selected = entry;
  if (entry.method.id !== state.activeId) {
    state.values.set(entry.method.id, { ...entry.values });
    state.activeId = entry.method.id;
    renderTabs();
    renderMethod();
    renderStyles();
  }
  renderStage();
  renderActions();
}

async function download(): Promise<void> {
  const entry = state.selected;
  if (!entry) return;
  const canvas = document.createElement('canvas');
  drawImage(canvas, entry.image);
  const blob = await canvasToPngBlob(canvas);
  const stem = entry.content.name.replace(/\.[^.]+$/, '').replace(/[^\w-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'image';
  const variant = (methodOptionLabel(entry.method, entry.values) ?? '').toLowerCase().replace(/[^\w]+/g, '-');
  const link = h('a', { href: URL.createObjectURL(blob), download: `pastiche-${stem}-${entry.method.id}${variant ? `-${variant}` : ''}.png` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function updateEngineStats(): void {
  if (state.gpu?.ok !== true) {
    footerStats.textContent = '';
    return;
  }
  const stats = state.gpu.runtime.stats();
  if (stats.dispatches === 0) {
    footerStats.textContent = '';
    return;
  }
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  footerStats.textContent = `Engine: ${stats.pipelines} GPU kernels compiled · ${stats.dispatches} dispatches · peak ${mb(stats.peakBytes)} GPU memory`;
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !runButton.disabled) void stylize('new');
});

// ---- start-up ------------------------------------------------------------------------------------

function showGpu(status: GpuStatus): void {
  state.gpu = status;
  const text = gpuBadge.querySelector('.gpu-text')!;
  if (status.ok) {
    gpuBadge.dataset['state'] = status.isSoftware ? 'software' : 'ready';
    text.textContent = `WebGPU · ${status.adapterName}`;
    gpuBadge.title = status.isSoftware
      ? 'A software (CPU) WebGPU adapter: everything works, slowly. Keep working sizes small.'
      : 'Running on your GPU through WebGPU.';
    gpuPanelSlot.replaceChildren();
    workspace.classList.remove('gpu-missing');
    void status.runtime.context.lost.then((err) => {
      state.gpu = { ok: false, problem: 'device-failed', detail: err.message };
      gpuBadge.dataset['state'] = 'error';
      text.textContent = 'GPU lost';
      replaceChildren(gpuPanelSlot, gpuPanel('lost', err.message, () => location.reload()));
      renderActions();
    });
  } else {
    gpuBadge.dataset['state'] = 'error';
    text.textContent = 'No WebGPU';
    gpuBadge.title = status.detail;
    replaceChildren(gpuPanelSlot, gpuPanel(status.problem, status.detail, () => void boot()));
    workspace.classList.add('gpu-missing');
  }
  document.body.dataset['gpu'] = status.ok ? 'ready' : 'unavailable';
}

async function boot(): Promise<void> {
  document.body.dataset['gpu'] = 'pending';
  const status = await startGpu();
  showGpu(status);
  const registered = await loadMethods();
  state.methods = status.ok ? registered : registered.map((r) => ({ ...r, availability: r.availability === true ? 'Needs WebGPU, which this browser does not provide.' : r.availability }));
  const requested = new URLSearchParams(location.hash.slice(1)).get('method');
  // Without WebGPU, still open the tab that would run with it.
  const firstReady = registered.find((m) => m.availability === true)?.method.id;
  state.activeId =
    state.methods.find((m) => m.method.id === requested)?.method.id ?? firstReady ?? state.methods[0]?.method.id ?? '';
  renderTabs();
  renderMethod();
  renderStyles();
  renderStage();
  updateEngineStats();
  document.body.dataset['ready'] = 'true';
}

renderContent();
renderStyles();
renderStage();
renderActions();
void loadSamples().then((samples) => {
  state.samples = samples;
  renderSamples();
});
void boot();
