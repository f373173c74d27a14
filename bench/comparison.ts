/**
 * What a comparison line says about its two sides besides their times: the adapter each ran on
 * (a ratio across two devices means nothing, so a mismatch fails the line), and whether pastiche's
 * kernels ran tuned choices or the built-in rules.
 */
import { adapterKey, type AdapterIdentity } from '../src/gpu/autotune.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import { scope } from '../src/gpu/scope.ts';
import type { Workload } from './types.ts';

/** An adapter as the report names it: the driver's description, else the device id, else vendor/architecture. */
export function adapterName(info: AdapterIdentity): string {
  return info.description || info.device || `${info.vendor || '?'}/${info.architecture || '?'}`;
}

/**
 * Throws when the peer's adapter is not pastiche's: two libraries on different devices (a real GPU
 * and a software one, say) would make the line's ratio a comparison of hardware.
 */
export function assertSameAdapter(line: string, ours: AdapterIdentity, peerName: string, theirs: AdapterIdentity): void {
  if (adapterKey(ours) === adapterKey(theirs)) return;
  throw new Error(
    `'${line}': ${peerName} runs on '${adapterKey(theirs)}' but pastiche on '${adapterKey(ours)}': the ratio would compare two devices; give both the same adapter or run with --no-peer`,
  );
}

/**
 * How many of the kernel shapes one iteration launches ran a choice from the tuning table (0: every
 * kernel followed its built-in rule). Runs one untimed iteration, only when the table has entries.
 */
export async function tunedShapeCount(runtime: Runtime, workload: Workload): Promise<number> {
  if (runtime.tuning.size === 0) return 0;
  const shapes = await runtime.tuning.captureShapes(() => scope(() => workload.run()));
  await runtime.flush();
  return shapes.filter((s) => runtime.tuning.get(s.family, s.shape) !== undefined).length;
}
