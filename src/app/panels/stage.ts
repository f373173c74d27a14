// The stage: the content, the style and the result side by side, with the result's loss curve.
// It shows the live camera, the run in progress, or the selected result (in that order).

import type { RgbImage } from '../../io/image.ts';
import { formatFps, formatMs } from '../format.ts';
import { canvasToPngBlob, drawImage } from '../images.ts';
import type { ControlValue, GalleryControl, StyleMethod } from '../methods.ts';
import { activeMethod, stylesFor, valuesFor, type AppState, type AppStore, type CameraSession, type ResultEntry } from '../state/app-state.ts';
import { describeValue } from '../ui/controls.ts';
import { h, icon, replaceChildren } from '../ui/dom.ts';
import { LossPlot, type LossPoint } from '../ui/loss-plot.ts';
import { guard } from '../ui/notify.ts';

/** The label of the method's gallery choice (the model, say), if it has one. */
export function methodOptionLabel(method: StyleMethod, values: Record<string, ControlValue>): string | null {
  const gallery = method.controls.find((c) => c.kind === 'gallery');
  return gallery ? describeValue(gallery, values[gallery.id] ?? gallery.default) : null;
}

/** The result's settings in a line (its tooltip). */
export function summarize(entry: ResultEntry): string {
  const parts: string[] = [];
  for (const spec of entry.method.controls) {
    if (spec.visibleWhen && !spec.visibleWhen(entry.values)) continue;
    const text = describeValue(spec, entry.values[spec.id] ?? spec.default);
    if (text) parts.push(text);
  }
  return parts.slice(0, 4).join(' · ');
}

async function download(entry: ResultEntry): Promise<void> {
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

function renderLiveBadge(badge: HTMLElement, session: CameraSession, state: Readonly<AppState>): void {
  const text = badge.querySelector('.live-text')!;
  badge.dataset['frames'] = String(session.frames);
  if (session.frames === 0) {
    text.textContent = 'Live · starting';
    delete badge.dataset['fps'];
  } else if (session.frames === 1) {
    text.textContent = `Live · first frame ${formatMs(session.frameMs)}`;
  } else {
    text.textContent = `Live · ${formatFps(session.fps)} fps · ${formatMs(session.frameMs)}/frame`;
    badge.dataset['fps'] = session.fps.toFixed(4);
  }
  if (state.gpu?.ok) badge.dataset['buffersCreated'] = String(state.gpu.runtime.stats().created);
  badge.title = `${session.frames} frames stylized since the camera started`;
}

/** The stage's three panes and the loss plot; `history` goes below them. */
export function stagePanel(store: AppStore, history: HTMLElement): HTMLElement {
  const contentCanvas = h('canvas', { id: 'stage-content' });
  const contentEmpty = h('div', { class: 'frame-empty' }, icon('image'), h('span', {}, 'Choose a photo: a sample, a file, or the webcam'));
  const contentFrame = h('div', { class: 'frame', id: 'content-frame' }, contentCanvas, contentEmpty);
  const styleFrame = h('div', { class: 'frame', id: 'stage-style' });
  const resultCanvas = h('canvas', { id: 'result-canvas', 'data-state': 'empty', 'data-version': '0' });
  const resultPlaceholder = h('div', { class: 'frame-empty', id: 'result-empty' }, icon('sparkle'), h('span', {}, 'Your stylized image appears here'));
  const resultOverlay = h('div', { class: 'frame-overlay', id: 'result-overlay', hidden: true }, h('span', { class: 'spinner' }), h('span', { class: 'overlay-text' }));
  const resultError = h('div', { class: 'frame-error', id: 'result-error', hidden: true });
  const liveBadge = h('div', { class: 'live-badge', id: 'live-fps', hidden: true, 'aria-live': 'off' }, h('span', { class: 'live-dot' }), h('span', { class: 'live-text' }, 'Live'));
  const contentMeta = h('span', { class: 'pane-meta' });
  const styleMeta = h('span', { class: 'pane-meta' });
  const resultMeta = h('span', { class: 'pane-meta', id: 'result-meta' });
  const downloadButton = h(
    'button',
    {
      type: 'button',
      class: 'button small',
      id: 'download-button',
      disabled: true,
      onclick: () => {
        const entry = store.get().selected;
        if (entry) void guard(() => download(entry));
      },
    },
    icon('download'),
    'PNG',
  );
  const lossPlot = new LossPlot();

  const drawn = new WeakMap<HTMLCanvasElement, RgbImage>();
  const drawOnce = (canvas: HTMLCanvasElement, image: RgbImage) => {
    if (drawn.get(canvas) === image) return;
    drawImage(canvas, image);
    drawn.set(canvas, image);
  };
  const drawResult = (image: RgbImage | null | undefined) => {
    resultCanvas.hidden = !image;
    resultPlaceholder.hidden = Boolean(image);
    if (!image) return;
    drawOnce(resultCanvas, image);
    resultError.hidden = true;
  };
  /** The plot follows the shown losses; a live re-render without losses of its own leaves it as it is. */
  let plotted: { points: LossPoint[]; length: number } | null = null;
  const plot = (points: LossPoint[]) => {
    if (plotted?.points === points && plotted.length === points.length) return;
    plotted = { points, length: points.length };
    lossPlot.set(points);
  };
  const noLosses: LossPoint[] = [];

  const renderContent = (state: Readonly<AppState>, content: AppState['content']) => {
    const camera = state.camera;
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
  };

  /** The style images (a collage when blending), or the model for methods that bring their own style. */
  const renderStyle = (state: Readonly<AppState>, method: StyleMethod | undefined, styles: AppState['styles'], running: boolean) => {
    const used = method ? stylesFor(method, styles) : [];
    let key = '';
    let meta = '';
    let picture: () => HTMLElement = () => h('div', { class: 'frame-empty' }, icon('palette'), h('span', {}, 'Add one or more paintings to borrow their style'));
    if (method?.styleInputs === 'none') {
      const values = !running && state.selected ? state.selected.values : valuesFor(state, method);
      const model = methodOptionLabel(method, values) ?? method.label;
      const gallery = method.controls.find((c): c is GalleryControl => c.kind === 'gallery');
      const option = gallery?.options.find((o) => o.value === (values[gallery.id] ?? gallery.default));
      key = `model:${model}`;
      meta = model;
      picture = () =>
        option?.thumbnail
          ? h('img', { class: 'model-picture', src: option.thumbnail, alt: option.caption ?? model, title: option.caption ?? model })
          : h('div', { class: 'model-tile', title: option?.caption ?? '' }, h('span', {}, model), h('small', {}, 'pretrained model'));
    } else if (used.length) {
      key = used.map((s) => `${s.name}:${s.weight.toFixed(2)}`).join('|');
      meta = used.length === 1 ? used[0]!.name : `${used.length} styles blended`;
      picture = () =>
        h(
          'div',
          { class: `collage collage-${used.length}` },
          used.map((s) => {
            const c = h('canvas', {});
            drawImage(c, s.image);
            return h('div', { class: 'collage-cell' }, c, used.length > 1 ? h('span', { class: 'collage-weight' }, `${Math.round(s.weight * 100)}%`) : null);
          }),
        );
    }
    if (!key || styleFrame.dataset['key'] !== key) {
      styleFrame.dataset['key'] = key;
      replaceChildren(styleFrame, picture());
    }
    styleMeta.textContent = meta;
  };

  const renderResult = (state: Readonly<AppState>, run: AppState['run']) => {
    const camera = state.camera;
    resultOverlay.hidden = !((run || camera) && state.overlay);
    if (state.progress) resultOverlay.querySelector('.overlay-text')!.textContent = state.progress.label;
    liveBadge.hidden = !camera;
    if (camera) {
      renderLiveBadge(liveBadge, camera, state);
      resultCanvas.dataset['state'] = 'live';
      drawResult(camera.lastResult);
      resultMeta.textContent = `${camera.method.label} · live`;
      resultMeta.removeAttribute('title');
      downloadButton.disabled = true;
      plot(noLosses);
    } else if (run) {
      resultCanvas.dataset['state'] = 'running';
      drawResult(run.preview ?? run.target?.image);
      resultMeta.textContent = run.method.label;
      downloadButton.disabled = true;
      if (run.mode !== 'live' || run.losses.length) plot(run.losses);
    } else if (state.selected) {
      const entry = state.selected;
      drawResult(entry.image);
      resultCanvas.dataset['state'] = entry.stopped ? 'stopped' : 'done';
      resultCanvas.dataset['version'] = String(entry.version);
      resultCanvas.dataset['method'] = entry.method.id;
      resultMeta.textContent = `${entry.method.label} · ${formatMs(entry.elapsedMs)}${entry.stopped ? ' · stopped' : ''}`;
      resultMeta.setAttribute('title', summarize(entry));
      downloadButton.disabled = false;
      plot(entry.losses);
    } else {
      resultCanvas.hidden = true;
      resultCanvas.dataset['state'] = state.lastError ? 'error' : 'empty';
      resultPlaceholder.hidden = Boolean(state.lastError);
      resultMeta.textContent = '';
      downloadButton.disabled = true;
      plot(noLosses);
    }
    resultError.hidden = !state.lastError || Boolean(run) || Boolean(camera) || Boolean(state.selected);
    if (!resultError.hidden) replaceChildren(resultError, icon('alert'), h('p', {}, state.lastError ?? ''));
  };

  const render = (state: Readonly<AppState>) => {
    const run = state.run && !state.run.superseded && state.run.startedAt > 0 ? state.run : null;
    const shown = state.camera ? null : (run ?? state.selected);
    const content = shown?.content ?? state.content;
    renderContent(state, content);
    renderStyle(state, state.camera?.method ?? shown?.method ?? activeMethod(state)?.method, shown?.styles ?? state.styles, Boolean(run));
    renderResult(state, run);
  };

  store.subscribe(['content', 'styles', 'methods', 'activeId', 'values', 'selected', 'run', 'camera', 'lastError', 'progress', 'overlay', 'gpu'], render);
  render(store.get());

  const caption = (title: string, ...rest: HTMLElement[]) => h('figcaption', {}, h('span', { class: 'pane-title' }, title), ...rest);
  return h(
    'section',
    { class: 'card stage-card', id: 'stage' },
    h(
      'div',
      { class: 'stage' },
      h('figure', { class: 'pane', 'data-pane': 'content' }, contentFrame, caption('Content', contentMeta)),
      h('figure', { class: 'pane', 'data-pane': 'style' }, styleFrame, caption('Style', styleMeta)),
      h(
        'figure',
        { class: 'pane pane-result', 'data-pane': 'result' },
        h('div', { class: 'frame' }, resultCanvas, resultPlaceholder, liveBadge, resultOverlay, resultError),
        caption('Result', resultMeta, downloadButton),
      ),
    ),
    lossPlot.element,
    history,
  );
}
