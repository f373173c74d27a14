// WebGPU's state on the page: the badge in the top bar, the panel that explains a missing or lost
// adapter, and the engine's counters in the footer.

import type { GpuStatus } from '../gpu.ts';
import { installGpuFaultHooks } from './gpu-fault-hooks.ts';
import type { AppState, AppStore } from '../state/app-state.ts';
import { gpuPanel } from '../ui/gpu-panel.ts';
import { h, replaceChildren } from '../ui/dom.ts';

export interface GpuViews {
  badge: HTMLElement;
  panelSlot: HTMLElement;
  engineStats: HTMLElement;
}

/** `retry` starts WebGPU again (offered when no adapter was found, or after a lost device or out-of-memory). */
export function gpuStatusViews(store: AppStore, workspace: HTMLElement, retry: () => void): GpuViews {
  const badge = h('span', { class: 'gpu-badge', 'data-state': 'pending', id: 'gpu-badge' }, h('span', { class: 'gpu-dot' }), h('span', { class: 'gpu-text' }, 'Starting WebGPU…'));
  const panelSlot = h('div', { id: 'gpu-panel-slot' });
  const engineStats = h('span', { id: 'engine-stats' });
  const text = badge.querySelector('.gpu-text')!;
  let shown: GpuStatus | null = null;

  const renderGpu = ({ gpu: status }: Readonly<AppState>) => {
    if (!status || status === shown) return;
    const fault = !status.ok && (status.problem === 'lost' || status.problem === 'out-of-memory');
    shown = status;
    if (status.ok) {
      badge.dataset['state'] = status.isSoftware ? 'software' : 'ready';
      text.textContent = `WebGPU · ${status.adapterName}`;
      badge.title = status.isSoftware ? 'A software (CPU) WebGPU adapter: everything works, slowly. Keep working sizes small.' : 'Running on your GPU through WebGPU.';
      panelSlot.replaceChildren();
      workspace.classList.remove('gpu-missing');
      // Unless a retry already replaced this runtime (destroying it on purpose).
      void status.runtime.context.lost.then((err) => {
        if (store.get().gpu === status) store.update({ gpu: { ok: false, problem: 'lost', detail: err.message } });
      });
    } else if (fault) {
      badge.dataset['state'] = 'error';
      text.textContent = status.problem === 'lost' ? 'GPU lost' : 'GPU out of memory';
      badge.title = status.detail;
      replaceChildren(panelSlot, gpuPanel(status.problem, status.detail, retry));
      // The page stays usable (inputs, history); stylizing waits for Retry.
    } else {
      badge.dataset['state'] = 'error';
      text.textContent = 'No WebGPU';
      badge.title = status.detail;
      replaceChildren(panelSlot, gpuPanel(status.problem, status.detail, retry));
      workspace.classList.add('gpu-missing');
    }
    document.body.dataset['gpu'] = status.ok ? 'ready' : 'unavailable';
  };

  const renderStats = ({ gpu }: Readonly<AppState>) => {
    const stats = gpu?.ok === true ? gpu.runtime.stats() : null;
    if (!stats || stats.dispatches === 0) {
      engineStats.textContent = '';
      return;
    }
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
    engineStats.textContent = `Engine: ${stats.pipelines} GPU kernels compiled · ${stats.dispatches} dispatches · peak ${mb(stats.peakBytes)} GPU memory`;
  };

  store.subscribe(['gpu'], renderGpu);
  if (import.meta.env.DEV) installGpuFaultHooks(store);
  store.subscribe(['gpu', 'run', 'camera', 'methods'], renderStats);
  return { badge, panelSlot, engineStats };
}
