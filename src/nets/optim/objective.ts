import { packScalars } from '../../gpu/kernels/optim.ts';
import { concatKernel } from '../../gpu/kernels/structural.ts';
import type { Tensor } from '../../gpu/tensor.ts';

/**
 * What an optimiser minimises: the loss (a one-element tensor) and its gradient at x, both left on
 * the GPU, and optionally a `report`: a small vector (e.g. the loss's terms) that the optimiser reads
 * back in the same transfer as the loss, so progress costs no readback of its own. The optimiser owns
 * and disposes what it gets back.
 */
export type Objective = (x: Tensor) => { loss: Tensor; grad: Tensor; report?: Tensor };

/** One optimiser iteration, as reported to progress listeners. */
export interface OptimStep {
  iteration: number;
  loss: number;
  /** Function evaluations so far (L-BFGS line searches may take more than one per iteration). */
  evaluations: number;
  /** The objective's report at the point whose loss this is (null when it gives none). */
  report: Float32Array | null;
}

/** 'diverged': the loss became NaN or infinite (the steps are too large); callers treat it as a failure. */
export type StopReason = 'max-iterations' | 'plateau' | 'diverged' | 'converged' | 'stopped';

/**
 * Reads one-element `scalars` and an objective's `report` back in a single transfer, and frees the
 * report (the scalars stay the caller's).
 */
export async function readWithReport(scalars: readonly Tensor[], report: Tensor | undefined): Promise<{ scalars: number[]; report: Float32Array | null }> {
  let packed = packScalars(scalars);
  if (report) {
    const flat = report.runtime.reshape(report, [report.size]);
    report.dispose();
    const joined = concatKernel([packed, flat], 0);
    packed.dispose();
    flat.dispose();
    packed = joined;
  }
  const values = await packed.data();
  packed.dispose();
  return { scalars: Array.from(values.subarray(0, scalars.length)), report: report ? values.slice(scalars.length) : null };
}
