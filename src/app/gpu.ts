// Starting the engine in the browser, and telling the user precisely why it could not start.

import { initRuntime, type Runtime } from '../gpu/runtime.ts';

export type GpuProblem =
  /** The page is served over plain http from another host: WebGPU needs a secure context. */
  | 'insecure-context'
  /** navigator.gpu is missing: the browser has no WebGPU, or it is switched off. */
  | 'no-api'
  /** navigator.gpu exists but requestAdapter() gave null: blocklisted GPU, missing driver, flags. */
  | 'no-adapter'
  /** There is an adapter but creating the device or the runtime failed. */
  | 'device-failed';

export type GpuStatus =
  | { ok: true; runtime: Runtime; adapterName: string; isSoftware: boolean }
  | { ok: false; problem: GpuProblem; detail: string };

function describeAdapter(info: { vendor: string; architecture: string; device: string; description: string }): string {
  const parts = [info.vendor, info.architecture || info.device || info.description].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'unknown adapter';
}

/** Probes WebGPU step by step (so the failure can be named), then starts the engine's runtime. */
export async function startGpu(): Promise<GpuStatus> {
  if (typeof window !== 'undefined' && !window.isSecureContext) {
    return {
      ok: false,
      problem: 'insecure-context',
      detail: `This page was opened from ${location.origin}, which is not a secure context.`,
    };
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return { ok: false, problem: 'no-api', detail: 'navigator.gpu is undefined in this browser.' };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, problem: 'no-adapter', detail: `requestAdapter() threw: ${(err as Error).message}` };
  }
  if (!adapter) {
    return { ok: false, problem: 'no-adapter', detail: 'navigator.gpu.requestAdapter() returned null.' };
  }
  try {
    const runtime = await initRuntime();
    const info = runtime.context.adapterInfo;
    const name = describeAdapter(info);
    return { ok: true, runtime, adapterName: name, isSoftware: runtime.context.software };
  } catch (err) {
    return { ok: false, problem: 'device-failed', detail: (err as Error).message.split('\n')[0] ?? String(err) };
  }
}
