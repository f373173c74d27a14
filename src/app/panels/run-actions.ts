// The row under the method's controls: Stylize, Live webcam, Stop, Resume, the progress bar and
// the status line. Also marks `body[data-busy]` while a run is going or about to start.

import { activeMethod, gpuReady, type AppState, type AppStore } from '../state/app-state.ts';
import type { Runner } from '../runs/stylize.ts';
import { h, icon, replaceChildren } from '../ui/dom.ts';
import { guard } from '../ui/notify.ts';

export function runActions(store: AppStore, runner: Runner, startCamera: () => Promise<void>): HTMLElement {
  const runButton = h('button', { type: 'button', class: 'button primary', id: 'run-button', onclick: () => void runner.stylize('new') }, icon('play'), h('span', {}, 'Stylize'));
  const stopButton = h('button', { type: 'button', class: 'button', id: 'stop-button', hidden: true, onclick: () => runner.stop() }, icon('stop'), 'Stop');
  const resumeButton = h('button', { type: 'button', class: 'button', id: 'resume-button', hidden: true, onclick: () => void runner.stylize('resume') }, icon('resume'), 'Resume');
  const liveButton = h(
    'button',
    { type: 'button', class: 'button', id: 'live-button', hidden: true, title: 'Stylize the webcam continuously', onclick: () => void guard(startCamera) },
    icon('camera'),
    'Live webcam',
  );
  const progressBar = h('div', { class: 'progress', id: 'progress', hidden: true, role: 'progressbar', 'aria-label': 'Progress' }, h('div', { class: 'progress-fill' }));
  const statusLine = h('p', { class: 'status-line', id: 'status-line', 'aria-live': 'polite' });

  const renderButtons = (state: Readonly<AppState>) => {
    const reg = activeMethod(state);
    const running = (state.run !== null && !state.run.superseded) || state.camera !== null;
    const ready = Boolean(reg && reg.availability === true && gpuReady(state));
    runButton.disabled = !ready || running;
    runButton.title = !gpuReady(state) ? 'Needs WebGPU' : reg && reg.availability !== true ? reg.availability : 'Stylize (Ctrl+Enter)';
    stopButton.hidden = !running;
    liveButton.hidden = running || !ready || !reg?.method.live;
    const selected = state.selected;
    resumeButton.hidden = running || !ready || !selected?.stopped || !reg?.method.resumable || selected.method !== reg.method;
    replaceChildren(runButton, icon('play'), h('span', {}, selected && selected.method === reg?.method && !running ? 'Stylize again' : 'Stylize'));

    const progress = running ? state.progress : null;
    progressBar.hidden = !progress;
    if (progress) {
      progressBar.classList.toggle('indeterminate', progress.fraction === undefined);
      progressBar.style.setProperty('--value', `${Math.round((progress.fraction ?? 0) * 1000) / 10}%`);
      if (progress.fraction !== undefined) progressBar.setAttribute('aria-valuenow', String(Math.round(progress.fraction * 100)));
      else progressBar.removeAttribute('aria-valuenow');
    }
  };
  // Every status report is written, even a repeated one (tests and screen readers follow each).
  const renderStatus = (state: Readonly<AppState>) => (statusLine.textContent = state.status);
  const renderBusy = (state: Readonly<AppState>) => {
    if (state.run || state.camera || state.livePending) document.body.dataset['busy'] = 'true';
    else delete document.body.dataset['busy'];
  };

  store.subscribe(['methods', 'activeId', 'gpu', 'run', 'camera', 'selected', 'progress'], renderButtons);
  store.subscribe(['status'], renderStatus);
  store.subscribe(['run', 'camera', 'livePending'], renderBusy);
  renderButtons(store.get());

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !runButton.disabled) void runner.stylize('new');
  });
  return h('div', { class: 'actions' }, runButton, liveButton, stopButton, resumeButton, h('div', { class: 'actions-status' }, progressBar, statusLine));
}
