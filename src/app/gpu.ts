// Starting the engine in the browser, and telling the user precisely why it could not start.

import { DeviceLostError, GpuOutOfMemoryError } from '../gpu/errors.ts';
import { initRuntime, type Runtime } from '../gpu/runtime.ts';

export type GpuProblem =
  /** The page is served over plain http from another host: WebGPU needs a secure context. */
  | 'insecure-context'
  /** navigator.gpu is missing: the browser has no WebGPU, or it is switched off. */
  | 'no-api'
  /** navigator.gpu exists but requestAdapter() gave null: blocklisted GPU, missing driver, flags. */
  | 'no-adapter'
  /** There is an adapter but creating the device or the runtime failed. */
  | 'device-failed'
  /** The device was lost while the page used it (driver reset, or destroyed). */
  | 'lost'
  /** A run asked for more GPU memory than the adapter allows. */
  | 'out-of-memory';

export type GpuStatus =
  | { ok: true; runtime: Runtime; adapterName: string; isSoftware: boolean }
  | { ok: false; problem: GpuProblem; detail: string };

function describeAdapter(info: { vendor: string; architecture: string; device: string; description: string }): string {
  const parts = [info.vendor, info.architecture || info.device || info.description].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'unknown adapter';
}

/** The runtime the page started last: a retry replaces it with one on a fresh device. */
let started: Runtime | null = null;

/**
 * The page's GPU status after a run failed with `err`, when the failure was the GPU's: the device
 * was lost, or an allocation went beyond the adapter's limits. Null for any other error.
 */
export function gpuFailure(err: unknown): GpuStatus | null {
  if (err instanceof DeviceLostError) return { ok: false, problem: 'lost', detail: err.message };
  if (err instanceof GpuOutOfMemoryError) return { ok: false, problem: 'out-of-memory', detail: err.message };
  return null;
}

/**
 * Probes WebGPU step by step (so the failure can be named), then starts the engine's runtime. Called
 * again (Retry), it first destroys the runtime it started before: every model is then loaded anew
 * on a fresh device.
 */
export async function startGpu(): Promise<GpuStatus> {
  if (started) {
    const previous = started;
    started = null;
    previous.destroy();
  }
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
    started = runtime;
    const info = runtime.context.adapterInfo;
    const name = describeAdapter(info);
    return { ok: true, runtime, adapterName: name, isSoftware: runtime.context.software };
  } catch (err) {
    return { ok: false, problem: 'device-failed', detail: (err as Error).message.split('\n')[0] ?? String(err) };
  }
}
