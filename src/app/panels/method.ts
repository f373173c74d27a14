// Card 3, the method: a tab per method, its summary, why it cannot run (if so), its weights file and
// its controls. The Stylize / Stop / Resume row below them is panels/run-actions.ts.

import type { Runner } from '../runs/stylize.ts';
import { activeMethod, valuesFor, type AppState, type AppStore } from '../state/app-state.ts';
import { cardHead } from '../ui/card-head.ts';
import { renderControls } from '../ui/controls.ts';
import { h, icon, replaceChildren } from '../ui/dom.ts';
import { weightsFileRow } from './weights-file.ts';

/** A one-word reason for a disabled tab (the full sentence is in its tooltip and the panel). */
function badgeFor(reason: string): string {
  if (/^coming soon/i.test(reason)) return 'Soon';
  if (/webgpu/i.test(reason)) return 'No GPU';
  if (/weights/i.test(reason)) return 'No weights';
  return 'Off';
}

export function selectMethod(store: AppStore, runner: Runner, id: string): void {
  const state = store.get();
  if (state.activeId === id) return;
  if (state.camera && state.camera.method.id !== id) void runner.stopCamera();
  window.history.replaceState(null, '', `#method=${encodeURIComponent(id)}`);
  store.update({ activeId: id });
}

export function methodCard(store: AppStore, runner: Runner, actionsRow: HTMLElement): HTMLElement {
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Method', id: 'method-tabs' });
  const summary = h('p', { class: 'method-summary', id: 'method-summary' });
  const notice = h('p', { class: 'method-notice', id: 'method-notice', hidden: true });
  const controls = h('div', { class: 'controls-slot', id: 'controls' });

  const renderTabs = (state: Readonly<AppState>) => {
    replaceChildren(
      tabs,
      state.methods.map(({ method, availability }) => {
        const selected = method.id === state.activeId;
        const ready = availability === true;
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
            onclick: () => selectMethod(store, runner, method.id),
            onkeydown: (e: KeyboardEvent) => {
              if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
              const ids = store.get().methods.map((m) => m.method.id);
              const next = ids[(ids.indexOf(method.id) + (e.key === 'ArrowRight' ? 1 : ids.length - 1)) % ids.length]!;
              selectMethod(store, runner, next);
              document.getElementById(`tab-${next}`)?.focus();
            },
          },
          method.label,
          ready ? null : h('span', { class: 'tab-badge' }, badgeFor(availability)),
        );
      }),
    );
  };

  const renderMethod = (state: Readonly<AppState>) => {
    const reg = activeMethod(state);
    if (!reg) {
      summary.textContent = '';
      controls.replaceChildren();
      return;
    }
    const { method, availability } = reg;
    summary.textContent = method.summary;
    notice.hidden = availability === true;
    if (availability !== true) replaceChildren(notice, icon('alert'), h('span', {}, availability));
    const view = renderControls(method.controls, valuesFor(state, method), (spec) => runner.controlChanged(method, spec), availability !== true);
    replaceChildren(controls, weightsFileRow(store, reg), view.element);
    applyGalleryThumbs(state);
  };

  /** Gallery tiles without a picture of their own show the latest result made with them. */
  const applyGalleryThumbs = (state: Readonly<AppState>) => {
    const method = activeMethod(state)?.method;
    if (!method) return;
    for (const [key, url] of state.galleryThumbs) {
      const [methodId, controlId, value] = key.split('/') as [string, string, string];
      if (methodId !== method.id) continue;
      const art = controls.querySelector<HTMLElement>(`[data-control="${CSS.escape(controlId)}"] [data-value="${CSS.escape(value)}"] .gallery-art`);
      if (!art) continue;
      art.style.backgroundImage = `url("${url}")`;
      art.dataset['result'] = 'true';
      art.title = 'Your latest result with this model';
    }
  };

  store.subscribe(['methods', 'activeId'], renderTabs);
  store.subscribe(['methods', 'activeId', 'weightsFileError'], renderMethod);
  store.subscribe(['galleryThumbs'], applyGalleryThumbs);
  return h('section', { class: 'card method-card' }, cardHead('3', 'Method'), tabs, summary, notice, controls, actionsRow);
}
