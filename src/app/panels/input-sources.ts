// Where input images come from: file pickers, the sample galleries, the webcam, drag and drop onto
// a card, and paste. All of them end in the same actions on the store (set the photo, add styles).

import { imagesFromDataTransfer, loadBlob, loadUrl, type LoadedImage } from '../images.ts';
import { MAX_STYLES, nextId, type AppStore } from '../state/app-state.ts';
import type { Sample } from '../samples.ts';
import type { Runner } from '../runs/stylize.ts';
import { h, icon } from '../ui/dom.ts';
import { guard, toast } from '../ui/notify.ts';
import { openWebcam } from './webcam-capture.ts';

export type InputTarget = 'content' | 'style';

export interface InputActions {
  setContent(loaded: LoadedImage): void;
  addStyles(loaded: LoadedImage[]): void;
  removeStyle(id: number): void;
  setStyleWeight(id: number, weight: number): void;
  deliver(images: LoadedImage[], target: InputTarget): void;
  /** The hidden file input of each card (the Upload buttons open it). */
  readonly files: Record<InputTarget, HTMLInputElement>;
}

export function createInputActions(store: AppStore, runner: Pick<Runner, 'inputsChanged'>): InputActions {
  const actions: InputActions = {
    setContent(loaded) {
      store.update({ content: loaded });
      runner.inputsChanged(false);
    },
    addStyles(loaded) {
      const styles = [...store.get().styles];
      for (const image of loaded) {
        if (styles.length >= MAX_STYLES) {
          toast(`Up to ${MAX_STYLES} styles can be blended; remove one first.`);
          break;
        }
        styles.push({ id: nextId(), loaded: image, weight: 1 });
      }
      store.update({ styles });
      runner.inputsChanged(false);
    },
    removeStyle(id) {
      store.update({ styles: store.get().styles.filter((s) => s.id !== id) });
      runner.inputsChanged(false);
    },
    setStyleWeight(id, weight) {
      store.update({ styles: store.get().styles.map((s) => (s.id === id ? { ...s, weight } : s)) });
      runner.inputsChanged(true);
    },
    deliver(images, target) {
      if (!images.length) return;
      if (target === 'content') actions.setContent(images[0]!);
      else actions.addStyles(images);
    },
    files: {
      content: h('input', { type: 'file', accept: 'image/*', hidden: true, id: 'content-file' }),
      style: h('input', { type: 'file', accept: 'image/*', multiple: true, hidden: true, id: 'style-file' }),
    },
  };
  const { content, style } = actions.files;
  content.addEventListener('change', () =>
    void guard(async () => {
      const file = content.files?.[0];
      if (file) actions.setContent(await loadBlob(file, file.name));
      content.value = '';
    }),
  );
  style.addEventListener('change', () =>
    void guard(async () => {
      const files = [...(style.files ?? [])];
      actions.addStyles(await Promise.all(files.map((f) => loadBlob(f, f.name))));
      style.value = '';
    }),
  );
  return actions;
}

/** The Upload and Webcam buttons of a card. */
export function sourceButtons(actions: InputActions, target: InputTarget): HTMLElement {
  return h(
    'div',
    { class: 'source-buttons' },
    h('button', { type: 'button', class: 'button small', 'data-action': `upload-${target}`, onclick: () => actions.files[target].click() }, icon('upload'), 'Upload'),
    h(
      'button',
      { type: 'button', class: 'button small', 'data-action': `webcam-${target}`, onclick: () => void guard(() => openWebcam(target, (frame) => actions.deliver([frame], target))) },
      icon('camera'),
      'Webcam',
    ),
  );
}

export function sampleButton(store: AppStore, actions: InputActions, sample: Sample, target: InputTarget): HTMLElement {
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
          if (target === 'content') actions.setContent(loaded);
          else if (store.get().styles.some((s) => s.loaded.name === sample.title || s.loaded.name === sample.file)) toast(`${sample.title} is already in the list.`);
          else actions.addStyles([loaded]);
        }),
    },
    img,
  );
}

/** Rings the samples in use (loaded from the gallery by title, or dropped/pasted under their file name). */
export function markUsedSamples(row: HTMLElement, names: Set<string>): void {
  for (const el of row.querySelectorAll<HTMLElement>('.sample')) el.classList.toggle('selected', names.has(el.title) || names.has(el.dataset['sample'] ?? ''));
}

/**
 * Drag and drop onto the input cards, and paste: into the card under the pointer (or focused), else
 * the content if there is none yet, else a style.
 */
export function acceptDropsAndPaste(store: AppStore, actions: InputActions, cards: Record<InputTarget, HTMLElement>, elsewhere: HTMLElement): void {
  let pasteTarget: InputTarget | null = null;
  for (const target of ['content', 'style'] as const) {
    const card = cards[target];
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
        actions.deliver(target === 'content' ? images.slice(0, 1) : images, target);
      });
    });
    card.addEventListener('pointerenter', () => (pasteTarget = target));
    card.addEventListener('focusin', () => (pasteTarget = target));
  }
  elsewhere.addEventListener('pointerenter', () => (pasteTarget = null));

  document.addEventListener('paste', (e) => {
    const data = e.clipboardData;
    if (!data) return;
    const hasImage = data.files.length > 0 || [...data.items].some((i) => i.type.startsWith('image/')) || data.types.includes('text/uri-list');
    if (!hasImage) return;
    e.preventDefault();
    const target = pasteTarget ?? (store.get().content ? 'style' : 'content');
    void guard(async () => {
      const images = await imagesFromDataTransfer(data);
      if (!images.length) return;
      actions.deliver(target === 'content' ? images.slice(0, 1) : images, target);
      toast(target === 'content' ? 'Pasted as the content photo.' : 'Pasted as a style.');
    });
  });
}
