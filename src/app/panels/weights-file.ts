// A method's own weights file (e.g. AdaIN's decoder): what is in use, a button to load another, and
// why the last one could not be used.

import { availabilityOf, type RegisteredMethod } from '../registry.ts';
import { gpuReady, type AppStore } from '../state/app-state.ts';
import { h, icon } from '../ui/dom.ts';
import { toast } from '../ui/notify.ts';

async function loadWeightsFile(store: AppStore, reg: RegisteredMethod, file: File): Promise<void> {
  const spec = reg.method.weightsFile;
  if (!spec || store.get().weightsFileLoading) return;
  store.update({ weightsFileLoading: true, weightsFileError: null, status: `Checking ${file.name}…` });
  try {
    await spec.load(file, (p) => {
      if (p.message) store.update({ status: p.message });
    });
    if (gpuReady(store.get())) reg.availability = await availabilityOf(reg.method);
    const state = store.get();
    const result = state.selected?.method === reg.method && !state.run;
    store.update({ status: `${spec.label} loaded: ${file.name}.${reg.availability === true ? (result ? ' Press Stylize to use it.' : '') : ''}` });
    toast(`${reg.method.label} now uses ${file.name}.`);
  } catch (err) {
    store.update({ weightsFileError: { method: reg.method.id, message: (err as Error).message || String(err) }, status: '' });
    toast(`${file.name} cannot be used: see the ${reg.method.label} tab.`, 'error');
  } finally {
    // The method's availability may have changed: its tab and controls render again.
    store.update({ weightsFileLoading: false, methods: [...store.get().methods] });
  }
}

/** The picker row for the active method, or null if it takes no weights file. */
export function weightsFileRow(store: AppStore, reg: RegisteredMethod): HTMLElement | null {
  const spec = reg.method.weightsFile;
  if (!spec) return null;
  const input = h('input', { type: 'file', accept: spec.accept, hidden: true, id: 'weights-file-input' });
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) void loadWeightsFile(store, reg, file);
  });
  const button = h('button', { type: 'button', class: 'button small', id: 'weights-file-button', onclick: () => input.click() }, icon('upload'), spec.button);
  const current = spec.current();
  const fileError = store.get().weightsFileError;
  const error = fileError?.method === reg.method.id ? fileError.message : null;
  const row = h(
    'div',
    { class: 'weights-file', id: 'weights-file', 'data-state': error ? 'error' : current ? 'loaded' : 'missing' },
    h('div', { class: 'weights-file-info' }, h('span', { class: 'control-label' }, spec.label), h('span', { class: 'weights-file-current', id: 'weights-file-current' }, current ?? 'None loaded')),
    button,
    input,
    error ? h('p', { class: 'weights-file-error', id: 'weights-file-error', role: 'alert' }, icon('alert'), h('span', {}, error)) : null,
    spec.hint ? h('p', { class: 'control-hint' }, spec.hint) : null,
  );
  const renderButton = () => {
    const state = store.get();
    button.disabled = !gpuReady(state) || state.weightsFileLoading;
  };
  const unsubscribe = store.subscribe(['gpu', 'weightsFileLoading'], () => {
    if (!row.isConnected) return unsubscribe(); // replaced by a newer row
    renderButton();
  });
  renderButton();
  return row;
}
