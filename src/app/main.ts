// The pastiche demo page: inputs on the left, method and results on the right. This file only puts
// the panels (panels/*) together around one store (state/app-state.ts) and starts WebGPU.

import './style.css';
import { startGpu } from './gpu.ts';
import { gpuStatusViews } from './panels/gpu-status.ts';
import { historyPanel } from './panels/history.ts';
import { acceptDropsAndPaste, createInputActions } from './panels/input-sources.ts';
import { contentCard, styleCard } from './panels/inputs.ts';
import { methodCard } from './panels/method.ts';
import { runActions } from './panels/run-actions.ts';
import { stagePanel } from './panels/stage.ts';
import { webcamDialog } from './panels/webcam-capture.ts';
import { startCamera } from './panels/webcam-live.ts';
import { loadMethods } from './registry.ts';
import { createRunner } from './runs/stylize.ts';
import { loadSamples } from './samples.ts';
import { createAppStore } from './state/app-state.ts';
import { h, replaceChildren } from './ui/dom.ts';
import { toastContainer } from './ui/notify.ts';
import { themeToggle } from './ui/theme.ts';

const store = createAppStore();
const runner = createRunner(store);
const inputs = createInputActions(store, runner);

const content = contentCard(store, inputs);
const style = styleCard(store, inputs);
const studio = h(
  'div',
  { class: 'studio' },
  methodCard(store, runner, runActions(store, runner, () => startCamera(store))),
  stagePanel(store, historyPanel(store)),
);
const workspace = h('main', { class: 'workspace', id: 'workspace' }, h('aside', { class: 'inputs' }, content, style), studio);
acceptDropsAndPaste(store, inputs, { content, style }, studio);
const gpu = gpuStatusViews(store, workspace, () => void boot());

replaceChildren(
  document.getElementById('app')!,
  h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: './' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), h('span', { class: 'brand-name' }, 'pastiche')),
    h('span', { class: 'tagline' }, 'Neural style transfer on a from-scratch WebGPU engine'),
    h('span', { class: 'spacer' }),
    gpu.badge,
    themeToggle(),
  ),
  gpu.panelSlot,
  workspace,
  h('footer', { class: 'footer' }, h('span', {}, 'Everything runs on your GPU, in this tab: no image leaves the browser.'), gpu.engineStats),
  toastContainer,
  webcamDialog,
);

async function boot(): Promise<void> {
  document.body.dataset['gpu'] = 'pending';
  const status = await startGpu();
  store.update({ gpu: status });
  const registered = await loadMethods();
  const methods = status.ok
    ? registered
    : registered.map((r) => ({ ...r, availability: r.availability === true ? 'Needs WebGPU, which this browser does not provide.' : r.availability }));
  const requested = new URLSearchParams(location.hash.slice(1)).get('method');
  // Without WebGPU, still open the tab that would run with it.
  const firstReady = registered.find((m) => m.availability === true)?.method.id;
  // A retry after a GPU fault keeps the tab the user was on.
  const current = store.get().activeId;
  const activeId = methods.find((m) => m.method.id === (current || requested))?.method.id ?? firstReady ?? methods[0]?.method.id ?? '';
  store.update({ methods, activeId });
  document.body.dataset['ready'] = 'true';
}

void loadSamples().then((samples) => store.update({ samples }));
void boot();
