// Development-only hooks (the dev server's page, never a build) that inject GPU faults, so the
// browser test can check that the page survives them: `window.__pasticheFaults.loseDevice()`
// destroys the device as a driver reset would; `.failNextAllocation()` makes the next tensor
// allocation ask for twice the adapter's largest buffer, as an oversized image would.

import type { AppStore } from '../state/app-state.ts';

export interface GpuFaultHooks {
  loseDevice(): void;
  failNextAllocation(): void;
}

export function installGpuFaultHooks(store: AppStore): void {
  const runtime = () => {
    const gpu = store.get().gpu;
    if (!gpu?.ok) throw new Error('no running GPU runtime to inject a fault into');
    return gpu.runtime;
  };
  const hooks: GpuFaultHooks = {
    loseDevice: () => runtime().device.destroy(),
    failNextAllocation: () => {
      const rt = runtime();
      const pool = rt.pool;
      const acquire = pool.acquire.bind(pool);
      const limit = Math.min(rt.context.limits.maxBufferSize, rt.context.limits.maxStorageBufferBindingSize);
      pool.acquire = (_bytes: number, label: string) => {
        pool.acquire = acquire;
        return acquire(2 * limit, label);
      };
    },
  };
  (window as unknown as { __pasticheFaults: GpuFaultHooks }).__pasticheFaults = hooks;
}
