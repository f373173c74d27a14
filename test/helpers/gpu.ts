import { beforeAll } from 'vitest';
import { initRuntime, type Runtime } from '../../src/gpu/runtime.ts';

/** Creates the shared runtime before a file's tests; returns a getter for it. */
export function useRuntime(): () => Runtime {
  let runtime: Runtime | null = null;
  beforeAll(async () => {
    runtime = await initRuntime();
  });
  return () => {
    if (!runtime) throw new Error('runtime not initialised yet');
    return runtime;
  };
}
