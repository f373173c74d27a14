// The history strip: thumbnails of the latest results; picking one brings back its method,
// settings and inputs without running anything.

import { formatMs } from '../format.ts';
import { thumbnailCanvas } from '../images.ts';
import type { AppState, AppStore, ResultEntry } from '../state/app-state.ts';
import { h } from '../ui/dom.ts';
import { methodOptionLabel, summarize } from './stage.ts';

function selectResult(store: AppStore, entry: ResultEntry): void {
  const state = store.get();
  if (state.run) return;
  if (entry.method.id === state.activeId) return store.update({ selected: entry });
  state.values.set(entry.method.id, { ...entry.values });
  store.update({ selected: entry, activeId: entry.method.id });
}

export function historyPanel(store: AppStore): HTMLElement {
  const strip = h('div', { class: 'history', id: 'history' });
  const card = h('section', { class: 'history-card', hidden: true }, h('h3', { class: 'section-label' }, 'History'), strip);

  /** Items are kept while their result is unchanged (their thumbnails are not redrawn). */
  const render = (state: Readonly<AppState>) => {
    card.hidden = state.results.length === 0;
    const existing = new Map([...strip.children].map((el) => [(el as HTMLElement).dataset['entry'], el as HTMLElement]));
    const items = state.results.map((entry) => {
      let item = existing.get(String(entry.id));
      if (!item || item.dataset['version'] !== String(entry.version)) {
        const thumb = thumbnailCanvas(entry.image, 180);
        item = h(
          'button',
          { type: 'button', class: 'history-item', 'data-entry': String(entry.id), 'data-version': String(entry.version), onclick: () => selectResult(store, entry) },
          h('span', { class: 'history-thumb' }, thumb),
          h('span', { class: 'history-label' }, `${methodOptionLabel(entry.method, entry.values) ?? entry.method.label}${entry.content.name === 'Webcam frame' ? ' · webcam' : ''}`),
          h('span', { class: 'history-meta' }, `${formatMs(entry.elapsedMs)}${entry.stopped ? ' · stopped' : ''}`),
        );
        item.title = summarize(entry);
      }
      item.classList.toggle('selected', entry === state.selected);
      return item;
    });
    strip.replaceChildren(...items);
  };
  store.subscribe(['results', 'selected', 'run'], render);
  render(store.get());
  return card;
}
