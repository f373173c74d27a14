// The input cards: 1 Content (the photo) and 2 Style (one or more paintings, with blend weights).

import { drawImage, thumbnailCanvas } from '../images.ts';
import { imageMeta } from '../format.ts';
import { activeMethod, MAX_STYLES, type AppState, type AppStore } from '../state/app-state.ts';
import { cardHead } from '../ui/card-head.ts';
import { h, icon, replaceChildren } from '../ui/dom.ts';
import { markUsedSamples, sampleButton, sourceButtons, type InputActions } from './input-sources.ts';

function samplesRow(id: string, label: string, row: HTMLElement): HTMLElement {
  row.id = id;
  return h('div', { class: 'samples' }, h('span', { class: 'section-label' }, label), row);
}

const noSamples = () => h('p', { class: 'samples-empty' }, 'No sample images are served here (set PASTICHE_SAMPLES_DIR).');

export function contentCard(store: AppStore, actions: InputActions): HTMLElement {
  const slot = h('div', { class: 'slot', id: 'content-slot' });
  const samples = h('div', { class: 'sample-row' });
  const card = h(
    'section',
    { class: 'card', id: 'content-card', 'data-drop': 'content' },
    cardHead('1', 'Content', 'The photo to restyle'),
    slot,
    samplesRow('content-samples', 'Sample photos', samples),
    actions.files.content,
  );

  const renderSlot = ({ content }: Readonly<AppState>) => {
    slot.classList.toggle('slot-empty', !content);
    if (!content) {
      replaceChildren(slot, h('div', { class: 'slot-prompt' }, icon('image'), h('p', {}, h('strong', {}, 'Drop a photo'), ', paste one, or'), sourceButtons(actions, 'content')));
      return;
    }
    const canvas = h('canvas', { class: 'slot-preview', id: 'content-preview' });
    drawImage(canvas, content.image);
    replaceChildren(
      slot,
      canvas,
      h(
        'div',
        { class: 'slot-bar' },
        h('div', { class: 'slot-info' }, h('span', { class: 'slot-name', title: content.name }, content.name), h('span', { class: 'slot-meta' }, imageMeta(content))),
        sourceButtons(actions, 'content'),
      ),
    );
  };
  const renderSamples = ({ samples: all }: Readonly<AppState>) => {
    const photos = all.filter((s) => s.kind === 'photo');
    replaceChildren(samples, photos.length ? photos.map((s) => sampleButton(store, actions, s, 'content')) : noSamples());
  };
  const markUsed = ({ content }: Readonly<AppState>) => markUsedSamples(samples, new Set(content ? [content.name] : []));

  store.subscribe(['content'], renderSlot);
  store.subscribe(['samples'], renderSamples);
  store.subscribe(['content', 'samples'], markUsed);
  renderSlot(store.get());
  renderSamples(store.get());
  return card;
}

export function styleCard(store: AppStore, actions: InputActions): HTMLElement {
  const list = h('ul', { class: 'style-list', id: 'style-list' });
  const note = h('p', { class: 'card-note-line', id: 'style-note', hidden: true });
  const add = h('div', { class: 'slot slot-compact', id: 'style-slot' });
  const samples = h('div', { class: 'sample-row' });
  const card = h(
    'section',
    { class: 'card', id: 'style-card', 'data-drop': 'style' },
    cardHead('2', 'Style', 'Add several to blend them'),
    note,
    list,
    add,
    samplesRow('style-samples', 'Sample paintings', samples),
    actions.files.style,
  );

  /** The list is rebuilt only when its entries change; a weight change only updates the numbers. */
  let shownKey = '';
  const renderList = (state: Readonly<AppState>) => {
    const method = activeMethod(state)?.method;
    const uses = method?.styleInputs ?? 'many';
    const showWeights = uses === 'many' && state.styles.length > 1;
    const total = state.styles.reduce((a, s) => a + s.weight, 0) || 1;
    const key = `${method?.id}|${uses}|${state.styles.map((s) => s.id).join(',')}`;
    if (key === shownKey) {
      state.styles.forEach((style, i) => {
        const item = list.children[i] as HTMLElement;
        const slider = item.querySelector<HTMLInputElement>('.style-weight');
        if (slider && Number(slider.value) !== style.weight) slider.value = String(style.weight);
        slider?.style.setProperty('--fill', `${style.weight * 100}%`);
        const share = item.querySelector('.style-share');
        if (share) share.textContent = `${Math.round((style.weight / total) * 100)}%`;
      });
      return;
    }
    shownKey = key;
    replaceChildren(
      list,
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
        slider.addEventListener('input', () => actions.setStyleWeight(style.id, Number(slider.value)));
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
          h('button', { type: 'button', class: 'icon-button small', 'aria-label': `Remove ${style.loaded.name}`, onclick: () => actions.removeStyle(style.id) }, icon('x')),
        );
      }),
    );
    list.hidden = state.styles.length === 0;
    note.hidden = true;
    if (method && uses === 'none') {
      note.hidden = false;
      note.textContent = `${method.label} models carry their own style, so style images are not used.`;
    } else if (method && uses === 'one' && state.styles.length > 1) {
      note.hidden = false;
      note.textContent = `${method.label} uses one style: the first in the list.`;
    }
    replaceChildren(
      add,
      h(
        'div',
        { class: 'slot-prompt slot-prompt-row' },
        icon('palette'),
        h('p', {}, state.styles.length ? 'Add another: drop, paste, or' : h('span', {}, h('strong', {}, 'Drop a painting'), ', paste one, or')),
        sourceButtons(actions, 'style'),
      ),
    );
    add.hidden = state.styles.length >= MAX_STYLES;
  };
  const renderSamples = ({ samples: all }: Readonly<AppState>) => {
    const paintings = all.filter((s) => s.kind === 'painting');
    replaceChildren(samples, paintings.length ? paintings.map((s) => sampleButton(store, actions, s, 'style')) : noSamples());
  };
  const markUsed = ({ styles }: Readonly<AppState>) => markUsedSamples(samples, new Set(styles.map((s) => s.loaded.name)));

  store.subscribe(['styles', 'activeId', 'methods'], renderList);
  store.subscribe(['samples'], renderSamples);
  store.subscribe(['styles', 'samples'], markUsed);
  renderList(store.get());
  renderSamples(store.get());
  return card;
}
