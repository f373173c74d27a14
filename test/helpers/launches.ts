import { vi } from 'vitest';
import type { KernelLaunch, Runtime } from '../../src/gpu/runtime.ts';

/** The kernels `fn` launches, as `name:variant`, in order (they still run). */
export function launchesOf(rt: Runtime, fn: () => void): string[] {
  const seen: string[] = [];
  const original = rt.launch.bind(rt);
  const spy = vi.spyOn(rt, 'launch').mockImplementation((l: KernelLaunch) => {
    seen.push(`${l.name}:${l.variant ?? ''}`);
    original(l);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return seen;
}
