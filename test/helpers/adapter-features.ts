// What the adapter offers, known while a test file is being collected, so a test that needs a feature
// can be skipped visibly (`it.skipIf(!hasShaderF16)('… (needs shader-f16)', …)`) instead of passing empty.
// initRuntime creates the runtime once per process: useRuntime's beforeAll gets this same instance.
import { initRuntime } from '../../src/gpu/runtime.ts';

/** Whether the adapter has 'shader-f16' (f16 storage and arithmetic in kernels). */
export const hasShaderF16: boolean = (await initRuntime()).hasF16;
